"""A real SMTP server on loopback (aiosmtpd), with STARTTLS on a certificate made for the run
and AUTH, whose answers a test can plan: ``421`` and ``550`` replies, a dropped connection."""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
import subprocess
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from smartnumbers.settings import load_settings

USER, PASSWORD = "relay-user", "relay-secret-42"
SENDER = "Smart Numbers <noreply@smartnumbers.example>"
DROP = "drop"  # a planned answer: the server closes the connection without a word


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made for this run with openssl."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"], check=True, capture_output=True)
    return cert, key


@dataclass
class Received:
    envelope_from: str
    recipients: list[str]
    content: bytes
    secure: bool
    login: str | None

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.content, policy=email.policy.default)

    @property
    def message_id(self) -> str:
        return self.message["Message-ID"]


@dataclass
class RelayHandler:
    """Keeps what it accepted; answers a planned reply instead, once per plan, at a stage."""

    received: list[Received] = field(default_factory=list)
    plans: dict[str, list[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def plan(self, stage: str, *answers: str) -> None:
        with self.lock:
            self.plans.setdefault(stage, []).extend(answers)

    def _planned(self, server, stage: str) -> str | None:
        with self.lock:
            answers = self.plans.get(stage)
            answer = answers.pop(0) if answers else None
        if answer == DROP:
            server.transport.abort()
        return answer

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        answer = self._planned(server, "RCPT")
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        answer = self._planned(server, "DATA")
        if answer:
            return answer
        login = session.auth_data.decode() if session.authenticated else None
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content,
                                          secure=server.transport.get_extra_info("ssl_object") is not None,
                                          login=login))
        return "250 2.0.0 queued"

    def message_ids(self) -> Counter:
        with self.lock:
            return Counter(r.message_id for r in self.received)


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode() \
        and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False, auth_data=auth_data.login if ok else None)


@dataclass
class Relay:
    handler: RelayHandler
    port: int
    cert: Path

    def settings(self, **overrides):
        values = dict(mail_server="127.0.0.1", mail_port=self.port, mail_security="starttls", mail_user=USER,
                      mail_password=PASSWORD, mail_sender=SENDER, mail_ca_file=str(self.cert))
        return load_settings(**{**values, **overrides})


def _server_context(certificate) -> ssl.SSLContext:
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@pytest.fixture
def relay(certificate):
    """The SMTP server: STARTTLS required before anything else, then AUTH required."""
    handler, port = RelayHandler(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, tls_context=_server_context(certificate),
                            require_starttls=True, authenticator=_authenticator, auth_require_tls=True,
                            auth_required=True, server_hostname="relay.test")
    controller.start()
    yield Relay(handler, port, certificate[0])
    controller.stop()


@pytest.fixture
def tls_relay(certificate):
    """The same server speaking TLS from the first byte (port 465 style), AUTH required (aiosmtpd
    does not count implicit TLS as TLS for its own AUTH rule, so that rule is off here)."""
    handler, port = RelayHandler(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ssl_context=_server_context(certificate),
                            authenticator=_authenticator, auth_require_tls=False, auth_required=True,
                            server_hostname="relay.test")
    controller.start()
    yield Relay(handler, port, certificate[0])
    controller.stop()

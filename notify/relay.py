"""The mail relay, over SMTP with aiosmtplib, on the one event loop.

Every outcome of handing over a mail is one of three: taken (250), ``RelayUnavailable``
(try again later) or ``MailRefused`` (never again). A 5xx answer to this mail's envelope or
content refuses the mail. A 4xx answer, a dropped connection or a timeout is temporary; so is
a relay that cannot be reached, will not greet, or will not let us log in, whatever its code:
that is the relay's state or its settings, not the mail's fault, and the mail waits until it
is put right.
"""

from __future__ import annotations

import ssl

import aiosmtplib

from smartnumbers.settings import MailSecurity, Settings

TIMEOUT_S = 60


class RelayUnavailable(Exception):
    """The relay did not take the mail now; it may later. ``relay_down``: the relay itself is
    unreachable or closing (421), so the next mails need not be tried at once either."""

    def __init__(self, reason: str, *, relay_down: bool) -> None:
        super().__init__(reason)
        self.relay_down = relay_down


class MailRefused(Exception):
    """The relay refused the mail for good."""


class MailRelay:
    """One connection to the relay, opened on the first mail and kept for the next ones; any
    failure closes it, and the next mail opens a new one."""

    def __init__(self, settings: Settings) -> None:
        if not settings.mail_server:
            raise ValueError("no mail relay configured")
        self._settings = settings
        self._client: aiosmtplib.SMTP | None = None

    def _new_client(self) -> aiosmtplib.SMTP:
        s = self._settings
        context = ssl.create_default_context(cafile=s.mail_ca_file)
        return aiosmtplib.SMTP(
            hostname=s.mail_server, port=s.mail_port, timeout=TIMEOUT_S, tls_context=context,
            use_tls=s.mail_security is MailSecurity.TLS, start_tls=s.mail_security is MailSecurity.STARTTLS,
            username=s.mail_user, password=s.mail_password.get_secret_value() if s.mail_password else None)

    async def send(self, sender: str, recipient: str, message: bytes) -> None:
        """Hand one rendered mail to the relay; returns when it answered 250."""
        try:
            if self._client is None or not self._client.is_connected:
                self._client = self._new_client()
                await self._client.connect()
            await self._client.sendmail(sender, [recipient], message)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            self.close()
            raise _by_code(exc.recipients[0].code, exc.recipients[0].message) from None
        except (aiosmtplib.SMTPConnectResponseError, aiosmtplib.SMTPHeloError,
                aiosmtplib.SMTPAuthenticationError) as exc:
            self.close()
            raise RelayUnavailable(f"relay: {exc.code} {exc.message}"[:500], relay_down=True) from None
        except aiosmtplib.SMTPResponseException as exc:
            self.close()
            raise _by_code(exc.code, exc.message) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            self.close()
            raise RelayUnavailable(f"relay: {type(exc).__name__}: {exc}"[:500], relay_down=True) from None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def quit(self) -> None:
        """Say goodbye politely when the work is done."""
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                client.close()


def _by_code(code: int, message: str) -> Exception:
    reason = f"{code} {message}"[:500]
    return MailRefused(reason) if 500 <= code < 600 else RelayUnavailable(reason, relay_down=code == 421)

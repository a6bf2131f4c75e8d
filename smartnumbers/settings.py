"""Settings from ``SMARTNUMBERS_*`` environment variables and an optional ``smartnumbers.toml``.

A wrong setting stops start-up with one line that names the setting and what is wrong
(``SettingsError``), never with a traceback. Passwords (the switches' HTTP password, each
node's Event Socket password, the database URL's) are secret values: a repr, a log line or an
error shows them masked, and only the code that sends one asks for its value.
"""

from __future__ import annotations

import email.utils
import enum
import functools
import ipaddress
import json
import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from pydantic import BaseModel, Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from smartnumbers.errors import InputError
from smartnumbers.money import PayfastFeeVat
from smartnumbers.validation import address_lines, mail_address, plain_text, swiss_uid

DEFAULT_DATABASE_URL = "sqlite:///var/smartnumbers.db"
CONFIG_FILE_ENV = "SMARTNUMBERS_CONFIG"


class SettingsError(Exception):
    """One line naming the setting at fault: start-up stops with it."""


class DatabaseUrl(SecretStr):
    """A database URL: shown with its password masked (``postgresql+psycopg://sn:***@db/sn``),
    so the rest of it can still be named in a message."""

    def __eq__(self, other: object) -> bool:
        """Equal to the same URL, secret or as text: comparing shows nothing."""
        return self.get_secret_value() == (other.get_secret_value() if isinstance(other, SecretStr) else other)

    __hash__ = SecretStr.__hash__

    def _display(self) -> str:
        try:
            return make_url(self.get_secret_value()).render_as_string(hide_password=True)
        except ArgumentError:
            return "**********"


def _secret_length(value: SecretStr | None, least: int, most: int) -> SecretStr | None:
    """Length bounds that name characters (pydantic's own speak of "items" for a secret)."""
    if value is not None and not least <= len(value.get_secret_value()) <= most:
        raise ValueError(f"expected {least} to {most} characters")
    return value


class FreeSwitchNode(BaseModel):
    """One FreeSWITCH the controller drives over its Event Socket. Without ``port`` and
    ``password``, those of ``SMARTNUMBERS_ESL_PORT`` and ``SMARTNUMBERS_ESL_PASSWORD``, the
    variables the switch's ``freeswitch_conf/vars.xml`` reads."""

    model_config = {"hide_input_in_errors": True}

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    host: str = Field(min_length=1, max_length=255)
    port: int | None = Field(default=None, ge=1, le=65535)
    password: SecretStr | None = None

    @field_validator("password")
    @classmethod
    def _password(cls, value: SecretStr | None) -> SecretStr | None:
        return _secret_length(value, 1, 128)


_URL = re.compile(r"https?://([A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(:[0-9]{1,5})?")
_FOLDER = r"^/[A-Za-z0-9_./-]{0,200}$"


class MailSecurity(enum.StrEnum):
    """How the connection to the mail relay is protected: never in the clear."""

    STARTTLS = "starttls"  # plain connect, then STARTTLS before anything else (port 587)
    TLS = "tls"  # TLS from the first byte (port 465)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SMARTNUMBERS_", extra="forbid", hide_input_in_errors=True)

    database_url: DatabaseUrl = DatabaseUrl(DEFAULT_DATABASE_URL)
    # What the switches and this process read alike (one environment file serves both; see
    # docs/smartnumbers.env.example): the Event Socket's port and password (each node's unless
    # it names its own), where the switches post CDRs and fetch dialplans (``http`` and
    # ``dialplan_http`` listen there unless set), the dialplan include folder and the folder of
    # CDRs not posted as the switches see them (every node's ``dialplan_folders`` and
    # ``cdr_error_folders`` unless set: the same machine or the same mount path). ``serve``
    # and ``smartnumbers nodes`` compare them with each switch's own.
    esl_port: int = Field(default=8021, ge=1, le=65535)
    esl_password: SecretStr | None = None
    app_url: str | None = None
    dialplan_url: str | None = None
    fs_dialplan_dir: str | None = Field(default=None, pattern=_FOLDER)
    fs_cdr_error_dir: str | None = Field(default=None, pattern=_FOLDER)
    freeswitch_nodes: list[FreeSwitchNode] = []
    http: str = "127.0.0.1:8080"
    # mod_xml_curl's fetches have a listener of their own (a fetch holds the call in routing):
    # HOST:PORT, like ``http``.
    dialplan_http: str = "127.0.0.1:8081"
    # The open connections that listener keeps at most (a switch opens one per fetch in
    # flight); beyond them a new one is closed at once.
    dialplan_max_connections: int = Field(default=512, ge=1, le=60000)
    timezone: str = "Europe/Zurich"
    # FreeSWITCH's own HTTP posts (mod_xml_curl, mod_json_cdr): basic credentials and the
    # addresses they may come from.
    switch_http_user: str = Field(default="freeswitch", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    switch_http_password: SecretStr | None = None
    switch_http_allow: list[str] = ["127.0.0.1/32", "::1/128"]
    # Rating and payouts: the PayFast fee in percent of a payout, how it stands to VAT on a
    # VAT-registered owner's credit note (decided with the operator's tax adviser), and the
    # canton whose public holidays are not business days when counting PayFast's 5 business days.
    payfast_fee_percent: Decimal = Field(default=Decimal("2.5"), ge=0, le=100, max_digits=7, decimal_places=4)
    payfast_fee_vat: PayfastFeeVat = PayfastFeeVat.REDUCES_SHARE
    billing_canton: str = Field(default="ZH", pattern=r"^[A-Z]{2}$")
    # Each node's folder of CDRs mod_json_cdr failed to post (its err-log-dir, a local path or
    # a mounted volume), by node name; the sweeper reads them.
    cdr_error_folders: dict[str, str] = {}
    # Dialplans: each node's include folder for the rendered per-number files (a local path or
    # a mounted volume), by node name; the folder announcements are written to, and the same
    # folder as the switches see it (default: the same path); the gateway PSTN destinations
    # leave through and the SIP profile VoIP destinations are called on (freeswitch_conf/).
    dialplan_folders: dict[str, str] = {}
    sounds_folder: str = "var/sounds"
    switch_sounds_folder: str | None = Field(default=None, pattern=r"^/[A-Za-z0-9_./-]{0,200}$")
    pstn_gateway: str = Field(default="carrier", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    sip_profile: str = Field(default="carrier", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    # The port of the switches' carrier profile (freeswitch_conf/vars.xml reads the same
    # variable). SIP destinations at the platform's own switches (the nodes' hosts, loopback, on
    # this port or 5060/5061) are refused as loops; HOST or HOST:PORT entries of
    # sip_allowed_own_hosts are allowed all the same. A JSON list or, from the environment,
    # comma-separated.
    sip_port: int = Field(default=5080, gt=0, lt=65536)
    sip_allowed_own_hosts: Annotated[list[str], NoDecode] = []
    # The operator as its statements name it (the issuer of credit notes and invoices): name,
    # postal address lines and UID (VAT number). A statement is issued only when all three are set.
    operator_name: str | None = None
    operator_address: list[str] = []
    operator_vat_number: str | None = None
    # Operations: log lines as text or one JSON object a line; the bearer token Prometheus
    # presents on GET /metrics (without one, /metrics is refused: no allow-list to keep in step
    # with the scrapers' addresses, which containers and NAT change).
    log_format: Literal["text", "json"] = "text"
    metrics_token: SecretStr | None = None
    # Mail: the relay (host, port, STARTTLS or TLS, optional login), the sender every mail comes
    # from (``Smart Numbers <noreply@example.ch>``) and, for a relay whose certificate a private
    # authority signed, that authority's PEM file. No mail is sent until server and sender are set.
    mail_server: str | None = Field(default=None, pattern=r"^[A-Za-z0-9.:-]{1,253}$")
    mail_port: int = Field(default=587, gt=0, lt=65536)
    mail_security: MailSecurity = MailSecurity.STARTTLS
    mail_user: str | None = Field(default=None, min_length=1, max_length=254)
    mail_password: SecretStr | None = Field(default=None, min_length=1, max_length=256, validate_default=True)
    mail_sender: str | None = None
    mail_ca_file: str | None = None
    # Where people reach serve's API and portal (``https://numbers.example.ch``): mails link there.
    public_url: str | None = Field(default=None, pattern=r"^https?://[A-Za-z0-9.:\[\]-]{1,253}(/[A-Za-z0-9._~/-]*)?$")

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: DatabaseUrl) -> DatabaseUrl:
        expected = "expected sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"  # never the URL: it holds a password
        if not value.get_secret_value().startswith(("sqlite:///", "postgresql://", "postgresql+psycopg://")):
            raise ValueError(expected)
        try:
            make_url(value.get_secret_value())
        except (ArgumentError, ValueError):
            raise ValueError(expected) from None
        return value

    @field_validator("switch_http_password")
    @classmethod
    def _switch_http_password(cls, value: SecretStr | None) -> SecretStr | None:
        return _secret_length(value, 12, 128)

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(r"[\x21-\x7e]{16,128}", value.get_secret_value()):
            raise ValueError("expected 16 to 128 printable characters, no spaces")
        return value

    @field_validator("esl_password")
    @classmethod
    def _esl_password(cls, value: SecretStr | None) -> SecretStr | None:
        return _secret_length(value, 1, 128)

    @field_validator("freeswitch_nodes")
    @classmethod
    def _unique_nodes(cls, nodes: list[FreeSwitchNode], info: ValidationInfo) -> list[FreeSwitchNode]:
        names = [n.name for n in nodes]
        if len(set(names)) != len(names):
            raise ValueError("node names must be unique")
        password = info.data.get("esl_password")
        if password is None and any(n.password is None for n in nodes):
            raise ValueError("a node without a password needs SMARTNUMBERS_ESL_PASSWORD")
        return [n.model_copy(update={"port": n.port or info.data.get("esl_port", 8021),
                                     "password": n.password or password}) for n in nodes]

    @field_validator("app_url", "dialplan_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and (not _URL.fullmatch(value) or not 0 < url_port(value) < 65536):
            raise ValueError(f"expected http://HOST:PORT (no path), got {value[:80]!r}")
        return value

    @model_validator(mode="after")
    def _switch_side(self) -> Settings:
        """The listeners and folders not set: derived from what the switches are told."""
        given = self.model_fields_set
        if self.app_url is not None and "http" not in given:
            self.http = _listen_address(self.app_url)
        if self.dialplan_url is not None and "dialplan_http" not in given:
            self.dialplan_http = _listen_address(self.dialplan_url)
        if self.fs_dialplan_dir is not None and "dialplan_folders" not in given:
            self.dialplan_folders = {node.name: self.fs_dialplan_dir for node in self.freeswitch_nodes}
        if self.fs_cdr_error_dir is not None and "cdr_error_folders" not in given:
            self.cdr_error_folders = {node.name: self.fs_cdr_error_dir for node in self.freeswitch_nodes}
        return self

    @field_validator("switch_http_allow")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an address or network (like 10.0.0.0/24)") from None
        return value

    @field_validator("sip_allowed_own_hosts", mode="before")
    @classmethod
    def _allowed_hosts(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = json.loads(value) if value.lstrip().startswith("[") else [
                item.strip() for item in value.split(",") if item.strip()]
        if isinstance(value, list):
            for item in value:
                host, sep, port = str(item).rpartition(":") if ":" in str(item) else (str(item), "", "")
                if not re.fullmatch(r"[A-Za-z0-9.-]{1,253}", host) or (sep and not (
                        port.isdigit() and 0 < int(port) < 65536)):
                    raise ValueError(f"{str(item)[:60]!r} is not HOST or HOST:PORT")
        return value

    @field_validator("operator_name")
    @classmethod
    def _operator_name(cls, value: str | None) -> str | None:
        return None if value is None else plain_text(value, what="name", max_length=120)

    @field_validator("operator_address")
    @classmethod
    def _operator_address(cls, value: list[str]) -> list[str]:
        return address_lines(value, what="address")

    @field_validator("operator_vat_number")
    @classmethod
    def _operator_vat_number(cls, value: str | None) -> str | None:
        return None if value is None else swiss_uid(value, what="UID")

    @field_validator("mail_sender")
    @classmethod
    def _mail_sender(cls, value: str | None) -> str | None:
        if value is None:
            return None
        name, address = email.utils.parseaddr(value)
        try:
            plain_text(value, what="sender", max_length=200)
            mail_address(address, what="address")
        except InputError:
            raise ValueError(f"expected an address like Smart Numbers <noreply@example.ch>, got {value[:80]!r}") from None
        return email.utils.formataddr((name, address)) if name else address

    @field_validator("mail_ca_file")
    @classmethod
    def _mail_ca_file(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).is_file():
            raise ValueError(f"no file {value[:120]!r}")
        return value

    @field_validator("mail_password")
    @classmethod
    def _mail_login(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if (value is None) != (info.data.get("mail_user") is None):
            raise ValueError("set SMARTNUMBERS_MAIL_USER and SMARTNUMBERS_MAIL_PASSWORD both or neither")
        return value

    @functools.cached_property
    def switch_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return [ipaddress.ip_network(item, strict=False) for item in self.switch_http_allow]

    @field_validator("billing_canton")
    @classmethod
    def _canton(cls, value: str) -> str:
        if value not in holidays.Switzerland.subdivisions:
            raise ValueError(f"{value!r} is not a Swiss canton (like ZH, BE, GE)")
        return value

    @field_validator("http", "dialplan_http")
    @classmethod
    def _http(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536 or not host:
            raise ValueError(f"expected HOST:PORT, got {value!r}")
        try:
            ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            if host != "localhost":
                raise ValueError(f"expected an IP address or localhost as host, got {host!r}") from None
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @property
    def http_address(self) -> tuple[str, int]:
        """Where ``serve`` listens: host and port."""
        return _host_and_port(self.http)

    @property
    def dialplan_address(self) -> tuple[str, int]:
        """Where ``serve`` answers mod_xml_curl's fetches: host and port."""
        return _host_and_port(self.dialplan_http)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = Path(os.environ.get(CONFIG_FILE_ENV, "smartnumbers.toml"))
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=toml_file))


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, or raise SettingsError with one line naming what is wrong."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "settings"
        where = ".".join(str(p) for p in first["loc"][1:])
        message = first["msg"].removeprefix("Value error, ")
        raise SettingsError(f"SMARTNUMBERS_{field.upper()}{' ' + where if where else ''}: {message}") from None
    except Exception as exc:  # malformed JSON in an env var or a broken TOML file
        field = re.search(r'field "(\w+)" from source "EnvSettingsSource"', str(exc))
        if field:
            raise SettingsError(f"SMARTNUMBERS_{field[1].upper()}: not valid JSON") from None
        raise SettingsError(f"settings: {str(exc).splitlines()[0]}") from None


def url_port(url: str) -> int:
    """The port of an ``http(s)://HOST[:PORT]`` URL (80 or 443 when it names none)."""
    port = urlsplit(url).port
    return port if port is not None else (443 if url.startswith("https:") else 80)


def _listen_address(url: str) -> str:
    """Where to listen for what the switches send to ``url``: its address when it names one,
    every address when it names a host (a container's or a DNS name), on its port."""
    host = urlsplit(url).hostname or ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return f"0.0.0.0:{url_port(url)}"
    return f"[{address}]:{url_port(url)}" if address.version == 6 else f"{address}:{url_port(url)}"


def _host_and_port(address: str) -> tuple[str, int]:
    """``host:port`` (IPv6 in brackets) as checked by the validator."""
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)

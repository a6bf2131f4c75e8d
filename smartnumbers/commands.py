"""The domain's commands for NOC staff: database, accounts, users, tokens, numbers, tariffs,
routes and blacklists. Tables for people, ``--json`` for scripts; bad input raises
``InputError``, which the entry module turns into one line and exit status 2, writing nothing."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import secrets
import sys
import tomllib
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from smartnumbers import accounts, blacklist, numbers, routing, tariffs
from smartnumbers.audit import Actor
from smartnumbers.clock import format_local, parse_local, parse_until
from smartnumbers.db import make_engine, session_factory
from smartnumbers.errors import InputError
from smartnumbers.migrate import downgrade, upgrade
from smartnumbers.models import Account, ChangeKind, ChangeStatus, NumberStatus, SmartNumber
from smartnumbers.money import format_chf, json_default, parse_chf
from smartnumbers.phone import format_swiss
from smartnumbers.settings import load_settings

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")]


def console() -> Console:
    """Tables fit a terminal; into a pipe or a file they keep whole lines."""
    return Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)


def emit(rows: Any, table: Table | None, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False, default=json_default))
    elif table is not None:
        console().print(table)


@contextlib.contextmanager
def database(*, create: bool = False) -> Iterator[Engine]:
    """The database the settings name, for one command; only ``db upgrade`` may ``create`` it."""
    engine = make_engine(load_settings().database_url, create=create)
    try:
        yield engine
    finally:
        engine.dispose()


@contextlib.contextmanager
def transaction() -> Iterator[Session]:
    """One transaction per command: all of it is written, or nothing."""
    with database() as engine, session_factory(engine)() as session, session.begin():
        yield session


def _table(*columns: str) -> Table:
    table = Table(show_lines=False, header_style="bold")
    for column in columns:
        table.add_column(column)
    return table


# --- db --------------------------------------------------------------------------------------

db_cli = typer.Typer(help="The database schema.", no_args_is_help=True)


@db_cli.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Migrate the database to the newest schema (or to REVISION); a new SQLite database is made."""
    with database(create=True) as engine:
        upgrade(engine, revision)
    typer.echo(f"database at {revision}")


@db_cli.command("downgrade")
def db_downgrade(revision: str) -> None:
    """Migrate the database back to REVISION (``base`` empties it)."""
    with database() as engine:
        downgrade(engine, revision)
    typer.echo(f"database at {revision}")


# --- accounts, users, tokens ----------------------------------------------------------------

account_cli = typer.Typer(help="Customer accounts and sub-accounts.", no_args_is_help=True)
AddressOption = Annotated[Optional[list[str]], typer.Option(
    "--address", help="A line of the postal address its statements print; repeat it for each line.")]
VatNumberOption = Annotated[Optional[str], typer.Option(
    help="Its UID when it is VAT-registered, like CHE-123.456.788 MWST; none when it is not.")]
LanguageOption = Annotated[Optional[str], typer.Option(help="The language of its statements: de, fr, it or en.")]


def _account_row(account: Account) -> dict[str, Any]:
    address = account.address.split("\n") if account.address else []
    return {"id": account.id, "name": account.name, "parent": account.parent.name if account.parent else None,
            "allow_international": account.allow_international, "address": address,
            "vat_number": account.vat_number, "language": account.language.value}


def _on_statements(row: dict[str, Any]) -> str:
    """What the account's statements print about it, on one line."""
    return ", ".join([*row["address"], row["vat_number"] or "not VAT-registered", row["language"]])


@account_cli.command("add")
def account_add(
    name: str,
    parent: Annotated[Optional[str], typer.Option(help="Make it a sub-account of this account.")] = None,
    allow_international: Annotated[bool, typer.Option(help="May its numbers ring destinations abroad?")] = False,
    address: AddressOption = None,
    vat_number: VatNumberOption = None,
    language: LanguageOption = None,
) -> None:
    """Add an account."""
    with transaction() as session:
        account = accounts.add_account(session, name, parent=parent, allow_international=allow_international,
                                       address=address, vat_number=vat_number, language=language)
        typer.echo(f"account {account.name} added (id {account.id})")


@account_cli.command("set")
def account_set(
    name: str,
    address: AddressOption = None,
    vat_number: VatNumberOption = None,
    language: LanguageOption = None,
) -> None:
    """Change what the account's statements print: address, UID and language."""
    if address is None and vat_number is None and language is None:
        raise InputError("account set: nothing to change (give --address, --vat-number or --language)")
    with transaction() as session:
        account = accounts.change_account(accounts.find_account(session, name), address=address,
                                          vat_number=vat_number, language=language)
        typer.echo(f"account {account.name}: {_on_statements(_account_row(account))}")


@account_cli.command("list")
def account_list(as_json: JsonFlag = False) -> None:
    """List accounts, sub-accounts under their parent."""
    with transaction() as session:
        rows = [_account_row(a) for a in session.scalars(select(Account).order_by(Account.name))]
    table = _table("id", "name", "parent", "abroad", "on statements")
    for r in rows:
        table.add_row(str(r["id"]), r["name"], r["parent"] or "", "yes" if r["allow_international"] else "no",
                      _on_statements(r))
    emit(rows, table, as_json)


@account_cli.command("grant")
def account_grant(
    sub_account: str,
    number: str,
) -> None:
    """Let a sub-account see one of its parent tree's numbers."""
    with transaction() as session:
        acc = accounts.find_account(session, sub_account)
        n = numbers.find_number(session, number)
        accounts.grant_number(session, acc, n)
        typer.echo(f"{acc.name} may see {format_swiss(n.e164)}")


user_cli = typer.Typer(help="Portal users.", no_args_is_help=True)


@user_cli.command("add")
def user_add(
    email: str,
    account: Annotated[str, typer.Option(help="The account the user belongs to.")],
    role: Annotated[str, typer.Option(help="The role: operator, admin, routing, billing or read_only.")] = "read_only",
    password_stdin: Annotated[bool, typer.Option(help="Read the password from standard input.")] = False,
) -> None:
    """Add a user. The password is asked for at the terminal, or read from standard input with
    --password-stdin; it is never a flag, which other users of the machine could read."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif not sys.stdin.isatty():  # piped: a prompt would read the password and its confirmation from the pipe
        raise InputError("user add: standard input is not a terminal: add --password-stdin to read the password "
                         "from it")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with transaction() as session:
        user = accounts.add_user(session, accounts.find_account(session, account), email, password, role)
        typer.echo(f"user {user.email} added to {account} as {user.role.value}")


token_cli = typer.Typer(help="API tokens, each scoped to one account.", no_args_is_help=True)


@token_cli.command("add")
def token_add(
    account: Annotated[str, typer.Option(help="The account the token acts for.")],
    name: Annotated[str, typer.Option(help="What the token is for.")],
    role: Annotated[str, typer.Option(help="operator, admin, routing, billing or read_only")] = "admin",
) -> None:
    """Issue a token acting with a role; its secret is printed once and never stored."""
    with transaction() as session:
        issued = accounts.add_token(session, accounts.find_account(session, account), name, role)
        typer.echo(f"token {issued.token.id} for {account} ({issued.token.role.value}): {issued.secret}")


@token_cli.command("revoke")
def token_revoke(token_id: int) -> None:
    """Revoke a token at once."""
    with transaction() as session:
        token = accounts.revoke_token(session, token_id)
        typer.echo(f"token {token.id} ({token.name}) revoked")


@token_cli.command("list")
def token_list(account: Annotated[str, typer.Option()], as_json: JsonFlag = False) -> None:
    """List an account's tokens (prefixes only)."""
    with transaction() as session:
        acc = accounts.find_account(session, account)
        rows = [
            {"id": t.id, "name": t.name, "prefix": t.prefix, "role": t.role.value,
             "created_at": t.created_at.isoformat(),
             "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None}
            for t in accounts.account_tokens(session, acc.id)
        ]
    table = _table("id", "name", "prefix", "role", "created", "revoked")
    for r in rows:
        table.add_row(str(r["id"]), r["name"], r["prefix"] + "…", r["role"], r["created_at"], r["revoked_at"] or "")
    emit(rows, table, as_json)


# --- numbers ---------------------------------------------------------------------------------

number_cli = typer.Typer(help="Smart numbers.", no_args_is_help=True)


def _amount(text: str | None, what: str) -> Decimal | None:
    return None if text is None else parse_chf(text, what=what)


@number_cli.command("add")
def number_add(
    number: str,
    account: Annotated[str, typer.Option(help="The owner account.")],
    caller_id: Annotated[str, typer.Option(
        help="The number shown to destinations: caller, smart_number, fixed or withheld.")] = "caller",
    caller_id_number: Annotated[Optional[str], typer.Option(help="The number shown with --caller-id fixed.")] = None,
    language: Annotated[str, typer.Option(help="Announcements in de, fr, it or en.")] = "de",
    max_calls: Annotated[int, typer.Option(help="Limit of simultaneous calls.")] = 30,
    cost_cap: Annotated[Optional[str], typer.Option(help="090x: a per-call cap below CHF 400.")] = None,
    payout: Annotated[str, typer.Option(help="How the owner is paid: standard or payfast.")] = "standard",
    donor: Annotated[Optional[str], typer.Option(help="Porting in: the donor operator.")] = None,
    port_date: Annotated[Optional[str], typer.Option(help="Porting in: the port date, YYYY-MM-DD.")] = None,
) -> None:
    """Add a smart number to an account."""
    try:
        port_day = dt.date.fromisoformat(port_date) if port_date else None
    except ValueError:
        raise InputError(f"port date: {port_date[:20]!r} is not a date (YYYY-MM-DD)") from None
    with transaction() as session:
        n = numbers.add_number(
            session, Actor.cli_operator(), number, accounts.find_account(session, account),
            caller_id_policy=caller_id, caller_id_number=caller_id_number, language=language,
            max_concurrent_calls=max_calls, call_cost_cap=_amount(cost_cap, "cost cap"), payout_option=payout,
            donor_operator=donor, port_date=port_day,
        )
        typer.echo(f"{format_swiss(n.e164)} added to {account} ({n.range_class.value})")


@number_cli.command("list")
def number_list(
    account: Annotated[Optional[str], typer.Option(help="Only this account's numbers (and what it may see).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List smart numbers."""
    with transaction() as session:
        if account:
            found = accounts.visible_numbers(session, accounts.find_account(session, account))
        else:
            found = list(session.scalars(select(SmartNumber).order_by(SmartNumber.e164)))
        rows = [numbers.snapshot(n) for n in found]
    table = _table("number", "range", "account", "status", "caller-ID", "lang", "max calls", "payout")
    for r in rows:
        table.add_row(r["shown"], r["range_class"] + (f" ({r['premium_category']})" if r["premium_category"] else ""),
                      r["account"], r["status"], r["caller_id_policy"], r["language"], str(r["max_concurrent_calls"]),
                      r["payout_option"])
    emit(rows, table, as_json)


@number_cli.command("show")
def number_show(number: str, as_json: JsonFlag = False) -> None:
    """Show one number's settings."""
    with transaction() as session:
        row = numbers.snapshot(numbers.find_number(session, number))
    table = _table("setting", "value")
    for key, value in row.items():
        table.add_row(key, "" if value is None else str(value))
    emit(row, table, as_json)


def _set_status(number: str, status: NumberStatus) -> None:
    with transaction() as session:
        n = numbers.set_status(session, Actor.cli_operator(), numbers.find_number(session, number), status)
        typer.echo(f"{format_swiss(n.e164)} is {status.value}")


@number_cli.command("suspend")
def number_suspend(number: str) -> None:
    """Suspend a number: callers hear a notice, nothing rings."""
    _set_status(number, NumberStatus.SUSPENDED)


@number_cli.command("activate")
def number_activate(number: str) -> None:
    """Put a suspended or ported-in number into service."""
    _set_status(number, NumberStatus.ACTIVE)


@number_cli.command("age-check")
def number_age_check(number: str, mode: Annotated[str, typer.Argument(help="How: digit or pin.")]) -> None:
    """How a 0906 number checks its callers' age before connecting: a confirming digit or a PIN."""
    with transaction() as session:
        n = numbers.set_age_check(session, Actor.cli_operator(), numbers.find_number(session, number), mode)
        typer.echo(f"{format_swiss(n.e164)}: age check by {n.age_check.value}")


@number_cli.command("pin-add")
def number_pin_add(
    number: str,
    holder: Annotated[str, typer.Option(help="The verified adult the PIN is issued to.")],
    pin: Annotated[Optional[str], typer.Option(help="4 to 8 digits (default: 6 random digits).")] = None,
) -> None:
    """Issue an age-check PIN for a 0906 number; it is printed once here."""
    issued = pin if pin is not None else f"{secrets.randbelow(10**6):06d}"
    with transaction() as session:
        entry = numbers.add_age_pin(session, Actor.cli_operator(), numbers.find_number(session, number), issued,
                                    holder)
        typer.echo(f"PIN {entry.id} for {entry.holder}: {issued}")


@number_cli.command("pin-remove")
def number_pin_remove(number: str, pin_id: int) -> None:
    """Withdraw an age-check PIN."""
    with transaction() as session:
        numbers.remove_age_pin(session, Actor.cli_operator(), numbers.find_number(session, number), pin_id)
        typer.echo(f"PIN {pin_id} withdrawn")


# --- tariffs ---------------------------------------------------------------------------------

tariff_cli = typer.Typer(help="Tariffs: up to 90 codes a number, each in immutable versions.", no_args_is_help=True)


def parse_fee(text: str) -> tariffs.Fee:
    """``2.50@600`` (once, 600 s after answer) or ``1.00/600`` (every 600 s)."""
    for sep, kind in (("@", "at"), ("/", "every")):
        if sep in text:
            amount, _, seconds = text.partition(sep)
            if not seconds.isdigit() or not seconds.isascii():
                break
            value = parse_chf(amount, what="fee")
            return tariffs.Fee(value, at_s=int(seconds)) if kind == "at" else tariffs.Fee(value, every_s=int(seconds))
    raise InputError(f"fee: {text[:30]!r} is not AMOUNT@SECONDS (once) or AMOUNT/SECONDS (every)")


def parse_increments(text: str) -> tuple[int, int]:
    first, sep, following = text.partition("/")
    if not sep or not first.isdigit() or not following.isdigit() or not text.isascii():
        raise InputError(f"increments: {text[:20]!r} is not FIRST/NEXT in seconds, like 60/60 or 30/6")
    return int(first), int(following)


@tariff_cli.command("set")
def tariff_set(
    number: str,
    code: Annotated[int, typer.Option(help="Tariff code, 1 to 90.")],
    per_minute: Annotated[str, typer.Option(help="Price per minute in CHF, VAT included.")],
    per_call: Annotated[str, typer.Option(help="Price per call in CHF, charged at answer.")] = "0",
    fee: Annotated[Optional[list[str]], typer.Option(help="AMOUNT@SECONDS once, AMOUNT/SECONDS every.")] = None,
    increments: Annotated[str, typer.Option(help="Billing increments FIRST/NEXT in seconds.")] = "60/60",
    valid_from: Annotated[Optional[str], typer.Option(help="From when, Zurich time (default now).")] = None,
) -> None:
    """Set a tariff code: a new version, checked against the Swiss caps. Saved with a warning
    when its recurring fees would take a call's fixed charges past the CHF 100 cap (later
    fees are then not charged)."""
    first, following = parse_increments(increments)
    terms = tariffs.TariffTerms(
        price_per_minute=parse_chf(per_minute, what="price per minute"),
        price_per_call=parse_chf(per_call, what="price per call"),
        fees=tuple(parse_fee(f) for f in fee or ()),
        first_unit_s=first,
        next_unit_s=following,
    )
    settings = load_settings()
    start = parse_local(valid_from, settings.zone, what="valid from") if valid_from else None
    with transaction() as session:
        n = numbers.find_number(session, number)
        version = tariffs.set_tariff(session, Actor.cli_operator(), n, code, terms, valid_from=start)
        typer.echo(f"{format_swiss(n.e164)} tariff {code:02d} version {version.version}: "
                   f"{format_chf(terms.price_per_minute)}/min, {format_chf(terms.price_per_call)} per call")
        capped = tariffs.fixed_charge_cap(terms, n.call_cost_cap)
        if capped is not None:
            typer.echo(f"warning: tariff {code:02d}: {capped.message}")


@tariff_cli.command("list")
def tariff_list(
    number: str,
    all_versions: Annotated[bool, typer.Option("--all-versions", help="Every version, not just the newest.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """List a number's tariff codes."""
    settings = load_settings()
    with transaction() as session:
        n = numbers.find_number(session, number)
        rows = []
        for tariff in n.tariffs:
            chosen = tariff.versions if all_versions else tariff.versions[-1:]
            rows += [tariffs.version_snapshot(v) for v in chosen]
    table = _table("code", "version", "valid from", "per minute", "per call", "fees", "increments")
    for r in rows:
        fees = ", ".join(f"{format_chf(Decimal(f['amount']))} " + (f"at {f['at_s']} s" if f["at_s"] is not None
                                                                     else f"every {f['every_s']} s") for f in r["fees"])
        table.add_row(f"{r['code']:02d}", str(r["version"]),
                      format_local(dt.datetime.fromisoformat(r["valid_from"]), settings.zone),
                      format_chf(Decimal(r["price_per_minute"])), format_chf(Decimal(r["price_per_call"])), fees,
                      f"{r['first_unit_s']}/{r['next_unit_s']}")
    emit(rows, table, as_json)


# --- routes ----------------------------------------------------------------------------------

route_cli = typer.Typer(help="Weekly routing plans.", no_args_is_help=True)


def _destination_item(text: str) -> dict[str, Any]:
    """``+41441234567/20`` or ``sip:desk@pbx.example.com/15``: target and ring timeout."""
    target, sep, timeout = text.rpartition("/")
    if not sep or not timeout.isdigit() or not timeout.isascii():
        return {"target": text, "ring_timeout": 20}
    return {"target": target, "ring_timeout": int(timeout)}


def slot_from_flag(text: str) -> dict[str, Any]:
    """``mon-fri 08:00-18:00 +41441234567/20 sip:desk@pbx.example.com/15``"""
    parts = text.split()
    if len(parts) < 3 or "-" not in parts[1]:
        raise InputError(f"slot: {text[:60]!r} is not 'DAYS HH:MM-HH:MM DESTINATION[/TIMEOUT] ...'")
    start, _, end = parts[1].partition("-")
    return {"days": parts[0], "start": start, "end": end, "destinations": [_destination_item(p) for p in parts[2:]]}


def read_plan_file(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"plan file: {exc.strerror}: {path}") from None
    try:
        return tomllib.loads(raw.decode()) if path.suffix == ".toml" else json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"plan file {path.name}: {str(exc).splitlines()[0]}") from None


PlanFile = Annotated[Optional[Path], typer.Option(help="A plan file (.toml or .json).")]
SlotFlag = Annotated[Optional[list[str]], typer.Option(help="'mon-fri 08:00-18:00 +41441234567/20 ...'")]
OutsideFlag = Annotated[str, typer.Option(help="Outside every slot: reject, announcement or fallback.")]
FallbackFlag = Annotated[Optional[list[str]], typer.Option(help="Fallback destination TARGET/TIMEOUT.")]
AnnouncementFlag = Annotated[Optional[str], typer.Option(help="Text spoken outside every slot.")]
CantonFlag = Annotated[Optional[str], typer.Option(help="Public holidays of this canton (ZH, BE, ...).")]
HolidayRuleFlag = Annotated[str, typer.Option(help="On holidays: closed or as_sunday.")]
HolidayFlag = Annotated[Optional[list[str]], typer.Option(help="An extra holiday, YYYY-MM-DD.")]


def plan_from_flags(command: str, file: Path | None, slot: list[str] | None, outside: str, fallback: list[str] | None,
                    announcement: str | None, canton: str | None, holiday_rule: str,
                    holiday: list[str] | None) -> dict[str, Any]:
    """The plan document ``route set`` and ``route change`` read: a plan file, or flags."""
    if file is not None:
        if slot or fallback or announcement or canton or holiday:
            raise InputError(f"route {command}: give a plan file or flags, not both")
        return read_plan_file(file)
    outside_doc: dict[str, Any] = {"action": outside}
    if fallback:
        outside_doc["destinations"] = [_destination_item(f) for f in fallback]
    if announcement is not None:
        outside_doc["announcement"] = announcement
    return {
        "slots": [slot_from_flag(s) for s in slot or ()],
        "outside": outside_doc,
        "holidays": {"canton": canton, "rule": holiday_rule, "dates": list(holiday or ())},
    }


@route_cli.command("set")
def route_set(
    number: str,
    file: PlanFile = None,
    slot: SlotFlag = None,
    outside: OutsideFlag = "reject",
    fallback: FallbackFlag = None,
    announcement: AnnouncementFlag = None,
    canton: CantonFlag = None,
    holiday_rule: HolidayRuleFlag = "closed",
    holiday: HolidayFlag = None,
) -> None:
    """Replace a number's weekly plan, from a plan file or from flags."""
    doc = plan_from_flags("set", file, slot, outside, fallback, announcement, canton, holiday_rule, holiday)
    with transaction() as session:
        n = numbers.find_number(session, number)
        spec = routing.replace_plan(session, Actor.cli_operator(), n, routing.own_plan_document(doc, n.e164))
        typer.echo(f"{format_swiss(n.e164)}: plan with {len(spec.slots)} slot(s) stored")


@route_cli.command("change", short_help="Replace a number's plan at a date and time, or now.")
def route_change(
    number: str,
    at: Annotated[str, typer.Option(help="When, in Zurich time (2026-12-24 18:00), or now.")],
    file: PlanFile = None,
    slot: SlotFlag = None,
    outside: OutsideFlag = "reject",
    fallback: FallbackFlag = None,
    announcement: AnnouncementFlag = None,
    canton: CantonFlag = None,
    holiday_rule: HolidayRuleFlag = "closed",
    holiday: HolidayFlag = None,
) -> None:
    """Replace a number's plan at a date and time, with the plan file or the flags route set
    takes.

    With --at now the plan is replaced at once, as route set does it. A time that the
    spring change of the clocks skips (2027-03-28 02:30) is refused. A time that the autumn change
    repeats (2027-10-31 02:30) means its first occurrence, in summer time; for the second, give
    the offset: 2027-10-31T02:30+01:00. A time in the past and a suspended number are refused."""
    doc = plan_from_flags("change", file, slot, outside, fallback, announcement, canton, holiday_rule, holiday)
    settings = load_settings()
    instant = None if at.strip().lower() == "now" else parse_local(at, settings.zone, what="--at")
    with transaction() as session:
        n = numbers.find_number(session, number)
        change = routing.schedule_change(session, Actor.cli_operator(), n, ChangeKind.PLAN, {"plan": doc}, at=instant)
    when = "now" if instant is None else format_local(change.apply_at, settings.zone)
    typer.echo(f"change {change.id}: {format_swiss(change.number)} gets a {change.summary()} {when}"
               + (" (made)" if change.status is ChangeStatus.APPLIED else ""))


def _change_row(change: routing.PlanChange) -> dict[str, Any]:
    return {
        "id": change.id, "number": change.number, "kind": change.kind.value, "change": change.change,
        "apply_at": change.apply_at.isoformat(), "status": change.status.value, "asked_by": change.asked_by,
        "asked_at": change.asked_at.isoformat(),
        "applied_at": change.applied_at.isoformat() if change.applied_at else None, "error": change.error,
    }


@route_cli.command("changes")
def route_changes(
    number: Annotated[Optional[str], typer.Argument(help="One number's changes; every number's when left out.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List scheduled plan changes, pending and past, by their moment (Zurich time)."""
    settings = load_settings()
    with transaction() as session:
        chosen = [numbers.find_number(session, number)] if number else None
        found = routing.scheduled_changes(session, chosen)
    table = _table("id", "number", "at", "change", "status", "asked by", "asked at")
    for c in found:
        status = c.status.value + (f": {c.error}" if c.error else "")
        table.add_row(str(c.id), format_swiss(c.number), format_local(c.apply_at, settings.zone), c.summary(), status,
                      c.asked_by, format_local(c.asked_at, settings.zone))
    emit([_change_row(c) for c in found], table, as_json)


@route_cli.command("cancel")
def route_cancel(change_id: Annotated[int, typer.Argument(help="The change's id, from route changes.")]) -> None:
    """Cancel a pending plan change."""
    settings = load_settings()
    with transaction() as session:
        change = routing.cancel_change(session, Actor.cli_operator(), change_id)
    typer.echo(f"change {change.id} of {format_swiss(change.number)} at "
               f"{format_local(change.apply_at, settings.zone)} cancelled")


def _decision_rows(decision: routing.RoutingDecision) -> dict[str, Any]:
    return {
        "slot": decision.slot.describe() if decision.slot else None,
        "outside_action": decision.outside_action.value if decision.outside_action else None,
        "announcement": decision.announcement,
        "holiday": decision.holiday,
        "destinations": [{"order": i, "target": d.target, "shown": d.shown(), "ring_timeout": d.ring_timeout_s}
                         for i, d in enumerate(decision.destinations, 1)],
    }


@route_cli.command("show")
def route_show(
    number: str,
    at: Annotated[Optional[str], typer.Option(help="Which destinations ring at this Zurich time?")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Show a number's plan, or with --at what happens to a call at that moment."""
    settings = load_settings()
    with transaction() as session:
        n = numbers.find_number(session, number)
        if n.plan is None:
            raise InputError(f"route: {format_swiss(n.e164)} has no plan yet")
        spec = routing.spec_of(n.plan)
    if at is None:
        doc = routing.plan_document(spec)
        table = _table("days", "from", "to", "destinations in hunt order")
        for s in spec.slots:
            table.add_row(",".join(routing.WEEKDAY_NAMES[d] for d in sorted(s.weekdays)),
                          routing._clock(s.start_minute), routing._clock(s.end_minute),
                          "  →  ".join(f"{d.shown()} ({d.ring_timeout_s} s)" for d in s.destinations))
        outside_text = spec.outside_action.value
        if spec.fallback:
            outside_text += ": " + "  →  ".join(f"{d.shown()} ({d.ring_timeout_s} s)" for d in spec.fallback)
        if spec.outside_announcement:
            outside_text += f": “{spec.outside_announcement}”"
        table.add_row("outside", "", "", outside_text)
        if spec.holiday_canton or spec.extra_holidays:
            table.add_row("holidays", "", "", f"canton {spec.holiday_canton or '-'}, {spec.holiday_rule.value}, "
                          f"{len(spec.extra_holidays)} extra date(s)")
        emit(doc, table, as_json)  # the plan document route set --file reads back, as the API prints it
        return
    instant = parse_local(at, settings.zone, what="--at")
    decision = routing.decide(spec, instant, settings.zone)
    row = {"number": n.e164, "at": instant.isoformat(), **_decision_rows(decision)}
    if as_json:
        emit(row, None, True)
        return
    when = format_local(instant, settings.zone)
    head = f"{format_swiss(n.e164)} at {when}"
    if decision.holiday:
        head += f" ({decision.holiday})"
    if decision.slot:
        typer.echo(f"{head}: slot {decision.slot.describe()}")
    else:
        typer.echo(f"{head}: outside every slot, {decision.outside_action.value}"
                   + (f" “{decision.announcement}”" if decision.announcement else ""))
    table = _table("order", "destination", "ring timeout")
    for d in row["destinations"]:
        table.add_row(str(d["order"]), d["shown"], f"{d['ring_timeout']} s")
    if row["destinations"]:
        console().print(table)


# --- blacklist -------------------------------------------------------------------------------

blacklist_cli = typer.Typer(help="Callers refused for a number or a whole account.", no_args_is_help=True)


@blacklist_cli.command("add")
def blacklist_add(
    pattern: Annotated[str, typer.Argument(help="A caller's number, or a prefix ending in * (+4179*).")],
    account: Annotated[str, typer.Option(help="The account the entry belongs to.")],
    reason: Annotated[str, typer.Option(help="Why the caller is refused.")],
    number: Annotated[Optional[str], typer.Option(help="Only for this smart number (default: all of the account's).")] = None,
    until: Annotated[Optional[str], typer.Option(
        help="Until this Zurich time (2026-12-31 18:00), or to the end of a date given alone (default: for "
             "good).")] = None,
) -> None:
    """Refuse a caller or a prefix."""
    settings = load_settings()
    end = parse_until(until, settings.zone, what="--until") if until else None
    with transaction() as session:
        acc = accounts.find_account(session, account)
        n = numbers.find_number(session, number) if number else None
        entry = blacklist.add_entry(session, Actor.cli_operator(), acc, pattern, reason, number=n, until=end)
        typer.echo(f"blacklist entry {entry.id} added")


@blacklist_cli.command("list")
def blacklist_list(
    account: Annotated[str, typer.Option()],
    number: Annotated[Optional[str], typer.Option()] = None,
    as_json: JsonFlag = False,
) -> None:
    """List the entries in force."""
    settings = load_settings()
    with transaction() as session:
        acc = accounts.find_account(session, account)
        n = numbers.find_number(session, number) if number else None
        entries = blacklist.entries_for(session, acc, n)
        shown = {x.id: format_swiss(x.e164) for x in session.scalars(select(SmartNumber).where(
            SmartNumber.id.in_({e.number_id for e in entries if e.number_id})))}
        rows = [blacklist.snapshot(e) | {"number": shown.get(e.number_id)} for e in entries]
    table = _table("id", "caller", "number", "until", "reason")
    for r in rows:
        until_text = format_local(dt.datetime.fromisoformat(r["until"]), settings.zone) if r["until"] else "for good"
        table.add_row(str(r["id"]), r["pattern"], r["number"] or "all", until_text, r["reason"])
    emit(rows, table, as_json)


@blacklist_cli.command("remove")
def blacklist_remove(entry_id: int, account: Annotated[str, typer.Option()]) -> None:
    """Remove an entry."""
    with transaction() as session:
        blacklist.remove_entry(session, Actor.cli_operator(), accounts.find_account(session, account), entry_id)
        typer.echo(f"blacklist entry {entry_id} removed")


def register(cli: typer.Typer) -> None:
    for name, group in (
        ("db", db_cli), ("account", account_cli), ("user", user_cli), ("token", token_cli),
        ("number", number_cli), ("tariff", tariff_cli), ("route", route_cli), ("blacklist", blacklist_cli),
    ):
        cli.add_typer(group, name=name)

"""Money at the command line: the operator's price list, rating a period, statements."""

from __future__ import annotations

import datetime as dt
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from rating import aggregates, statements
from rating.operator_prices import price_items, set_price
from rating.pipeline import RatingSetup, rate_period
from smartnumbers.audit import Actor
from smartnumbers.commands import JsonFlag, console, transaction
from smartnumbers.errors import InputError
from smartnumbers.files import check_output_file, write_output_file
from smartnumbers.models import SmartNumber
from smartnumbers.money import decimal_text, format_chf, json_default, parse_chf
from smartnumbers.phone import CallerOrigin, RangeClass, format_swiss
from smartnumbers.settings import load_settings

pricelist_cli = typer.Typer(help="The operator's price list: interconnection, owners' costs and shares.",
                            no_args_is_help=True)


def _choice(enum_type, text: str, what: str):
    try:
        return enum_type(text)
    except ValueError:
        raise InputError(f"{what}: {text!r} is not one of {', '.join(m.value for m in enum_type)}") from None


@pricelist_cli.command("set")
def pricelist_set(
    range_class: Annotated[str, typer.Option("--range", help="The range: freephone, shared_cost or premium.")],
    origin: Annotated[str, typer.Option(help="The caller origin: fixed, mobile, withheld or abroad.")],
    interconnection: Annotated[str, typer.Option(help="CHF per minute excl. VAT the carriers charge")],
    owner_per_minute: Annotated[str, typer.Option(help="0800/084x: CHF per minute excl. VAT")] = "0",
    share: Annotated[str, typer.Option(help="090x: the owner's share of the net revenue, percent")] = "0",
) -> None:
    """Set the amounts calls of one range from one caller origin are priced by (excl. VAT).
    Calls of a range and origin without an entry are stored but not rated; once it is set,
    `smartnumbers rate --period YYYY-MM` rates them."""
    with transaction() as session:
        item = set_price(
            session, Actor.cli_operator(), _choice(RangeClass, range_class, "--range"),
            _choice(CallerOrigin, origin, "--origin"),
            interconnection_per_minute=parse_chf(interconnection, what="--interconnection"),
            owner_per_minute=parse_chf(owner_per_minute, what="--owner-per-minute"),
            payout_share_percent=parse_chf(share, what="--share"),
        )
        owner = (f"owner's share {item.payout_share_percent.normalize():f} % of the net revenue"
                 if item.range_class is RangeClass.PREMIUM else f"owner {format_chf(item.owner_per_minute)}/min")
        typer.echo(f"price list {item.range_class}/{item.origin} stored: interconnection "
                   f"{format_chf(item.interconnection_per_minute)}/min, {owner} (excl. VAT)")


@pricelist_cli.command("list")
def pricelist_list(as_json: JsonFlag = False) -> None:
    """Show the price list."""
    with transaction() as session:
        rows = [{"range": i.range_class.value, "origin": i.origin.value,
                 "interconnection_per_minute": decimal_text(i.interconnection_per_minute),
                 "owner_per_minute": decimal_text(i.owner_per_minute),
                 "payout_share_percent": decimal_text(i.payout_share_percent)}
                for i in price_items(session)]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("range", "origin", "interconnection/min", "owner/min", "share %")
    for row in rows:
        table.add_row(row["range"], row["origin"], format_chf(Decimal(row["interconnection_per_minute"])),
                      format_chf(Decimal(row["owner_per_minute"])), row["payout_share_percent"])
    console().print(table)


def rate(
    period: Annotated[str, typer.Option(help="The month, Europe/Zurich: 2026-11.")],
    rerate: Annotated[bool, typer.Option("--rerate", help="Recompute calls already rated; list every change.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Rate a period's calls not rated yet, or re-rate all of them after a tariff correction.
    Calls of a period whose statement is issued stay as billed; a change becomes an adjustment
    on the account's next statement."""
    settings = load_settings()
    with transaction() as session:
        setup = RatingSetup.load(session, settings.payfast_fee_percent, settings.zone)
        if sys.stdout.isatty() and not as_json:
            with Progress(console=console(), transient=True) as bar:
                task = bar.add_task(f"rating {period}", total=None)
                result = rate_period(session, period, setup, rerate=rerate,
                                     progress=lambda done, total: bar.update(task, completed=done, total=total))
        else:
            result = rate_period(session, period, setup, rerate=rerate)
        numbers = {n.id: n.e164 for n in session.query(SmartNumber)}
        changes = [{
            "call_id": c.call_id, "number": numbers.get(c.number_id), "started_at": c.started_at.isoformat(),
            "caller_before": decimal_text(c.before["caller"]), "caller_after": decimal_text(c.after["caller"]),
            "caller_change": decimal_text(c.delta["caller"]), "payout_change": decimal_text(c.delta["payout"]),
            "owner_cost_change": decimal_text(c.delta["owner_cost"]), "adjustment": c.adjusted,
        } for c in result.changes]
    if as_json:
        typer.echo(json.dumps({"period": period, "rated": result.rated, "changed": changes,
                               "unrated": result.unrated}, indent=2))
        return
    typer.echo(f"{period}: {result.rated} call(s) rated, {len(changes)} changed, {len(result.unrated)} not rated")
    if changes:
        table = Table("call", "number", "started", "caller before", "after", "change", "payout change", "")
        for c in changes:
            table.add_row(c["call_id"], format_swiss(c["number"]) if c["number"] else "?", c["started_at"][:19],
                          format_chf(Decimal(c["caller_before"])), format_chf(Decimal(c["caller_after"])),
                          _signed(Decimal(c["caller_change"])), _signed(Decimal(c["payout_change"])),
                          "adjustment on the next statement" if c["adjustment"] else "")
        console().print(table)
    for call_id, reason in result.unrated.items():
        typer.echo(f"not rated: {call_id}: {reason}")


def _signed(amount: Decimal) -> str:
    return ("+" if amount >= 0 else "−") + format_chf(abs(amount))


def statement(
    account: Annotated[str, typer.Option(help="The account's name.")],
    month: Annotated[str, typer.Option(help="The period, Europe/Zurich: 2026-11.")],
    pdf: Annotated[Path | None, typer.Option(help="Write the statement as PDF to this file.")] = None,
    issue: Annotated[bool, typer.Option("--issue", help=(
        "Issue it: give it the next document number, lock the period's calls and store its PDF "
        "(a document to file names its issuer: set the SMARTNUMBERS_OPERATOR_* settings first)."))] = False,
    as_json: JsonFlag = False,
) -> None:
    """An account's monthly statement, itemised per number and tariff; for payouts a
    self-billing credit note. A draft unless issued; issuing gives it its document number and
    stores its PDF, which is given out unchanged from then on."""
    settings = load_settings()
    if pdf is not None:
        check_output_file(pdf, what="--pdf")
    with transaction() as session:
        built = statements.build_statement(session, account, month, settings)
        if issue:
            statements.issue(session, built)
            if missing := built.issuer.missing():
                typer.echo(f"warning: issued without {', '.join(missing)}: the document does not name its "
                           "issuer fully; set them before the next month's statements", err=True)
        document = statements.statement_dict(built)
        if pdf is not None:
            from rating.statement_pdf import render  # WeasyPrint loads slowly: only when a PDF is wanted

            write_output_file(pdf, statements.issued_pdf(session, built) or render(built), what="--pdf")
    if as_json:
        typer.echo(json.dumps(document, indent=2, ensure_ascii=False, default=json_default))
        return
    table = Table("number", "tariff", "calls", "minutes", "callers paid", "payout", "owner cost")
    for line in built.lines:
        table.add_row(format_swiss(line.number), line.tariff, str(line.calls), f"{line.talk_s / 60:.1f}",
                      format_chf(line.caller), format_chf(line.payout), format_chf(line.owner_cost))
    console().print(table)
    state = f"issued as no. {built.document_number}" if built.issued else "draft"
    typer.echo(f"{state}: payout {format_chf(built.payout_total)} "
               f"({built.payout_option}, due {built.due_on.isoformat()}), owner costs {format_chf(built.owner_cost)}")


def dashboard(
    account: Annotated[str, typer.Option(help="The account's name.")],
    as_json: JsonFlag = False,
) -> None:
    """The account's dashboard: revenue yesterday, today, this month and year, the month's
    forecast, traffic per number, and the top callers (withheld callers never listed)."""
    settings = load_settings()
    with transaction() as session:
        found = statements.account_named(session, account)
        board = aggregates.dashboard(session, found.id, dt.datetime.now(dt.UTC), settings.zone)
    if as_json:
        typer.echo(json.dumps(board, indent=2, default=json_default))
        return
    revenue = board["revenue"]
    typer.echo("  ".join(f"{key} {format_chf(revenue[key])}" for key in ("yesterday", "today", "month", "year"))
               + f"  forecast {format_chf(board['forecast_month'])} ({board['forecast_method']})")
    table = Table("number", "calls", "answered", "unanswered", "revenue")
    for row in board["by_number"]:
        table.add_row(format_swiss(row["key"]), str(row["calls"]), str(row["answered"]), str(row["unanswered"]),
                      format_chf(row["revenue"]))
    console().print(table)
    top = Table("caller", "number", "calls", "revenue", "")
    for row in board["top_callers_month"][:20]:
        top.add_row(format_swiss(row["caller"]), format_swiss(row["number"]), str(row["calls"]),
                    format_chf(row["revenue"]), "new" if row["new"] else "regular")
    console().print(top)


def register(cli: typer.Typer) -> None:
    cli.add_typer(pricelist_cli, name="pricelist")
    cli.command("rate")(rate)
    cli.command("statement")(statement)
    cli.command("dashboard")(dashboard)

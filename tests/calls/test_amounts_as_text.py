"""Amounts become text one way (``smartnumbers.money.decimal_text``): plain decimals with two
places, more only where a price has them, in every JSON document and table; never the
exponent a Decimal read back from the database prints by itself (``1.5E+2``, ``1E+1``)."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal, localcontext

import pytest

from smartnumbers.money import decimal_text, format_chf, from_micro, json_default, to_micro
from tests.calls.calls import a_leg, store
from tests.calls.conftest import local
from tests.foundation.cli import invoke

D = Decimal
EXPONENT = re.compile(r"\d[eE][+-]?\d")
AMOUNT = re.compile(r"^-?\d+\.\d{2,6}$")


@pytest.mark.parametrize(
    ("stored", "text", "shown"),
    [
        ("150", "150.00", "CHF 150.00"),
        ("10", "10.00", "CHF 10.00"),
        ("0.081075", "0.081075", "CHF 0.081075"),
        ("70", "70.00", "CHF 70.00"),
        ("0", "0.00", "CHF 0.00"),
        ("1234.5", "1234.50", "CHF 1’234.50"),
        ("-1.54", "-1.54", "CHF -1.54"),
        ("400000.000001", "400000.000001", "CHF 400’000.000001"),
    ],
)
def test_an_amount_read_back_from_the_database_is_plain_text(stored, text, shown):
    read_back = from_micro(to_micro(D(stored)))  # what the Money column gives: 150 reads 1.5E+2
    assert decimal_text(read_back) == text
    assert format_chf(read_back) == shown
    assert json.dumps({"amount": read_back}, default=json_default) == f'{{"amount": "{text}"}}'
    with localcontext() as context:
        context.prec = 3  # the caller's context changes nothing
        assert decimal_text(read_back) == text


def test_only_finite_decimals_are_amounts():
    for value in (1.5, D("NaN"), D("Infinity")):
        with pytest.raises(TypeError):
            decimal_text(value)
    assert decimal_text(D("-0.00")) == "0.00"


def strings(value):
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return [value] if isinstance(value, str) else []


def assert_plain(document, *amount_keys):
    """No exponent anywhere in the document; the named amounts are plain decimals."""
    assert not [s for s in strings(document) if EXPONENT.search(s)], document

    def walk(value):
        if isinstance(value, dict):
            for key, item in value.items():
                if key in amount_keys and isinstance(item, (str, int, float)):
                    assert isinstance(item, str) and AMOUNT.match(item), (key, item)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(document)


@pytest.fixture
def round_amounts(db_url, capsys, session):
    """A 0900 with a cap of CHF 150, a tariff of 10.00 a minute and a price list of round
    figures, and a one-minute call: every amount a value a Decimal would print as 1E+1."""
    for argv in (
        ("account", "add", "Round AG"),
        ("number", "add", "0900 100 200", "--account", "Round AG", "--cost-cap", "150"),
        ("tariff", "set", "0900100200", "--code", "1", "--per-minute", "10", "--per-call", "100",
         "--valid-from", "2026-10-01 00:00"),
        ("pricelist", "set", "--range", "premium", "--origin", "mobile", "--interconnection", "0.0811",
         "--share", "70"),
    ):
        result = invoke(capsys, *argv)
        assert result.code == 0, (argv, result.err)
    store(session, a_leg("0900100200", local("2026-11-10 10:00"), 60))
    store(session, a_leg("0900100200", dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5), 60))
    session.commit()
    return db_url


def test_the_command_line_writes_plain_decimals(round_amounts, capsys):
    number = invoke(capsys, "number", "show", "0900100200", "--json").json()
    assert number["call_cost_cap"] == "150.00"
    tariff = invoke(capsys, "tariff", "list", "0900100200", "--json").json()[0]
    assert (tariff["price_per_minute"], tariff["price_per_call"]) == ("10.00", "100.00")
    prices = invoke(capsys, "pricelist", "list", "--json").json()
    assert (prices[0]["interconnection_per_minute"], prices[0]["payout_share_percent"]) == ("0.0811", "70.00")
    table = invoke(capsys, "tariff", "list", "0900100200")
    assert "CHF 10.00" in table.out and "CHF 100.00" in table.out and not EXPONENT.search(table.out)
    statement = invoke(capsys, "statement", "--account", "Round AG", "--month", "2026-11", "--json")
    assert statement.code == 0, statement.err
    document = statement.json()
    # one minute at 10.00 plus 100.00 a call: 110.00 paid
    assert document["lines"][0]["caller"] == "110.00"
    assert_plain(document, "caller", "caller_excl_vat", "vat", "payout", "owner_cost", "payfast_fee",
                 "payout_vat", "owner_cost_vat", "payable")
    assert not EXPONENT.search(invoke(capsys, "statement", "--account", "Round AG", "--month", "2026-11").out)
    board = invoke(capsys, "dashboard", "--account", "Round AG", "--json").json()
    assert_plain(board, "today", "yesterday", "month", "year", "forecast_month", "revenue")


async def test_the_api_writes_plain_decimals(round_amounts, session):
    from aiohttp.test_utils import TestClient, TestServer

    from smartnumbers import accounts
    from smartnumbers.settings import load_settings
    from sync.app import build_app

    token = accounts.add_token(session, accounts.find_account(session, "Round AG"), "portal").secret
    session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    async with TestClient(TestServer(build_app(load_settings(database_url=round_amounts)))) as client:
        number = await (await client.get("/api/v1/numbers/0900100200", headers=headers)).json()
        document = await (await client.get("/api/v1/statements/2026-11", headers=headers)).json()
        board = await (await client.get("/api/v1/dashboard", headers=headers)).json()
    assert number["call_cost_cap"] == "150.00"
    assert (number["tariffs"][0]["price_per_minute"], number["tariffs"][0]["price_per_call"]) == ("10.00", "100.00")
    assert document["lines"][0]["caller"] == "110.00"
    assert_plain(document, "caller", "caller_excl_vat", "vat", "payout", "owner_cost", "payfast_fee",
                 "payout_vat", "owner_cost_vat", "payable")
    assert_plain(board, "today", "yesterday", "month", "year", "forecast_month", "revenue")

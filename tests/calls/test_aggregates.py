"""The dashboard's figures add up to the rated calls, in local days and hours across the
October change; top callers are marked new or regular; the forecast's back-test error."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from rating import aggregates
from rating.forecast import backtest, forecast_month, generated_history
from smartnumbers.models import RatedCall
from tests.calls.calls import a_leg, store
from tests.calls.conftest import ZONE, local

D = Decimal


def test_revenue_by_period_number_day_and_hour(session, shop):
    account, _, _ = shop
    store(
        session,
        a_leg("0900123456", local("2026-10-25 01:30"), 60),  # summer time (UTC+2)
        a_leg("0900123456", local("2026-10-25 03:30"), 60),  # winter time (UTC+1), same local day
        a_leg("0900123456", local("2026-11-25 23:59"), 60),
        a_leg("0900123456", local("2026-11-26 00:10"), 120, caller="0441112233"),
        a_leg("0900123456", local("2026-11-26 09:00"), 0, answered=False),
        a_leg("0844123456", local("2026-11-26 09:30"), 60),
    )
    payouts = {r.call_id: r.payout for r in session.scalars(select(RatedCall))}
    now = local("2026-11-26 12:00")
    revenue = aggregates.revenue(session, account.id, now, ZONE)
    assert revenue.year == sum(payouts.values(), D(0))
    assert revenue.today + revenue.yesterday == revenue.month
    assert revenue.today > revenue.yesterday > 0 and revenue.year > revenue.month

    start, end = local("2026-10-01 00:00"), local("2026-12-01 00:00")
    days = {d.key: d for d in aggregates.by_day(session, account.id, start, end, ZONE)}
    assert days["2026-10-25"].calls == 2  # both sides of the change fall on the same local day
    assert (days["2026-11-26"].calls, days["2026-11-26"].answered, days["2026-11-26"].unanswered) == (3, 2, 1)
    hours = [h.key for h in aggregates.by_hour(session, account.id, start, end, ZONE)]
    assert "2026-10-25 01" in hours and "2026-10-25 03" in hours and "2026-11-26 00" in hours
    numbers = {n.key: n for n in aggregates.by_number(session, account.id, start, end)}
    assert numbers["+41900123456"].calls == 5 and numbers["+41844123456"].revenue == D(0)
    assert sum((n.revenue for n in numbers.values()), D(0)) == revenue.year


def test_top_callers_new_and_regular_and_withheld_never_shown(session, shop):
    account, _, _ = shop
    store(
        session,
        a_leg("0900123456", local("2026-10-10 10:00"), 60, caller="0791112233"),  # before: regular
        a_leg("0900123456", local("2026-11-10 10:00"), 600, caller="0791112233"),
        a_leg("0900123456", local("2026-11-11 10:00"), 120, caller="0794445566"),  # new
        a_leg("0900123456", local("2026-11-12 10:00"), 900, caller=None),  # withheld
    )
    top = aggregates.top_callers(session, account.id, "2026-11", "2026-11", ZONE)
    assert [(t.caller, t.new) for t in top] == [("+41791112233", False), ("+41794445566", True)]
    assert top[0].revenue > top[1].revenue
    six_months = aggregates.top_callers(session, account.id, "2026-06", "2026-11", ZONE)
    assert [(t.caller, t.calls, t.new) for t in six_months][0] == ("+41791112233", 2, True)


def test_the_forecast_follows_the_method_and_its_back_test_error_is_small():
    history = generated_history(dt.date(2025, 1, 1), 730, seed=11)
    result = backtest(history)
    print(f"forecast back-test: {result.cases} cases, mean absolute error {result.mean_abs_percent_error} % "
          f"(day 1: {result.error_on_day_1} %, day 15: {result.error_on_day_15} %)")
    assert result.cases > 600 and result.mean_abs_percent_error < 6
    steady = {dt.date(2026, 9, 1) + dt.timedelta(days=i): D("100.00") for i in range(100)}
    forecast = forecast_month(steady, dt.date(2026, 11, 11))
    assert forecast.month_to_date == D("1000.00") and forecast.trend == 1 and forecast.total == D("3000.00")


def test_the_dashboard_at_the_command_line_and_over_the_api(session, shop, db_url, capsys):
    account, _, _ = shop
    now = dt.datetime.now(dt.UTC)
    store(session, a_leg("0900123456", now - dt.timedelta(minutes=30), 90, caller="0791112233"),
          a_leg("0900123456", now - dt.timedelta(minutes=20), 0, caller=None, answered=False))
    session.commit()
    from tests.foundation.cli import invoke

    result = invoke(capsys, "dashboard", "--account", account.name, "--json")
    assert result.code == 0, result.err
    board = result.json()
    assert D(board["revenue"]["today"]) > 0 and board["by_number"][0]["unanswered"] == 1
    assert [t["caller"] for t in board["top_callers_month"]] == ["+41791112233"]
    assert D(board["forecast_month"]) >= D(board["revenue"]["today"]) and "8 weeks" in board["forecast_method"]


async def test_the_dashboard_api_shows_only_the_tokens_account(session, shop, db_url):
    from aiohttp.test_utils import TestClient, TestServer

    from smartnumbers import accounts as accounts_module
    from smartnumbers.settings import load_settings
    from sync.app import build_app

    account, _, _ = shop
    store(session, a_leg("0900123456", dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5), 60))
    other = accounts_module.add_account(session, "Other GmbH")
    mine = accounts_module.add_token(session, account, "portal").secret
    theirs = accounts_module.add_token(session, other, "portal").secret
    session.commit()
    async with TestClient(TestServer(build_app(load_settings(database_url=db_url)))) as client:
        own = await (await client.get("/api/v1/dashboard", headers={"Authorization": f"Bearer {mine}"})).json()
        foreign = await (await client.get("/api/v1/dashboard", headers={"Authorization": f"Bearer {theirs}"})).json()
    assert D(own["revenue"]["today"]) > 0 and len(own["by_number"]) == 1
    assert D(foreign["revenue"]["today"]) == 0 and foreign["by_number"] == []


async def test_the_statement_over_the_api_as_json_and_pdf(session, shop, db_url):
    from aiohttp.test_utils import TestClient, TestServer

    from smartnumbers import accounts as accounts_module
    from smartnumbers.settings import load_settings
    from sync.app import build_app

    account, _, _ = shop
    store(session, a_leg("0900123456", local("2026-11-10 10:00"), 60))
    token = accounts_module.add_token(session, account, "portal").secret
    session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    async with TestClient(TestServer(build_app(load_settings(database_url=db_url)))) as client:
        document = await (await client.get("/api/v1/statements/2026-11", headers=headers)).json()
        pdf = await client.get("/api/v1/statements/2026-11/pdf", headers=headers)
        body = await pdf.read()
        bad = await client.get("/api/v1/statements/November/pdf", headers=headers)
    assert document["account"] == account.name and D(document["payout"]) > 0 and not document["issued"]
    assert pdf.status == 200 and pdf.content_type == "application/pdf" and body.startswith(b"%PDF")
    assert bad.status == 400

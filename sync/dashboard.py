"""The portal's dashboard over the API: the token's account's revenue, forecast, traffic and
top callers (``rating.aggregates``); amounts as decimal strings, never floats."""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from rating import aggregates
from sync.keys import ACCOUNT_ID, SETTINGS
from sync.models import ApiModel, Money
from sync.openapi import EVERYONE, ApiRoutes
from sync.wire import reading, reply

routes = ApiRoutes()


class RevenueOut(ApiModel):
    """The owner's revenue of the calls started yesterday, today, this month and this year."""

    yesterday: Money
    today: Money
    month: Money
    year: Money


class TrafficOut(ApiModel):
    """Calls and revenue of a slice: a number (E.164), a local day (2026-11-30)."""

    key: str
    calls: int
    answered: int
    unanswered: int
    revenue: Money


class TopCallerOut(ApiModel):
    caller: str
    number: str
    calls: int
    revenue: Money
    new: bool  # no call from this caller to this number before the period


class DashboardOut(ApiModel):
    revenue: RevenueOut
    forecast_month: Money
    forecast_method: str
    by_number: list[TrafficOut]
    by_day: list[TrafficOut]
    top_callers_month: list[TopCallerOut]
    top_callers_six_months: list[TopCallerOut]

    @classmethod
    def of(cls, board: dict) -> DashboardOut:
        """From ``aggregates.dashboard``'s figures (plain values: Decimals, ints, text)."""
        return cls.model_validate(board, strict=False)


@routes.get("/api/v1/dashboard", roles=EVERYONE, response=DashboardOut)
async def show_dashboard(request: web.Request) -> web.Response:
    """The dashboard's figures
    Revenue, this month's forecast, traffic by number and by day, top callers of the month and
    of six months."""
    account_id, zone = request[ACCOUNT_ID], request.app[SETTINGS].zone
    now = dt.datetime.now(dt.UTC)
    return reply(await reading(request, lambda s: DashboardOut.of(aggregates.dashboard(s, account_id, now, zone))))

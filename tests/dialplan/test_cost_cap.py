"""The cap a 090x dialplan has the switch enforce by itself, computed from the stored tariff by
the rating engine (figures worked out by hand below)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from controller.dialplan import view
from smartnumbers import accounts, numbers, tariffs
from smartnumbers.audit import Actor
from smartnumbers.models import ActorKind

OPERATOR = Actor(ActorKind.CLI, "noc")
ZURICH = ZoneInfo("Europe/Zurich")
SINCE = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
NOW = dt.datetime(2026, 12, 2, 11, 0, tzinfo=dt.timezone.utc)


def _caps(session) -> dict[str, view.CostCap | None]:
    return {e164: plan.cost_cap for e164, plan in view.load_dialplans(session, NOW, ZURICH).items()}


def test_the_cap_is_the_last_second_the_first_tariff_keeps_within_it(session):
    account = accounts.add_account(session, "Hotline AG")
    by_second = numbers.add_number(session, OPERATOR, "0900 123 456", account)
    # CHF 10 a minute by the second plus CHF 1 a call: 2394 s cost 399.00 + 1.00 = CHF 400.00;
    # the 2395th second would make it 400.17
    tariffs.set_tariff(session, OPERATOR, by_second, 1, tariffs.TariffTerms(
        Decimal("10.00"), price_per_call=Decimal("1.00"), first_unit_s=1, next_unit_s=1), valid_from=SINCE)
    tariffs.set_tariff(session, OPERATOR, by_second, 2, tariffs.TariffTerms(Decimal("1.00")), valid_from=SINCE)
    owners = numbers.add_number(session, OPERATOR, "0901 123 457", account, call_cost_cap=Decimal("25"))
    # CHF 3 a minute, each minute charged as it begins: 480 s are 8 minutes (CHF 24), the
    # 481st second begins a 9th (CHF 27)
    tariffs.set_tariff(session, OPERATOR, owners, 1, tariffs.TariffTerms(Decimal("3.00")), valid_from=SINCE)
    numbers.add_number(session, OPERATOR, "0900 123 458", account)  # no tariff yet
    numbers.add_number(session, OPERATOR, "0800 123 459", account)
    session.commit()

    assert _caps(session) == {
        "+41900123456": view.CostCap(Decimal("400"), 2394),
        "+41901123457": view.CostCap(Decimal("25"), 480),
        "+41900123458": None,
        "+41800123459": None,
    }

"""The real FreeSWITCH captures (``shared/freeswitch`` beside the repo) and a rating setup."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from rating.operator_prices import set_price
from smartnumbers import accounts, numbers, tariffs
from smartnumbers.audit import Actor
from smartnumbers.models import ActorKind
from smartnumbers.phone import CallerOrigin, RangeClass

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "freeswitch"
ZONE = ZoneInfo("Europe/Zurich")
PAYFAST_PERCENT = Decimal("2.5")
OPERATOR = Actor(ActorKind.CLI, "noc")
D = Decimal


def local(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=ZONE).astimezone(dt.UTC)


@pytest.fixture(scope="session")
def captures() -> Path:
    if not (SHARED / "facts" / "raw").is_dir():
        pytest.skip(f"real FreeSWITCH captures not found at {SHARED} (shared/freeswitch beside the repo)")
    return SHARED


@pytest.fixture
def shop(session):
    """A VAT-registered owner with a 0900 (dynamic tariffs 1 and 7, PayFast) and a 0844."""
    account = accounts.add_account(session, "Hotline AG")
    account.vat_registered = True
    premium = numbers.add_number(session, OPERATOR, "0900 123 456", account, payout_option="payfast")
    shared = numbers.add_number(session, OPERATOR, "0844 123 456", account)
    valid = local("2026-10-01 00:00")
    tariffs.set_tariff(session, OPERATOR, premium, 1, tariffs.TariffTerms(D("2.50"), D("1.00")), valid_from=valid)
    tariffs.set_tariff(session, OPERATOR, premium, 7, tariffs.TariffTerms(
        D("4.90"), fees=(tariffs.Fee(D("5.00"), every_s=600),), first_unit_s=30, next_unit_s=6), valid_from=valid)
    tariffs.set_tariff(session, OPERATOR, shared, 1, tariffs.TariffTerms(D("0.08")), valid_from=valid)
    for origin in CallerOrigin:
        set_price(session, OPERATOR, RangeClass.PREMIUM, origin, interconnection_per_minute=D("0.05"),
                  payout_share_percent=D("70"))
        set_price(session, OPERATOR, RangeClass.SHARED_COST, origin, interconnection_per_minute=D("0.02"),
                  owner_per_minute=D("0.20"))
    session.flush()
    return account, premium, shared


OPERATOR_NAME = "Swiss Service Numbers AG"
OPERATOR_ADDRESS = ("Seefeldstrasse 123", "8008 Zürich")
OPERATOR_UID = "CHE-116.281.710"


@pytest.fixture
def operator_settings(monkeypatch):
    """The operator's name, address and UID, which issuing a statement needs."""
    monkeypatch.setenv("SMARTNUMBERS_OPERATOR_NAME", OPERATOR_NAME)
    monkeypatch.setenv("SMARTNUMBERS_OPERATOR_ADDRESS", json.dumps(OPERATOR_ADDRESS))
    monkeypatch.setenv("SMARTNUMBERS_OPERATOR_VAT_NUMBER", OPERATOR_UID + " MWST")

"""Numbers and money at the edge: E.164 inside, Swiss grouping and CHF with ’ outside."""

from decimal import Decimal

import pytest

from smartnumbers.errors import InputError
from smartnumbers.money import format_chf, from_micro, parse_chf, round_rappen, to_micro
from smartnumbers.phone import (
    CallerOrigin,
    PremiumCategory,
    RangeClass,
    format_swiss,
    normalise_caller,
    parse_number,
    parse_smart_number,
    service_range,
)


@pytest.mark.parametrize(
    "typed, e164, range_class, category",
    [
        ("0800 123 456", "+41800123456", RangeClass.FREEPHONE, None),
        ("+41 840 123 456", "+41840123456", RangeClass.SHARED_COST, None),
        ("0842123456", "+41842123456", RangeClass.SHARED_COST, None),
        ("0041844123456", "+41844123456", RangeClass.SHARED_COST, None),
        ("0848-123-456", "+41848123456", RangeClass.SHARED_COST, None),
        ("0900 123 456", "+41900123456", RangeClass.PREMIUM, PremiumCategory.BUSINESS),
        ("0901 123 456", "+41901123456", RangeClass.PREMIUM, PremiumCategory.ENTERTAINMENT),
        ("0906 123 456", "+41906123456", RangeClass.PREMIUM, PremiumCategory.ADULT),
    ],
)
def test_smart_number_range_follows_from_its_digits(typed, e164, range_class, category):
    assert parse_smart_number(typed) == e164
    assert service_range(e164) == (range_class, category)


@pytest.mark.parametrize(
    "typed",
    [
        "044 668 18 00",  # an ordinary number, not a service number
        "+49 800 1234567",  # a German freephone number
        "０９００１２３４５６",  # fullwidth look-alike digits
        "0900 １23 456",
        "090٠123456",  # an Arabic-Indic zero
        "0900 123 456; rm -rf /",
        "0900<123>456",
        "$(reboot)",
        "0" * 200,
        "",
        "0900 123 45",  # too short
    ],
)
def test_not_a_smart_number(typed):
    with pytest.raises(InputError):
        parse_smart_number(typed)


def test_swiss_grouping():
    assert format_swiss("+41800123456") == "0800 123 456"
    assert format_swiss("+41906000111") == "0906 000 111"
    assert format_swiss("+41446681800") == "044 668 18 00"
    assert format_swiss("+41791234567") == "079 123 45 67"
    assert format_swiss("+4930123456") == "+49 30 123456"


@pytest.mark.parametrize(
    "raw, e164, origin",
    [
        ("41791234567", "+41791234567", CallerOrigin.MOBILE),
        ("0791234567", "+41791234567", CallerOrigin.MOBILE),
        ("+41791234567", "+41791234567", CallerOrigin.MOBILE),
        ("0041446681800", "+41446681800", CallerOrigin.FIXED),
        ("0446681800", "+41446681800", CallerOrigin.FIXED),
        ("4930123456", "+4930123456", CallerOrigin.ABROAD),
        ("anonymous", None, CallerOrigin.WITHHELD),
        ("", None, CallerOrigin.WITHHELD),
        (None, None, CallerOrigin.WITHHELD),
        ("0791234567\r\nX-Evil: 1", None, CallerOrigin.WITHHELD),
    ],
)
def test_caller_numbers_from_carriers(raw, e164, origin):
    caller = normalise_caller(raw)
    assert (caller.e164, caller.origin) == (e164, origin)
    assert caller.withheld is (e164 is None)


def test_a_withheld_caller_stays_withheld():
    caller = normalise_caller("0791234567", privacy=True)
    assert caller.withheld and caller.e164 is None and caller.shown() == "withheld"


def test_money_is_exact_and_shown_the_swiss_way():
    assert format_chf(Decimal("1234.5")) == "CHF 1’234.50"
    assert format_chf(Decimal("0")) == "CHF 0.00"
    assert format_chf(Decimal("0.075")) == "CHF 0.075"
    assert format_chf(Decimal("1000000")) == "CHF 1’000’000.00"
    assert parse_chf("CHF 2.50") == Decimal("2.50")
    assert parse_chf("1’234.5") == Decimal("1234.5")
    assert round_rappen(Decimal("0.005")) == Decimal("0.01")
    assert from_micro(to_micro(Decimal("0.000001"))) == Decimal("0.000001")
    with pytest.raises(ValueError):
        to_micro(Decimal("0.0000001"))


@pytest.mark.parametrize("typed", ["-1", "1.23456", "abc", "1e3", "NaN", "１.00", 0.5])
def test_bad_amounts_are_refused(typed):
    with pytest.raises(InputError):
        parse_chf(typed)


def test_parse_number_rejects_control_characters():
    with pytest.raises(InputError):
        parse_number("044 668\n18 00")

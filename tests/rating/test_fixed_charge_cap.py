"""The warning a tariff is saved with when its recurring fees would take a call's fixed charges
past the CHF 100 cap (``smartnumbers.tariffs.fixed_charge_cap``), worked out by hand, and the
engine charging exactly what it says: the fee at that moment up to the cap, none after it."""

from __future__ import annotations

from decimal import Decimal as D
from fractions import Fraction as F

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rating.engine import CallUsage, rate_call, seconds_within_cap
from rating.money import Percent, exact_chf
from rating.price_list import PayoutOption, PriceList, PriceListEntry
from rating.tariff import OneOffFee, RecurringFee, TariffSegment
from rating.tariff import TariffTerms as RatedTerms
from smartnumbers import tariffs
from smartnumbers.phone import CallerOrigin, RangeClass

PRICES = PriceList(tuple(
    PriceListEntry(range_class=RangeClass.PREMIUM, origin=origin, interconnection_per_minute=D("0.10"),
                   payout_share_percent=D("70"))
    for origin in CallerOrigin))


def terms(per_minute="0", per_call="0", *fees, units=(60, 60)):
    """Domain terms; a fee ``"5.00/600"`` every 600 s, ``"15@100"`` once at 100 s."""
    parsed = []
    for fee in fees:
        amount, every, at = (*fee.split("/"), None) if "/" in fee else (fee.split("@")[0], None, fee.split("@")[1])
        parsed.append(tariffs.Fee(D(amount), at_s=None if at is None else int(at),
                                  every_s=None if every is None else int(every)))
    return tariffs.TariffTerms(D(per_minute), D(per_call), tuple(parsed), *units)


def rated_terms(domain: tariffs.TariffTerms) -> RatedTerms:
    """The terms mapped the way ``rating.pipeline.tariff_terms`` maps a stored version."""
    return RatedTerms(
        tariff_version_id=1, code=1, price_per_minute=domain.price_per_minute,
        first_unit_s=domain.first_unit_s, next_unit_s=domain.next_unit_s,
        price_per_call=domain.price_per_call + sum((f.amount for f in domain.fees if f.at_s == 0), D(0)),
        one_off_fees=tuple(OneOffFee(f.at_s, f.amount) for f in domain.fees if f.at_s),
        recurring_fees=tuple(RecurringFee(f.every_s, f.amount) for f in domain.fees if f.every_s is not None),
    )


def fixed_charged(domain: tariffs.TariffTerms, talk_s: int, *, capped: bool = True) -> F:
    """What the engine charges a call on the tariff in fixed charges after ``talk_s`` seconds
    (``capped=False``: what they would be without the CHF 100 cap)."""
    usage = CallUsage(range_class=RangeClass.PREMIUM, origin=CallerOrigin.FIXED, answered=True, talk_s=talk_s,
                      segments=(TariffSegment(rated_terms(domain)),))
    call = rate_call(usage, PRICES, payout_option=PayoutOption.STANDARD, payfast_fee=Percent(D(0)))
    if not capped:
        return exact_chf(sum(s.fixed_charge_exact for s in call.segments))
    return exact_chf(call.caller.uncapped_exact - sum(s.time_charge_exact for s in call.segments))


@pytest.mark.parametrize(
    ("tariff", "at_s", "due", "charged", "message"),
    [
        # 1.00 a call + 5.00 every 10 min: 1 + 5 x 19 = 96.00 at 190 min; the fee at 200 min
        # would make 101.00: 4.00 of it is charged, nothing after
        (terms("0", "1.00", "5.00/600"), 12000, "5.00", "4.00",
         "at 200 minutes of talk time: the fee then is charged CHF 4.00 instead of CHF 5.00, "
         "and fees after 200 minutes are no longer charged"),
        # 5.00 every 10 min: exactly 100.00 at 200 min; the fee at 210 min is not charged at all
        (terms("0", "0", "5.00/600"), 12600, "5.00", "0", "fees from 210 minutes of talk time on are no longer charged"),
        # 20.00 a call + 10.00 a minute as fees, 1.00/min: 100.00 at 8 min (8.00 of time, within
        # CHF 400), the fee at 9 min not charged
        (terms("1.00", "20", "10.00/60"), 540, "10.00", "0", "fees from 9 minutes of talk time on"),
        # 30.00 every 90 s and 15.00 once at 100 s: 30, 45, 75 at 180 s; 105 at 270 s: 25.00 of 30.00
        (terms("0", "0", "30/90", "15@100"), 270, "30", "25", "at 4 min 30 s of talk time: the fee then is "
         "charged CHF 25.00 instead of CHF 30.00"),
    ],
)
def test_a_tariff_whose_fees_pass_the_cap_warns_when_and_the_engine_agrees(tariff, at_s, due, charged, message):
    capped = tariffs.fixed_charge_cap(tariff)
    assert (capped.at_s, capped.due_then, capped.charged_then) == (at_s, D(due), D(charged))
    assert capped.message.startswith("fixed charges reach the 090x cap of CHF 100.00 a call (VAT incl.)")
    assert message in capped.message
    before = D(100) - D(charged)
    assert fixed_charged(tariff, at_s - 1) == before
    assert fixed_charged(tariff, at_s) == 100
    assert fixed_charged(tariff, at_s + 3600) == 100  # later fees: nothing more


@pytest.mark.parametrize(
    ("tariff", "number_cap"),
    [
        # 3.50/min + 2.00 every 10 min pass 100.00 of fees at 510 min, but the call reaches
        # CHF 400 at about 110 min: it never gets there
        (terms("3.50", "1.00", "2.00/600"), None),
        # 1.00/min + 20.00 a call + 10.00 a minute: at 9 min 9.00 + 100.00 is above a cap of 50
        (terms("1.00", "20", "10.00/60"), D("50")),
        # fees only once (within the cap, or the tariff is refused) never pass it
        (terms("0", "40", "60@300"), None),
        (terms("2.50", "1.00"), None),
    ],
)
def test_no_warning_when_the_call_never_gets_there(tariff, number_cap):
    assert tariffs.fixed_charge_cap(tariff, number_cap) is None


amounts = st.decimals(min_value=D("0.01"), max_value=D("60"), places=2)


@settings(max_examples=150, deadline=None)
@given(
    st.decimals(min_value=0, max_value=10, places=2),
    st.decimals(min_value=0, max_value=40, places=2),
    st.lists(st.tuples(amounts, st.integers(60, 1800)), min_size=1, max_size=2),
    st.lists(st.tuples(amounts, st.integers(0, 3600)), max_size=1),
)
def test_the_warning_is_where_the_engine_stops_charging_fees(per_minute, per_call, recurring, once):
    tariff = tariffs.TariffTerms(per_minute, per_call, tuple(
        [tariffs.Fee(a, every_s=s) for a, s in recurring] + [tariffs.Fee(a, at_s=s) for a, s in once]))
    capped = tariffs.fixed_charge_cap(tariff)
    if capped is None:  # the call is cut off at CHF 400 before its fees pass the cap
        last_second = seconds_within_cap((TariffSegment(rated_terms(tariff)),), D(400))
        assert last_second is not None and fixed_charged(tariff, last_second, capped=False) <= 100
        return
    assert 0 <= capped.charged_then < capped.due_then
    assert fixed_charged(tariff, capped.at_s - 1) == 100 - capped.charged_then
    assert fixed_charged(tariff, capped.at_s) == 100
    assert fixed_charged(tariff, capped.at_s + 2 * max(s for _, s in recurring)) == 100


def test_tariff_set_saves_the_tariff_and_prints_the_warning(db_url, capsys):
    from tests.foundation.cli import invoke

    for argv in (("account", "add", "Fees AG"), ("number", "add", "0900 300 400", "--account", "Fees AG")):
        assert invoke(capsys, *argv).code == 0
    warned = invoke(capsys, "tariff", "set", "0900300400", "--code", "3", "--per-minute", "0", "--per-call", "1",
                    "--fee", "5/600")
    assert warned.code == 0, warned.err
    assert ("warning: tariff 03: fixed charges reach the 090x cap of CHF 100.00 a call (VAT incl.) at 200 minutes of "
            "talk time: the fee then is charged CHF 4.00 instead of CHF 5.00, and fees after 200 minutes are no "
            "longer charged") in warned.out
    assert invoke(capsys, "tariff", "list", "0900300400", "--json").json()[0]["fees"] == [
        {"amount": "5.00", "at_s": None, "every_s": 600}]  # saved all the same
    quiet = invoke(capsys, "tariff", "set", "0900300400", "--code", "4", "--per-minute", "3.50", "--fee", "2/600")
    assert quiet.code == 0 and "warning" not in quiet.out + quiet.err

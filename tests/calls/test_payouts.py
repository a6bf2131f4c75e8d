"""Payout due dates: Standard 6 weeks after the period, PayFast 5 Swiss business days after
it, skipping weekends and the public holidays of the canton in the settings."""

import datetime as dt

import pytest

from rating.payouts import business_days_after, payfast_due, period_end, standard_due


def test_standard_is_six_weeks_after_the_last_day():
    assert period_end("2026-11") == dt.date(2026, 11, 30)
    assert standard_due("2026-11") == dt.date(2027, 1, 11)
    assert period_end("2028-02") == dt.date(2028, 2, 29)


@pytest.mark.parametrize("period, canton, due", [
    ("2026-11", "ZH", dt.date(2026, 12, 7)),  # Tue 1 .. Fri 4, Mon 7
    ("2026-12", "ZH", dt.date(2027, 1, 8)),  # New Year's Day on Friday, then Mon 4 .. Fri 8
    ("2026-12", "TI", dt.date(2027, 1, 11)),  # and Epiphany (Wed 6) in Ticino
    ("2026-03", "ZH", dt.date(2026, 4, 9)),  # Wed 1, Thu 2, Good Friday, weekend, Easter Monday, Tue 7 .. Thu 9
])
def test_payfast_counts_swiss_business_days_of_the_canton(period, canton, due):
    assert payfast_due(period, canton) == due


def test_a_holiday_is_not_a_business_day():
    # Ascension Day 2026 is Thursday 14 May: from Tuesday 12 May, 3 business days end on Monday 18 May.
    assert business_days_after(dt.date(2026, 5, 12), 3, "ZH") == dt.date(2026, 5, 18)

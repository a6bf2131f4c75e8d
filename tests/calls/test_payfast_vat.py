"""The PayFast fee and VAT on the credit note, both treatments the operator may choose with
their tax adviser (``SMARTNUMBERS_PAYFAST_FEE_VAT``), for owners VAT-registered and not; every
figure worked out by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from rating import statements
from rating.operator_prices import set_price
from rating.statement_pdf import render_html
from smartnumbers import accounts, numbers, tariffs
from smartnumbers.models import Account, PayfastFeeVat
from smartnumbers.phone import CallerOrigin, RangeClass
from smartnumbers.settings import load_settings
from tests.calls.calls import a_leg, store
from tests.calls.conftest import OPERATOR, local
from tests.foundation.cli import invoke

D = Decimal
REDUCES, EXEMPT = PayfastFeeVat.REDUCES_SHARE, PayfastFeeVat.EXEMPT_FINANCING


def built_by_hand(share: str, fee: str, *, registered: bool, treatment: PayfastFeeVat) -> statements.BuiltStatement:
    line = statements.StatementLine("+41900123456", "1", "payfast", 1, 1, 60, D(0), D(0), D(0), D(share), D(0), D(fee))
    return statements.BuiltStatement(Account(name="Owner AG", vat_registered=registered), "2026-11", [line], [],
                                     dt.date(2026, 12, 12), dt.date(2026, 12, 7), treatment,
                                     statements.Issuer(None, (), None))


@pytest.mark.parametrize(
    ("treatment", "registered", "base", "vat", "payable"),
    [
        # share 1'000.00, fee 2.5 % = 25.00 (the example of docs/calls-and-rating.md)
        # the fee reduces the share: base 975.00, VAT 78.975 = 78.98, paid 975.00 + 78.98
        (REDUCES, True, "975.00", "78.98", "1053.98"),
        # a VAT-exempt financing fee: base 1'000.00, VAT 81.00, paid 1'000.00 + 81.00 - 25.00
        (EXEMPT, True, "1000.00", "81.00", "1056.00"),
        # not VAT-registered: no VAT either way, paid 1'000.00 - 25.00
        (REDUCES, False, None, "0", "975.00"),
        (EXEMPT, False, None, "0", "975.00"),
    ],
)
def test_the_worked_example(treatment, registered, base, vat, payable):
    built = built_by_hand("1000.00", "25.00", registered=registered, treatment=treatment)
    assert built.payout_vat_base == (None if base is None else D(base))
    assert (built.payout_vat, built.payable) == (D(vat), D(payable))


@pytest.fixture
def payfast_owner(session):
    """A 0900 paid by PayFast: 10.00 a minute plus 100.00 a call, half the net revenue to the owner."""
    account = accounts.add_account(session, "Fast AG")
    number = numbers.add_number(session, OPERATOR, "0900 222 333", account, payout_option="payfast")
    tariffs.set_tariff(session, OPERATOR, number, 1, tariffs.TariffTerms(D("10.00"), D("100.00")),
                       valid_from=local("2026-10-01 00:00"))
    for origin in CallerOrigin:
        set_price(session, OPERATOR, RangeClass.PREMIUM, origin, interconnection_per_minute=D("0"),
                  payout_share_percent=D("50"))
    # one call of 60 s: paid 110.00; VAT 110.00 x 8.1/108.1 = 8.2424 = 8.24; excl. VAT 101.76;
    # no interconnection: net revenue 101.76; the owner's half 50.88; PayFast 2.5 % = 1.272 = 1.27
    store(session, a_leg("0900222333", local("2026-11-10 10:00"), 60))
    session.commit()
    return account


@pytest.mark.parametrize(
    ("treatment", "registered", "base", "vat", "payable", "shown"),
    [
        # base 50.88 - 1.27 = 49.61; VAT 4.01841 = 4.02; paid 49.61 + 4.02 = 53.63
        (REDUCES, True, "49.61", "4.02", "53.63", "auf <span class=\"nowrap\">CHF 49.61</span>"),
        # base 50.88; VAT 4.12128 = 4.12; paid 50.88 + 4.12 - 1.27 = 53.73
        (EXEMPT, True, "50.88", "4.12", "53.73", "PayFast-Gebühr (von der MWST ausgenommene Finanzierungsgebühr)"),
        # no VAT: paid 50.88 - 1.27 = 49.61
        (REDUCES, False, None, "0", "49.61", "PayFast-Gebühr (mindert Ihren Anteil)"),
        (EXEMPT, False, None, "0", "49.61", "PayFast-Gebühr (von der MWST ausgenommene Finanzierungsgebühr)"),
    ],
)
def test_the_credit_note_of_each_treatment(session, db_url, payfast_owner, treatment, registered, base, vat, payable,
                                           shown):
    payfast_owner.vat_registered = registered
    session.commit()
    built = statements.build_statement(session, "Fast AG", "2026-11", load_settings(payfast_fee_vat=treatment.value))
    assert (built.payout_total, built.payfast_fee) == (D("50.88"), D("1.27"))
    assert built.payout_vat_base == (None if base is None else D(base))
    assert (built.payout_vat, built.payable) == (D(vat), D(payable))
    document = statements.statement_dict(built)
    assert document["payfast_fee_vat"] == treatment.value
    html = render_html(built)
    assert shown in html and f"CHF {payable}" in html


def test_the_setting_reaches_the_command_line_and_an_issued_statement_keeps_its_treatment(
        session, db_url, payfast_owner, capsys, monkeypatch):
    payfast_owner.vat_registered = True
    session.commit()
    monkeypatch.setenv("SMARTNUMBERS_PAYFAST_FEE_VAT", "exempt_financing")
    issued = invoke(capsys, "statement", "--account", "Fast AG", "--month", "2026-11", "--issue", "--json")
    assert issued.code == 0, issued.err
    document = issued.json()
    assert (document["payfast_fee_vat"], document["payout_vat_base"], document["payout_vat"], document["payable"]) == (
        "exempt_financing", "50.88", "4.12", "53.73")
    monkeypatch.setenv("SMARTNUMBERS_PAYFAST_FEE_VAT", "reduces_share")  # changed after issue
    again = invoke(capsys, "statement", "--account", "Fast AG", "--month", "2026-11", "--json").json()
    assert (again["issued"], again["payfast_fee_vat"], again["payable"]) == (True, "exempt_financing", "53.73")
    monkeypatch.setenv("SMARTNUMBERS_PAYFAST_FEE_VAT", "gross")
    refused = invoke(capsys, "statement", "--account", "Fast AG", "--month", "2026-11")
    assert refused.code == 2 and "SMARTNUMBERS_PAYFAST_FEE_VAT" in refused.err

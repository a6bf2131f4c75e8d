"""Live rating, re-rating and statements agree to the Rappen; a correction lists each changed
call; an issued period is locked and its corrections land on the next statement."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import func, select

from rating import statements
from smartnumbers.money import VAT_RATE, round_rappen
from rating.pipeline import RatingSetup, rate_period, tariff_terms
from rating.statement_pdf import render_html
from smartnumbers import tariffs
from smartnumbers.models import CallerMonth, CallRecord, RatedCall, RatingAdjustment, TrafficHour
from smartnumbers.settings import load_settings
from tests.calls.calls import a_leg, store
from tests.calls.conftest import OPERATOR, PAYFAST_PERCENT, ZONE, local
from tests.foundation.cli import invoke

D = Decimal


def november_calls(session):
    return store(
        session,
        a_leg("0900123456", local("2026-11-02 09:00"), 125),
        a_leg("+41900123456", local("2026-11-03 10:00"), 700, segments="1@0;7@95+8", caller="41446681800"),
        a_leg("0900123456", local("2026-11-04 11:00"), 0, answered=False),
        a_leg("0900123456", local("2026-11-30 23:30"), 61, caller=None),  # withheld, the month's last hour
        a_leg("0844123456", local("2026-11-05 12:00"), 180),
    )


def setup(session):
    return RatingSetup.load(session, PAYFAST_PERCENT, ZONE)


def test_the_one_mapping_of_a_stored_version(session, shop):
    _, premium, _ = shop
    version = premium.tariffs[1].versions[0]
    terms = tariff_terms(version)
    assert (terms.code, terms.price_per_minute, terms.first_unit_s, terms.next_unit_s) == (7, D("4.90"), 30, 6)
    assert terms.recurring_fees[0].every_s == 600 and terms.recurring_fees[0].amount == D("5.00")
    assert terms.tariff_version_id == version.id


def test_live_rating_and_rerating_agree_to_the_rappen(session, shop):
    stored = november_calls(session)
    assert len(stored.new_calls) == 5
    live = {r.call_id: (r.caller, r.payout, r.owner_cost, r.payfast_fee) for r in session.scalars(select(RatedCall))}
    assert len(live) == 5
    again = rate_period(session, "2026-11", setup(session), rerate=True)
    assert again.rated == 5 and again.changes == [] and again.unrated == {}
    session.expire_all()
    assert {r.call_id: (r.caller, r.payout, r.owner_cost, r.payfast_fee)
            for r in session.scalars(select(RatedCall))} == live
    # 125 s in 60/60 increments bills 3 minutes at 2.50, plus 1.00 a call
    assert sorted(r.caller for r in session.scalars(select(RatedCall))) == [
        D("0"), D("0.24"), D("6.00"), D("8.50"), D("60.49")]


def test_amounts_of_a_dynamic_call(session, shop):
    november_calls(session)
    switched = session.scalar(select(RatedCall).where(RatedCall.tariff_codes == "1,7"))
    # code 1: 0..87 s billed 120 s at 2.50 = 5.00 + 1.00 per call; announcement 87..95 free;
    # code 7: 605 s from 95 s: 30 + 96 x 6 = 606 s billed at 4.90 = 49.49, one fee of 5.00 at 600 s
    assert switched.caller == D("60.49")
    assert switched.caller_excl_vat + switched.vat == switched.caller
    assert len(switched.tariff_version_ids.split(",")) == 2
    withheld = session.scalar(select(RatedCall).where(RatedCall.period == "2026-11", RatedCall.caller == D("6.00")))
    assert withheld is not None  # 61 s -> 2 minutes at 2.50 + 1.00


def test_a_correction_lists_every_changed_call_and_by_how_much(session, shop, capsys):
    _, premium, _ = shop
    november_calls(session)
    session.commit()
    tariffs.set_tariff(session, OPERATOR, premium, 1, tariffs.TariffTerms(D("2.00"), D("1.00")),
                       valid_from=local("2026-11-01 00:00"))
    session.commit()
    result = invoke(capsys, "rate", "--period", "2026-11", "--rerate", "--json")
    assert result.code == 0, result.err
    changed = result.json()["changed"]
    # three calls ran on code 1 from answer: 125 s (3 min), 700 s (1@0 for 87 s: 2 min), 61 s (2 min)
    assert sorted(D(c["caller_change"]) for c in changed) == [D("-1.50"), D("-1.00"), D("-1.00")]
    assert all(not c["adjustment"] for c in changed)
    assert invoke(capsys, "rate", "--period", "2026-11", "--rerate", "--json").json()["changed"] == []
    session.expire_all()  # the dashboard's sums follow the correction
    rated = list(session.scalars(select(RatedCall)))
    assert session.scalar(select(func.sum(TrafficHour.calls))) == len(rated) == 5
    payout = sum((r.payout for r in rated), D(0))
    assert sum((h.payout for h in session.scalars(select(TrafficHour))), D(0)) == payout
    assert sum((c.payout for c in session.scalars(select(CallerMonth))), D(0)) == sum(
        (r.payout for r in rated if session.get(CallRecord, r.call_id).caller_e164), D(0))


def test_an_issued_period_is_locked_and_a_correction_becomes_an_adjustment(session, shop, operator_settings):
    account, premium, _ = shop
    november_calls(session)
    settings = load_settings()
    built = statements.build_statement(session, account.name, "2026-11", settings)
    statements.issue(session, built)
    issued_payout = built.payout_total
    tariffs.set_tariff(session, OPERATOR, premium, 1, tariffs.TariffTerms(D("2.00"), D("1.00")),
                       valid_from=local("2026-11-01 00:00"))
    result = rate_period(session, "2026-11", setup(session), rerate=True)
    assert len(result.changes) == 3 and all(c.adjusted for c in result.changes)
    assert rate_period(session, "2026-11", setup(session), rerate=True).changes == []  # adjusted once
    assert session.scalar(select(func.count()).select_from(RatingAdjustment)) == 3
    again = statements.build_statement(session, account.name, "2026-11", settings)
    assert again.issued and again.payout_total == issued_payout and again.adjustments == []
    december = statements.build_statement(session, account.name, "2026-12", settings)
    assert len(december.adjustments) == 3 and december.lines == []
    assert december.payout_total == sum((c.delta["payout"] for c in result.changes), D(0)) < 0


def test_the_statement_reconciles_with_the_rated_calls(session, shop, tmp_path, capsys, operator_settings):
    account, _, _ = shop
    november_calls(session)
    session.commit()
    built = statements.build_statement(session, account.name, "2026-11", load_settings())
    rated = list(session.scalars(select(RatedCall)))
    for name in ("caller", "payout", "owner_cost", "payfast_fee"):
        assert sum((getattr(line, name) for line in built.lines), D(0)) == sum((getattr(r, name) for r in rated), D(0))
    assert sum(line.calls for line in built.lines) == 5
    # VAT-registered owner, the PayFast fee reducing the share (the default)
    assert built.payout_vat == round_rappen((built.payout_total - built.payfast_fee) * VAT_RATE)
    assert built.payout_option == "payfast" and built.due_on == dt.date(2026, 12, 7)
    html = render_html(built)
    assert "0900 123 456" in html and "Gutschrift" in html and "MWST" in html  # the account's language: de
    assert "CHF " in html and "Entwurf" in html
    pdf = tmp_path / "statement.pdf"
    result = invoke(capsys, "statement", "--account", account.name, "--month", "2026-11", "--pdf", str(pdf), "--issue")
    assert result.code == 0, result.err
    assert pdf.read_bytes().startswith(b"%PDF")
    assert "issued" in result.out and "2026-12-07" in result.out


def test_an_owner_without_vat_gets_no_vat_on_the_credit_note(session, shop):
    account, _, _ = shop
    account.vat_registered = False
    november_calls(session)
    built = statements.build_statement(session, account.name, "2026-11", load_settings())
    assert built.payout_vat == D(0)
    assert "nicht MWST-pflichtig" in render_html(built)


def test_the_price_list_at_the_command_line(db_url, capsys):
    assert invoke(capsys, "pricelist", "set", "--range", "premium", "--origin", "mobile",
                  "--interconnection", "0.05", "--share", "70").code == 0
    refused = invoke(capsys, "pricelist", "set", "--range", "premium", "--origin", "mobile",
                     "--interconnection", "0.05", "--owner-per-minute", "0.10")
    assert refused.code == 2 and "090x owners are paid a share" in refused.err
    listed = invoke(capsys, "pricelist", "list", "--json").json()
    assert listed == [{"range": "premium", "origin": "mobile", "interconnection_per_minute": "0.05",
                       "owner_per_minute": "0.00", "payout_share_percent": "70.00"}]

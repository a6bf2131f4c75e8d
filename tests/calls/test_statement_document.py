"""The issued statement is a document an owner can file: read back from the PDF itself (poppler's
pdftotext and pdffonts), in each language, numbered without gaps even when issued concurrently,
and given out byte for byte as issued."""

from __future__ import annotations

import subprocess
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from rating import statements
from rating.operator_prices import set_price
from rating.pipeline import RatingSetup, rate_period
from smartnumbers import accounts, numbers, tariffs
from smartnumbers.db import make_engine, session_factory
from smartnumbers.models import DocumentSequence, RatedCall, Statement
from smartnumbers.money import format_chf
from smartnumbers.phone import CallerOrigin, RangeClass, format_swiss
from smartnumbers.settings import load_settings
from tests.calls.calls import a_leg, store
from tests.calls.conftest import (
    OPERATOR, OPERATOR_ADDRESS, OPERATOR_NAME, OPERATOR_UID, PAYFAST_PERCENT, ZONE, local,
)
from tests.foundation.cli import invoke, row_counts

D = Decimal
OWNER_ADDRESS = ["Bahnhofstrasse 10", "Postfach 45", "3011 Bern"]
OWNER_UID = "CHE-123.456.788"

# What each language calls the parts of the document (Swiss usage), and its page numbers.
WORDS = {
    "de": ("Gutschrift Nr.", "UID", "MWST", "Ausstellungsdatum", "Leistungszeitraum", "Fällig am",
           "innert 30 Tagen", "Seite {} von {}"),
    "fr": ("Note de crédit n°", "IDE", "TVA", "Date d’émission", "Période de prestation", "Échéance",
           "dans les 30 jours", "page {} sur {}"),
    "it": ("Nota di credito n.", "IDI", "IVA", "Data di emissione", "Periodo della prestazione", "Scadenza",
           "entro 30 giorni", "pagina {} di {}"),
    "en": ("Credit note no.", "UID", "VAT", "Issue date", "Period of supply", "Due on",
           "within 30 days", "page {} of {}"),
}


def pdf_text(pdf: bytes, tmp_path: Path, *, layout: bool = False) -> str:
    path = tmp_path / "document.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", *(["-layout"] if layout else []), str(path), "-"],
                          capture_output=True, check=True, text=True).stdout


def pdf_fonts(pdf: bytes, tmp_path: Path) -> list[list[str]]:
    path = tmp_path / "fonts.pdf"
    path.write_bytes(pdf)
    listing = subprocess.run(["pdffonts", str(path)], capture_output=True, check=True, text=True).stdout
    return [line.split() for line in listing.splitlines()[2:]]


def november_calls(session):
    store(
        session,
        a_leg("0900123456", local("2026-11-02 09:00"), 125),
        a_leg("+41900123456", local("2026-11-03 10:00"), 700, segments="1@0;7@95+8", caller="41446681800"),
        a_leg("0900123456", local("2026-11-30 23:30"), 61, caller=None),
        a_leg("0844123456", local("2026-11-05 12:00"), 180),
    )


def premium_price_list(session) -> None:
    for origin in CallerOrigin:
        set_price(session, OPERATOR, RangeClass.PREMIUM, origin, interconnection_per_minute=D("0.05"),
                  payout_share_percent=D("70"))


def an_account_with_a_call(session, name: str, index: int) -> None:
    account = accounts.add_account(session, name)
    number = numbers.add_number(session, OPERATOR, f"0900 100 {index:03d}", account)
    tariffs.set_tariff(session, OPERATOR, number, 1, tariffs.TariffTerms(D("2.50")), valid_from=local("2026-10-01 00:00"))
    store(session, a_leg(number.e164, local("2026-11-10 10:00"), 60))


def issued(session, account_name: str) -> statements.BuiltStatement:
    built = statements.build_statement(session, account_name, "2026-11", load_settings())
    statements.issue(session, built)
    return built


@pytest.mark.parametrize("language", ["de", "fr", "it", "en"])
def test_the_issued_credit_note_carries_what_filing_needs_in_each_language(
        session, shop, operator_settings, tmp_path, language):
    account, _, _ = shop
    accounts.change_account(account, address=OWNER_ADDRESS, vat_number=OWNER_UID + " MWST", language=language)
    november_calls(session)
    built = issued(session, account.name)
    pdf = statements.issued_pdf(session, built)
    text = " ".join(pdf_text(pdf, tmp_path).split())
    title, uid, suffix, date_label, period_label, due_label, objection, page = WORDS[language]

    assert f"{title} 1" in text
    assert OPERATOR_NAME in text and all(line in text for line in OPERATOR_ADDRESS)
    assert f"{uid} {OPERATOR_UID} {suffix}" in text
    assert account.name in text and all(line in text for line in OWNER_ADDRESS)
    assert f"{OWNER_UID} {suffix}" in text
    assert f"{date_label} {built.issued_at.astimezone(ZONE).strftime('%d.%m.%Y')}" in text
    assert f"{period_label} 01.11.2026 – 30.11.2026" in text
    for line in built.lines:
        assert format_swiss(line.number) in text and format_chf(line.caller) in text and format_chf(line.payout) in text
    assert "1, 7" in text  # the switched call's tariffs, in order
    assert f"{suffix} 8.1 % " in text and format_chf(built.payout_vat) in text and built.payout_vat > 0
    assert "PayFast" in text and f"{due_label} 07.12.2026" in text
    assert objection in text
    assert page.format(1, 1) in text
    assert format_chf(built.payable) in text


def test_an_owner_without_vat_and_an_invoice(session, shop, operator_settings, tmp_path):
    account, _, _ = shop
    store(session, a_leg("0844123456", local("2026-11-05 12:00"), 180))  # costs only: an invoice
    built = issued(session, account.name)
    text = " ".join(pdf_text(statements.issued_pdf(session, built), tmp_path).split())
    assert "Rechnung Nr. 1" in text and "Gutschrift" not in text
    assert f"MWST 8.1 % auf {format_chf(built.owner_cost)} {format_chf(built.owner_cost_vat)}" in text  # charged
    assert "Saldo zu unseren Gunsten" in text and format_chf(-built.payable) in text
    assert "innert 30 Tagen" in text and "Zahlbar bis" in text

    accounts.change_account(account, vat_number="none")
    assert account.vat_number is None and not account.vat_registered
    draft = statements.build_statement(session, account.name, "2026-12", load_settings())
    text = " ".join(pdf_text(statements_pdf(draft), tmp_path).split())
    assert "Entwurf – noch nicht ausgestellt" in text and "nicht MWST-pflichtig" in text


def statements_pdf(built) -> bytes:
    from rating.statement_pdf import render

    return render(built)


def test_amounts_numbers_and_dates_never_wrap_one_font_and_page_numbers(session, operator_settings, tmp_path):
    """Thirty numbers with thousands of francs each: two pages, every figure on one line."""
    account = accounts.add_account(session, "Grossverteiler Genossenschaft Zürich-Nord", address=OWNER_ADDRESS,
                                   vat_number=OWNER_UID, language="de")
    legs = []
    for i in range(30):
        number = numbers.add_number(session, OPERATOR, f"0900 555 {i:03d}", account, payout_option="payfast")
        tariffs.set_tariff(session, OPERATOR, number, 1, tariffs.TariffTerms(D("9.90"), D("5.00")),
                           valid_from=local("2026-10-01 00:00"))
        legs += [a_leg(number.e164, local(f"2026-11-{day:02d} 10:00"), 2400) for day in range(1, 11)]
    shared = numbers.add_number(session, OPERATOR, "0848 555 000", account)  # the owner's costs: every column
    tariffs.set_tariff(session, OPERATOR, shared, 1, tariffs.TariffTerms(D("0.08")), valid_from=local("2026-10-01 00:00"))
    legs += [a_leg(shared.e164, local(f"2026-11-{day:02d} 10:00"), 36000) for day in range(1, 29)]
    premium_price_list(session)
    for origin in CallerOrigin:
        set_price(session, OPERATOR, RangeClass.SHARED_COST, origin, interconnection_per_minute=D("0.02"),
                  owner_per_minute=D("0.20"))
    store(session, *legs)
    built = issued(session, account.name)
    pdf = statements.issued_pdf(session, built)
    layout = pdf_text(pdf, tmp_path, layout=True).splitlines()

    assert len(built.lines) == 31 and built.payout_total > 1000 and built.owner_cost > 1000
    figures = [format_chf(built.payout_total), format_chf(built.payout_vat), format_chf(built.payable),
               format_chf(built.owner_cost), format_chf(built.owner_cost_vat),
               "01.11.2026 – 30.11.2026", "07.12.2026", f"{OWNER_UID} MWST"]
    for line in built.lines:
        figures += [format_swiss(line.number), format_chf(line.caller), format_chf(line.payout),
                    format_chf(line.owner_cost)]
    assert any("’" in figure for figure in figures)  # thousands, grouped with the Swiss apostrophe
    for figure in figures:
        assert any(figure in row for row in layout), f"{figure} is not on one line"
    text = " ".join(pdf_text(pdf, tmp_path).split())
    assert "Seite 1 von 2" in text and "Seite 2 von 2" in text

    fonts = pdf_fonts(pdf, tmp_path)
    assert len(fonts) == 1 and "DejaVu-Sans" in fonts[0][0] and fonts[0][-5] == "yes"  # embedded


def test_document_numbers_are_consecutive_and_a_rollback_gives_its_number_back(db_url, operator_settings):
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as session:
            premium_price_list(session)
            for index, name in enumerate(("Alpha AG", "Beta AG", "Gamma AG")):
                an_account_with_a_call(session, name, index)
            session.commit()

            first = issued(session, "Alpha AG")
            assert first.document_number == 1 and first.lines
            session.rollback()  # the issue never happened: its number is free again
            assert session.scalar(select(func.count()).select_from(Statement)) == 0
            assert [issued(session, name).document_number for name in ("Beta AG", "Alpha AG")] == [1, 2]
            session.commit()
            with pytest.raises(ValueError, match="already issued"):
                issued(session, "Alpha AG")
            assert issued(session, "Gamma AG").document_number == 3
            session.commit()
            assert session.scalar(select(DocumentSequence.last_number)) == 3
    finally:
        engine.dispose()


def test_the_document_bills_exactly_the_calls_it_locks(session, shop, operator_settings, tmp_path):
    """A call rated between the draft and the issue is locked to the statement: it is on the document."""
    account, _, _ = shop
    november_calls(session)
    draft = statements.build_statement(session, account.name, "2026-11", load_settings())
    store(session, a_leg("0900123456", local("2026-11-20 08:00"), 1800))  # 30 minutes more, rated now
    statement = statements.issue(session, draft)
    locked = list(session.scalars(select(RatedCall).where(RatedCall.statement_id == statement.id)))
    assert len(locked) == 5 == sum(line.calls for line in draft.lines)
    assert statement.payout == sum((call.payout for call in locked), D(0)) == draft.payout_total
    text = " ".join(pdf_text(statement.pdf, tmp_path).split())
    assert format_chf(statement.payout) in text and format_chf(sum((c.caller for c in locked), D(0))) in text


def test_corrections_name_the_call_they_correct(session, shop, operator_settings, tmp_path):
    account, premium, _ = shop
    november_calls(session)
    issued(session, account.name)
    tariffs.set_tariff(session, OPERATOR, premium, 1, tariffs.TariffTerms(D("2.00"), D("1.00")),
                       valid_from=local("2026-11-01 00:00"))
    rate_period(session, "2026-11", RatingSetup.load(session, PAYFAST_PERCENT, ZONE), rerate=True)
    december = statements.build_statement(session, account.name, "2026-12", load_settings())
    text = " ".join(pdf_text(statements_pdf(december), tmp_path).split())
    assert len(december.adjustments) == 3 and "Korrekturen früher abgerechneter Anrufe" in text
    for when in ("02.11.2026 09:00", "03.11.2026 10:00", "30.11.2026 23:30"):  # Swiss time, as the calls began
        assert f"0900 123 456 {when} Neuberechnung nach einer Tarifkorrektur" in text
    assert all(f"−{format_chf(-a.payout)}" in text for a in december.adjustments)


def test_concurrent_issues_get_distinct_consecutive_numbers(db_url, operator_settings):
    engine = make_engine(db_url)
    names = [f"Kunde {i} AG" for i in range(6)]
    try:
        with session_factory(engine)() as session:
            premium_price_list(session)
            for index, name in enumerate(names):
                an_account_with_a_call(session, name, index)
            session.commit()
        start, results, errors = threading.Barrier(len(names)), {}, []

        def issue(name: str) -> None:
            try:
                with session_factory(engine)() as session:
                    built = statements.build_statement(session, name, "2026-11", load_settings())
                    start.wait()
                    statements.issue(session, built)
                    session.commit()
                    results[name] = built.document_number
            except Exception as exc:  # reported below: a thread's failure must fail the test
                errors.append(exc)

        threads = [threading.Thread(target=issue, args=(name,)) for name in names]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert sorted(results.values()) == list(range(1, len(names) + 1))
        with session_factory(engine)() as session:
            stored = dict(session.execute(select(Statement.number, Statement.pdf)).all())
        assert sorted(stored) == sorted(results.values()) and all(pdf.startswith(b"%PDF") for pdf in stored.values())
    finally:
        engine.dispose()


async def test_an_issued_statement_is_served_byte_for_byte_as_issued(
        session, shop, db_url, operator_settings, tmp_path, capsys, monkeypatch):
    from aiohttp.test_utils import TestClient, TestServer

    from sync.app import build_app

    account, _, _ = shop
    november_calls(session)
    token = accounts.add_token(session, account, "portal").secret
    session.commit()
    first, again = tmp_path / "first.pdf", tmp_path / "again.pdf"
    result = invoke(capsys, "statement", "--account", account.name, "--month", "2026-11", "--issue", "--pdf", str(first))
    assert result.code == 0, result.err
    assert "issued as no. 1" in result.out

    # Whatever changes afterwards, the issued document does not.
    assert invoke(capsys, "account", "set", account.name, "--language", "fr", "--address", "Rue du Rhône 1",
                  "--address", "1204 Genève").code == 0
    monkeypatch.setenv("SMARTNUMBERS_OPERATOR_NAME", "Renamed Operator SA")
    assert invoke(capsys, "statement", "--account", account.name, "--month", "2026-11", "--pdf", str(again)).code == 0
    assert again.read_bytes() == first.read_bytes()
    async with TestClient(TestServer(build_app(load_settings(database_url=db_url)))) as client:
        served = await client.get("/api/v1/statements/2026-11/pdf", headers={"Authorization": f"Bearer {token}"})
        body = await served.read()
        document = await (await client.get("/api/v1/statements/2026-11",
                                           headers={"Authorization": f"Bearer {token}"})).json()
    assert served.status == 200 and body == first.read_bytes()
    assert document["issued"] and document["number"] == 1
    assert "Gutschrift Nr. 1" in " ".join(pdf_text(body, tmp_path).split())  # still in German, as issued


def test_issuing_without_the_operator_warns_and_issues(session, shop, db_url, capsys, tmp_path):
    """A statement issued before the operator settings are set is still issued (the month's
    calls are locked to it), and the command says what the document lacks."""
    account, _, _ = shop
    november_calls(session)
    session.commit()
    result = invoke(capsys, "statement", "--account", account.name, "--month", "2026-11", "--issue",
                    "--pdf", str(tmp_path / "s.pdf"))
    assert result.code == 0 and result.err.startswith("warning: issued without") and result.err.count("\n") == 1
    assert "SMARTNUMBERS_OPERATOR_NAME" in result.err and "SMARTNUMBERS_OPERATOR_VAT_NUMBER" in result.err
    assert (tmp_path / "s.pdf").read_bytes().startswith(b"%PDF")
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(RatedCall).where(RatedCall.statement_id.is_not(None))) > 0

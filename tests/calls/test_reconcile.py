"""``smartnumbers cdr reconcile``: what the switch reported for a day against what was stored,
on the real CDRs of the hunt 7201 (started 2026-11-27 10:10 UTC)."""

from __future__ import annotations

import os
import shutil

from controller import capture
from controller.freeswitch import translate
from smartnumbers.db import make_engine, session_factory
from smartnumbers.models import LegSource
from tests.calls.test_capture import A_LEG, BUSY, NO_ANSWER, by_event, hangups
from tests.calls.test_cdr_paths import cdr_folder
from tests.foundation.cli import invoke


def store(db_url, arrivals):
    engine = make_engine(db_url)
    with session_factory(engine)() as session, session.begin():
        capture.store_legs(session, arrivals)
    engine.dispose()


def test_reconcile_lists_what_the_switch_reported_and_the_store_lacks(db_url, captures, capsys, tmp_path, monkeypatch):
    events = {e.get("Unique-ID"): e for e in hangups(captures)}
    # The event socket delivered the A-leg and the busy leg; every CDR post failed, so the
    # switch wrote all four CDRs into its error folder, not swept yet.
    store(db_url, [by_event(events[A_LEG]), by_event(events[BUSY])])
    err_dir = tmp_path / "json_cdr_err"
    err_dir.mkdir()
    for path in cdr_folder(captures).glob("*.cdr.json"):
        shutil.copy(path, err_dir / path.name)
        os.utime(err_dir / path.name, (1, 1))
    monkeypatch.setenv("SMARTNUMBERS_CDR_ERROR_FOLDERS", f'{{"vm": "{err_dir}"}}')

    before = invoke(capsys, "cdr", "reconcile", "--day", "2026-11-27", "--json")
    assert before.code == 1, before.err
    report = before.json()
    assert report["stored_legs"] == 2 and report["reported_legs"] == 4
    differences = report["differences"]
    assert len(differences["not stored"]) == 2 and any(NO_ANSWER in item for item in differences["not stored"])
    assert sorted(differences["CDR waiting in a folder"]) == sorted([A_LEG, BUSY])

    swept = invoke(capsys, "cdr", "sweep", "--json")
    assert swept.code == 0 and swept.json()[0]["new_legs"] == 2 and swept.json()[0]["known_legs"] == 2
    after = invoke(capsys, "cdr", "reconcile", "--day", "2026-11-27")
    assert after.code == 0, after.out
    assert "0 difference(s)" in after.out
    other_day = invoke(capsys, "cdr", "reconcile", "--day", "2026-11-26", "--json")
    assert other_day.code == 0 and other_day.json()["stored_legs"] == 0


def test_a_leg_known_only_from_its_event_is_a_difference(db_url, captures, capsys):
    events = {e.get("Unique-ID"): e for e in hangups(captures)}
    store(db_url, [by_event(e) for e in events.values()])
    result = invoke(capsys, "cdr", "reconcile", "--day", "2026-11-27", "--json")
    assert result.code == 1
    assert len(result.json()["differences"]["no CDR from the switch (hangup event only)"]) == 4
    body = (cdr_folder(captures) / f"{A_LEG}.cdr.json").read_bytes()
    document, text = translate.cdr_document(body, "application/json")
    store(db_url, [capture.ArrivedLeg(translate.leg_from_cdr(document), LegSource.POST, text)])
    assert len(invoke(capsys, "cdr", "reconcile", "--day", "2026-11-27", "--json").json()["differences"][
        "no CDR from the switch (hangup event only)"]) == 3


def test_a_bad_day_is_refused(db_url, capsys):
    result = invoke(capsys, "cdr", "reconcile", "--day", "26.11.2026")
    assert result.code == 2 and "2026-11-26" in result.err

"""The parties a statement names: the operator from the settings, the account from the command
line, each with a postal address and a UID whose check digit is verified."""

import pytest

from smartnumbers.errors import InputError
from smartnumbers.main import run
from smartnumbers.settings import SettingsError, load_settings
from smartnumbers.validation import swiss_uid
from tests.foundation.cli import invoke, row_counts


@pytest.mark.parametrize("typed", ["CHE-116.281.710 MWST", "che116281710", "CHE 116 281 710 TVA",
                                   "CHE-116.281.710IVA", "CHE-116.281.710 VAT"])
def test_a_uid_is_read_as_people_write_it(typed):
    assert swiss_uid(typed, what="UID") == "CHE-116.281.710"


@pytest.mark.parametrize("typed, message", [
    ("CHE-123.456.789", "wrong check digit"),  # the check digit of 12345678 is 8
    ("CHE-116.281.711 MWST", "wrong check digit"),
    ("CHE-100.000.160", "wrong check digit"),  # 10000016 gives check value 10: no UID starts so
    ("CHE-116.281.71", "is not a Swiss UID"),
    ("DE-116.281.710", "is not a Swiss UID"),
    ("CHE-116.281.710 GST", "is not a Swiss UID"),
    ("CHE-１１６.281.710", "is not a Swiss UID"),  # full-width digits
])
def test_a_wrong_uid_is_refused_in_one_line(typed, message):
    with pytest.raises(InputError, match=message):
        swiss_uid(typed, what="UID")


def test_the_operator_settings(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("SMARTNUMBERS_CONFIG", str(tmp_path / "smartnumbers.toml"))
    (tmp_path / "smartnumbers.toml").write_text(
        'operator_name = "Swiss Service Numbers AG"\noperator_address = ["Seefeldstrasse 123", "8008 Zürich"]\n'
        'operator_vat_number = "CHE-116.281.710 MWST"\n')
    settings = load_settings()
    assert settings.operator_name == "Swiss Service Numbers AG"
    assert settings.operator_address == ["Seefeldstrasse 123", "8008 Zürich"]
    assert settings.operator_vat_number == "CHE-116.281.710"
    for name, value, message in (("VAT_NUMBER", "CHE-123.456.789 MWST", "wrong check digit"),
                                 ("ADDRESS", '["a", "b", "c", "d", "e", "f"]', "at most 5 lines"),
                                 ("ADDRESS", '["Seefeldstrasse 123\\u0007"]', "control character"),
                                 ("NAME", " ", "empty")):
        monkeypatch.setenv(f"SMARTNUMBERS_OPERATOR_{name}", value)
        with pytest.raises(SettingsError, match=f"SMARTNUMBERS_OPERATOR_{name}: .*{message}"):
            load_settings()
        assert run(["number", "list"]) == 2 and capsys.readouterr().err.count("\n") == 1
        monkeypatch.delenv(f"SMARTNUMBERS_OPERATOR_{name}")


def test_an_account_gets_and_changes_its_address_uid_and_language(db_url, capsys):
    added = invoke(capsys, "account", "add", "Acme AG", "--address", "Bahnhofstrasse 1", "--address", "8001 Zürich",
                   "--vat-number", "che 116 281 710 mwst", "--language", "fr")
    assert added.code == 0, added.err
    listed = invoke(capsys, "account", "list", "--json").json()
    assert listed == [{"id": 1, "name": "Acme AG", "parent": None, "allow_international": False,
                       "address": ["Bahnhofstrasse 1", "8001 Zürich"], "vat_number": "CHE-116.281.710",
                       "language": "fr"}]
    assert "8001 Zürich, CHE-116.281.710, fr" in invoke(capsys, "account", "list").out

    changed = invoke(capsys, "account", "set", "Acme AG", "--language", "it", "--address", "Via Nassa 5",
                     "--address", "6900 Lugano")
    assert changed.code == 0 and "Via Nassa 5, 6900 Lugano, CHE-116.281.710, it" in changed.out
    unregistered = invoke(capsys, "account", "set", "Acme AG", "--vat-number", "none")
    assert unregistered.code == 0 and "not VAT-registered" in unregistered.out
    assert invoke(capsys, "account", "list", "--json").json()[0]["vat_number"] is None


@pytest.mark.parametrize("argv, message", [
    (("account", "add", "Beta AG", "--vat-number", "CHE-123.456.789"),
     "VAT number: 'CHE-123.456.789' has a wrong check digit"),
    (("account", "add", "Beta AG", "--language", "rm"), "language: 'rm' is not one of de, fr, it, en"),
    (("account", "add", "Beta AG", *("--address", "x") * 6), "address: at most 5 lines"),
    (("account", "set", "Acme AG", "--vat-number", "12345"), "is not a Swiss UID"),
    (("account", "set", "Acme AG", "--address", "A" * 71), "address line 1: too long"),
    (("account", "set", "Acme AG", "--language", "it", "--vat-number", "CHE-116.281.711"), "wrong check digit"),
    (("account", "set", "Acme AG"), "nothing to change"),
    (("account", "set", "Nobody AG", "--language", "it"), "no account named 'Nobody AG'"),
])
def test_bad_account_details_exit_2_with_one_line_and_change_nothing(db_url, capsys, argv, message):
    assert invoke(capsys, "account", "add", "Acme AG", "--vat-number", "CHE-116.281.710", "--language", "de").code == 0
    before, listed = row_counts(db_url), invoke(capsys, "account", "list", "--json").out
    result = invoke(capsys, *argv)
    assert result.code == 2 and result.err.count("\n") == 1 and message in result.err, result.err
    assert row_counts(db_url) == before and invoke(capsys, "account", "list", "--json").out == listed

"""The 0906 age check and the agent's tariff codes in a number's extensions: where they stand
in the order DESIGN.md gives, and what the switch is told to do."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from controller.dialplan import render
from controller.dialplan.table import DialplanTable
from smartnumbers import accounts, numbers
from smartnumbers.audit import Actor
from smartnumbers.errors import InputError
from smartnumbers.models import ActorKind, AgeCheck
from tests.dialplan.plans import NUMBER, OPTIONS, dialplan
from tests.dialplan.test_features import OFFICE

OPERATOR = Actor(ActorKind.CLI, "noc")


def context_of(xml: str) -> ET.Element:
    """The number's file: its extensions, which its context includes."""
    return ET.fromstring(xml)


def actions(extension: ET.Element) -> list[tuple[str, str]]:
    return [(a.get("application"), a.get("data", "")) for a in extension.iter("action")]


def age_check(xml: str) -> list[tuple[str, str]]:
    """The actions of the age check: the admission's after its limit."""
    admission = actions(context_of(xml).find("extension[@name='admission']"))
    assert admission[0][0] == "limit"
    return admission[1:]


def test_the_age_check_comes_after_the_limit_and_before_any_slot_in_early_media():
    xml = render.number_file(dialplan(OFFICE, age_check=AgeCheck.DIGIT), OPTIONS)
    names = [e.get("name") for e in context_of(xml).findall("extension")]
    assert names[0] == render.AGE_REFUSED  # first, so a transfer to it stops there
    applications = [a for a, _ in actions(context_of(xml))]
    assert applications.index("limit") < applications.index("play_and_get_digits") < applications.index("bridge")
    check = dict(age_check(xml))
    collect = check["play_and_get_digits"].split()
    assert collect[:5] == ["1", "1", "3", "5000", "#"] and collect[8] == "^1$"
    assert collect[-3:] == [render.AGE_REFUSED + NUMBER, "XML", "sn_567"]
    assert [a for a, _ in age_check(xml)][:3] == [
        "set", "pre_answer", "play_and_get_digits"]  # early media: the caller is not answered
    refused = actions(context_of(xml).find(f"extension[@name='{render.AGE_REFUSED}']"))
    assert ("set", "smart_age_check=failed") in refused and refused[-1] == ("hangup", "CALL_REJECTED")
    assert ("answer", "") not in refused


def test_pins_are_checked_by_the_switch_and_never_reach_the_cdr():
    xml = render.number_file(dialplan(OFFICE, age_check=AgeCheck.PIN, age_pins=("4711", "20261127")), OPTIONS)
    check = age_check(xml)
    collect = dict(check)["play_and_get_digits"].split()
    assert collect[:5] == ["4", "8", "3", "8000", "#"] and collect[8] == "^(?:4711|20261127)$"
    assert ("unset", "smart_age_pin") in check and check[-1] == ("set", "smart_age_check=passed")
    with pytest.raises(render.UnsafeValue):
        render.number_file(dialplan(OFFICE, age_check=AgeCheck.PIN, age_pins=("12 XML x",)), OPTIONS)


def test_other_numbers_have_no_age_check():
    xml = render.number_file(dialplan(OFFICE), OPTIONS)
    assert "play_and_get_digits" not in xml and render.AGE_REFUSED not in xml


def test_the_code_binding_is_set_on_the_b_legs_of_numbers_with_several_tariffs():
    xml = render.number_file(dialplan(OFFICE, tariff_codes=True), OPTIONS)
    sets = [d for a, d in actions(context_of(xml).find("extension[@name='number']")) if a == "set"]
    assert "bridge_pre_execute_bleg_app=bind_digit_action" in sets
    assert f"bridge_pre_execute_bleg_data={render.CODE_BINDING}" in sets
    assert "exec[i]:" in render.CODE_BINDING  # a plain exec: would put the caller on hold (FACTS 4b)
    assert "bind_digit_action" not in render.number_file(dialplan(OFFICE), OPTIONS)


def test_xml_curl_answers_the_refusal_in_the_numbers_context():
    table = DialplanTable()
    body = render.extensions_xml(dialplan(OFFICE, age_check=AgeCheck.DIGIT), OPTIONS)
    table.replace_all({NUMBER: body})
    answer = table.answer(render.AGE_REFUSED + NUMBER, "sn_567")
    assert f'name="{render.AGE_REFUSED}"' in answer
    assert table.answer(render.AGE_REFUSED + NUMBER, "sn_568") == render.NOT_FOUND
    assert table.answer(render.AGE_REFUSED + "+41900999567", "sn_567") == render.NOT_FOUND


def test_adult_numbers_check_age_by_digit_until_pins_are_issued(session):
    account = accounts.add_account(session, "Night AG")
    adult = numbers.add_number(session, OPERATOR, "0906 123 456", account)
    business = numbers.add_number(session, OPERATOR, "0900 123 456", account)
    assert adult.age_check is AgeCheck.DIGIT and business.age_check is None
    with pytest.raises(InputError, match="issue a PIN first"):
        numbers.set_age_check(session, OPERATOR, adult, "pin")
    for bad in ("12a4", "123", "123456789", "１２３４"):
        with pytest.raises(InputError, match="4 to 8 digits"):
            numbers.add_age_pin(session, OPERATOR, adult, bad, "A. Adult")
    pin = numbers.add_age_pin(session, OPERATOR, adult, "4711", "A. Adult")
    numbers.set_age_check(session, OPERATOR, adult, "pin")
    with pytest.raises(InputError, match="last PIN"):
        numbers.remove_age_pin(session, OPERATOR, adult, pin.id)
    with pytest.raises(InputError, match="only adult"):
        numbers.add_age_pin(session, OPERATOR, business, "4711", "A. Adult")
    session.commit()
    assert adult.age_pins[0].pin == "4711"

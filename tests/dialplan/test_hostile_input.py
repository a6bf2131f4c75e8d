"""Nothing a person types changes the structure of the XML or smuggles an application into it,
and no destination the fraud rule forbids is ever rendered, even one stored before the rule."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from controller.dialplan import render, view
from smartnumbers import accounts, blacklist, numbers, routing, tariffs
from smartnumbers.audit import Actor
from smartnumbers.errors import InputError
from smartnumbers.models import ActorKind, CallerIdPolicy, Destination, DestinationKind, Language
from smartnumbers.routing import DestinationSpec
from tests.dialplan.plans import OPTIONS, applications, dialplan, plan

OPERATOR = Actor(ActorKind.CLI, "noc")
ZURICH = ZoneInfo("Europe/Zurich")
NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.timezone.utc)
ALLOWED_APPLICATIONS = {"set", "export", "limit", "pre_answer", "playback", "bridge", "hangup"}
HOSTILE_TEXTS = [
    '"/><action application="system" data="rm -rf /"/><x a="',
    "</condition></extension><extension name=\"x\"><condition><action application=\"socket\" data=\"1.2.3.4:1\"/>",
    "${system(id)} $${password} ${strepoch()}",
    "]]><!-- --><![CDATA[",
    "&lt;&amp;&#x3C;",
    "{origination_caller_id_number=1}sofia/gateway/x/+41900000000|",
    "Grüezi ’ « » \u00a0 ok",
]


def shape(document: str) -> list[tuple[str, tuple[str, ...]]]:
    """The XML's structure: each element with its attribute names, in order."""
    return [(e.tag, tuple(sorted(e.attrib))) for e in ET.fromstring(document.encode()).iter()]


def benign() -> str:
    spec = plan({"slots": [{"days": "mon-fri", "start": "08:00", "end": "18:00",
                            "destinations": [{"target": "+41446681800", "ring_timeout": 20}]}],
                 "outside": {"action": "announcement", "announcement": "Closed."}})
    return render.number_file(dialplan(spec), OPTIONS)


@pytest.mark.parametrize("text", HOSTILE_TEXTS)
def test_an_announcement_text_never_reaches_the_xml(text):
    spec = plan({"slots": [{"days": "mon-fri", "start": "08:00", "end": "18:00",
                            "destinations": [{"target": "+41446681800", "ring_timeout": 20}]}],
                 "outside": {"action": "announcement", "announcement": text}})
    document = render.number_file(dialplan(spec), OPTIONS)
    assert shape(document) == shape(benign())
    assert set(applications(document)) <= ALLOWED_APPLICATIONS
    assert "system" not in document and "socket" not in document and "CDATA" not in document


@pytest.mark.parametrize("target", [
    'sip:a@b"/><action application="system" data="x',
    "sip:desk@pbx.example.com|sofia/gateway/x/+41900000000",
    "sip:desk@pbx.example.com,origination_caller_id_number=1",
    "sip:${system(id)}@pbx.example.com",
    "sip:desk@pbx.example.com;transport=tcp",
    "+41446681800]sofia/gateway/evil/+41900123456",
    "+41 44 668 18 00\n<x/>",
])
def test_hostile_destinations_are_refused_when_typed(target):
    with pytest.raises(InputError):
        routing.parse_destination(target, 20, routing.DestinationPolicy(True, lambda e: False), what="destination")


@pytest.mark.parametrize("kind, target", [
    (DestinationKind.SIP, 'sip:a@b"/><action application="system" data="x'),
    (DestinationKind.SIP, "sip:desk@pbx.example.com|sofia/gateway/x/+41900000000"),
    (DestinationKind.PSTN, "+41446681800]sofia/gateway/evil/1"),
    (DestinationKind.PSTN, "${system(id)}"),
])
def test_a_hostile_value_that_slipped_past_validation_stops_the_render(kind, target):
    spec = plan({"slots": [{"days": "mon", "start": "08:00", "end": "18:00",
                            "destinations": [{"target": "+41446681800", "ring_timeout": 20}]}]})
    n = dialplan(spec)
    bad = view.Hunt("1", n.hunts[0].description, (DestinationSpec(kind, target, 20),))
    with pytest.raises(render.UnsafeValue):
        render.number_file(dialplan(spec, hunts=(bad,)), OPTIONS)


@pytest.mark.parametrize("changes", [
    {"blocks": (view.CallerBlock(("+41791112233|.*",), (), None),)},
    {"blocks": (view.CallerBlock((), ("+41$",), None),)},
    {"e164": "+41901234567$|^"},
    {"caller_id_number": "+41446681899,sip_h_X=1", "caller_id": CallerIdPolicy.FIXED},
    {"zone": "Europe/Zurich\" inline=\"false"},
])
def test_hostile_numbers_patterns_and_zones_stop_the_render(changes):
    spec = plan({"slots": [{"days": "mon", "start": "08:00", "end": "18:00",
                            "destinations": [{"target": "+41446681800", "ring_timeout": 20}]}]})
    with pytest.raises(render.UnsafeValue):
        render.number_file(dialplan(spec, **changes), OPTIONS)


@pytest.mark.parametrize("pattern", ["+41 79|.*", "079*)|(", "+4179*\"/>", "*", "+41791234567;", "0x79*", "٠٧٩*"])
def test_hostile_blacklist_entries_are_refused_when_typed(pattern):
    with pytest.raises(InputError):
        blacklist.parse_pattern(pattern)


# --- through the database: what is stored is checked again when rendered ---------------------------------


@pytest.fixture
def acme(session):
    account = accounts.add_account(session, '"/><action application="system" data="x"/> & Co')
    number = numbers.add_number(session, OPERATOR, "0900 123 456", account, caller_id_policy="smart_number")
    tariffs.set_tariff(session, OPERATOR, number, 1, tariffs.TariffTerms(Decimal("3.50")),
                       valid_from=NOW - dt.timedelta(days=1))
    spec = routing.parse_plan({"slots": [{"days": "mon-fri", "start": "08:00", "end": "18:00",
                                          "destinations": [{"target": "+41446681800", "ring_timeout": 20}]}],
                               "outside": {"action": "announcement", "announcement": HOSTILE_TEXTS[0]}},
                              routing.destination_policy(session, number))
    routing.store_plan(session, OPERATOR, number, spec)
    blacklist.add_entry(session, OPERATOR, account, "079*", '"/><x/>', number=number)
    session.commit()
    return number


def test_hostile_account_names_and_reasons_never_reach_the_xml(session, acme):
    dialplans = view.load_dialplans(session, NOW, ZURICH)
    n = dialplans[acme.e164]
    assert isinstance(n, view.NumberDialplan) and n.price is not None and n.price.language is Language.DE
    document = render.number_file(n, OPTIONS)
    assert "system" not in document and "<x/>" not in document and "Co" not in document
    assert set(applications(document)) <= ALLOWED_APPLICATIONS
    assert f"smart_account={acme.account_id}" in document


@pytest.mark.parametrize("target, rule", [
    ("+41900111222", "premium-rate"), ("+41848123456", "shared-cost"), ("+4930123456", "abroad"),
    ("sip:0901999888@gw.example.com", "premium-rate"), ("sip:0800555666@gw.example.com", "loop"),
    ("+41800555666", "loop"),
])
def test_a_forbidden_destination_stored_earlier_is_never_rendered(session, acme, target, rule):
    """A row written past the checks (an old plan, a rule that changed, a number that joined the
    platform since) fails the render of that number only; the others still render."""
    other = numbers.add_number(session, OPERATOR, "0800 555 666", acme.account)
    session.commit()
    slot = acme.plan.slots[0]
    session.add(Destination(plan_id=acme.plan.id, slot=slot, position=2,
                            kind=DestinationKind.SIP if target.startswith("sip:") else DestinationKind.PSTN,
                            target=target, ring_timeout_s=20))
    session.commit()
    session.expire_all()
    dialplans = view.load_dialplans(session, NOW, ZURICH)
    error = dialplans[acme.e164]
    assert isinstance(error, InputError) and rule in str(error) and error.rule == "fraud"
    assert isinstance(dialplans[other.e164], view.NumberDialplan)


def test_expired_blacklist_entries_are_left_out(session, acme):
    blacklist.add_entry(session, OPERATOR, acme.account, "+33*", "spam", number=acme,
                        until=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1))
    session.commit()
    now = dt.datetime.now(dt.timezone.utc)
    assert len(view.load_dialplans(session, now, ZURICH)[acme.e164].blocks) == 2
    later = now + dt.timedelta(days=2)
    blocks = view.load_dialplans(session, later, ZURICH)[acme.e164].blocks
    assert [(b.prefixes, b.until) for b in blocks] == [(("+4179",), None)]
    document = render.number_file(view.load_dialplans(session, now, ZURICH)[acme.e164], OPTIONS)
    assert len(re.findall(r'name="blacklist_\d+"', document)) == 2

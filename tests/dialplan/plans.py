"""Dialplans built without a database, for the tests that only render and evaluate."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET

from controller.dialplan import render, view
from smartnumbers.models import CallerIdPolicy, Language, OutsideAction
from smartnumbers.routing import DestinationPolicy, PlanSpec, RoutingDecision, parse_plan
from tests.dialplan import freeswitch_dialplan as fsd

NUMBER = "+41901234567"
OPTIONS = render.RenderOptions("/var/lib/smartnumbers/sounds")
DOMESTIC = DestinationPolicy(False, {NUMBER}.__contains__)


def plan(doc: dict) -> PlanSpec:
    return parse_plan(doc, DOMESTIC)


def dialplan(spec: PlanSpec, *, today: dt.date = dt.date(2026, 1, 1), **changes) -> view.NumberDialplan:
    hunts = tuple(view.Hunt(str(i), s.describe(), s.destinations) for i, s in enumerate(spec.slots, 1))
    fallback = (view.Hunt(view.FALLBACK, "outside every slot", spec.fallback)
                if spec.outside_action is OutsideAction.FALLBACK else None)
    outside_announcement = (view.Announcement(spec.outside_announcement, Language.DE)
                            if spec.outside_action is OutsideAction.ANNOUNCEMENT else None)
    values = dict(e164=NUMBER, account_id=7, zone="Europe/Zurich", language=Language.DE, unavailable=None, blocks=(),
                  max_calls=30, tariff_code=1, tariff_version=1, price=None, caller_id=CallerIdPolicy.CALLER,
                  caller_id_number=None, rules=view.time_rules(spec, today), hunts=hunts, outside=spec.outside_action,
                  outside_announcement=outside_announcement, fallback=fallback)
    values.update(changes)
    return view.NumberDialplan(**values)


def number_context(*dialplans: view.NumberDialplan) -> tuple[fsd.Extension, ...]:
    """The context of the numbers' last digits as the switch loads it: the context file, with
    the numbers' files included where it includes its folder (in file name order)."""
    contexts = {render.context_name(n.e164) for n in dialplans}
    assert len(contexts) == 1, contexts
    bucket = render.bucket_of(dialplans[0].e164)
    included: list[fsd.Extension] = []
    for n in sorted(dialplans, key=lambda n: n.e164):
        included += fsd.parse_context(ET.fromstring(render.number_file(n, OPTIONS)))
    return (*included, *fsd.contexts(render.context_file(bucket))[f"sn_{bucket}"])


def switch_routes(context, epoch: float, caller: str = "+41441112233", dialled: str = "0901234567"):
    """What FreeSWITCH does with a call at ``epoch``: the slot label and the legs tried in order
    (every destination failing, so the whole hunt shows)."""
    channel = fsd.Channel(dialled, caller, epoch)
    actions = fsd.hunt(context, channel)
    outcome = fsd.run(actions, channel, lambda leg: "fail")
    return channel.variables.get("smart_slot"), tuple((leg.endpoint, leg.timeout) for leg in outcome.tried), outcome


def reference_routes(spec: PlanSpec, decision: RoutingDecision):
    """The same, from smartnumbers.routing.decide."""
    if decision.slot is not None:
        label = str(next(i for i, s in enumerate(spec.slots, 1) if s is decision.slot))
    else:
        label = view.FALLBACK if spec.outside_action is OutsideAction.FALLBACK else view.OUTSIDE
    legs = tuple((render._dial_target(d.kind, d.target, OPTIONS), d.ring_timeout_s) for d in decision.destinations)
    return label, legs


def applications(document: str) -> list[str]:
    return re.findall(r'application="([^"]*)"', document)

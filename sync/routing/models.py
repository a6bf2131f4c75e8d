"""Wire models of routing: the plan document (one shape for ``route show --json``,
``route set --file`` and the API, read and written alike) and destination changes."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import Field, model_serializer

from smartnumbers import routing
from smartnumbers.models import ChangeKind, ChangeStatus, HolidayRule, OutsideAction
from sync.models import ApiModel, Instant

Clock = Annotated[str, Field(pattern=r"^[0-9]{1,2}:[0-9]{2}$", examples=["08:00"])]


class DestinationDoc(ApiModel):
    target: Annotated[str, Field(max_length=255, examples=["+41446681800", "sip:desk@pbx.example.ch"])]
    ring_timeout: Annotated[int, Field(ge=routing.RING_TIMEOUT_RANGE[0], le=routing.RING_TIMEOUT_RANGE[1])] = 20


Destinations = Annotated[list[DestinationDoc], Field(min_length=1, max_length=routing.MAX_DESTINATIONS)]


class SlotDoc(ApiModel):
    days: Annotated[str, Field(max_length=60, examples=["mon-fri", "sat,sun"])]
    start: Clock
    end: Clock
    destinations: Destinations


class OutsideDoc(ApiModel):
    action: OutsideAction = OutsideAction.REJECT
    destinations: Destinations | None = None  # with the action fallback
    announcement: Annotated[str, Field(max_length=500)] | None = None  # with the action announcement

    @model_serializer(mode="wrap")
    def _without_absent(self, handler):
        return {key: value for key, value in handler(self).items() if value is not None}


class HolidaysDoc(ApiModel):
    canton: Annotated[str, Field(max_length=20, examples=["ZH"])] | None = None
    rule: HolidayRule = HolidayRule.CLOSED
    dates: Annotated[list[dt.date], Field(max_length=366)] = []


class PlanDocument(ApiModel):
    """A number's weekly plan: slots in Europe/Zurich wall-clock time, each with up to three
    destinations hunted in order; what happens outside every slot; holidays."""

    slots: Annotated[list[SlotDoc], Field(max_length=routing.MAX_SLOTS)] = []
    outside: OutsideDoc = OutsideDoc()
    holidays: HolidaysDoc = HolidaysDoc()

    @classmethod
    def of(cls, spec: routing.PlanSpec) -> PlanDocument:
        return cls.model_validate(routing.plan_document(spec), strict=False)

    def document(self) -> dict[str, Any]:
        """The plan as ``routing.parse_plan`` reads it."""
        return self.model_dump(mode="json")


class ChangeIn(ApiModel):
    """New destinations for one slot of the plan (its position, 1-based) or, without ``slot``, for
    the fallback; made at ``at`` (with its offset) or, without it, now."""

    slot: Annotated[int, Field(ge=1, le=routing.MAX_SLOTS)] | None = None
    destinations: Destinations
    at: Instant | None = None

    def payload(self) -> dict[str, Any]:
        """The change as ``routing.schedule_change`` takes it."""
        return {"slot": self.slot, "destinations": [d.model_dump(mode="json") for d in self.destinations]}


class ChangeOut(ApiModel):
    """A change of a number's plan and what became of it: ``apply_at`` is when it takes effect
    (or took effect); ``status`` pending, applied, cancelled or failed (``error`` says why)."""

    id: int
    number: str
    kind: ChangeKind
    slot: int | None  # a destinations change: the slot's position, None for the fallback
    destinations: list[DestinationDoc] | None  # a destinations change
    plan: PlanDocument | None  # a whole plan's change
    summary: str
    apply_at: Instant
    status: ChangeStatus
    asked_by: str
    asked_at: Instant
    applied_at: Instant | None
    error: str | None

    @classmethod
    def of(cls, change: routing.PlanChange) -> ChangeOut:
        whole = change.kind is ChangeKind.PLAN
        return cls.model_validate(dict(
            id=change.id, number=change.number, kind=change.kind, slot=None if whole else change.change["slot"],
            destinations=None if whole else change.change["destinations"],
            plan=change.change["plan"] if whole else None, summary=change.summary(), apply_at=change.apply_at,
            status=change.status, asked_by=change.asked_by, asked_at=change.asked_at, applied_at=change.applied_at,
            error=change.error), strict=False)


class ChangeList(ApiModel):
    changes: list[ChangeOut]

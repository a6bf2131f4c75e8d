"""Wire models of numbers: a number with its options, current tariffs and plan."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import Field

from smartnumbers import routing
from smartnumbers.models import (
    AgeCheck,
    CallerIdPolicy,
    Language,
    NumberStatus,
    PayoutOption,
    PremiumCategory,
    RangeClass,
    SmartNumber,
)
from smartnumbers.phone import format_swiss
from sync.models import ApiModel, Money
from sync.routing.models import PlanDocument
from sync.tariffs.models import TariffVersionOut


class NumberOut(ApiModel):
    number: str  # E.164
    shown: str  # grouped the Swiss way
    range_class: RangeClass
    premium_category: PremiumCategory | None
    account: str
    status: NumberStatus
    donor_operator: str | None
    port_date: dt.date | None
    caller_id_policy: CallerIdPolicy
    caller_id_number: str | None
    language: Language
    max_concurrent_calls: int
    call_cost_cap: Money | None
    payout_option: PayoutOption
    age_check: AgeCheck | None
    tariffs: list[TariffVersionOut]  # the latest version of each code
    plan: PlanDocument | None

    @classmethod
    def of(cls, number: SmartNumber) -> NumberOut:
        return cls(
            number=number.e164, shown=format_swiss(number.e164), range_class=number.range_class,
            premium_category=number.premium_category, account=number.account.name, status=number.status,
            donor_operator=number.donor_operator,
            port_date=number.port_date,
            caller_id_policy=number.caller_id_policy, caller_id_number=number.caller_id_number,
            language=number.language, max_concurrent_calls=number.max_concurrent_calls,
            call_cost_cap=number.call_cost_cap, payout_option=number.payout_option, age_check=number.age_check,
            tariffs=[TariffVersionOut.of(t.versions[-1]) for t in number.tariffs if t.versions],
            plan=PlanDocument.of(routing.spec_of(number.plan)) if number.plan else None,
        )


class NumberChangeIn(ApiModel):
    """The options to change (only those given): caller-ID presentation (with ``caller_id_number``
    for ``fixed``), announcement language, simultaneous-call limit, cost cap per call (090x; CHF,
    VAT included, null: the legal CHF 400), payout option. Each role changes its part: routing
    the caller-ID, billing the payout option, an admin everything."""

    caller_id_policy: CallerIdPolicy | None = None
    caller_id_number: Annotated[str, Field(max_length=20, examples=["0446681800"])] | None = None
    language: Language | None = None
    max_concurrent_calls: Annotated[int, Field(ge=1, le=10000)] | None = None
    call_cost_cap: Annotated[str, Field(pattern=r"^[0-9]{1,3}(\.[0-9]{1,2})?$", examples=["25.00"])] | None = None
    payout_option: PayoutOption | None = None

    def changes(self) -> dict[str, Any]:
        """The options given (an explicit null included), as ``numbers.change_options`` takes them."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class NumberList(ApiModel):
    numbers: list[NumberOut]

"""Wire models of billing: a monthly statement (amounts as decimal strings)."""

from __future__ import annotations

import datetime as dt

from rating.statements import BuiltStatement, statement_dict
from sync.models import ApiModel, Money


class StatementLineOut(ApiModel):
    """The calls of one number under one tariff (or sequence of tariffs)."""

    number: str
    tariff: str
    payout_option: str
    calls: int
    answered: int
    talk_s: int
    caller: Money
    caller_excl_vat: Money
    vat: Money
    payout: Money
    owner_cost: Money
    payfast_fee: Money


class AdjustmentLineOut(ApiModel):
    call_id: str
    reason: str
    payout: Money
    owner_cost: Money
    payfast_fee: Money


class StatementOut(ApiModel):
    """An account's statement of a month: issued as it was, or a draft of what is unbilled."""

    account: str
    period: str
    issued: bool
    lines: list[StatementLineOut]
    adjustments: list[AdjustmentLineOut]
    payout: Money
    payfast_fee: Money
    payfast_fee_vat: str
    payout_vat_base: Money | None
    payout_vat: Money
    owner_cost: Money
    owner_cost_vat: Money
    payable: Money
    payout_option: str
    standard_due: dt.date
    payfast_due: dt.date
    due_on: dt.date

    @classmethod
    def of(cls, built: BuiltStatement) -> StatementOut:
        return cls.model_validate(statement_dict(built), strict=False)

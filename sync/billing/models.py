"""Wire models of billing: a monthly statement (amounts as decimal strings)."""

from __future__ import annotations

import datetime as dt

from rating.statements import AdjustmentLine, BuiltStatement, StatementLine
from sync.models import ApiModel, Instant, Money


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

    @classmethod
    def of(cls, line: StatementLine) -> StatementLineOut:
        return cls(**{name: getattr(line, name) for name in cls.model_fields})


class AdjustmentLineOut(ApiModel):
    call_id: str
    reason: str
    payout: Money
    owner_cost: Money
    payfast_fee: Money
    number: str
    started_at: Instant | None

    @classmethod
    def of(cls, line: AdjustmentLine) -> AdjustmentLineOut:
        return cls(**{name: getattr(line, name) for name in cls.model_fields})


class StatementOut(ApiModel):
    """An account's statement of a month: issued as it was, or a draft of what is unbilled."""

    account: str
    period: str
    issued: bool
    number: int | None  # the document number, once issued
    issued_at: Instant | None
    language: str
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
        return cls(account=built.account.name, period=built.period, issued=built.issued,
                   number=built.document_number, issued_at=built.issued_at, language=built.account.language.value,
                   lines=[StatementLineOut.of(line) for line in built.lines],
                   adjustments=[AdjustmentLineOut.of(a) for a in built.adjustments],
                   payout=built.payout_total, payfast_fee=built.payfast_fee,
                   payfast_fee_vat=built.payfast_fee_vat.value, payout_vat_base=built.payout_vat_base,
                   payout_vat=built.payout_vat, owner_cost=built.owner_cost, owner_cost_vat=built.owner_cost_vat,
                   payable=built.payable, payout_option=built.payout_option, standard_due=built.standard_due,
                   payfast_due=built.payfast_due, due_on=built.due_on)

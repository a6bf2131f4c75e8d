"""An account's monthly statement: itemised per number and tariff, summed in the database
from the rated calls (so it reconciles with them to the Rappen), with the adjustments of
corrections to periods already issued.

A statement bills every rated call of the account not yet on an issued statement whose period
is the statement's or earlier (a call swept in after its period was issued lands on the next
one). Issuing it locks those calls. For payouts (090x) it is a self-billing credit note: the
owner's share excl. VAT less the PayFast fee, plus VAT at 8.1 % when the owner is
VAT-registered; owners' costs (0800, 084x) are charged with VAT. The VAT is charged on the
share less the fee when the fee reduces the share (the default), or on the whole share when
the fee is a VAT-exempt financing fee (``SMARTNUMBERS_PAYFAST_FEE_VAT``, decided with the
operator's tax adviser; an issued statement keeps the treatment it was issued with).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from rating import payouts
from smartnumbers.money import VAT_RATE, round_rappen
from rating.pipeline import period_bounds
from smartnumbers.errors import InputError
from smartnumbers.models import (
    Account,
    PayfastFeeVat,
    PayoutOption,
    RatedCall,
    RatingAdjustment,
    SmartNumber,
    Statement,
)
from smartnumbers.settings import Settings

ZERO = Decimal("0")


@dataclass(frozen=True, slots=True)
class StatementLine:
    """The calls of one number under one tariff (or sequence of tariffs) in the statement."""

    number: str
    tariff: str
    payout_option: str
    calls: int
    answered: int
    talk_s: int
    caller: Decimal
    caller_excl_vat: Decimal
    vat: Decimal
    payout: Decimal
    owner_cost: Decimal
    payfast_fee: Decimal


@dataclass(frozen=True, slots=True)
class AdjustmentLine:
    call_id: str
    reason: str
    payout: Decimal
    owner_cost: Decimal
    payfast_fee: Decimal


@dataclass
class BuiltStatement:
    account: Account
    period: str
    lines: list[StatementLine]
    adjustments: list[AdjustmentLine]
    standard_due: dt.date
    payfast_due: dt.date
    payfast_fee_vat: PayfastFeeVat
    statement_id: int | None = None
    issued_at: dt.datetime | None = None
    zone_name: str = "Europe/Zurich"

    @property
    def issued(self) -> bool:
        return self.statement_id is not None

    def _sum(self, name: str) -> Decimal:
        return sum((getattr(line, name) for line in self.lines), ZERO) + sum(
            (getattr(a, name) for a in self.adjustments if hasattr(a, name)), ZERO)

    @property
    def payout_total(self) -> Decimal:
        """The owner's shares excl. VAT, adjustments included."""
        return self._sum("payout")

    @property
    def payfast_fee(self) -> Decimal:
        return self._sum("payfast_fee")

    @property
    def owner_cost(self) -> Decimal:
        return self._sum("owner_cost")

    @property
    def payout_vat_base(self) -> Decimal | None:
        """What the owner's VAT is charged on: the share less the PayFast fee when the fee
        reduces the share, the whole share when it is a VAT-exempt financing fee; None for an
        owner not VAT-registered (no VAT)."""
        if not self.account.vat_registered:
            return None
        if self.payfast_fee_vat is PayfastFeeVat.REDUCES_SHARE:
            return self.payout_total - self.payfast_fee
        return self.payout_total

    @property
    def payout_vat(self) -> Decimal:
        """VAT on the payout, 8.1 % of its base to the Rappen: only a VAT-registered owner
        charges it (self-billing)."""
        base = self.payout_vat_base
        return ZERO if base is None else round_rappen(base * VAT_RATE)

    @property
    def owner_cost_vat(self) -> Decimal:
        return round_rappen(self.owner_cost * VAT_RATE)

    @property
    def payable(self) -> Decimal:
        """What the operator pays the owner: the share less the PayFast fee, plus the VAT on the
        share, less the owner's costs with their VAT (negative when the owner owes). Under
        either PayFast treatment the fee itself is deducted whole; only the VAT differs."""
        return self.payout_total - self.payfast_fee + self.payout_vat - self.owner_cost - self.owner_cost_vat

    @property
    def payout_option(self) -> str:
        options = {line.payout_option for line in self.lines if line.payout}
        return "payfast" if options == {"payfast"} else "standard" if options <= {"standard"} else "mixed"

    @property
    def due_on(self) -> dt.date:
        return self.payfast_due if self.payout_option == "payfast" else self.standard_due


def _billed_by(statement_id: int | None, period: str):
    """Which rated calls and adjustments a statement bills: those locked to it once issued;
    for a draft, all not yet billed up to its period."""
    if statement_id is not None:
        return RatedCall.statement_id == statement_id, RatingAdjustment.statement_id == statement_id
    return (RatedCall.statement_id.is_(None)) & (RatedCall.period <= period), RatingAdjustment.statement_id.is_(None)


def account_named(session: Session, name: str) -> Account:
    account = session.scalar(select(Account).where(Account.name == name))
    if account is None:
        raise InputError(f"account: no account named {name!r}")
    return account


def build_statement(session: Session, account_name: str, period: str, settings: Settings) -> BuiltStatement:
    """The account's statement for the period: the issued one as it was, or a draft of what
    is unbilled up to the period's end."""
    period_bounds(period, settings.zone)  # refuses a malformed period
    account = account_named(session, account_name)
    issued = session.scalar(select(Statement).where(Statement.account_id == account.id, Statement.period == period))
    calls, adjustments = _billed_by(issued.id if issued else None, period)
    fee_vat = issued.payfast_fee_vat if issued else settings.payfast_fee_vat
    query = (
        select(
            SmartNumber.e164, RatedCall.tariff_codes, SmartNumber.payout_option,
            func.count(), func.sum(case((RatedCall.answered, 1), else_=0)),
            func.sum(RatedCall.talk_s),
            func.sum(RatedCall.caller), func.sum(RatedCall.caller_excl_vat), func.sum(RatedCall.vat),
            func.sum(RatedCall.payout), func.sum(RatedCall.owner_cost), func.sum(RatedCall.payfast_fee),
        )
        .join(SmartNumber, SmartNumber.id == RatedCall.number_id)
        .where(RatedCall.account_id == account.id, calls)
        .group_by(SmartNumber.e164, RatedCall.tariff_codes, SmartNumber.payout_option)
        .order_by(SmartNumber.e164, RatedCall.tariff_codes)
    )
    lines = [
        StatementLine(e164, codes or "—", PayoutOption(option).value, count, answered or 0, talk or 0,
                      *(amount or ZERO for amount in amounts))
        for e164, codes, option, count, answered, talk, *amounts in session.execute(query)
    ]
    adjustment_rows = session.scalars(
        select(RatingAdjustment).where(RatingAdjustment.account_id == account.id, adjustments)
        .order_by(RatingAdjustment.id))
    built = BuiltStatement(
        account, period, lines,
        [AdjustmentLine(a.call_id, a.reason, a.payout, a.owner_cost, a.payfast_fee) for a in adjustment_rows],
        payouts.standard_due(period), payouts.payfast_due(period, settings.billing_canton), fee_vat,
        issued.id if issued else None, issued.issued_at if issued else None, settings.timezone,
    )
    return built


def issue(session: Session, built: BuiltStatement) -> Statement:
    """Issue a draft: store it and lock its calls and adjustments to it."""
    if built.issued:
        raise InputError(f"statement {built.period} of {built.account.name} is already issued")
    statement = Statement(account_id=built.account.id, period=built.period, payout=built.payout_total,
                          owner_cost=built.owner_cost, payfast_fee=built.payfast_fee,
                          payfast_fee_vat=built.payfast_fee_vat, due_on=built.due_on)
    session.add(statement)
    session.flush()
    calls, adjustments = _billed_by(None, built.period)
    session.execute(update(RatedCall).where(RatedCall.account_id == built.account.id, calls)
                    .values(statement_id=statement.id).execution_options(synchronize_session=False))
    session.execute(update(RatingAdjustment).where(RatingAdjustment.account_id == built.account.id, adjustments)
                    .values(statement_id=statement.id).execution_options(synchronize_session=False))
    built.statement_id, built.issued_at = statement.id, statement.issued_at
    return statement


def statement_dict(built: BuiltStatement) -> dict[str, Any]:
    """The statement for scripts and the portal (amounts are Decimals: dump them as strings)."""
    return {
        "account": built.account.name,
        "period": built.period,
        "issued": built.issued,
        "lines": [{name: getattr(line, name) for name in StatementLine.__slots__} for line in built.lines],
        "adjustments": [{name: getattr(a, name) for name in AdjustmentLine.__slots__} for a in built.adjustments],
        "payout": built.payout_total,
        "payfast_fee": built.payfast_fee,
        "payfast_fee_vat": built.payfast_fee_vat.value,
        "payout_vat_base": built.payout_vat_base,
        "payout_vat": built.payout_vat,
        "owner_cost": built.owner_cost,
        "owner_cost_vat": built.owner_cost_vat,
        "payable": built.payable,
        "payout_option": built.payout_option,
        "standard_due": built.standard_due.isoformat(),
        "payfast_due": built.payfast_due.isoformat(),
        "due_on": built.due_on.isoformat(),
    }

"""An account's monthly statement: itemised per number and tariff, summed in the database
from the rated calls (so it reconciles with them to the Rappen), with the adjustments of
corrections to periods already issued.

Issuing one gives it the next document number and stores its PDF in the same transaction:
the numbers run without gaps, and the document is served as issued ever after.

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
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from rating import payouts
from smartnumbers.money import VAT_RATE, round_rappen
from rating.pipeline import period_bounds
from smartnumbers.errors import InputError
from smartnumbers.db import utcnow
from smartnumbers.models import (
    Account,
    PayfastFeeVat,
    CallRecord,
    DocumentSequence,
    PayoutOption,
    RatedCall,
    RatingAdjustment,
    SmartNumber,
    Statement,
)
from smartnumbers.settings import Settings

ZERO = Decimal("0")
STATEMENT_SEQUENCE = "statement"


@dataclass(frozen=True, slots=True)
class Issuer:
    """The operator as its statements name it, from the ``SMARTNUMBERS_OPERATOR_*`` settings."""

    name: str | None
    address: tuple[str, ...]
    vat_number: str | None

    @classmethod
    def of(cls, settings: Settings) -> Issuer:
        return cls(settings.operator_name, tuple(settings.operator_address), settings.operator_vat_number)

    def missing(self) -> list[str]:
        """The settings a document still needs before it can be issued."""
        return [f"SMARTNUMBERS_OPERATOR_{name}" for name, value in
                (("NAME", self.name), ("ADDRESS", self.address), ("VAT_NUMBER", self.vat_number)) if not value]


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
    """A correction of a call billed on an earlier statement; the number and the start of the
    call tell the owner which one."""

    call_id: str
    reason: str
    payout: Decimal
    owner_cost: Decimal
    payfast_fee: Decimal
    number: str = ""
    started_at: dt.datetime | None = None


@dataclass
class BuiltStatement:
    account: Account
    period: str
    lines: list[StatementLine]
    adjustments: list[AdjustmentLine]
    standard_due: dt.date
    payfast_due: dt.date
    payfast_fee_vat: PayfastFeeVat
    issuer: Issuer
    statement_id: int | None = None
    issued_at: dt.datetime | None = None
    zone_name: str = "Europe/Zurich"
    document_number: int | None = None

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
    return BuiltStatement(
        account, period, *_billed(session, account.id, issued.id if issued else None, period),
        payouts.standard_due(period), payouts.payfast_due(period, settings.billing_canton),
        issued.payfast_fee_vat if issued else settings.payfast_fee_vat, Issuer.of(settings),
        issued.id if issued else None, issued.issued_at if issued else None, settings.timezone,
        issued.number if issued else None,
    )


def _billed(session: Session, account_id: int, statement_id: int | None,
            period: str) -> tuple[list[StatementLine], list[AdjustmentLine]]:
    """The lines and adjustments a statement bills (see ``_billed_by``)."""
    calls, adjustments = _billed_by(statement_id, period)
    query = (
        select(
            SmartNumber.e164, RatedCall.tariff_codes, SmartNumber.payout_option,
            func.count(), func.sum(case((RatedCall.answered, 1), else_=0)),
            func.sum(RatedCall.talk_s),
            func.sum(RatedCall.caller), func.sum(RatedCall.caller_excl_vat), func.sum(RatedCall.vat),
            func.sum(RatedCall.payout), func.sum(RatedCall.owner_cost), func.sum(RatedCall.payfast_fee),
        )
        .join(SmartNumber, SmartNumber.id == RatedCall.number_id)
        .where(RatedCall.account_id == account_id, calls)
        .group_by(SmartNumber.e164, RatedCall.tariff_codes, SmartNumber.payout_option)
        .order_by(SmartNumber.e164, RatedCall.tariff_codes)
    )
    lines = [
        StatementLine(e164, codes or "—", PayoutOption(option).value, count, answered or 0, talk or 0,
                      *(amount or ZERO for amount in amounts))
        for e164, codes, option, count, answered, talk, *amounts in session.execute(query)
    ]
    adjustment_rows = session.execute(
        select(RatingAdjustment, SmartNumber.e164, CallRecord.started_at)
        .join(CallRecord, CallRecord.call_id == RatingAdjustment.call_id)
        .join(SmartNumber, SmartNumber.id == CallRecord.number_id)
        .where(RatingAdjustment.account_id == account_id, adjustments)
        .order_by(CallRecord.started_at, RatingAdjustment.id))
    return lines, [AdjustmentLine(a.call_id, a.reason, a.payout, a.owner_cost, a.payfast_fee, e164, started_at)
                   for a, e164, started_at in adjustment_rows]


def next_document_number(session: Session, sequence: str) -> int:
    """The sequence's next number, counted on its row in the caller's transaction: a concurrent
    issuer waits for the row until this transaction ends, and a rollback gives the number back."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    counted = insert(DocumentSequence).values(kind=sequence, last_number=1).on_conflict_do_update(
        index_elements=[DocumentSequence.kind], set_={"last_number": DocumentSequence.last_number + 1})
    return session.scalar(counted.returning(DocumentSequence.last_number))


def issue(session: Session, built: BuiltStatement) -> Statement:
    """Issue a draft: give it its document number, lock its calls and adjustments to it, and
    store its PDF, all in the caller's transaction. The document is made from what was locked,
    so a call rated since the draft was built is on it too."""
    if built.issued:
        raise InputError(f"statement {built.period} of {built.account.name} is already issued")
    from rating.statement_pdf import render  # WeasyPrint loads slowly: only when a document is made

    statement = Statement(account_id=built.account.id, period=built.period, payout=ZERO, owner_cost=ZERO,
                          payfast_fee=ZERO, payfast_fee_vat=built.payfast_fee_vat, due_on=built.due_on,
                          number=next_document_number(session, STATEMENT_SEQUENCE), issued_at=utcnow())
    session.add(statement)
    session.flush()
    calls, adjustments = _billed_by(None, built.period)
    session.execute(update(RatedCall).where(RatedCall.account_id == built.account.id, calls)
                    .values(statement_id=statement.id).execution_options(synchronize_session=False))
    session.execute(update(RatingAdjustment).where(RatingAdjustment.account_id == built.account.id, adjustments)
                    .values(statement_id=statement.id).execution_options(synchronize_session=False))
    built.lines, built.adjustments = _billed(session, built.account.id, statement.id, built.period)
    built.statement_id, built.issued_at, built.document_number = statement.id, statement.issued_at, statement.number
    statement.payout, statement.owner_cost = built.payout_total, built.owner_cost
    statement.payfast_fee, statement.due_on = built.payfast_fee, built.due_on
    statement.pdf = render(built)
    session.flush()
    return statement


def issued_pdf(session: Session, built: BuiltStatement) -> bytes | None:
    """The PDF of an issued statement as it was issued (None for a draft, or a statement
    issued before documents were stored)."""
    if not built.issued:
        return None
    return session.scalar(select(Statement.pdf).where(Statement.id == built.statement_id))


def statement_dict(built: BuiltStatement) -> dict[str, Any]:
    """The statement for scripts and the portal (amounts are Decimals: dump them as strings)."""
    return {
        "account": built.account.name,
        "period": built.period,
        "issued": built.issued,
        "number": built.document_number,
        "issued_at": built.issued_at.isoformat() if built.issued_at else None,
        "language": built.account.language.value,
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

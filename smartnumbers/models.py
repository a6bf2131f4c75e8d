"""The domain model: accounts, users, smart numbers, tariffs, routing plans, blacklists, audit.

Validation that needs no database lives in the domain modules (``tariffs``, ``routing``,
``phone``); these classes are the stored shape, with the invariants the schema can hold.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from smartnumbers.db import Base, Money, UTCDateTime, utcnow
from smartnumbers.money import PayfastFeeVat
from smartnumbers.phone import CallerOrigin, PremiumCategory, RangeClass


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    """Enums stored by value as plain strings with a CHECK, the same on SQLite and PostgreSQL."""
    return Enum(cls, name=name, native_enum=False, values_callable=lambda e: [m.value for m in e], length=32)


class Role(enum.StrEnum):
    """What a user or an API token may do; each API operation names the roles it accepts."""

    OPERATOR = "operator"  # the platform's staff
    ADMIN = "admin"  # everything of the account: sub-accounts, users, tokens, numbers
    ROUTING = "routing"  # plans, destination changes, blacklist, caller-ID
    BILLING = "billing"  # statements, payout option
    READ_ONLY = "read_only"


class NumberStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    PORTING_IN = "porting_in"


class CallerIdPolicy(enum.StrEnum):
    """Which caller-ID the destination sees."""

    CALLER = "caller"  # the caller's own number
    SMART_NUMBER = "smart_number"  # the smart number that was dialled
    FIXED = "fixed"  # a fixed number of the owner's
    WITHHELD = "withheld"


class Language(enum.StrEnum):
    DE = "de"
    FR = "fr"
    IT = "it"
    EN = "en"


class PayoutOption(enum.StrEnum):
    STANDARD = "standard"  # at the latest 6 weeks after the period
    PAYFAST = "payfast"  # at the latest 5 Swiss business days after it, for a fee


class AgeCheck(enum.StrEnum):
    """How a 0906 number keeps its content from under-16s, in early media before connecting."""

    DIGIT = "digit"  # the caller confirms their age by pressing 1
    PIN = "pin"  # the caller enters a PIN the owner issued to a verified adult


class OutsideAction(enum.StrEnum):
    """What happens to a call outside every time slot of the plan."""

    FALLBACK = "fallback"
    ANNOUNCEMENT = "announcement"
    REJECT = "reject"


class HolidayRule(enum.StrEnum):
    """What a holiday does to the weekly plan."""

    CLOSED = "closed"  # the whole day is handled as outside every slot
    AS_SUNDAY = "as_sunday"  # the day follows Sunday's slots


class DestinationKind(enum.StrEnum):
    PSTN = "pstn"
    SIP = "sip"


class ChangeKind(enum.StrEnum):
    DESTINATIONS = "destinations"  # the destinations of one slot (or the fallback)
    PLAN = "plan"  # the whole plan


class ChangeStatus(enum.StrEnum):
    PENDING = "pending"
    APPLIED = "applied"
    CANCELLED = "cancelled"
    FAILED = "failed"


class ActorKind(enum.StrEnum):
    USER = "user"
    TOKEN = "token"
    CLI = "cli"
    SYSTEM = "system"


class Account(Base):
    """A customer, or a sub-account of one (a branch, a department): accounts form a tree."""

    __tablename__ = "account"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="RESTRICT"), index=True)
    allow_international: Mapped[bool] = mapped_column(Boolean, default=False)
    vat_registered: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # What its statements print: the postal address lines (one a line), the UID when the
    # account is VAT-registered (``CHE-123.456.788``), and the language they are written in.
    address: Mapped[str] = mapped_column(Text, default="", server_default="")
    vat_number: Mapped[str | None] = mapped_column(String(15))
    language: Mapped[Language] = mapped_column(_enum(Language, "language"), default=Language.DE, server_default="de")
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # its tokens no longer work

    parent: Mapped[Account | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Account]] = relationship(back_populates="parent")


class User(Base):
    """A person who signs in to the portal; the role decides what they may change."""

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The language of the mails they receive; none: their account's.
    language: Mapped[Language | None] = mapped_column(_enum(Language, "language"))

    account: Mapped[Account] = relationship()


class ApiToken(Base):
    """A program's credential, scoped to one account; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    prefix: Mapped[str] = mapped_column(String(16))
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    account: Mapped[Account] = relationship()


class SmartNumber(Base):
    """A service number the platform runs; its range class follows from its digits."""

    __tablename__ = "smart_number"
    __table_args__ = (
        CheckConstraint("max_concurrent_calls BETWEEN 1 AND 10000", name="max_concurrent_calls"),
        CheckConstraint("status <> 'porting_in' OR port_date IS NOT NULL", name="port_date"),
        CheckConstraint("caller_id_policy <> 'fixed' OR caller_id_number IS NOT NULL", name="caller_id_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    e164: Mapped[str] = mapped_column(String(16), unique=True)
    range_class: Mapped[RangeClass] = mapped_column(_enum(RangeClass, "range_class"))
    premium_category: Mapped[PremiumCategory | None] = mapped_column(_enum(PremiumCategory, "premium_category"))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="RESTRICT"), index=True)
    status: Mapped[NumberStatus] = mapped_column(_enum(NumberStatus, "number_status"), default=NumberStatus.ACTIVE)
    donor_operator: Mapped[str | None] = mapped_column(String(80))
    port_date: Mapped[dt.date | None] = mapped_column(Date)
    caller_id_policy: Mapped[CallerIdPolicy] = mapped_column(
        _enum(CallerIdPolicy, "caller_id_policy"), default=CallerIdPolicy.CALLER
    )
    caller_id_number: Mapped[str | None] = mapped_column(String(16))
    language: Mapped[Language] = mapped_column(_enum(Language, "language"), default=Language.DE)
    max_concurrent_calls: Mapped[int] = mapped_column(Integer, default=30)
    call_cost_cap: Mapped[Decimal | None] = mapped_column(Money)  # a lower cap than CHF 400, if the owner wants one
    payout_option: Mapped[PayoutOption] = mapped_column(
        _enum(PayoutOption, "payout_option"), default=PayoutOption.STANDARD
    )
    age_check: Mapped[AgeCheck | None] = mapped_column(_enum(AgeCheck, "age_check"))  # 0906 only
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    account: Mapped[Account] = relationship()
    tariffs: Mapped[list[Tariff]] = relationship(back_populates="number", order_by="Tariff.code")
    age_pins: Mapped[list[AgePin]] = relationship(order_by="AgePin.id", cascade="all, delete-orphan")
    plan: Mapped[RoutingPlan | None] = relationship(back_populates="number", uselist=False)


class AgePin(Base):
    """A PIN the owner of a 0906 number issued to a verified adult (age check by PIN)."""

    __tablename__ = "age_pin"
    __table_args__ = (UniqueConstraint("number_id", "pin"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number_id: Mapped[int] = mapped_column(ForeignKey("smart_number.id", ondelete="CASCADE"), index=True)
    pin: Mapped[str] = mapped_column(String(8))
    holder: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class NumberGrant(Base):
    """A number a sub-account may see (and, by its users' roles, steer)."""

    __tablename__ = "number_grant"

    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), primary_key=True)
    number_id: Mapped[int] = mapped_column(ForeignKey("smart_number.id", ondelete="CASCADE"), primary_key=True)


class Tariff(Base):
    """A tariff code (1 to 90) of a number; its terms are in immutable versions."""

    __tablename__ = "tariff"
    __table_args__ = (
        UniqueConstraint("number_id", "code"),
        CheckConstraint("code BETWEEN 1 AND 90", name="code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number_id: Mapped[int] = mapped_column(ForeignKey("smart_number.id", ondelete="CASCADE"), index=True)
    code: Mapped[int] = mapped_column(Integer)

    number: Mapped[SmartNumber] = relationship(back_populates="tariffs")
    versions: Mapped[list[TariffVersion]] = relationship(
        back_populates="tariff", order_by="TariffVersion.version", cascade="all, delete-orphan"
    )


class TariffVersion(Base):
    """The terms of a tariff from a moment on. Never edited: a change is a new version, so
    every rated call can name the version it used. Prices are what the caller pays, VAT included."""

    __tablename__ = "tariff_version"
    __table_args__ = (
        UniqueConstraint("tariff_id", "version"),
        CheckConstraint("first_unit_s BETWEEN 1 AND 3600", name="first_unit"),
        CheckConstraint("next_unit_s BETWEEN 1 AND 3600", name="next_unit"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tariff_id: Mapped[int] = mapped_column(ForeignKey("tariff.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    price_per_minute: Mapped[Decimal] = mapped_column(Money)
    price_per_call: Mapped[Decimal] = mapped_column(Money)
    first_unit_s: Mapped[int] = mapped_column(Integer)
    next_unit_s: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120))

    tariff: Mapped[Tariff] = relationship(back_populates="versions")
    fees: Mapped[list[TariffFee]] = relationship(
        back_populates="version", order_by="TariffFee.id", cascade="all, delete-orphan"
    )


class TariffFee(Base):
    """A fixed fee during the call: once at a moment (``at_s`` after answer) or every ``every_s``."""

    __tablename__ = "tariff_fee"
    __table_args__ = (
        CheckConstraint("(at_s IS NULL) <> (every_s IS NULL)", name="at_or_every"),
        CheckConstraint("at_s IS NULL OR at_s >= 0", name="at_s"),
        CheckConstraint("every_s IS NULL OR every_s >= 60", name="every_s"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("tariff_version.id", ondelete="CASCADE"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    at_s: Mapped[int | None] = mapped_column(Integer)
    every_s: Mapped[int | None] = mapped_column(Integer)

    version: Mapped[TariffVersion] = relationship(back_populates="fees")


@event.listens_for(TariffVersion, "before_update")
@event.listens_for(TariffFee, "before_update")
def _versions_are_never_edited(_mapper, _connection, target) -> None:
    raise ValueError(f"{type(target).__name__} is immutable: a tariff change makes a new version")


class RoutingPlan(Base):
    """A number's weekly plan in Europe/Zurich: time slots, what happens outside them, holidays."""

    __tablename__ = "routing_plan"

    id: Mapped[int] = mapped_column(primary_key=True)
    number_id: Mapped[int] = mapped_column(ForeignKey("smart_number.id", ondelete="CASCADE"), unique=True)
    outside_action: Mapped[OutsideAction] = mapped_column(
        _enum(OutsideAction, "outside_action"), default=OutsideAction.REJECT
    )
    outside_announcement: Mapped[str | None] = mapped_column(String(500))
    holiday_canton: Mapped[str | None] = mapped_column(String(2))
    holiday_rule: Mapped[HolidayRule] = mapped_column(_enum(HolidayRule, "holiday_rule"), default=HolidayRule.CLOSED)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    number: Mapped[SmartNumber] = relationship(back_populates="plan")
    slots: Mapped[list[TimeSlot]] = relationship(
        back_populates="plan", order_by="TimeSlot.position", cascade="all, delete-orphan"
    )
    fallback: Mapped[list[Destination]] = relationship(
        primaryjoin="and_(Destination.plan_id == RoutingPlan.id, Destination.slot_id.is_(None))",
        order_by="Destination.position",
        cascade="all, delete-orphan",
        overlaps="destinations,plan",
    )
    holidays: Mapped[list[HolidayDate]] = relationship(
        back_populates="plan", order_by="HolidayDate.day", cascade="all, delete-orphan"
    )


class TimeSlot(Base):
    """Weekdays (ISO, 1 = Monday) with a start minute (included) and an end minute (excluded);
    an end at or before the start crosses midnight, and the slot belongs to its starting day."""

    __tablename__ = "time_slot"
    __table_args__ = (
        CheckConstraint("start_minute BETWEEN 0 AND 1439", name="start_minute"),
        CheckConstraint("end_minute BETWEEN 1 AND 1440", name="end_minute"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("routing_plan.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    weekdays: Mapped[str] = mapped_column(String(13))  # "1,2,3,4,5"
    start_minute: Mapped[int] = mapped_column(Integer)
    end_minute: Mapped[int] = mapped_column(Integer)

    plan: Mapped[RoutingPlan] = relationship(back_populates="slots")
    destinations: Mapped[list[Destination]] = relationship(
        back_populates="slot", order_by="Destination.position", cascade="all, delete-orphan", overlaps="fallback"
    )

    @property
    def weekday_set(self) -> frozenset[int]:
        return frozenset(int(d) for d in self.weekdays.split(",") if d)


class Destination(Base):
    """Where a call rings, in hunt order: a PSTN number (E.164) or a SIP URI, with its ring timeout."""

    __tablename__ = "destination"
    __table_args__ = (
        CheckConstraint("ring_timeout_s BETWEEN 5 AND 300", name="ring_timeout"),
        CheckConstraint("position BETWEEN 1 AND 3", name="position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("routing_plan.id", ondelete="CASCADE"), index=True)
    slot_id: Mapped[int | None] = mapped_column(ForeignKey("time_slot.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[DestinationKind] = mapped_column(_enum(DestinationKind, "destination_kind"))
    target: Mapped[str] = mapped_column(String(255))
    ring_timeout_s: Mapped[int] = mapped_column(Integer)

    slot: Mapped[TimeSlot | None] = relationship(back_populates="destinations", overlaps="fallback")


class HolidayDate(Base):
    """A date the owner adds to the canton's public holidays."""

    __tablename__ = "holiday_date"
    __table_args__ = (UniqueConstraint("plan_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("routing_plan.id", ondelete="CASCADE"), index=True)
    day: Mapped[dt.date] = mapped_column(Date)
    name: Mapped[str | None] = mapped_column(String(80))

    plan: Mapped[RoutingPlan] = relationship(back_populates="holidays")


class ScheduledChange(Base):
    """A change of destinations or of the whole plan, now or at a date and time (UTC)."""

    __tablename__ = "scheduled_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    number_id: Mapped[int] = mapped_column(ForeignKey("smart_number.id", ondelete="CASCADE"), index=True)
    kind: Mapped[ChangeKind] = mapped_column(_enum(ChangeKind, "change_kind"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    apply_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    status: Mapped[ChangeStatus] = mapped_column(_enum(ChangeStatus, "change_status"), default=ChangeStatus.PENDING)
    applied_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120))


class BlacklistEntry(Base):
    """A caller's number or a prefix refused for one number or the whole account."""

    __tablename__ = "blacklist_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    number_id: Mapped[int | None] = mapped_column(ForeignKey("smart_number.id", ondelete="CASCADE"), index=True)
    pattern: Mapped[str] = mapped_column(String(16))  # E.164, or an E.164 prefix ("+4179")
    is_prefix: Mapped[bool] = mapped_column(Boolean, default=False)
    until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120))

    number: Mapped[SmartNumber | None] = relationship()


class AuditEntry(Base):
    """Who changed what, when, with the values before and after."""

    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_kind: Mapped[ActorKind] = mapped_column(_enum(ActorKind, "actor_kind"))
    actor: Mapped[str] = mapped_column(String(120))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"), index=True)
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(20))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class IdempotentRequest(Base):
    """A creating request sent with an ``Idempotency-Key``, and its answer: the same key again
    gets the same answer, and nothing is created twice."""

    __tablename__ = "idempotent_request"
    __table_args__ = (UniqueConstraint("account_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of method, path and body
    status: Mapped[int] = mapped_column(Integer)
    answer: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class SwitchNodeStatus(Base):
    """The last known state of each FreeSWITCH node, written by the serve process, read by the NOC."""

    __tablename__ = "switch_node_status"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(20))
    state_since: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    sessions: Mapped[int | None] = mapped_column(Integer)
    last_event_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # what the switch's variables and serve's settings disagree on, one line each (null: not checked)
    disagreements: Mapped[list[str] | None] = mapped_column(JSON)


# --- calls, rating, statements ------------------------------------------------------------------


class LegSource(enum.IntFlag):
    """The paths a leg's record can arrive by; a leg stored once keeps the union of them."""

    EVENT = 1  # the leg's hangup event on the Event Socket
    POST = 2  # the switch's CDR posted to the backstop endpoint
    FILE = 4  # the switch's CDR file swept from a node's folder of failed posts


class CapturedLeg(Base):
    """One leg as the switch reported it, stored before anything is derived from it.

    Keyed by the leg's id, so a leg arriving by two or three paths is one row (``sources``
    says which). ``record`` is the neutral leg (the call record is built from it);
    ``raw_event`` and ``raw_cdr`` are the switch's own words, byte for byte, kept for audit;
    PostgreSQL stores them compressed (lz4, migration 0006)."""

    __tablename__ = "captured_leg"

    leg_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), index=True)
    node: Mapped[str] = mapped_column(String(64))
    is_a_leg: Mapped[bool] = mapped_column(Boolean)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    sources: Mapped[int] = mapped_column(Integer)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    raw_event: Mapped[bytes | None] = mapped_column(LargeBinary)
    raw_cdr: Mapped[bytes | None] = mapped_column(LargeBinary)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ControlFailure(Base):
    """A live call whose cost cap or tariff switch the controller could not apply on its
    switch (the switch refused or did not answer), for the NOC: ``calls`` and ``cdr reconcile``
    list them. The dialplan's own cap hangup still holds where the controller's did not land."""

    __tablename__ = "control_failure"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), index=True)
    node: Mapped[str] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))  # "cost_cap" or "tariff_switch"
    reason: Mapped[str] = mapped_column(String(300))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True, default=utcnow)


class RejectedLeg(Base):
    """A leg record capture refused (values out of any sane range, or not a record at all),
    kept with the reason so that ``cdr reconcile`` lists it: a refused leg is reported, never
    silently lost. ``excerpt`` is the start of what arrived, made printable; ``file`` the name
    of a swept file, now in the ``rejected/`` folder beside the node's error folder."""

    __tablename__ = "rejected_leg"

    id: Mapped[int] = mapped_column(primary_key=True)
    node: Mapped[str] = mapped_column(String(64))
    source: Mapped[int] = mapped_column(Integer)  # a LegSource
    leg_id: Mapped[str | None] = mapped_column(String(64))  # when the record names a readable one
    reason: Mapped[str] = mapped_column(String(500))
    excerpt: Mapped[str] = mapped_column(String(500))
    file: Mapped[str | None] = mapped_column(String(255))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True, default=utcnow)


class CallRecord(Base):
    """A call as the caller made it: the A-leg with every destination the hunt tried.

    Built when the A-leg has arrived, rebuilt when a late B-leg adds a destination's detail.
    ``attempts``: ``[{"leg_id", "destination", "outcome", "cause"}]`` in hunt order;
    ``segments``: ``[[tariff_version_id, start_s, announcement_s], ...]`` as the channel recorded them."""

    __tablename__ = "call_record"
    __table_args__ = (Index("ix_call_record_account_started", "account_id", "started_at"),)

    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    node: Mapped[str] = mapped_column(String(64))
    number_id: Mapped[int | None] = mapped_column(ForeignKey("smart_number.id", ondelete="RESTRICT"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="RESTRICT"))
    dialled: Mapped[str] = mapped_column(String(64))
    caller_e164: Mapped[str | None] = mapped_column(String(16), index=True)
    caller_withheld: Mapped[bool] = mapped_column(Boolean)
    caller_origin: Mapped[CallerOrigin] = mapped_column(_enum(CallerOrigin, "caller_origin"))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    answered: Mapped[bool] = mapped_column(Boolean)
    ring_s: Mapped[int] = mapped_column(Integer)
    talk_s: Mapped[int] = mapped_column(Integer)
    cause: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    segments: Mapped[list[list[int]]] = mapped_column(JSON)
    built_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PriceListItem(Base):
    """The operator's price list, one row a (range, caller origin): per-minute amounts excl.
    VAT and, for 090x, the owner's share of the net revenue in percent."""

    __tablename__ = "price_list_item"
    __table_args__ = (UniqueConstraint("range_class", "origin"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    range_class: Mapped[RangeClass] = mapped_column(_enum(RangeClass, "range_class"))
    origin: Mapped[CallerOrigin] = mapped_column(_enum(CallerOrigin, "caller_origin"))
    interconnection_per_minute: Mapped[Decimal] = mapped_column(Money)
    owner_per_minute: Mapped[Decimal] = mapped_column(Money)
    payout_share_percent: Mapped[Decimal] = mapped_column(Money)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(120))


class Statement(Base):
    """An account's issued monthly statement; once issued its period's calls are locked and a
    later correction becomes an adjustment on the next one."""

    __tablename__ = "statement"
    __table_args__ = (UniqueConstraint("account_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="RESTRICT"), index=True)
    period: Mapped[str] = mapped_column(String(7))  # "2026-11", Europe/Zurich
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    payout: Mapped[Decimal] = mapped_column(Money)  # excl. VAT, adjustments included
    owner_cost: Mapped[Decimal] = mapped_column(Money)
    payfast_fee: Mapped[Decimal] = mapped_column(Money)
    payfast_fee_vat: Mapped[PayfastFeeVat] = mapped_column(_enum(PayfastFeeVat, "payfast_fee_vat"))
    due_on: Mapped[dt.date] = mapped_column(Date)
    # The document number (from ``DocumentSequence``) and the PDF as issued, served unchanged
    # afterwards; both empty on statements issued before documents were stored.
    number: Mapped[int | None] = mapped_column(Integer, index=True, unique=True)
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)


class DocumentSequence(Base):
    """The last number given to a kind of document: one row, incremented in the transaction
    that issues the document, so numbers are consecutive without gaps (a rolled-back issue
    gives its number back; a concurrent one waits for the row)."""

    __tablename__ = "document_sequence"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer)


class RatedCall(Base):
    """A call as rated: every run rounded once to the Rappen, the exact value beside it (kept
    to the micro-franc), and the tariff versions it was charged by."""

    __tablename__ = "rated_call"
    __table_args__ = (Index("ix_rated_call_account_period", "account_id", "period"),)

    call_id: Mapped[str] = mapped_column(ForeignKey("call_record.call_id", ondelete="CASCADE"), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="RESTRICT"))
    number_id: Mapped[int] = mapped_column(ForeignKey("smart_number.id", ondelete="RESTRICT"), index=True)
    period: Mapped[str] = mapped_column(String(7))
    tariff_version_ids: Mapped[str] = mapped_column(String(200))  # "17,23", in order of use
    tariff_codes: Mapped[str] = mapped_column(String(200))
    answered: Mapped[bool] = mapped_column(Boolean, default=False)  # as rated: statements need no join
    talk_s: Mapped[int] = mapped_column(Integer, default=0)
    caller_exact: Mapped[Decimal] = mapped_column(Money)
    caller: Mapped[Decimal] = mapped_column(Money)  # VAT included
    caller_excl_vat: Mapped[Decimal] = mapped_column(Money)
    vat: Mapped[Decimal] = mapped_column(Money)
    interconnection_exact: Mapped[Decimal] = mapped_column(Money)
    interconnection: Mapped[Decimal] = mapped_column(Money)
    net_revenue: Mapped[Decimal] = mapped_column(Money)
    owner_cost_exact: Mapped[Decimal] = mapped_column(Money)
    owner_cost: Mapped[Decimal] = mapped_column(Money)
    payout_exact: Mapped[Decimal] = mapped_column(Money)
    payout: Mapped[Decimal] = mapped_column(Money)
    payfast_fee: Mapped[Decimal] = mapped_column(Money)
    statement_id: Mapped[int | None] = mapped_column(ForeignKey("statement.id", ondelete="RESTRICT"), index=True)
    rated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class RatingAdjustment(Base):
    """A correction to a call whose period's statement was already issued: the difference goes
    onto the account's next statement (``statement_id`` empty until then)."""

    __tablename__ = "rating_adjustment"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("call_record.call_id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="RESTRICT"), index=True)
    caller: Mapped[Decimal] = mapped_column(Money)  # signed: new less old
    payout: Mapped[Decimal] = mapped_column(Money)  # signed: new less old
    owner_cost: Mapped[Decimal] = mapped_column(Money)  # signed: new less old
    payfast_fee: Mapped[Decimal] = mapped_column(Money)  # signed: new less old
    reason: Mapped[str] = mapped_column(String(200))
    statement_id: Mapped[int | None] = mapped_column(ForeignKey("statement.id", ondelete="RESTRICT"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class TrafficHour(Base):
    """One number's calls and revenue in one hour (UTC), added to as calls are rated, so the
    dashboard sums hours instead of calls. The account's hours are read off one index that
    holds every column the dashboard sums (PostgreSQL: an index-only scan, no row visited)."""

    __tablename__ = "traffic_hour"
    __table_args__ = (Index("ix_traffic_hour_account_hour", "account_id", "hour",
                            postgresql_include=["number_id", "calls", "answered", "payout"]),)

    number_id: Mapped[int] = mapped_column(ForeignKey("smart_number.id", ondelete="CASCADE"), primary_key=True)
    hour: Mapped[dt.datetime] = mapped_column(UTCDateTime, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    calls: Mapped[int] = mapped_column(Integer)
    answered: Mapped[int] = mapped_column(Integer)
    payout: Mapped[Decimal] = mapped_column(Money)


class CallerMonth(Base):
    """One caller's calls to one number in one month (Europe/Zurich) and the revenue they
    brought: the top callers are read from here. Withheld callers are not kept.

    The index below holds an account's months in the top callers' order (revenue, calls,
    caller, number), so a month's top 200 are its first 200 entries and six months are summed
    from the index alone; "called this number before" is a probe of the primary key."""

    __tablename__ = "caller_month"

    number_id: Mapped[int] = mapped_column(ForeignKey("smart_number.id", ondelete="CASCADE"), primary_key=True)
    caller_e164: Mapped[str] = mapped_column(String(16), primary_key=True)
    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    calls: Mapped[int] = mapped_column(Integer)
    payout: Mapped[Decimal] = mapped_column(Money)


Index("ix_caller_month_account_period_revenue", CallerMonth.account_id, CallerMonth.period, CallerMonth.payout.desc(),
      CallerMonth.calls.desc(), CallerMonth.caller_e164, CallerMonth.number_id)


class MailStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    SENDING = "sending"  # handed to the relay; ``next_attempt_at`` is the end of the claim
    SENT = "sent"  # the relay answered 250
    FAILED = "failed"  # given up: ``last_error`` says why


class OutboxMail(Base):
    """A mail to send, written in the transaction of what caused it and sent later by the
    delivery in ``serve``. The message is kept as rendered (its Message-ID included), so every
    attempt hands the relay the same bytes; ``occasion`` names what it is about
    (``statement:12:user:3``) and is unique, so a job that runs twice enqueues it once."""

    __tablename__ = "outbox_mail"
    __table_args__ = (Index("ix_outbox_mail_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    occasion: Mapped[str | None] = mapped_column(String(120), unique=True)
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    message: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    status: Mapped[MailStatus] = mapped_column(_enum(MailStatus, "mail_status"), default=MailStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class MailTopic(enum.StrEnum):
    """What a user can ask to be mailed."""

    STATEMENT = "statement"  # the month's statement is issued (its PDF attached if asked)
    DAILY_DIGEST = "daily_digest"  # yesterday's calls and revenue, per number
    WEEKLY_DIGEST = "weekly_digest"  # last week's (Monday to Sunday)
    MONTHLY_DIGEST = "monthly_digest"  # last month's
    BLACKLIST_EXPIRED = "blacklist_expired"  # a blacklist entry of the account ran out
    NUMBER_SUSPENDED = "number_suspended"  # a number the account sees was suspended


class MailSubscription(Base):
    """One user's wish to receive one kind of mail."""

    __tablename__ = "mail_subscription"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    topic: Mapped[MailTopic] = mapped_column(_enum(MailTopic, "mail_topic"), primary_key=True)
    attach_pdf: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AlertMetric(enum.StrEnum):
    CALLS = "calls"
    REVENUE = "revenue"  # the owner's share excl. VAT, as the dashboard counts it
    FAILED_HUNTS = "failed_hunts"  # calls on which every destination tried failed (busy, no answer, error)


class AlertDirection(enum.StrEnum):
    ABOVE = "above"
    BELOW = "below"


class AlertWindow(enum.StrEnum):
    HOUR = "hour"
    DAY = "day"  # a Zurich day


class AlertRule(Base):
    """A user's alert on one number: its calls or revenue above or below a threshold in an hour
    or a day. ``breached_since`` is set while the condition holds: a breach is mailed once when
    it starts and once when it ends."""

    __tablename__ = "alert_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    number_id: Mapped[int] = mapped_column(ForeignKey("smart_number.id", ondelete="CASCADE"), index=True)
    metric: Mapped[AlertMetric] = mapped_column(_enum(AlertMetric, "alert_metric"))
    direction: Mapped[AlertDirection] = mapped_column(_enum(AlertDirection, "alert_direction"))
    threshold: Mapped[Decimal] = mapped_column(Money)  # calls: a whole number
    window: Mapped[AlertWindow] = mapped_column(_enum(AlertWindow, "alert_window"))
    breached_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

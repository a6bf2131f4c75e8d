"""Smart numbers: adding one to an account, its options, suspension; each change audited."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from smartnumbers import audit
from smartnumbers.audit import Actor
from smartnumbers.errors import InputError, NotPermitted
from smartnumbers.models import (
    Account,
    AgeCheck,
    AgePin,
    CallerIdPolicy,
    Language,
    NumberStatus,
    PayoutOption,
    RangeClass,
    Role,
    SmartNumber,
)
from smartnumbers.money import decimal_text, format_chf, parse_chf
from smartnumbers.phone import PremiumCategory, format_swiss, parse_number, parse_smart_number, service_range
from smartnumbers.validation import plain_text

CALL_COST_CAP = Decimal("400")  # OFCOM: at most CHF 400 per 090x call, VAT included


def _choice(enum_cls, value: str, what: str):
    try:
        return enum_cls(value)
    except ValueError:
        raise InputError(f"{what}: {str(value)[:30]!r} is not one of {', '.join(m.value for m in enum_cls)}") from None


def find_number(session: Session, text: str) -> SmartNumber:
    e164 = parse_smart_number(text)
    number = session.scalar(select(SmartNumber).where(SmartNumber.e164 == e164))
    if number is None:
        raise InputError(f"number: {format_swiss(e164)} is not a smart number of the platform")
    return number


def is_platform_number(session: Session, e164: str) -> bool:
    return session.scalar(select(SmartNumber.id).where(SmartNumber.e164 == e164)) is not None


def snapshot(number: SmartNumber) -> dict[str, Any]:
    """The number's settings as plain JSON, for the audit trail and the API."""
    return {
        "number": number.e164,
        "shown": format_swiss(number.e164),
        "range_class": number.range_class.value,
        "premium_category": number.premium_category.value if number.premium_category else None,
        "account": number.account.name,
        "status": number.status.value,
        "donor_operator": number.donor_operator,
        "port_date": number.port_date.isoformat() if number.port_date else None,
        "caller_id_policy": number.caller_id_policy.value,
        "caller_id_number": number.caller_id_number,
        "language": number.language.value,
        "max_concurrent_calls": number.max_concurrent_calls,
        "call_cost_cap": decimal_text(number.call_cost_cap) if number.call_cost_cap is not None else None,
        "payout_option": number.payout_option.value,
        "age_check": number.age_check.value if number.age_check else None,
    }


def add_number(
    session: Session,
    actor: Actor,
    text: str,
    account: Account,
    *,
    caller_id_policy: str = "caller",
    caller_id_number: str | None = None,
    language: str = "de",
    max_concurrent_calls: int = 30,
    call_cost_cap: Decimal | None = None,
    payout_option: str = "standard",
    donor_operator: str | None = None,
    port_date: dt.date | None = None,
) -> SmartNumber:
    e164 = parse_smart_number(text)
    if is_platform_number(session, e164):
        raise InputError(f"number: {format_swiss(e164)} is already on the platform")
    range_class, category = service_range(e164)
    number = SmartNumber(e164=e164, range_class=range_class, premium_category=category, account=account,
                         age_check=AgeCheck.DIGIT if category is PremiumCategory.ADULT else None)
    apply_options(
        number,
        caller_id_policy=caller_id_policy,
        caller_id_number=caller_id_number,
        language=language,
        max_concurrent_calls=max_concurrent_calls,
        call_cost_cap=call_cost_cap,
        payout_option=payout_option,
    )
    if donor_operator is not None or port_date is not None:
        if donor_operator is None or port_date is None:
            raise InputError("porting in: give both the donor operator and the port date")
        number.status = NumberStatus.PORTING_IN
        number.donor_operator = plain_text(donor_operator, what="donor operator", max_length=80)
        number.port_date = port_date
    session.add(number)
    session.flush()
    audit.record(session, actor, account_id=account.id, entity="number", entity_id=e164, action="create",
                 before=None, after=snapshot(number))
    return number


def apply_options(
    number: SmartNumber,
    *,
    caller_id_policy: str,
    caller_id_number: str | None,
    language: str,
    max_concurrent_calls: int,
    call_cost_cap: Decimal | None,
    payout_option: str,
) -> None:
    """Set the number's options, each checked; nothing is set unless all are valid."""
    policy = _choice(CallerIdPolicy, caller_id_policy, "caller-ID policy")
    fixed = None
    if policy is CallerIdPolicy.FIXED:
        if not caller_id_number:
            raise InputError("caller-ID policy fixed: give the number to present (--caller-id-number)")
        fixed = parse_number(caller_id_number, what="caller-ID number")
        if service_range(fixed) is not None and service_range(fixed)[0] is not RangeClass.FREEPHONE:
            raise InputError(f"caller-ID number: {format_swiss(fixed)} is a premium-rate or shared-cost number")
    elif caller_id_number:
        raise InputError("caller-ID number: only with the caller-ID policy fixed")
    lang = _choice(Language, language, "language")
    if not isinstance(max_concurrent_calls, int) or not 1 <= max_concurrent_calls <= 10000:
        raise InputError("limit of simultaneous calls: 1 to 10000")
    if call_cost_cap is not None:
        if number.range_class is not RangeClass.PREMIUM:
            raise InputError("call cost cap: only premium-rate (090x) numbers charge the caller per call")
        if not Decimal("0") < call_cost_cap <= CALL_COST_CAP:
            raise InputError(f"call cost cap: more than 0 and at most {format_chf(CALL_COST_CAP)} (OFCOM)",
                             rule="090x at most CHF 400 per call")
    payout = _choice(PayoutOption, payout_option, "payout option")
    number.caller_id_policy, number.caller_id_number = policy, fixed
    number.language, number.max_concurrent_calls = lang, max_concurrent_calls
    number.call_cost_cap, number.payout_option = call_cost_cap, payout


OPTIONS = ("caller_id_policy", "caller_id_number", "language", "max_concurrent_calls", "call_cost_cap", "payout_option")
# What each role may change of a number (the owner's side; porting and status are the operator's).
OPTIONS_BY_ROLE = {
    Role.OPERATOR: frozenset(OPTIONS),
    Role.ADMIN: frozenset(OPTIONS),
    Role.ROUTING: frozenset({"caller_id_policy", "caller_id_number"}),
    Role.BILLING: frozenset({"payout_option"}),
    Role.READ_ONLY: frozenset(),
}


def change_options(session: Session, actor: Actor, role: Role, number: SmartNumber, changes: dict[str, Any]
                   ) -> SmartNumber:
    """Change some of the number's options (``OPTIONS``; the others stay), as far as ``role``
    allows, all checked together by ``apply_options``, audited with before and after. A caller-ID
    policy other than fixed drops the fixed number unless one is given (then it is refused)."""
    refused = sorted(set(changes) - OPTIONS_BY_ROLE[role])
    if refused:
        raise NotPermitted(f"a {role.value} may not change {', '.join(refused)}")
    before = snapshot(number)
    options = {"caller_id_policy": number.caller_id_policy.value, "caller_id_number": number.caller_id_number,
               "language": number.language.value, "max_concurrent_calls": number.max_concurrent_calls,
               "call_cost_cap": number.call_cost_cap, "payout_option": number.payout_option.value}
    if "caller_id_policy" in changes and "caller_id_number" not in changes:
        options["caller_id_number"] = None
    options |= changes
    if isinstance(options["call_cost_cap"], str):
        options["call_cost_cap"] = parse_chf(options["call_cost_cap"], what="call cost cap")
    apply_options(number, **options)
    session.flush()
    audit.record(session, actor, account_id=number.account_id, entity="number", entity_id=number.e164,
                 action="options", before=before, after=snapshot(number))
    return number


def set_status(session: Session, actor: Actor, number: SmartNumber, status: NumberStatus) -> SmartNumber:
    before = snapshot(number)
    if status is NumberStatus.PORTING_IN and number.port_date is None:
        raise InputError("porting in: the number has no port date")
    number.status = status
    session.flush()
    audit.record(session, actor, account_id=number.account_id, entity="number", entity_id=number.e164,
                 action=f"status:{status.value}", before=before, after=snapshot(number))
    return number


_PIN_DIGITS = range(4, 9)


def set_age_check(session: Session, actor: Actor, number: SmartNumber, mode: str) -> SmartNumber:
    """Choose how a 0906 number checks its callers' age: a confirming digit, or PINs."""
    if number.premium_category is not PremiumCategory.ADULT:
        raise InputError(f"age check: only adult (0906) numbers have one, not {format_swiss(number.e164)}")
    check = _choice(AgeCheck, mode, "age check")
    if check is AgeCheck.PIN and not number.age_pins:
        raise InputError("age check pin: issue a PIN first (number pin-add)")
    before = snapshot(number)
    number.age_check = check
    session.flush()
    audit.record(session, actor, account_id=number.account_id, entity="number", entity_id=number.e164,
                 action="age_check", before=before, after=snapshot(number))
    return number


def add_age_pin(session: Session, actor: Actor, number: SmartNumber, pin: str, holder: str) -> AgePin:
    """Issue a PIN to a verified adult; only the fact and the holder go into the audit trail."""
    if number.premium_category is not PremiumCategory.ADULT:
        raise InputError(f"age PIN: only adult (0906) numbers have PINs, not {format_swiss(number.e164)}")
    if not (pin.isascii() and pin.isdigit() and len(pin) in _PIN_DIGITS):
        raise InputError("age PIN: 4 to 8 digits")
    if any(existing.pin == pin for existing in number.age_pins):
        raise InputError("age PIN: already issued for this number")
    entry = AgePin(pin=pin, holder=plain_text(holder, what="PIN holder", max_length=80))
    number.age_pins.append(entry)
    session.flush()
    audit.record(session, actor, account_id=number.account_id, entity="age_pin", entity_id=entry.id,
                 action="create", before=None, after={"number": number.e164, "holder": entry.holder})
    return entry


def remove_age_pin(session: Session, actor: Actor, number: SmartNumber, pin_id: int) -> None:
    entry = next((p for p in number.age_pins if p.id == pin_id), None)
    if entry is None:
        raise InputError(f"age PIN: no PIN {pin_id} on {format_swiss(number.e164)}")
    if number.age_check is AgeCheck.PIN and len(number.age_pins) == 1:
        raise InputError("age PIN: the last PIN of a number checked by PIN; switch to --digit first")
    audit.record(session, actor, account_id=number.account_id, entity="age_pin", entity_id=entry.id,
                 action="delete", before={"number": number.e164, "holder": entry.holder}, after=None)
    number.age_pins.remove(entry)
    session.flush()

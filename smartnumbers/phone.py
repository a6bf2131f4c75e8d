"""Phone numbers: E.164 inside, grouped the Swiss way outside.

Everything that accepts a number from a person or a carrier goes through here, so that the
rest of the code only ever sees canonical E.164 strings (``+41800123456``).
"""

from __future__ import annotations

import enum
import re
import urllib.parse
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType, shortnumberinfo
from phonenumbers.shortnumberinfo import ShortNumberCost

from smartnumbers.errors import InputError

# What a person may type around the digits; anything else (letters, look-alike Unicode
# digits, control characters) is refused rather than silently "fixed".
_TYPED_NUMBER = re.compile(r"^\+?[0-9 ()./-]{3,32}$")
_MAX_TYPED = 32
E164_SHAPE = re.compile(r"^\+[1-9][0-9]{5,14}$")  # what a stored number looks like, checked again where it leaves


class RangeClass(enum.StrEnum):
    """The OFCOM service-number range a smart number belongs to, derived from its digits."""

    FREEPHONE = "freephone"
    SHARED_COST = "shared_cost"
    PREMIUM = "premium"


class PremiumCategory(enum.StrEnum):
    """What a 090x range stands for (OFCOM): business, entertainment/marketing, adult."""

    BUSINESS = "business"  # 0900
    ENTERTAINMENT = "entertainment"  # 0901
    ADULT = "adult"  # 0906


# National prefix (after +41) -> (range class, premium category)
SERVICE_RANGES: dict[str, tuple[RangeClass, PremiumCategory | None]] = {
    "800": (RangeClass.FREEPHONE, None),
    "840": (RangeClass.SHARED_COST, None),
    "842": (RangeClass.SHARED_COST, None),
    "844": (RangeClass.SHARED_COST, None),
    "848": (RangeClass.SHARED_COST, None),
    "900": (RangeClass.PREMIUM, PremiumCategory.BUSINESS),
    "901": (RangeClass.PREMIUM, PremiumCategory.ENTERTAINMENT),
    "906": (RangeClass.PREMIUM, PremiumCategory.ADULT),
}


def parse_number(text: str, *, what: str = "number") -> str:
    """Parse a number a person typed (Swiss national or international form) into E.164.

    Refuses anything that is not plainly a phone number: the error names ``what``.
    """
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"{what}: empty")
    raw = text.strip()
    if len(raw) > _MAX_TYPED:
        raise InputError(f"{what}: too long ({len(raw)} characters, at most {_MAX_TYPED})")
    if not raw.isascii() or not _TYPED_NUMBER.match(raw):
        raise InputError(f"{what}: {raw!r} is not a phone number (digits, spaces and a leading + only)")
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    try:
        parsed = phonenumbers.parse(raw, "CH")
    except phonenumbers.NumberParseException as exc:
        raise InputError(f"{what}: {raw!r} is not a phone number ({exc})") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InputError(f"{what}: {raw!r} is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


# What a far end may drop from a dialled string before reading its digits: RFC 3966's visual
# separators, spaces, and the two other marks a SIP user part may carry that lenient gateways ignore.
_DIALLED_NOISE = str.maketrans("", "", ".-() _~\t")
_DIALLED_SHAPE = re.compile(r"^\+?[0-9]{1,32}$")


@dataclass(frozen=True, slots=True)
class DialledNumber:
    """The numbers a far end may read in a dialled string: each reading that is a valid number,
    as E.164, and whether the digits are a premium-rate Swiss short number (1811, 1818, ...)."""

    digits: str
    readings: tuple[str, ...]
    premium_short_number: bool


def read_dialled(text: str) -> DialledNumber | None:
    """Read a dialled string (a SIP user part) the way a far end may: percent-escapes decoded,
    separators dropped, ``+`` and ``00`` read as international, ``0`` as Swiss national, bare
    digits both ways (national without its 0 or with 41 in front, and international without a
    plus), so a destination rule sees every number a gateway could ring. None when the string
    holds something besides digits, ``+`` and separators (a name like ``desk``); ``InputError``
    when ``+`` stands where no reading is certain (``++41...``, ``0041+900...``)."""
    decoded = text
    for _ in range(4):  # a far end behind a proxy may decode what the proxy already decoded
        try:
            once = urllib.parse.unquote(decoded, errors="strict")
        except UnicodeDecodeError:
            return None
        if once == decoded:
            break
        decoded = once
    digits = decoded.translate(_DIALLED_NOISE)
    if not digits or not digits.isascii() or digits.strip("+0123456789"):
        return None
    if not _DIALLED_SHAPE.match(digits):
        raise InputError(f"{text[:40]!r} does not read as one number (a '+' inside, or too long)", rule="fraud")
    if digits.startswith("+"):
        candidates = [(digits, None)]
    elif digits.startswith("00"):
        candidates = [("+" + digits[2:], None)]
    elif digits.startswith("0"):
        candidates = [(digits, "CH")]
    else:
        candidates = [(digits, "CH"), ("+" + digits, None)]
    readings: list[str] = []
    for candidate, region in candidates:
        try:
            parsed = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
            if e164 not in readings:
                readings.append(e164)
    premium_short = False
    if digits.isdigit() and len(digits) <= 6:
        short = phonenumbers.parse(digits, "CH")
        premium_short = shortnumberinfo.expected_cost_for_region(short, "CH") == ShortNumberCost.PREMIUM_RATE
    return DialledNumber(digits, tuple(readings), premium_short)


def is_swiss(e164: str) -> bool:
    return e164.startswith("+41")


def service_range(e164: str) -> tuple[RangeClass, PremiumCategory | None] | None:
    """The service range of a Swiss number, or None for an ordinary number."""
    if not e164.startswith("+41"):
        return None
    return SERVICE_RANGES.get(e164[3:6])


def is_premium_or_shared_cost(e164: str) -> bool:
    """A Swiss 084x/090x number, or a number abroad that its own plan prices as premium-rate or
    shared-cost (``+49 900 ...``, ``+44 871 ...``): never a destination."""
    ranges = service_range(e164)
    if ranges is not None:
        return ranges[0] in (RangeClass.PREMIUM, RangeClass.SHARED_COST)
    try:
        kind = phonenumbers.number_type(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return False
    return kind in (PhoneNumberType.PREMIUM_RATE, PhoneNumberType.SHARED_COST)


def parse_smart_number(text: str) -> str:
    """Parse a number that is to be run as a smart number: Swiss 0800, 084x or 090x only."""
    e164 = parse_number(text, what="smart number")
    if service_range(e164) is None:
        raise InputError(
            f"smart number: {format_swiss(e164)} is not a Swiss service number "
            "(0800, 0840, 0842, 0844, 0848, 0900, 0901 or 0906)"
        )
    return e164


def format_swiss(e164: str) -> str:
    """Group a number the Swiss way: ``0800 123 456``, ``044 668 18 00``, abroad ``+49 30 ...``."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    if parsed.country_code != 41:
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    national = "0" + str(parsed.national_number)
    if service_range(e164) is not None and len(national) == 10:
        return f"{national[:4]} {national[4:7]} {national[7:]}"
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)


class CallerOrigin(enum.StrEnum):
    """Where a call comes from, as rating distinguishes it for 0800 owners' costs."""

    FIXED = "fixed"
    MOBILE = "mobile"
    WITHHELD = "withheld"
    ABROAD = "abroad"


@dataclass(frozen=True, slots=True)
class Caller:
    """A caller as a carrier presented it: E.164 when it could be read, else withheld."""

    e164: str | None
    withheld: bool
    origin: CallerOrigin

    def shown(self) -> str:
        """How people see the caller; a withheld caller stays withheld."""
        return "withheld" if self.withheld or self.e164 is None else format_swiss(self.e164)


_WITHHELD_NAMES = {"", "anonymous", "restricted", "unknown", "private", "withheld", "0000000000"}
_CARRIER_DIGITS = re.compile(r"^\+?[0-9]{2,20}$")


def normalise_caller(raw: str | None, *, privacy: bool = False) -> Caller:
    """Normalise a caller number as carriers send it (``41791234567``, ``0791234567``,
    ``+41...``, ``0049...``) to E.164; anything unreadable or marked private is withheld."""
    text = (raw or "").strip()
    if privacy or text.lower() in _WITHHELD_NAMES or not _CARRIER_DIGITS.match(text):
        return Caller(None, True, CallerOrigin.WITHHELD)
    if text.startswith("+"):
        candidate = text
    elif text.startswith("00"):
        candidate = "+" + text[2:]
    elif text.startswith("0"):
        candidate = text  # national Swiss form
    else:
        candidate = "+" + text  # international without a plus (41791234567)
    try:
        parsed = phonenumbers.parse(candidate, "CH")
    except phonenumbers.NumberParseException:
        return Caller(None, True, CallerOrigin.WITHHELD)
    if not phonenumbers.is_possible_number(parsed):
        return Caller(None, True, CallerOrigin.WITHHELD)
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if parsed.country_code != 41:
        return Caller(e164, False, CallerOrigin.ABROAD)
    kind = phonenumbers.number_type(parsed)
    origin = CallerOrigin.MOBILE if kind == PhoneNumberType.MOBILE else CallerOrigin.FIXED
    return Caller(e164, False, origin)

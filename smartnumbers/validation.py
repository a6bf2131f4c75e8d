"""Checks shared by every edge that takes text from people: printable, bounded, explicit."""

from __future__ import annotations

import re
import unicodedata

from smartnumbers.errors import InputError


def plain_text(value: str | None, *, what: str, max_length: int, required: bool = True) -> str | None:
    """Printable text of bounded length: control and format characters are refused, not stripped."""
    if value is None or not value.strip():
        if required:
            raise InputError(f"{what}: empty")
        return None
    text = value.strip()
    if len(text) > max_length:
        raise InputError(f"{what}: too long ({len(text)} characters, at most {max_length})")
    for char in text:
        if unicodedata.category(char) in {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}:
            raise InputError(f"{what}: contains a control character (U+{ord(char):04X})")
    return text


_UID_WEIGHTS = (5, 4, 3, 2, 7, 6, 5, 4)
_UID_SUFFIXES = ("MWST", "TVA", "IVA", "VAT")


def swiss_uid(value: str, *, what: str) -> str:
    """A Swiss enterprise identification number (UID) as ``CHE-123.456.789``.

    Accepted as people write it: with or without dots and dash, with the register suffix a VAT
    number carries (``MWST``, ``TVA``, ``IVA``, ``VAT``); the ninth digit is the check digit
    (mod 11 over the first eight with the weights 5 4 3 2 7 6 5 4), so a typo is refused here
    rather than printed on a credit note."""
    text = plain_text(value, what=what, max_length=40)
    compact = "".join(text.upper().replace("-", " ").replace(".", " ").split())
    for suffix in _UID_SUFFIXES:
        compact = compact.removesuffix(suffix)
    digits = compact.removeprefix("CHE")
    if not compact.startswith("CHE") or len(digits) != 9 or not digits.isascii() or not digits.isdigit():
        raise InputError(f"{what}: {text[:40]!r} is not a Swiss UID (like CHE-123.456.788 MWST)")
    check = 11 - sum(int(d) * w for d, w in zip(digits, _UID_WEIGHTS)) % 11
    if check == 10 or check % 11 != int(digits[8]):
        raise InputError(f"{what}: {text[:40]!r} has a wrong check digit")
    return f"CHE-{digits[:3]}.{digits[3:6]}.{digits[6:]}"


MAX_ADDRESS_LINES = 5


def address_lines(lines: list[str], *, what: str) -> list[str]:
    """A postal address as the lines printed under the name (street, postcode and place, ...)."""
    if len(lines) > MAX_ADDRESS_LINES:
        raise InputError(f"{what}: at most {MAX_ADDRESS_LINES} lines, got {len(lines)}")
    return [plain_text(line, what=f"{what} line {i}", max_length=70) for i, line in enumerate(lines, 1)]


_MAIL_ADDRESS = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+")


def mail_address(value: str, *, what: str) -> str:
    """A mail address as an SMTP envelope carries it (``anna@acme.ch``): plain ASCII, no name,
    nothing a header or an SMTP command could be split on."""
    text = (value or "").strip()
    if not _MAIL_ADDRESS.fullmatch(text):
        raise InputError(f"{what}: {text[:80]!r} is not a mail address like anna@acme.ch")
    return text

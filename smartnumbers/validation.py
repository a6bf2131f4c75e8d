"""Checks shared by every edge that takes text from people: printable, bounded, explicit."""

from __future__ import annotations

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

"""The mails' wording: one template per kind of mail, language and part (``statement_ready.fr.txt``
and ``.html``), in ``notify/templates``. The plain-text template's first line is the subject.
Amounts read ``CHF 1’234.50``, dates ``05.12.2026``, months by their name in the language."""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2

from notify.outbox import Attachment, Letter
from smartnumbers.models import Language
from smartnumbers.money import format_chf, round_rappen

MONTHS = {
    Language.DE: ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
                  "November", "Dezember"),
    Language.FR: ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
                  "novembre", "décembre"),
    Language.IT: ("gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre",
                  "ottobre", "novembre", "dicembre"),
    Language.EN: ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
                  "November", "December"),
}


def month_name(period: str, language: Language) -> str:
    """``2026-11`` as people read it: ``November 2026``, ``novembre 2026``."""
    year, month = period.split("-")
    return f"{MONTHS[language][int(month) - 1]} {year}"


def chf(value: Decimal) -> str:
    return format_chf(round_rappen(value))


def swiss_date(value: dt.date) -> str:
    return value.strftime("%d.%m.%Y")


@functools.cache
def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
        autoescape=jinja2.select_autoescape(["html"]), undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True)
    env.filters["chf"] = chf
    env.filters["date"] = swiss_date
    return env


def write(kind: str, language: Language, attachments: tuple[Attachment, ...] = (), **context: Any) -> Letter:
    """A mail of ``kind`` in ``language``: subject and plain text, HTML, attachments."""
    env = _templates()
    subject, _, text = env.get_template(f"{kind}.{language.value}.txt").render(**context).partition("\n")
    html = env.get_template(f"{kind}.{language.value}.html").render(subject=subject, language=language.value,
                                                                       **context)
    return Letter(subject=subject.strip(), text=text.lstrip("\n"), html=html, attachments=attachments)

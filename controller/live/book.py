"""A number's tariffs as live call control needs them: every code in force at the call's
answer, as the rating engine reads it (for the charge and the cap) and as the caller hears it
(for the price announcement). The same mapping as rating (``rating.pipeline.tariff_terms``),
so the live charge and the rated call agree."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from rating.engine import call_cap
from rating.pipeline import tariff_terms
from rating.tariff import TariffTerms
from smartnumbers import tariffs
from smartnumbers.errors import InputError
from smartnumbers.models import Language, Tariff, TariffVersion
from smartnumbers.numbers import find_number
from smartnumbers.phone import RangeClass


@dataclass(frozen=True, slots=True)
class CodeTerms:
    rated: TariffTerms  # what the engine charges
    spoken: tariffs.TariffTerms  # what the announcement says, and whether one is needed


@dataclass(frozen=True, slots=True)
class NumberTariffs:
    number_id: int
    e164: str
    account_id: int
    range_class: RangeClass
    language: Language
    number_cap: Decimal | None
    codes: dict[int, CodeTerms]

    @property
    def cap(self) -> Decimal:
        """The most a call may cost (090x): CHF 400 or the number's lower cap."""
        return call_cap(self.number_cap)


def number_tariffs(session: Session, number: str, answered_at: dt.datetime) -> NumberTariffs | None:
    """The number's codes in force at answer; None for a number the platform does not run."""
    try:
        found = find_number(session, number)
    except InputError:
        return None
    query = (select(Tariff).where(Tariff.number_id == found.id)
             .options(selectinload(Tariff.versions).selectinload(TariffVersion.fees)))
    codes = {}
    for tariff in session.scalars(query):
        version = tariffs.version_at(tariff, answered_at)
        if version is not None:
            codes[tariff.code] = CodeTerms(tariff_terms(version), tariffs.terms_of(version))
    return NumberTariffs(found.id, found.e164, found.account_id, found.range_class, found.language,
                         found.call_cost_cap, codes)

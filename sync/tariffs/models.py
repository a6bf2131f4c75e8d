"""Wire models of tariffs: a number's codes 1 to 90, each a chain of versions; a new version."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from smartnumbers import tariffs
from smartnumbers.models import Tariff, TariffVersion
from smartnumbers.money import parse_chf
from sync.models import ApiModel, Instant, Money

MoneyIn = Annotated[str, Field(pattern=r"^[0-9]{1,6}(\.[0-9]{1,4})?$", examples=["2.50", "0.0750"])]


class FeeOut(ApiModel):
    amount: Money
    at_s: int | None
    every_s: int | None


class TariffVersionOut(ApiModel):
    """One version of a tariff code: what a caller pays, VAT included, from ``valid_from``."""

    code: int
    version: int
    valid_from: Instant
    price_per_minute: Money
    price_per_call: Money
    fees: list[FeeOut]
    first_unit_s: int
    next_unit_s: int

    @classmethod
    def of(cls, version: TariffVersion) -> TariffVersionOut:
        return cls(code=version.tariff.code, version=version.version, valid_from=version.valid_from,
                   price_per_minute=version.price_per_minute, price_per_call=version.price_per_call,
                   fees=[FeeOut(amount=f.amount, at_s=f.at_s, every_s=f.every_s) for f in version.fees],
                   first_unit_s=version.first_unit_s, next_unit_s=version.next_unit_s)


class TariffOut(ApiModel):
    code: int
    versions: list[TariffVersionOut]  # oldest first

    @classmethod
    def of(cls, tariff: Tariff) -> TariffOut:
        return cls(code=tariff.code, versions=[TariffVersionOut.of(v) for v in tariff.versions])


class TariffList(ApiModel):
    tariffs: list[TariffOut]


class FeeIn(ApiModel):
    """A fixed fee: once ``at_s`` seconds after answer, or every ``every_s`` seconds."""

    amount: MoneyIn
    at_s: int | None = None
    every_s: int | None = None


class TariffVersionIn(ApiModel):
    """What a caller pays under the code from ``valid_from`` (now when absent), VAT included, in CHF."""

    price_per_minute: MoneyIn
    price_per_call: MoneyIn = "0"
    fees: Annotated[list[FeeIn], Field(max_length=20)] = []
    first_unit_s: Annotated[int, Field(ge=1, le=3600)] = 60
    next_unit_s: Annotated[int, Field(ge=1, le=3600)] = 60
    valid_from: Instant | None = None

    def terms(self) -> tariffs.TariffTerms:
        return tariffs.TariffTerms(
            parse_chf(self.price_per_minute, what="price per minute"), parse_chf(self.price_per_call, what="price per call"),
            tuple(tariffs.Fee(parse_chf(f.amount, what="fee"), f.at_s, f.every_s) for f in self.fees),
            self.first_unit_s, self.next_unit_s)


class SavedVersionOut(ApiModel):
    version: TariffVersionOut
    warning: str | None  # the talk time after which recurring fees are no longer charged (CHF 100 of fixed charges)

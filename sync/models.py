"""The base of every wire model of the API, and the shapes money and time take in JSON.

One configuration for all (``ApiModel``): frozen, unknown fields refused, no coercion (``"12"``
is not the number 12). Money is a string in plain decimal notation (``decimal_text``: ``"10.00"``,
``"0.081075"``, never ``1E+1``); an instant is ISO 8601 with its offset, shown in Europe/Zurich."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, PlainSerializer, WithJsonSchema

from smartnumbers.money import decimal_text

ZURICH = ZoneInfo("Europe/Zurich")
MONEY_PATTERN = r"^-?[0-9]+\.[0-9]{2,6}$"


class ApiModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


def _zurich(instant: dt.datetime) -> str:
    return instant.astimezone(ZURICH).isoformat()


Money = Annotated[
    Decimal,
    PlainSerializer(decimal_text, return_type=str),
    WithJsonSchema({"type": "string", "pattern": MONEY_PATTERN, "examples": ["10.00", "0.081075"]}),
]
Instant = Annotated[
    AwareDatetime,
    PlainSerializer(_zurich, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time", "examples": ["2026-11-30T14:05:00+01:00"]}),
]

"""The real FreeSWITCH captures (``shared/freeswitch`` beside the repo) and a rating setup."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "freeswitch"
ZONE = ZoneInfo("Europe/Zurich")
PAYFAST_PERCENT = Decimal("2.5")


@pytest.fixture(scope="session")
def captures() -> Path:
    if not (SHARED / "facts" / "raw").is_dir():
        pytest.skip(f"real FreeSWITCH captures not found at {SHARED} (shared/freeswitch beside the repo)")
    return SHARED

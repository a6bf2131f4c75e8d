"""Where the real FreeSWITCH captures live: ``shared/freeswitch`` beside the repo checkout."""

from __future__ import annotations

from pathlib import Path

import pytest

CAPTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "freeswitch"


def captures_or_skip() -> Path:
    if not (CAPTURES / "samples").is_dir():
        pytest.skip(f"real FreeSWITCH captures not found at {CAPTURES.resolve()} (shared/freeswitch beside the repo)")
    return CAPTURES.resolve()


@pytest.fixture(scope="session")
def captures() -> Path:
    return captures_or_skip()

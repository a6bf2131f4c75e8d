"""Where the real switch captures live: ``shared/freeswitch`` and ``shared/asterisk`` beside the repo checkout."""

from __future__ import annotations

from pathlib import Path

import pytest

CAPTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "freeswitch"
ASTERISK_CAPTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "asterisk"


def captures_or_skip() -> Path:
    if not (CAPTURES / "samples").is_dir():
        pytest.skip(f"real FreeSWITCH captures not found at {CAPTURES.resolve()} (shared/freeswitch beside the repo)")
    return CAPTURES.resolve()


@pytest.fixture(scope="session")
def captures() -> Path:
    return captures_or_skip()


@pytest.fixture(scope="session")
def asterisk_captures() -> Path:
    if not (ASTERISK_CAPTURES / "samples").is_dir():
        pytest.skip(f"real Asterisk captures not found at {ASTERISK_CAPTURES.resolve()} (shared/asterisk beside the repo)")
    return ASTERISK_CAPTURES.resolve()

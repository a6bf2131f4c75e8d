"""Spoken prices for a tariff switch: the same files and texts as the dialplan's early-media
announcement (``controller.announcements``), and how long each one plays, since the new
tariff starts only when its announcement has ended."""

from __future__ import annotations

import asyncio
import math
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

from controller import announcements
from smartnumbers.models import Language
from smartnumbers.tariffs import TariffTerms


class AnnouncementUnavailable(Exception):
    """The announcement could not be made or read: the tariff must not change."""


@dataclass(frozen=True, slots=True)
class SpokenPrice:
    sound: str  # the file as the switch opens it
    duration_ms: int


def duration_ms(path: Path) -> int:
    """A WAV file's playing time, rounded up to the millisecond."""
    with wave.open(str(path), "rb") as audio:
        return math.ceil(audio.getnframes() * 1000 / audio.getframerate())


@dataclass(frozen=True, slots=True)
class PriceVoice:
    """Where announcements are made (``folder``) and where the switch finds the same files
    (``switch_folder``: a shared volume may be mounted elsewhere on the switch)."""

    folder: Path
    switch_folder: str

    def _make(self, text: str, language: Language) -> int:
        try:
            announcements.ensure(self.folder, [(text, language)])
            return duration_ms(self.folder / announcements.file_name(text, language))
        except (OSError, RuntimeError, subprocess.SubprocessError, wave.Error, EOFError) as exc:
            raise AnnouncementUnavailable(f"{language.value} price announcement: {exc}") from exc

    async def price(self, terms: TariffTerms, language: Language) -> SpokenPrice:
        """The announcement of ``terms``, made first if missing (espeak-ng runs off the loop)."""
        text = announcements.price_text(terms, language)
        played = await asyncio.get_running_loop().run_in_executor(None, self._make, text, language)
        name = announcements.file_name(text, language)
        return SpokenPrice(f"{self.switch_folder.rstrip('/')}/{name}", played)

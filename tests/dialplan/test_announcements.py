"""Spoken prices and notices: texts from the tariff in the number's language, espeak-ng WAV
files named by a hash of voice and text, made once, never half written."""

from __future__ import annotations

import shutil
import wave
from decimal import Decimal

import pytest

from controller import announcements
from smartnumbers.models import Language
from smartnumbers.tariffs import Fee, TariffTerms

TERMS = TariffTerms(Decimal("3.50"), Decimal("5"), (Fee(Decimal("2.50"), at_s=600),))


@pytest.mark.parametrize("language, expected", [
    (Language.DE, "Dieser Anruf kostet 3 Franken 50 pro Minute. Zusätzlich kostet er 5 Franken pro Anruf. "
                  "Dazu kommt eine Gebühr von 2 Franken 50. Der Anruf ist bis zur Verbindung kostenlos."),
    (Language.FR, "Cet appel coûte 3 francs 50 par minute."),
    (Language.IT, "Questa chiamata costa 3 franchi 50 al minuto."),
    (Language.EN, "This call costs 3 francs 50 per minute."),
])
def test_the_price_in_four_languages(language, expected):
    assert announcements.price_text(TERMS, language).startswith(expected)


def test_spoken_money():
    assert announcements.spoken_money(Decimal("0.50"), Language.DE) == "50 Rappen"
    assert announcements.spoken_money(Decimal("10"), Language.FR) == "10 francs"
    assert announcements.spoken_money(Decimal("2.05"), Language.IT) == "2 franchi 05"


def test_file_names_hide_the_text_and_follow_voice_and_text():
    name = announcements.file_name('"/><x/> ${system(id)}', Language.DE)
    assert name.startswith("de_") and name.endswith(".wav") and name[3:-4].isalnum()
    assert name != announcements.file_name('"/><x/> ${system(id)}', Language.FR)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (apt-get install espeak-ng)")
async def test_espeak_makes_each_language_once(tmp_path):
    texts = [(announcements.price_text(TERMS, lang), lang) for lang in Language]
    texts.append(("--help; $(id) -w /etc/passwd", Language.EN))  # stdin, never an option
    made = await announcements.ensure_async(tmp_path, texts + texts)
    assert len(made) == 5
    for path in made:
        with wave.open(str(path)) as audio:
            assert audio.getnchannels() == 1 and audio.getnframes() / audio.getframerate() > 1.0
    assert await announcements.ensure_async(tmp_path, texts) == []
    assert not list(tmp_path.glob("*.tmp"))

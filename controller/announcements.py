"""Spoken announcements: prices from the tariff and the notices of the dialplan, as WAV files
FreeSWITCH plays in early media.

Debian's espeak-ng speaks German, French, Italian and English; a recording an operator puts
under the same name wins, because a file that exists is never generated again. A file is
named by a hash of its voice and text, so a text never reaches the dialplan (only its hash
does) and a changed text is a new file. FreeSWITCH plays espeak-ng's 22,050 Hz output as it
is (FACTS.md section 9), so no conversion step is needed.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

from smartnumbers.files import private_folder
from smartnumbers.models import Language
from smartnumbers.tariffs import TariffTerms

VOICES = {Language.DE: "de", Language.FR: "fr-CH", Language.IT: "it", Language.EN: "en"}

_MONEY_WORDS = {
    Language.DE: ("Franken", "Rappen"),
    Language.FR: ("francs", "centimes"),
    Language.IT: ("franchi", "centesimi"),
    Language.EN: ("francs", "centimes"),
}
_PRICE_SENTENCES = {
    Language.DE: ("Dieser Anruf kostet {minute} pro Minute.", "Zusätzlich kostet er {call} pro Anruf.",
                  "Dazu kommt eine Gebühr von {fee}.", "Der Anruf ist bis zur Verbindung kostenlos."),
    Language.FR: ("Cet appel coûte {minute} par minute.", "S'y ajoutent {call} par appel.",
                  "S'y ajoutent des frais de {fee}.", "L'appel est gratuit jusqu'à la mise en relation."),
    Language.IT: ("Questa chiamata costa {minute} al minuto.", "Si aggiungono {call} per chiamata.",
                  "Si aggiunge una tassa di {fee}.", "La chiamata è gratuita fino al collegamento."),
    Language.EN: ("This call costs {minute} per minute.", "There is a charge of {call} per call.",
                  "A fee of {fee} is added.", "The call is free until you are connected."),
}
NOTICES = {
    "suspended": {
        Language.DE: "Diese Nummer ist zurzeit nicht erreichbar.",
        Language.FR: "Ce numéro n'est pas joignable pour le moment.",
        Language.IT: "Questo numero non è raggiungibile al momento.",
        Language.EN: "This number is currently not available.",
    },
    "not_ported": {
        Language.DE: "Diese Nummer ist noch nicht in Betrieb.",
        Language.FR: "Ce numéro n'est pas encore en service.",
        Language.IT: "Questo numero non è ancora in servizio.",
        Language.EN: "This number is not in service yet.",
    },
    "blocked": {
        Language.DE: "Ihr Anruf kann nicht angenommen werden.",
        Language.FR: "Votre appel ne peut pas être accepté.",
        Language.IT: "La sua chiamata non può essere accettata.",
        Language.EN: "Your call cannot be accepted.",
    },
    "age_digit": {
        Language.DE: "Dieser Dienst ist nur für Erwachsene. Wenn Sie mindestens 16 Jahre alt sind, drücken Sie die 1.",
        Language.FR: "Ce service est réservé aux adultes. Si vous avez au moins 16 ans, appuyez sur la touche 1.",
        Language.IT: "Questo servizio è riservato agli adulti. Se ha almeno 16 anni, prema il tasto 1.",
        Language.EN: "This service is for adults only. If you are at least 16 years old, press 1.",
    },
    "age_pin": {
        Language.DE: "Dieser Dienst ist nur für Erwachsene. Bitte geben Sie Ihre PIN ein, gefolgt von der Rautetaste.",
        Language.FR: "Ce service est réservé aux adultes. Veuillez saisir votre code PIN, suivi de la touche dièse.",
        Language.IT: "Questo servizio è riservato agli adulti. Inserisca il suo PIN, seguito dal tasto cancelletto.",
        Language.EN: "This service is for adults only. Please enter your PIN, followed by the hash key.",
    },
    "age_refused": {
        Language.DE: "Ohne Altersbestätigung kann Ihr Anruf nicht verbunden werden.",
        Language.FR: "Sans confirmation de votre âge, votre appel ne peut pas être connecté.",
        Language.IT: "Senza la conferma dell'età la sua chiamata non può essere collegata.",
        Language.EN: "Without confirmation of your age, your call cannot be connected.",
    },
    "nobody": {
        Language.DE: "Im Moment ist niemand erreichbar. Bitte rufen Sie später wieder an.",
        Language.FR: "Personne n'est joignable pour le moment. Veuillez rappeler plus tard.",
        Language.IT: "Al momento nessuno è raggiungibile. La preghiamo di richiamare più tardi.",
        Language.EN: "Nobody is available at the moment. Please call again later.",
    },
}


def spoken_money(amount: Decimal, language: Language) -> str:
    """CHF as people say it: "2 Franken 50", "50 Rappen", "3 Franken"."""
    francs_word, cents_word = _MONEY_WORDS[language]
    rappen = int((amount * 100).to_integral_value())
    francs, cents = divmod(rappen, 100)
    if francs and cents:
        return f"{francs} {francs_word} {cents:02d}"
    if francs:
        return f"{francs} {francs_word}"
    return f"{cents} {cents_word}"


def price_text(terms: TariffTerms, language: Language) -> str:
    """The price announcement of a tariff: price per minute, per call, each fee, and that
    nothing is charged before the connection."""
    minute, call, fee, free = _PRICE_SENTENCES[language]
    parts = [minute.format(minute=spoken_money(terms.price_per_minute, language))]
    if terms.price_per_call:
        parts.append(call.format(call=spoken_money(terms.price_per_call, language)))
    parts += [fee.format(fee=spoken_money(f.amount, language)) for f in terms.fees]
    parts.append(free)
    return " ".join(parts)


def file_name(text: str, language: Language) -> str:
    """The announcement's file name: a hash of voice and text, nothing a person typed."""
    digest = hashlib.sha256(f"{VOICES[language]}\n{text}".encode()).hexdigest()[:24]
    return f"{language.value}_{digest}.wav"


def _speak(text: str, language: Language, target: Path) -> None:
    """espeak-ng into a temporary file, renamed into place: FreeSWITCH never sees half a file."""
    private_folder(target.parent)
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    os.close(handle)
    try:
        # The text goes on standard input, never on the command line: it cannot become an option.
        subprocess.run([espeak, "-v", VOICES[language], "-w", temporary, "--stdin"], input=text.encode(),
                       check=True, capture_output=True, timeout=60)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def ensure(folder: Path, wanted: Iterable[tuple[str, Language]]) -> list[Path]:
    """Make every announcement that is missing; return the files made."""
    made = []
    for text, language in dict.fromkeys(wanted):
        target = folder / file_name(text, language)
        if not target.exists():
            _speak(text, language, target)
            made.append(target)
    return made


async def ensure_async(folder: Path, wanted: Iterable[tuple[str, Language]]) -> list[Path]:
    """``ensure`` off the event loop: espeak-ng takes a few hundred milliseconds a text."""
    items = list(wanted)
    return await asyncio.get_running_loop().run_in_executor(None, ensure, folder, items)

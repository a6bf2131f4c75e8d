"""The in-memory table mod_xml_curl is answered from: each number's rendered extensions, kept
current by the same publishing that writes the files, so a fetch never touches the database."""

from __future__ import annotations

import re
from urllib.parse import unquote_plus

from controller.dialplan import render

_CALLED = re.compile(r"^(?:(?:\+|00)?41|0)([0-9]{9})$")


_FETCH_FIELDS = {"section": b"section=", "destination": b"Hunt-Destination-Number=", "context": b"Hunt-Context="}


def fetch_target(body: bytes) -> dict[str, str]:
    """From mod_xml_curl's form (137 fields, FACTS.md section 5) only what routing needs: the
    section, and the destination and context of this routing pass (``Hunt-*``, which follow a
    transfer). Each is found where it starts a field; the other fields are never decoded."""
    found: dict[str, str] = {}
    for name, key in _FETCH_FIELDS.items():
        start = 0 if body.startswith(key) else body.find(b"&" + key) + 1
        if start == 0 and not body.startswith(key):
            continue
        start += len(key)
        end = body.find(b"&", start)
        found[name] = unquote_plus(body[start:end if end >= 0 else len(body)].decode("utf-8", "replace"))
    return found


def called_number(dialled: str) -> str | None:
    """The E.164 form of a Swiss number as carriers send it (+41..., 0041..., 41..., 0...)."""
    match = _CALLED.match(dialled)
    return f"+41{match[1]}" if match else None


class DialplanTable:
    """Rendered extensions by E.164; answers are built once per number and context."""

    def __init__(self, carrier_context: str = render.CARRIER_CONTEXT) -> None:
        self.carrier_context = carrier_context
        self._bodies: dict[str, str] = {}
        self._answers: dict[str, dict[str, str]] = {}  # by E.164, then context

    def __len__(self) -> int:
        return len(self._bodies)

    def __contains__(self, e164: str) -> bool:
        return e164 in self._bodies

    def put(self, e164: str, body: str | None) -> None:
        """Set (or with None remove) a number's extensions."""
        if body is None:
            self._bodies.pop(e164, None)
        else:
            self._bodies[e164] = body
        self._answers.pop(e164, None)

    def replace_all(self, bodies: dict[str, str]) -> None:
        self._bodies = dict(bodies)
        self._answers = {}

    def body(self, e164: str) -> str | None:
        return self._bodies.get(e164)

    def answer(self, dialled: str, context: str) -> str:
        """mod_xml_curl's answer: the number's extensions in the context asked for (the carrier's,
        or the one of its last digits after the static dispatcher's transfer), else "not found",
        on which FreeSWITCH falls back to the deployed files (FACTS.md section 5)."""
        if dialled.startswith(render.AGE_REFUSED):  # a failed 0906 age check: age_refused+41...
            dialled = dialled[len(render.AGE_REFUSED):]
        e164 = called_number(dialled)
        if e164 is None or (context != self.carrier_context and context != render.context_name(e164)):
            return render.NOT_FOUND
        answers = self._answers.get(e164)
        answer = answers.get(context) if answers is not None else None
        if answer is None:
            body = self._bodies.get(e164)
            if body is None:
                return render.NOT_FOUND
            answer = self._answers.setdefault(e164, {})[context] = render.xml_curl_document(body, context)
        return answer

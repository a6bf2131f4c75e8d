"""Errors as RFC 9457 problem documents (``application/problem+json``), written in one place.

The domain raises what went wrong (``InputError``, ``NotFound``, ...) and never an HTTP status;
``KINDS`` gives each its status, a stable ``type`` slug and a title. One middleware, outside the
authentication, answers every error of the API this way, the router's 404 and 405 included;
anything unexpected is logged and answered 500 without detail. The switches' routes under
``/freeswitch/`` keep their plain bodies."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiohttp import web
from pydantic import ValidationError

from controller.live.service import Outcome
from smartnumbers.errors import InputError, NotFound, NotPermitted, Stale
from sync.models import ApiModel

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://smartnumbers.ch/problems/"
SWITCH_PREFIX = "/freeswitch/"


@dataclass(frozen=True, slots=True)
class Kind:
    status: int
    slug: str
    title: str


class FieldError(ApiModel):
    """One field of a body at fault: where (a JSON pointer into the body) and why."""

    pointer: str
    reason: str


class Problem(ApiModel):
    type: str
    title: str
    status: int
    detail: str
    rule: str | None = None  # the rule an input broke (422), e.g. "fraud"
    outcome: str | None = None  # what a live call did instead (409, 422, 502)
    errors: list[FieldError] | None = None  # the fields of a body at fault (400, 422)


class BodyRejected(Exception):
    """The request's body is not a document of the operation's model (bad JSON, bad encoding,
    too deep, a wrong type, an unknown field)."""

    def __init__(self, errors: list[FieldError]):
        super().__init__(f"{errors[0].pointer or 'body'}: {errors[0].reason}" if errors else "bad body")
        self.errors = errors

    @classmethod
    def of(cls, exc: ValidationError) -> BodyRejected:
        return cls([FieldError(pointer="".join(f"/{part}" for part in error["loc"]),
                               reason=error["msg"].splitlines()[0][:200]) for error in exc.errors()[:20]])


class Refused(Exception):
    """A live call did not do what was asked (``Outcome``)."""

    def __init__(self, outcome: Outcome):
        super().__init__(_OUTCOME_DETAIL[outcome])
        self.outcome = outcome


_OUTCOME_DETAIL = {
    Outcome.NO_SUCH_CALL: "no such call",
    Outcome.NO_SUCH_CODE: "the number has no tariff with this code",
    Outcome.NOT_ANSWERED: "the call is not answered yet",
    Outcome.ANNOUNCING: "a price announcement is playing; switch when it has ended",
    Outcome.OVER_CAP: "the call has reached its cost cap",
    Outcome.SWITCH_FAILED: "the switch did not take the change",
}
OUTCOMES = {
    Outcome.NO_SUCH_CALL: Kind(404, "not-found", "No such resource"),
    Outcome.NO_SUCH_CODE: Kind(422, "no-such-tariff-code", "No tariff with this code"),
    Outcome.NOT_ANSWERED: Kind(409, "call-not-answered", "The call is not answered"),
    Outcome.ANNOUNCING: Kind(409, "call-announcing", "A price announcement is playing"),
    Outcome.OVER_CAP: Kind(409, "call-over-cap", "The call has reached its cost cap"),
    Outcome.SWITCH_FAILED: Kind(502, "switch-failed", "The switch did not take the change"),
}

KINDS: dict[type[Exception], Kind] = {
    BodyRejected: Kind(400, "malformed-body", "The body is not a document of the expected shape"),
    NotPermitted: Kind(403, "role-not-permitted", "The token's role does not allow this"),
    NotFound: Kind(404, "not-found", "No such resource"),
    Stale: Kind(412, "stale-version", "Changed by someone else since it was read"),
    InputError: Kind(422, "input-rejected", "The input breaks a rule"),
}

# Errors the router and aiohttp raise themselves (no route, wrong method, body too large, ...).
_BY_STATUS = {
    400: Kind(400, "bad-request", "Bad request"),
    401: Kind(401, "unauthenticated", "No valid credential"),
    404: Kind(404, "not-found", "No such resource"),
    405: Kind(405, "method-not-allowed", "Method not allowed"),
    413: Kind(413, "body-too-large", "The body is too large"),
    415: Kind(415, "unsupported-media-type", "Unsupported media type"),
    503: Kind(503, "unavailable", "Not available"),
}
_UNEXPECTED = Kind(500, "internal-error", "Internal error")


def document(kind: Kind, detail: str, **extensions) -> Problem:
    return Problem(type=TYPE_BASE + kind.slug, title=kind.title, status=kind.status,
                   detail=" ".join(detail.split())[:300], **extensions)


def response(problem: Problem, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=problem.status, body=problem.model_dump_json(exclude_none=True),
                        content_type=MEDIA_TYPE, headers=headers)


def _of_domain(exc: Exception) -> Problem | None:
    if isinstance(exc, Refused):
        return document(OUTCOMES[exc.outcome], str(exc), outcome=exc.outcome.value)
    if isinstance(exc, BodyRejected):
        return document(KINDS[BodyRejected], str(exc), errors=exc.errors)
    if isinstance(exc, InputError):
        at = [FieldError(pointer=exc.field, reason=str(exc))] if exc.field else None
        return document(KINDS[InputError], str(exc), rule=exc.rule, errors=at)
    for cls in type(exc).__mro__:
        kind = KINDS.get(cls)
        if kind is not None:
            return document(kind, str(exc))
    return None


def _of_http(exc: web.HTTPException) -> web.Response:
    kind = _BY_STATUS.get(exc.status, Kind(exc.status, f"http-{exc.status}", exc.reason))
    detail = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else exc.reason
    kept = {name: value for name, value in exc.headers.items() if name.lower() in ("allow", "www-authenticate")}
    return response(document(kind, detail), kept)


@web.middleware
async def problem_documents(request: web.Request, handler) -> web.StreamResponse:
    if request.path.startswith(SWITCH_PREFIX):
        return await handler(request)
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _of_http(exc)
    except Exception as exc:
        problem = _of_domain(exc)
        if problem is None:
            log.exception("unexpected error answering %s %s", request.method, request.path)
            problem = document(_UNEXPECTED, "an unexpected error; it has been logged")
        return response(problem)

"""The three steps of a handler: ``parsed`` (the body into its model), ``reading`` / ``writing``
(a service function on a session; ``writing`` in one transaction, committed when it returns;
``creating`` a ``writing`` that honours ``Idempotency-Key``) and ``reply`` (a model as JSON). A handler holds no SQL, no rule and no dict literal."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from aiohttp import web
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from smartnumbers import idempotency
from sync.keys import ACCOUNT_ID, SESSIONS
from sync.models import ApiModel
from sync.problems import BodyRejected

Model = TypeVar("Model", bound=ApiModel)
Result = TypeVar("Result")
JSON_TYPES = ("application/json", "application/merge-patch+json")


async def parsed(request: web.Request, model: type[Model]) -> Model:
    """The body as ``model``; anything else (not JSON, not UTF-8, nested too deep, a wrong type,
    a field the model lacks) is ``BodyRejected``, naming the first field at fault."""
    if request.content_type not in JSON_TYPES:
        raise web.HTTPUnsupportedMediaType(text=f"send the body as application/json, not {request.content_type[:60]}")
    try:
        return model.model_validate_json(await request.read())
    except ValidationError as exc:
        raise BodyRejected.of(exc) from None


async def reading(request: web.Request, work: Callable[[Session], Result]) -> Result:
    async with request.app[SESSIONS]() as session:
        return await session.run_sync(work)


async def writing(request: web.Request, work: Callable[[Session], Result]) -> Result:
    """``work`` in one transaction: committed when it returns, rolled back when it raises."""
    async with request.app[SESSIONS]() as session:
        async with session.begin():
            return await session.run_sync(work)


async def creating(request: web.Request, work: Callable[[Session], ApiModel]) -> web.Response:
    """``writing`` for a request that creates something, answered 201. With an ``Idempotency-Key``
    header the answer is kept with what was created; the same key again gets it back
    (``Idempotent-Replayed: true``) and creates nothing. Of two requests racing with one key, the
    second's insert of the key fails and rolls its creation back; it then gets the first's answer."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return reply(await writing(request, work), status=201)
    account_id = request[ACCOUNT_ID]
    key = idempotency.checked_key(key)
    fingerprint = idempotency.fingerprint(request.method, request.path, await request.read())

    def once(session: Session) -> tuple[idempotency.Answer, bool]:
        earlier = idempotency.earlier_answer(session, account_id, key, fingerprint)
        if earlier is not None:
            return earlier, True
        answer = idempotency.Answer(201, work(session).model_dump_json())
        idempotency.remember(session, account_id, key, fingerprint, answer)
        return answer, False

    try:
        answer, replayed = await writing(request, once)
    except IntegrityError:
        earlier = await reading(request, lambda s: idempotency.earlier_answer(s, account_id, key, fingerprint))
        if earlier is None:  # another constraint: not a race on the key
            raise
        answer, replayed = earlier, True
    return web.Response(status=answer.status, body=answer.body, content_type="application/json",
                        headers={"Idempotent-Replayed": "true"} if replayed else None)


def if_match(request: web.Request) -> str | None:
    """The version an ``If-Match`` header names (``*``: any), or None without the header."""
    header = request.headers.get("If-Match")
    if header is None:
        return None
    first = header.split(",")[0].strip()
    return first if first == "*" else first.removeprefix("W/").strip('"')


def reply(body: ApiModel, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=body.model_dump_json(), content_type="application/json", headers=headers)

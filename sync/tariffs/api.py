"""A number's tariffs over the API: every code with its versions (everyone reads); a new version
(operators only), checked against the Swiss caps as ``tariff set`` checks it."""

from __future__ import annotations

from aiohttp import web

from smartnumbers import accounts, tariffs
from smartnumbers.models import Role
from sync.keys import ACCOUNT_ID, ACTOR
from sync.openapi import EVERYONE, ApiRoutes
from sync.tariffs.models import SavedVersionOut, TariffList, TariffOut, TariffVersionIn, TariffVersionOut
from sync.wire import parsed, reading, reply, writing

routes = ApiRoutes()


@routes.get("/api/v1/numbers/{number}/tariffs", roles=EVERYONE, response=TariffList)
async def list_tariffs(request: web.Request) -> web.Response:
    """A number's tariff codes, each with every version"""
    account_id, text = request[ACCOUNT_ID], request.match_info["number"]
    return reply(await reading(request, lambda s: TariffList(
        tariffs=[TariffOut.of(t) for t in accounts.visible_number(s, account_id, text).tariffs])))


@routes.post("/api/v1/numbers/{number}/tariffs/{code}", roles=frozenset({Role.OPERATOR}), body=TariffVersionIn,
             response=SavedVersionOut, status=201, errors=(422,))
async def add_tariff_version(request: web.Request) -> web.Response:
    """Add a version of a tariff code
    Earlier versions stay (every rated call names its version). Refused when it breaks a Swiss cap;
    saved with a warning when recurring fees would pass the CHF 100 of fixed charges."""
    body = await parsed(request, TariffVersionIn)
    account_id, actor = request[ACCOUNT_ID], request[ACTOR]
    text, code = request.match_info["number"], int(request.match_info["code"])

    def add(session) -> SavedVersionOut:
        number = accounts.visible_number(session, account_id, text)
        terms = body.terms()
        version = tariffs.set_tariff(session, actor, number, code, terms, valid_from=body.valid_from)
        cap = tariffs.fixed_charge_cap(terms, number.call_cost_cap)
        return SavedVersionOut(version=TariffVersionOut.of(version), warning=cap.message if cap else None)

    return reply(await writing(request, add), status=201)

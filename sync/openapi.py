"""The API's operations as declared values, and the OpenAPI 3.1 document built from them.

A route module collects its operations in an ``ApiRoutes`` (method, path, the roles that may call
it, its body and response models); the application registers them where it is built. The
document is generated from those declarations and the models' JSON schemas, never written by
hand, and a human-readable page of it is served from Swagger UI's files as the ``swagger-ui-py``
package installs them (nothing fetched at run time)."""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from aiohttp import web
from pydantic.json_schema import models_json_schema

from smartnumbers.errors import NotPermitted
from smartnumbers.models import Role
from sync.keys import ROLE
from sync.models import ApiModel
from sync.problems import MEDIA_TYPE, Problem

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

EVERYONE = frozenset(Role)
ROUTING = frozenset({Role.OPERATOR, Role.ADMIN, Role.ROUTING})
BILLING_READ = frozenset({Role.OPERATOR, Role.ADMIN, Role.BILLING, Role.READ_ONLY})
CHANGING = frozenset(Role) - {Role.READ_ONLY}

DOCUMENT_PATH = "/api/v1/openapi.json"
DOCS_PATH = "/api/v1/docs"
ASSETS_PATH = "/api/v1/docs/assets"
PUBLIC_PATHS = frozenset({DOCUMENT_PATH, DOCS_PATH})

# Path parameters of every route, by name: one meaning wherever the name appears. A value not of
# its pattern is refused (400) before the handler runs.
PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    "number": {"type": "string", "pattern": r"^\+?[0-9][0-9 ]{2,30}$", "examples": ["0900123456", "+41900123456"],
               "description": "a smart number, written as people do (0900 123 456) or in E.164"},
    "call_id": {"type": "string", "pattern": r"^[A-Za-z0-9_.:-]{1,80}$", "description": "a live call's id"},
    "month": {"type": "string", "pattern": r"^20[0-9]{2}-(0[1-9]|1[0-2])$", "examples": ["2026-11"],
              "description": "a month, YYYY-MM (2000 to 2099)"},
    "change_id": {"type": "string", "pattern": r"^[1-9][0-9]{0,9}$", "description": "a destination change's id"},
    "entry_id": {"type": "string", "pattern": r"^[1-9][0-9]{0,9}$", "description": "a blacklist entry's id"},
    "code": {"type": "string", "pattern": r"^([1-9]|[1-8][0-9]|90)$", "description": "a tariff code, 1 to 90"},
    "account_id": {"type": "string", "pattern": r"^[1-9][0-9]{0,9}$", "description": "an account's id"},
    "token_id": {"type": "string", "pattern": r"^[1-9][0-9]{0,9}$", "description": "an API token's id"},
}
_PATTERNS = {name: re.compile(schema["pattern"]) for name, schema in PATH_PARAMETERS.items()}
_ERRORS = {
    400: "Malformed: a path parameter not of its pattern, or a body that is not its model (bad JSON or encoding, too deep, wrong types or fields)",
    401: "No valid token",
    403: "The token's role does not allow this operation",
    404: "No such resource (also another account's)",
    405: "Method not allowed",
    412: "If-Match names a version that is not the current one",
    413: "The body is larger than 1 MiB",
    415: "The body is not application/json",
    422: "The input breaks a rule",
    409: "The call cannot do this now",
    502: "The switch did not take the change",
    503: "Live call control is not running",
}


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    path: str
    handler: Handler
    roles: frozenset[Role]
    response: type[ApiModel] | None  # None: ``media_type`` (a PDF) rather than a JSON model, or no body (204)
    body: type[ApiModel] | None = None
    status: int = 200
    media_type: str = "application/json"
    errors: tuple[int, ...] = ()
    headers_in: tuple[str, ...] = ()  # request headers it reads (If-Match)
    headers_out: tuple[str, ...] = ()  # response headers it sets (ETag)

    @property
    def operation_id(self) -> str:
        return self.handler.__name__

    def guarded(self) -> Handler:
        """The handler, refusing a token whose role the operation does not accept."""
        handler, roles = self.handler, self.roles

        async def guarded(request: web.Request) -> web.StreamResponse:
            for name, value in request.match_info.items():
                if not _PATTERNS[name].fullmatch(value):
                    raise web.HTTPBadRequest(text=f"{name}: {value[:40]!r} is not {PATH_PARAMETERS[name]['description']}")
            if request[ROLE] not in roles:
                raise NotPermitted(f"the role {request[ROLE].value} may not {self.method} {self.path}")
            return await handler(request)

        guarded.__name__ = handler.__name__
        return guarded


class ApiRoutes:
    """Collects the operations of one route module (as ``web.RouteTableDef`` collects routes)."""

    def __init__(self) -> None:
        self.operations: list[Operation] = []

    def _add(self, method: str, path: str, **declared) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.operations.append(Operation(method, path, handler, **declared))
            return handler
        return register

    def get(self, path: str, **declared) -> Callable[[Handler], Handler]:
        return self._add("GET", path, **declared)

    def post(self, path: str, **declared) -> Callable[[Handler], Handler]:
        return self._add("POST", path, **declared)

    def put(self, path: str, **declared) -> Callable[[Handler], Handler]:
        return self._add("PUT", path, **declared)

    def patch(self, path: str, **declared) -> Callable[[Handler], Handler]:
        return self._add("PATCH", path, **declared)

    def delete(self, path: str, **declared) -> Callable[[Handler], Handler]:
        return self._add("DELETE", path, **declared)

    def route_defs(self) -> list[web.RouteDef]:
        return [web.route(op.method, op.path, op.guarded()) for op in self.operations]


OPERATIONS = web.AppKey("operations", tuple)


def _parameters(op: Operation) -> list[dict[str, Any]]:
    names = re.findall(r"{(\w+)}", op.path)
    found = [{"name": n, "in": "path", "required": True, "schema": PATH_PARAMETERS[n]} for n in names]
    return found + [{"name": h, "in": "header", "required": False, "schema": {"type": "string"}}
                    for h in op.headers_in]


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def _operation(op: Operation, schemas: dict) -> dict[str, Any]:
    doc = inspect.getdoc(op.handler) or op.operation_id.replace("_", " ")
    summary, _, rest = doc.partition("\n")
    roles = sorted(r.value for r in op.roles)
    success: dict[str, Any] = {"description": summary}
    if op.response is not None:
        success["content"] = {op.media_type: {"schema": schemas[(op.response, "serialization")]}}
    elif op.status != 204:
        success["content"] = {op.media_type: {"schema": {"type": "string", "format": "binary"}}}
    if op.headers_out:
        success["headers"] = {h: {"schema": {"type": "string"}} for h in op.headers_out}
    responses = {str(op.status): success}
    codes = {401, 403, 405} | set(op.errors) | ({400, 413, 415} if op.body else set())
    codes |= {404} if "{" in op.path else set()
    codes |= {400} if "{" in op.path else set()
    responses |= {str(code): _problem(_ERRORS[code]) for code in sorted(codes)}
    described: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": summary,
        "description": (rest.strip() + "\n\n" if rest.strip() else "") + "Roles: " + ", ".join(roles) + ".",
        "x-roles": roles,
        "parameters": _parameters(op),
        "responses": responses,
    }
    if op.body is not None:
        described["requestBody"] = {"required": True,
                                    "content": {"application/json": {"schema": schemas[(op.body, "validation")]}}}
    return described


def build_document(operations: Iterable[Operation]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``operations``."""
    operations = list(operations)
    wanted = {(Problem, "serialization")}
    wanted |= {(op.response, "serialization") for op in operations if op.response is not None}
    wanted |= {(op.body, "validation") for op in operations if op.body is not None}
    schemas, definitions = models_json_schema(sorted(wanted, key=lambda w: (w[0].__name__, w[1])),
                                              ref_template="#/components/schemas/{model}")
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Smart Numbers sync API", "version": "1",
                 "description": "Every function of the portal for programs. Each operation acts for the token's "
                                "account (its own data, its sub-accounts' and what was granted to it) and lists "
                                "the roles it accepts (x-roles). Errors are RFC 9457 problem documents. Money is "
                                "a string in plain decimal notation; instants are ISO 8601 in Europe/Zurich."},
        "servers": [{"url": "/"}],
        "security": [{"token": []}],
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer",
                                          "description": "an API token (sn_...) issued with `smartnumbers token add`"}},
        },
    }


DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Smart Numbers sync API</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({{url: "{document}", dom_id: "#swagger-ui", deepLinking: true}});</script>
</body></html>
"""


def swagger_ui_folder():
    return resources.files("swagger_ui") / "static"


async def openapi_document(request: web.Request) -> web.Response:
    return web.json_response(build_document(request.app[OPERATIONS]))


async def docs_page(request: web.Request) -> web.Response:
    return web.Response(text=DOCS_PAGE.format(assets=ASSETS_PATH, document=DOCUMENT_PATH), content_type="text/html")


def documentation_routes() -> list[web.AbstractRouteDef]:
    """The document, its page, and Swagger UI's files (public: they describe, they hold no data)."""
    return [web.get(DOCUMENT_PATH, openapi_document), web.get(DOCS_PATH, docs_page),
            web.static(ASSETS_PATH, str(swagger_ui_folder()))]


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(ASSETS_PATH + "/")

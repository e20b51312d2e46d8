"""JSON API for approvers: list, show, approve, deny; plus its OpenAPI description.

POSTs must say ``Content-Type: application/json`` (the body may be empty or a JSON
object): a browser cannot send that content type cross-site without a CORS preflight,
which this server never grants, so another site cannot ride an approver's cached Basic
credentials. A bodiless POST or a form post (urlencoded, multipart, text/plain: what
``<form>`` and "simple" fetches produce) is refused 415 before anything is decided. The
HTML page has its own CSRF token; ``Origin`` is checked for both by the app's middleware.

Documents carry the raw (redacted) ``text`` for programs and ``text_display`` (invisible
and direction-changing characters escaped) for anything that shows them to people.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from gateway.approvals.broker import ApprovalError
from gateway.approvals.display import with_display
from gateway.http.state import authenticate, json_error, state_of

PREFIX = "/api/v1"


def public_view(doc: dict[str, Any], url: str) -> dict[str, Any]:
    return {**with_display(doc), "url": url}


async def _body(request: web.Request) -> dict[str, Any] | web.Response:
    if request.headers.get("Content-Type") is None or request.content_type != "application/json":
        return json_error(
            415, "POSTs must have Content-Type: application/json (send {} for no fields)"
        )
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        return json_error(400, "body is not valid JSON")
    if not isinstance(body, dict):
        return json_error(400, "body must be a JSON object")
    return body


async def list_requests(request: web.Request) -> web.Response:
    if await authenticate(request) is None:
        return json_error(401, "authentication required")
    broker = state_of(request).broker
    include_final = request.query.get("all", "") in ("1", "true", "yes")
    docs = await broker.requests(include_final=include_final)
    return web.json_response(
        {"requests": [public_view(d, broker.approval_url(d["id"])) for d in docs]}
    )


async def show_request(request: web.Request) -> web.Response:
    if await authenticate(request) is None:
        return json_error(401, "authentication required")
    broker = state_of(request).broker
    doc = await broker.get(request.match_info["id"])
    if doc is None:
        return json_error(404, f"no request {request.match_info['id']}")
    return web.json_response(public_view(doc, broker.approval_url(doc["id"])))


async def list_windows(request: web.Request) -> web.Response:
    if await authenticate(request) is None:
        return json_error(401, "authentication required")
    windows = await state_of(request).broker.windows(request.query.get("session"))
    return web.json_response({"windows": windows})


async def _decide(request: web.Request, approve: bool) -> web.Response:
    identity = await authenticate(request)
    if identity is None:
        return json_error(401, "authentication required")
    body = await _body(request)
    if isinstance(body, web.Response):
        return body
    reason = body.get("reason", "")
    window = body.get("window_minutes", 0)
    if not isinstance(reason, str):
        return json_error(400, "reason must be a string")
    if not isinstance(window, int) or isinstance(window, bool):
        return json_error(400, "window_minutes must be an integer")
    broker = state_of(request).broker
    try:
        doc = await broker.decide(
            request.match_info["id"], identity, approve, reason, window, channel="api"
        )
    except ApprovalError as exc:
        return json_error(exc.status, str(exc))
    return web.json_response(public_view(doc, broker.approval_url(doc["id"])))


async def approve(request: web.Request) -> web.Response:
    return await _decide(request, True)


async def deny(request: web.Request) -> web.Response:
    return await _decide(request, False)


async def openapi(_: web.Request) -> web.Response:
    return web.json_response(OPENAPI)


def register(router: web.UrlDispatcher) -> None:
    router.add_get(f"{PREFIX}/requests", list_requests)
    router.add_get(f"{PREFIX}/requests/{{id}}", show_request)
    router.add_post(f"{PREFIX}/requests/{{id}}/approve", approve)
    router.add_post(f"{PREFIX}/requests/{{id}}/deny", deny)
    router.add_get(f"{PREFIX}/windows", list_windows)
    router.add_get(f"{PREFIX}/openapi.json", openapi)


_ERR = {"$ref": "#/components/schemas/Error"}
_REQ = {"$ref": "#/components/schemas/Request"}


def _resp(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERRORS = {
    "401": _resp("not authenticated", _ERR),
    "429": _resp("too many failed logins from this user or address (see Retry-After)", _ERR),
    "404": _resp("no such request", _ERR),
}
_DECIDE_ERRORS = {
    **_ERRORS,
    "400": _resp("bad input (e.g. a denial without a reason)", _ERR),
    "403": _resp("not an approver for this rule, self-approval, or a foreign Origin", _ERR),
    "409": _resp("already decided, expired, or already approved by this person", _ERR),
    "415": _resp("Content-Type is not application/json", _ERR),
}
_ID = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]


def _decision_op(summary: str) -> dict[str, Any]:
    body = {"type": "object", "properties": {
        "reason": {"type": "string"},
        "window_minutes": {"type": "integer", "minimum": 0,
                           "description": "approve only: also allow these categories on this "
                                          "session for N minutes (0: this statement only)"},
    }}  # fmt: skip
    return {
        "summary": summary,
        "parameters": _ID,
        "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
        "responses": {"200": _resp("the request after the decision", _REQ), **_DECIDE_ERRORS},
    }


OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Airlock approvals API", "version": "1"},
    "components": {
        "securitySchemes": {
            "basic": {"type": "http", "scheme": "basic",
                      "description": "a local user's password, or an API token as password"},
            "bearer": {"type": "http", "scheme": "bearer",
                       "description": "an API token (alk_...)"},
        },
        "schemas": {
            "Error": {"type": "object", "required": ["error", "status"], "properties": {
                "error": {"type": "string"}, "status": {"type": "integer"}}},
            "Request": {"type": "object", "required": ["id", "state"], "properties": {
                "id": {"type": "string"},
                "state": {"enum": ["pending", "approved", "denied", "expired", "withdrawn"]},
                "mode": {"enum": ["hold", "retry"]},
                "user": {"type": "string"}, "target": {"type": "string"},
                "protocol": {"type": "string"}, "agent": {"type": "string"},
                "client_addr": {"type": "string"}, "agent_reason": {"type": "string"},
                "text": {"type": "string", "description": "redacted statement text, raw"},
                "text_display": {"type": "string", "description":
                                 "the text for people: invisible, direction-changing and "
                                 "control characters escaped as \\uXXXX"},
                "hidden_characters": {"type": "integer", "description":
                                      "how many characters text_display escaped"},
                "sha256": {"type": "string", "description": "hash of the exact bytes"},
                "categories": {"type": "array", "items": {"type": "string"}},
                "objects": {"type": "array", "items": {"type": "string"}},
                "rule": {"type": "string"}, "approvers": {"type": "array",
                                                          "items": {"type": "string"}},
                "quorum": {"type": "integer"},
                "approvals": {"type": "array", "items": {"type": "object"}},
                "created_at": {"type": "number"}, "expires_at": {"type": "number"},
                "decided_by": {"type": "string"}, "decision_reason": {"type": "string"},
                "window_minutes": {"type": "integer"}, "url": {"type": "string"},
            }},
        },
    },
    "security": [{"basic": []}, {"bearer": []}],
    "paths": {
        f"{PREFIX}/requests": {"get": {
            "summary": "List pending requests (all=true: every request)",
            "parameters": [{"name": "all", "in": "query", "schema": {"type": "boolean"}}],
            "responses": {"200": _resp("requests", {"type": "object", "properties": {
                "requests": {"type": "array", "items": _REQ}}}), "401": _ERRORS["401"]},
        }},
        f"{PREFIX}/requests/{{id}}": {"get": {
            "summary": "Show one request", "parameters": _ID,
            "responses": {"200": _resp("the request", _REQ), **_ERRORS},
        }},
        f"{PREFIX}/requests/{{id}}/approve": {"post": _decision_op("Approve a request")},
        f"{PREFIX}/requests/{{id}}/deny": {"post": _decision_op("Deny (reason required)")},
        f"{PREFIX}/windows": {"get": {
            "summary": "Live grant windows (session=ID to filter)",
            "parameters": [{"name": "session", "in": "query", "schema": {"type": "string"}}],
            "responses": {"200": _resp("windows", {"type": "object"}), "401": _ERRORS["401"]},
        }},
    },
}  # fmt: skip

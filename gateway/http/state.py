"""What the HTTP handlers share: the per-app state, who is asking, and JSON errors.

The API, the page and the Slack callback use these; the server module builds the app
from those handler modules, so the shared pieces live here, below all of them.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from gateway.identity.throttle import Throttled
from gateway.model import Identity

if TYPE_CHECKING:
    from gateway.approvals.broker import Broker
    from gateway.config import Config
    from gateway.identity.authenticator import Authenticator
    from gateway.store.base import Store

Health = Callable[[], Awaitable[dict[str, Any]]]
SlackResolver = Callable[[str], Awaitable[Identity | None]]


@dataclass(slots=True)
class HttpState:
    """What the handlers share; one per app."""

    config: Config
    broker: Broker
    authenticator: Authenticator
    store: Store
    health: Health
    slack_resolver: SlackResolver
    csrf_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    slack_seen: dict[str, float] = field(default_factory=dict)  # signature -> expiry
    tasks: set[Any] = field(default_factory=set)


STATE: web.AppKey[HttpState] = web.AppKey("airlock_state", HttpState)


def state_of(request: web.Request) -> HttpState:
    return request.app[STATE]


async def authenticate(request: web.Request) -> Identity | None:
    """Basic (password or token as password) or Bearer (token); None if neither checks out.

    Raises 429 (JSON, with Retry-After) while the user or the address is throttled.
    """
    st = state_of(request)
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    scheme, value = scheme.lower(), value.strip()
    addr = request.remote or ""
    result: Identity | Throttled | None = None
    if scheme == "bearer" and value:
        result = await st.authenticator.login_token(value, addr)
    elif scheme == "basic" and value:
        try:
            user, sep, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        if not (sep and user and password):
            return None
        result = await st.authenticator.login(user, password, addr)
    if isinstance(result, Throttled):
        retry = max(1, math.ceil(result.retry_after_s))
        raise web.HTTPTooManyRequests(
            text=json.dumps({"error": f"too many failed logins; retry in {retry} s",
                             "status": 429, "retry_after": retry}),
            content_type="application/json",
            headers={"Retry-After": str(retry)},
        )  # fmt: skip
    return result


def json_error(status: int, message: str, **extra: Any) -> web.Response:
    headers = (
        {"WWW-Authenticate": 'Basic realm="airlock", charset="UTF-8"'} if status == 401 else None
    )
    return web.json_response({"error": message, "status": status, **extra}, status=status,
                             headers=headers)  # fmt: skip

"""The gateway's HTTP listener: health, metrics, the approvals API, the approval page and the
Slack interactivity callback, as one aiohttp app in the gateway's own event loop.

Approvers authenticate with HTTP Basic (a local user's password, or an API token as the
password) or ``Authorization: Bearer <token>`` when the authenticator can check bare tokens.
"""

from __future__ import annotations

import base64
import binascii
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from gateway.model import Identity

if TYPE_CHECKING:
    from gateway.approvals.broker import Broker
    from gateway.config import Config
    from gateway.identity.authenticator import Authenticator
    from gateway.store.base import Store

log = logging.getLogger("airlock.http")

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
    """Basic (password or token as password) or Bearer (token); None if neither checks out."""
    st = state_of(request)
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer" and value:
        check_token = getattr(st.authenticator, "check_token", None)
        return await check_token(value.strip()) if check_token is not None else None
    if scheme == "basic" and value:
        try:
            user, sep, password = base64.b64decode(value.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        if sep and user and password:
            return await st.authenticator.check_password(user, password)
    return None


def json_error(status: int, message: str, **extra: Any) -> web.Response:
    headers = (
        {"WWW-Authenticate": 'Basic realm="airlock", charset="UTF-8"'} if status == 401 else None
    )
    return web.json_response({"error": message, "status": status, **extra}, status=status,
                             headers=headers)  # fmt: skip


async def healthz(_: web.Request) -> web.Response:
    """The process is up and its loop answers."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready when the store and the recorder are writable (the health callable checks)."""
    try:
        report = await state_of(request).health()
    except Exception as exc:
        return web.json_response({"ready": False, "error": repr(exc)}, status=503)
    ready = bool(report.get("ready", report.get("ok", False)))
    return web.json_response({"ready": ready, **report}, status=200 if ready else 503)


async def metrics(_: web.Request) -> web.Response:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def default_slack_resolver(config: Config, authenticator: Authenticator) -> SlackResolver:
    """Slack user id -> identity: the identity module's directory first, then the config map."""
    from gateway.approvals.config import parse_approvals

    users = parse_approvals(config.raw.get("approvals", {})).slack.users
    lookup = getattr(authenticator, "approver_for_slack", None)

    async def resolve(slack_user: str) -> Identity | None:
        if lookup is not None:
            found: Identity | None = await lookup(slack_user)
            if found is not None:
                return found
        name = users.get(slack_user)
        return await authenticator.identity(name) if name else None

    return resolve


def build_app(
    config: Config,
    broker: Broker,
    authenticator: Authenticator,
    store: Store,
    health: Health,
    slack_resolver: SlackResolver | None = None,
) -> web.Application:
    from gateway.http import api, page, slack

    app = web.Application(client_max_size=1 << 20)
    app[STATE] = HttpState(
        config, broker, authenticator, store, health,
        slack_resolver or default_slack_resolver(config, authenticator),
    )  # fmt: skip
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    api.register(app.router)
    page.register(app.router)
    slack.register(app.router)
    return app


async def start_http(
    config: Config,
    broker: Broker,
    authenticator: Authenticator,
    store: Store,
    health: Health,
    host: str,
    port: int,
    slack_resolver: SlackResolver | None = None,
) -> tuple[web.AppRunner, int]:
    """Start the app on host:port (0 picks a free port); returns the runner and the port."""
    app = build_app(config, broker, authenticator, store, health, slack_resolver)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    sockets = getattr(site._server, "sockets", None) or ()
    bound = int(sockets[0].getsockname()[1]) if sockets else port
    log.info("http listening on %s:%s", host, bound)
    return runner, bound

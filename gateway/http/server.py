"""The gateway's HTTP listener: health, metrics, the approvals API, the approval page and the
Slack interactivity callback, as one aiohttp app in the gateway's own event loop.

Approvers authenticate with HTTP Basic (a local user's password, or an API token as the
password) or ``Authorization: Bearer alk_...`` (an API token). Failed logins go through
the identity module's throttle: delayed, and refused with 429 + Retry-After after too many.

Browsers attach cached Basic credentials to requests other sites make them send, so the
state-changing endpoints are guarded twice (see ``guard``): a request whose ``Origin`` is
not this server's own (``http.public_url``, the request's own host, or
``http.allowed_origins``), or that a browser marks ``Sec-Fetch-Site: cross-site``, is
refused 403; and each endpoint takes only a body a cross-site form cannot produce (JSON
for the API, a form with the page's CSRF token for the page).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from gateway.approvals.config import parse_approvals
from gateway.config import origin_of
from gateway.http import api, page, slack
from gateway.http.state import STATE as STATE
from gateway.http.state import Health, HttpState, SlackResolver, authenticate, json_error, state_of
from gateway.model import Identity

if TYPE_CHECKING:
    from gateway.approvals.broker import Broker
    from gateway.config import Config
    from gateway.identity.authenticator import Authenticator
    from gateway.store.base import Store

log = logging.getLogger("airlock.http")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Endpoints that authenticate by their own signature, not by ambient browser credentials.
SIGNED_PATHS = frozenset({"/slack/interactivity"})


def foreign_origin(request: web.Request, allowed: frozenset[str]) -> str | None:
    """Why a state-changing request looks cross-site, or None.

    ``Origin`` is compared exactly (scheme, host, port) with this server's own origins;
    ``null`` (sandboxed frames, cross-origin redirects) never matches. Requests without
    ``Origin`` (curl, the CLI, old browsers on same-origin posts) pass this check and
    meet the body checks instead.
    """
    if request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
        return "cross-site request"
    origin = request.headers.get("Origin")
    if origin is None:
        return None
    own = origin_of(f"{request.scheme}://{request.host}")
    if origin_of(origin) in allowed or (own is not None and origin_of(origin) == own):
        return None
    return f"origin {origin!r} is not allowed"


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Origin check for every state-changing request; security headers on every answer."""
    if request.method not in SAFE_METHODS and request.path not in SIGNED_PATHS:
        config = state_of(request).config.http
        allowed = frozenset(
            o for o in (origin_of(config.public_url), *config.allowed_origins) if o is not None
        )
        why = foreign_origin(request, allowed)
        if why is not None:
            log.warning("refused %s %s: %s", request.method, request.path, why)
            return json_error(403, f"{why}: cross-site requests are refused")
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # redirects, 429
        exc.headers.update(SECURITY_HEADERS)
        raise
    response.headers.update(SECURITY_HEADERS)
    return response


#: The page must not be framed (clickjacking an Approve button) nor leak its URL onward.
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


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


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text; behind authentication unless ``http.metrics_auth = false``."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    if state_of(request).config.http.metrics_auth and await authenticate(request) is None:
        return json_error(401, "authentication required")

    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def default_slack_resolver(config: Config, authenticator: Authenticator) -> SlackResolver:
    """Slack user id -> identity: the identity module's directory first, then the config map."""
    users = parse_approvals(config.raw.get("approvals", {})).slack.users

    async def resolve(slack_user: str) -> Identity | None:
        found = await authenticator.approver_for_slack(slack_user)
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
    app = web.Application(client_max_size=1 << 20, middlewares=[guard])
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

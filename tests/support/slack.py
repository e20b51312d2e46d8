"""A stand-in for Slack's Web API, incoming webhooks, response_url, and generic HTTP sinks.

A real aiohttp server on a loopback port: the gateway's notifiers post their real payloads
to it and tests read them from a queue (no sleeps). ``fail_next`` makes the next N
requests to a path answer 500, for retry tests.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from gateway.http.slack import slack_signature

BOT_TOKEN = "xoxb-test-bot-token"
SIGNING_SECRET = "slack-signing-secret-for-tests"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any


@dataclass
class SlackStandIn:
    runner: web.AppRunner | None = None
    port: int = 0
    queues: dict[str, asyncio.Queue[Received]] = field(default_factory=dict)
    fail_next: dict[str, int] = field(default_factory=dict)
    ts_counter: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.base}/api"

    def queue(self, path: str) -> asyncio.Queue[Received]:
        return self.queues.setdefault(path, asyncio.Queue())

    async def next(self, path: str, timeout: float = 10) -> Received:
        return await asyncio.wait_for(self.queue(path).get(), timeout)

    def empty(self, path: str) -> bool:
        return self.queue(path).empty()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        path = request.path
        if self.fail_next.get(path, 0) > 0:
            self.fail_next[path] -= 1
            self.queue(path + "#failed").put_nowait(
                Received(path, dict(request.headers), body, parsed)
            )
            return web.Response(status=500, text="stand-in failure")
        self.queue(path).put_nowait(Received(path, dict(request.headers), body, parsed))
        if path.startswith("/api/"):
            if request.headers.get("Authorization") != f"Bearer {BOT_TOKEN}":
                return web.json_response({"ok": False, "error": "invalid_auth"})
            self.ts_counter += 1
            channel = (parsed or {}).get("channel", "C0")
            return web.json_response(
                {"ok": True, "channel": channel, "ts": f"{self.ts_counter}.0001"}
            )
        return web.Response(text="ok")

    async def start(self) -> SlackStandIn:
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


def block_actions(
    request_id: str, slack_user: str, approve: bool = True, response_url: str = ""
) -> dict[str, Any]:
    """What Slack posts when someone clicks one of the card's buttons."""
    action_id = "airlock_approve" if approve else "airlock_deny"
    return {
        "type": "block_actions",
        "user": {"id": slack_user, "username": slack_user.lower()},
        "response_url": response_url,
        "actions": [{"action_id": action_id, "value": request_id, "type": "button"}],
    }


def signed(
    payload: dict[str, Any], secret: str = SIGNING_SECRET, ts: float | None = None
) -> tuple[bytes, dict[str, str]]:
    """Form-encoded body plus v0 signature headers, as Slack sends them."""
    body = urlencode({"payload": json.dumps(payload)}).encode()
    timestamp = str(int(time.time() if ts is None else ts))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": slack_signature(secret, timestamp, body),
    }
    return body, headers

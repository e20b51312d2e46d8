"""A real HTTP app on a loopback port over a real broker and store, plus the Slack stand-in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.http.server import start_http
from gateway.identity.authenticator import Authenticator
from tests.gateway.approvals.harness import PASSWORDS, Env, make_env, verdict
from tests.support.slack import SIGNING_SECRET, SlackStandIn


@dataclass
class Site:
    env: Env
    base: str
    http: aiohttp.ClientSession
    slack: SlackStandIn
    ready: dict[str, Any]

    def auth(self, user: str, password: str | None = None) -> dict[str, str]:
        return {"Authorization": aiohttp.encode_basic_auth(user, password or PASSWORDS[user])}

    async def held(self, user: str = "alice-bot", **kw: Any) -> tuple[str, asyncio.Task[Any]]:
        client = self.env.client(user)
        task = self.env.review(client, verdict(**kw))
        return await client.next_request_id(), task

    async def state(self, rid: str) -> str:
        doc = await self.env.store.get("request", rid)
        assert doc is not None
        return str(doc["state"])


@pytest.fixture
async def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Site]:
    monkeypatch.setenv("T_SLACK_SECRET", SIGNING_SECRET)
    slack = await SlackStandIn().start()
    env = await make_env(
        tmp_path,
        slack={"signing_secret_env": "T_SLACK_SECRET",
               "users": {"U_BOB": "bob", "U_ALICE": "alice", "U_CAROL": "carol"}},
    )  # fmt: skip
    ready: dict[str, Any] = {"ready": True, "store": "ok"}

    async def health() -> dict[str, Any]:
        return dict(ready)

    runner, port = await start_http(
        env.config, env.broker, Authenticator(env.config, env.store), env.store, health,
        "127.0.0.1", 0,
    )  # fmt: skip
    async with aiohttp.ClientSession() as http:
        yield Site(env, f"http://127.0.0.1:{port}", http, slack, ready)
    await runner.cleanup()
    await env.broker.stop()
    await slack.stop()

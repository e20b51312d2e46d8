"""The HTTP surface against a browser's ambient credentials and against guessing.

Cross-site requests are what a hostile page can make a browser send with the approver's
cached Basic credentials: form posts (urlencoded, multipart, text/plain), bodiless posts,
and anything carrying a foreign ``Origin``. None of them may decide a request.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.config import ConfigError, parse_config
from gateway.http.server import start_http
from gateway.identity.authenticator import Authenticator
from gateway.identity.tokens import create_token, user_salt
from tests.gateway.approvals.harness import PASSWORDS, config_dict, grant_action, verdict
from tests.gateway.http.conftest import Site

FORMISH: list[tuple[dict[str, str], bytes]] = [
    ({"Content-Type": "application/x-www-form-urlencoded"}, b""),
    ({"Content-Type": "application/x-www-form-urlencoded"}, b"reason=x&window_minutes=5"),
    ({"Content-Type": "multipart/form-data; boundary=xyz"}, b"--xyz--\r\n"),
    ({"Content-Type": "text/plain"}, b""),
    ({"Content-Type": "text/plain"}, b'{"reason": "x"}'),
    ({}, b""),  # no Content-Type at all
    ({}, b'{"reason": "x"}'),
]
FOREIGN_ORIGINS = ["https://evil.example", "null", "http://127.0.0.1.evil.example"]


async def _post(site: Site, url: str, headers: dict[str, str], body: bytes) -> int:
    async with site.http.post(
        url, data=body, headers=headers, skip_auto_headers=["Content-Type"],
        allow_redirects=False,
    ) as r:  # fmt: skip
        return r.status


async def test_cross_site_style_api_posts_with_basic_credentials_do_not_approve(
    site: Site,
) -> None:
    rid, task = await site.held("agent")
    url = f"{site.base}/api/v1/requests/{rid}/approve"
    bob = site.auth("bob")
    for headers, body in FORMISH:
        status = await _post(site, url, {**bob, **headers}, body)
        assert status == 415, (headers, body, status)
    for origin in FOREIGN_ORIGINS:
        headers = {**bob, "Content-Type": "application/json", "Origin": origin}
        assert await _post(site, url, headers, b"{}") == 403, origin
    fetch = {**bob, "Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}
    assert await _post(site, url, fetch, b"{}") == 403
    assert await site.state(rid) == "pending"
    # The same request from the server's own origin (a same-origin script) goes through.
    own = {**bob, "Content-Type": "application/json", "Origin": site.base}
    assert await _post(site, url, own, b'{"reason": "ok"}') == 200
    assert (await asyncio.wait_for(task, 5)).allowed


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found
    return found.group(1)


async def test_page_posts_need_the_token_and_no_foreign_origin(site: Site) -> None:
    rid, task = await site.held("agent")
    page = f"{site.base}/approvals/{rid}"
    bob = site.auth("bob")
    async with site.http.get(page, headers=bob) as r:
        token = _csrf(await r.text())
        # Clickjacking: the page may not be framed by anyone.
        assert r.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    form = f"action=approve&reason=x&window=0&csrf={token}".encode()
    urlencoded = {"Content-Type": "application/x-www-form-urlencoded"}
    for headers, body in FORMISH:
        assert await _post(site, page, {**bob, **headers}, body) == 403, (headers, body)
    for origin in FOREIGN_ORIGINS:
        headers = {**bob, **urlencoded, "Origin": origin}
        assert await _post(site, page, headers, form) == 403, origin
    assert await site.state(rid) == "pending"
    headers = {**bob, **urlencoded, "Origin": site.base}
    assert await _post(site, page, headers, form) == 303
    assert (await asyncio.wait_for(task, 5)).allowed


@asynccontextmanager
async def _app(
    site: Site, tmp_path: Path, **sections: dict[str, Any]
) -> AsyncIterator[tuple[str, Authenticator]]:
    """A second app over the same broker and store, with extra config sections."""
    raw = config_dict(tmp_path / "alt")
    for name, values in sections.items():
        raw[name] = {**raw.get(name, {}), **values}
    config = parse_config(raw)
    authenticator = Authenticator(config, site.env.store)

    async def health() -> dict[str, Any]:
        return {"ready": True}

    runner, port = await start_http(
        config, site.env.broker, authenticator, site.env.store, health, "127.0.0.1", 0
    )
    try:
        yield f"http://127.0.0.1:{port}", authenticator
    finally:
        await runner.cleanup()


async def test_configured_allowed_origins(site: Site, tmp_path: Path) -> None:
    rid, task = await site.held("agent")
    async with _app(site, tmp_path, http={"allowed_origins": ["https://console.example"]}) as (
        base,
        _,
    ):
        url = f"{base}/api/v1/requests/{rid}/approve"
        headers = {**site.auth("bob"), "Content-Type": "application/json"}
        evil = {**headers, "Origin": "https://evil.example"}
        assert await _post(site, url, evil, b"{}") == 403
        console = {**headers, "Origin": "https://console.example"}
        assert await _post(site, url, console, b"{}") == 200
    assert (await asyncio.wait_for(task, 5)).allowed


async def test_bearer_api_token_authenticates(site: Site) -> None:
    store = site.env.store
    salt = await user_salt(store, "bob", site.env.config.users["bob"].password_hash)
    row, token = await create_token(store, "bob", None, "ci", salt)
    bearer = {"Authorization": f"Bearer {token}"}
    async with site.http.get(f"{site.base}/api/v1/requests", headers=bearer) as r:
        assert r.status == 200, await r.text()
    rid, task = await site.held("agent")
    url = f"{site.base}/api/v1/requests/{rid}/approve"
    async with site.http.post(url, json={"reason": "ok"}, headers=bearer) as r:
        assert r.status == 200 and (await r.json())["state"] == "approved"
    outcome = await asyncio.wait_for(task, 5)
    assert outcome.allowed
    doc = await store.get("request", rid)
    assert doc is not None and doc["approvals"][0]["by"] == "bob"
    await store.revoke_token(row.id, time.time())
    async with site.http.get(f"{site.base}/api/v1/requests", headers=bearer) as r:
        assert r.status == 401
    forged = {"Authorization": f"Bearer {token[:-4]}AAAA"}
    async with site.http.get(f"{site.base}/api/v1/requests", headers=forged) as r:
        assert r.status == 401


async def test_bearer_token_cannot_self_approve(site: Site) -> None:
    store = site.env.store
    salt = await user_salt(store, "alice", site.env.config.users["alice"].password_hash)
    _, token = await create_token(store, "alice", None, "ci", salt)
    rid, task = await site.held("alice-bot")
    url = f"{site.base}/api/v1/requests/{rid}/approve"
    async with site.http.post(url, json={}, headers={"Authorization": f"Bearer {token}"}) as r:
        assert r.status == 403 and "self-approval" in (await r.json())["error"]
    assert await site.state(rid) == "pending"
    task.cancel()


async def test_metrics_require_authentication_by_default(site: Site, tmp_path: Path) -> None:
    async with site.http.get(f"{site.base}/metrics") as r:
        assert r.status == 401 and "Basic" in r.headers["WWW-Authenticate"]
    async with site.http.get(f"{site.base}/metrics", headers=site.auth("agent")) as r:
        assert r.status == 200 and "python_info" in await r.text()
    async with (
        _app(site, tmp_path, http={"metrics_auth": False}) as (base, _),
        site.http.get(f"{base}/metrics") as r,
    ):
        assert r.status == 200 and "python_info" in await r.text()


HIDDEN = "GRANT SELECT ON t TO PUBLIC; -- \u202eEXPLAIN\u202c\u200b\u3164\u00a0\x1b[2J\r"
ESCAPED = "\\u202eEXPLAIN\\u202c\\u200b\\u3164\\xa0\\x1b[2J\\r"


async def test_page_and_api_show_hidden_characters_escaped(site: Site) -> None:
    client = site.env.client("agent")
    task = site.env.review(client, verdict(), grant_action(HIDDEN))
    rid = await client.next_request_id()
    async with site.http.get(f"{site.base}/approvals/{rid}", headers=site.auth("bob")) as r:
        html = await r.text()
    assert ESCAPED in html
    assert not any(ch in html for ch in "\u202e\u202c\u200b\u3164\u00a0\x1b\r")
    assert "7 invisible or control characters" in html
    url = f"{site.base}/api/v1/requests/{rid}"
    async with site.http.get(url, headers=site.auth("bob")) as r:
        doc = await r.json()
    assert "\u202e" in doc["text"]  # machines keep the (redacted) raw text
    assert doc["text_display"].endswith(ESCAPED) and doc["hidden_characters"] == 7
    task.cancel()


def _throttle(**kw: Any) -> dict[str, Any]:
    return {
        "throttle": {
            "failure_delay_s": 0,
            "free_failures": 2,
            "address_free_failures": 2,
            "backoff_s": 60,
            **kw,
        }
    }


async def test_failed_logins_are_throttled_per_address(site: Site, tmp_path: Path) -> None:
    async with _app(site, tmp_path, identity=_throttle()) as (base, _):
        url = f"{base}/api/v1/requests"
        for _ in range(2):
            async with site.http.get(url, headers=site.auth("bob", "wrong")) as r:
                assert r.status == 401
        for user in ("bob", "dave"):  # the right password, and another user from there
            async with site.http.get(url, headers=site.auth(user)) as r:
                assert r.status == 429, user
                assert 0 < int(r.headers["Retry-After"]) <= 60
                assert "too many failed logins" in (await r.json())["error"]
        # Another address is not held back for what 127.0.0.1 did to bob... except that
        # bob himself is (per user), while dave is free there.
        connector = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
        async with aiohttp.ClientSession(connector=connector) as other:
            async with other.get(url, headers=site.auth("dave")) as r:
                assert r.status == 200
            async with other.get(url, headers=site.auth("bob")) as r:
                assert r.status == 429


async def _fastest_failure(request: Callable[[], Any], n: int = 3) -> float:
    best = float("inf")
    for _ in range(n):  # the fastest of three: a scheduling hiccup is not a timing leak
        started = time.monotonic()
        assert await request() == 401
        best = min(best, time.monotonic() - started)
    return best


async def test_unknown_user_and_wrong_password_look_the_same(site: Site, tmp_path: Path) -> None:
    identity = {"throttle": {"failure_delay_s": 0.25, "free_failures": 100}}
    async with _app(site, tmp_path, identity=identity) as (base, _):

        def attempt(user: str, password: str) -> Callable[[], Any]:
            async def go() -> int:
                headers = {"Authorization": aiohttp.encode_basic_auth(user, password)}
                async with site.http.get(f"{base}/api/v1/requests", headers=headers) as r:
                    body = await r.json()
                    assert body["error"] == "authentication required"
                    return r.status

            return go

        wrong = await _fastest_failure(attempt("bob", "wrong"))
        unknown = await _fastest_failure(attempt("mallory", "whatever"))
    assert abs(wrong - unknown) < 0.15
    assert min(wrong, unknown) >= 0.2  # the configured failure delay
    assert PASSWORDS["bob"] != "wrong"


async def test_metrics_auth_and_throttle_keys_are_validated(tmp_path: Path) -> None:
    raw = config_dict(tmp_path)
    with pytest.raises(ConfigError, match=r"^http\.metrics_auth: "):
        parse_config({**raw, "http": {**raw["http"], "metrics_auth": "yes"}})
    with pytest.raises(ConfigError, match=r"^http\.allowed_origins: "):
        parse_config({**raw, "http": {**raw["http"], "allowed_origins": ["evil.example/x"]}})
    with pytest.raises(ConfigError, match=r"^identity\.throttle\.backoff_s: "):
        parse_config({**raw, "identity": {"throttle": {"backoff_s": -1}}})
    with pytest.raises(ConfigError, match=r"^identity\.throttle\.bogus: "):
        parse_config({**raw, "identity": {"throttle": {"bogus": 1}}})

"""The HTTP app over a real socket: health, metrics, the JSON API, the approval page and the
Slack interactivity endpoint (signed, unsigned, wrongly signed, stale, replayed)."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from tests.gateway.http.conftest import Site
from tests.support.slack import block_actions, signed


async def test_health_ready_metrics(site: Site) -> None:
    async with site.http.get(f"{site.base}/healthz") as r:
        assert r.status == 200 and (await r.json())["status"] == "ok"
    async with site.http.get(f"{site.base}/readyz") as r:
        assert r.status == 200
    site.ready["ready"] = False
    async with site.http.get(f"{site.base}/readyz") as r:
        assert r.status == 503 and (await r.json())["ready"] is False
    async with site.http.get(f"{site.base}/metrics", headers=site.auth("agent")) as r:
        assert r.status == 200 and r.content_type == "text/plain"
        assert "python_info" in await r.text()


async def test_api_requires_authentication(site: Site) -> None:
    async with site.http.get(f"{site.base}/api/v1/requests") as r:
        assert r.status == 401 and "Basic" in r.headers["WWW-Authenticate"]
        assert (await r.json())["error"] == "authentication required"
    bad = site.auth("bob", "wrong")
    async with site.http.get(f"{site.base}/api/v1/requests", headers=bad) as r:
        assert r.status == 401
    headers = {"Authorization": "Bearer not-a-token"}
    async with site.http.get(f"{site.base}/api/v1/requests", headers=headers) as r:
        assert r.status == 401


async def test_api_list_show_approve(site: Site) -> None:
    rid, task = await site.held()
    bob = site.auth("bob")
    async with site.http.get(f"{site.base}/api/v1/requests", headers=bob) as r:
        listed = (await r.json())["requests"]
    assert [d["id"] for d in listed] == [rid] and listed[0]["url"].endswith(f"/approvals/{rid}")
    async with site.http.get(f"{site.base}/api/v1/requests/nope", headers=bob) as r:
        assert r.status == 404 and "error" in await r.json()
    url = f"{site.base}/api/v1/requests/{rid}"
    async with site.http.post(f"{url}/approve", data="reason=x", headers=bob) as r:
        assert r.status == 415  # form posts (cross-site capable) are refused
    async with site.http.post(f"{url}/deny", json={}, headers=bob) as r:
        assert r.status == 400
    async with site.http.post(f"{url}/approve", json={"window_minutes": "5"}, headers=bob) as r:
        assert r.status == 400
    async with site.http.post(f"{url}/approve", json={"reason": "ok"}, headers=bob) as r:
        assert r.status == 200 and (await r.json())["state"] == "approved"
    assert (await asyncio.wait_for(task, 5)).allowed
    async with site.http.post(f"{url}/approve", json={}, headers=site.auth("dave")) as r:
        assert r.status == 409
    async with site.http.get(f"{site.base}/api/v1/requests?all=1", headers=bob) as r:
        assert [d["state"] for d in (await r.json())["requests"]] == ["approved"]


async def test_api_refuses_self_approval_and_non_approvers(site: Site) -> None:
    rid, task = await site.held("alice-bot")
    url = f"{site.base}/api/v1/requests/{rid}/approve"
    async with site.http.post(url, json={}, headers=site.auth("alice")) as r:
        assert r.status == 403 and "self-approval" in (await r.json())["error"]
    async with site.http.post(url, json={}, headers=site.auth("carol")) as r:
        assert r.status == 403
    assert await site.state(rid) == "pending"
    deny = f"{site.base}/api/v1/requests/{rid}/deny"
    async with site.http.post(deny, json={"reason": "no"}, headers=site.auth("bob")) as r:
        assert r.status == 200
    assert not (await task).allowed


async def test_api_windows_and_openapi(site: Site) -> None:
    rid, task = await site.held("agent")
    url = f"{site.base}/api/v1/requests/{rid}/approve"
    async with site.http.post(url, json={"window_minutes": 15}, headers=site.auth("bob")) as r:
        assert r.status == 200
    await task
    async with site.http.get(f"{site.base}/api/v1/windows", headers=site.auth("bob")) as r:
        windows = (await r.json())["windows"]
    assert windows[0]["category"] == "privilege" and windows[0]["request_id"] == rid
    async with site.http.get(f"{site.base}/api/v1/openapi.json") as r:
        spec = await r.json()
    assert spec["openapi"].startswith("3.")
    assert {"/api/v1/requests", "/api/v1/requests/{id}/approve"} <= set(spec["paths"])


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found
    return found.group(1)


async def test_page_login_csrf_and_decision(site: Site) -> None:
    rid, task = await site.held("agent")
    page = f"{site.base}/approvals/{rid}"
    async with site.http.get(page) as r:
        assert r.status == 401 and "Basic" in r.headers["WWW-Authenticate"]
    async with site.http.get(page, headers=site.auth("bob")) as r:
        html = await r.text()
    assert r.status == 200 and rid in html and "GRANT SELECT ON t TO PUBLIC" in html
    token = _csrf(html)
    form = {"action": "approve", "reason": "fine", "window": "0"}
    async with site.http.post(page, data=form, headers=site.auth("bob")) as r:
        assert r.status == 403  # no token
    async with site.http.get(page, headers=site.auth("dave")) as r:
        daves = _csrf(await r.text())
    async with site.http.post(page, data={**form, "csrf": daves}, headers=site.auth("bob")) as r:
        assert r.status == 403  # someone else's token
    assert await site.state(rid) == "pending"
    async with site.http.post(
        page, data={**form, "csrf": token}, headers=site.auth("bob"), allow_redirects=False
    ) as r:
        assert r.status == 303
    assert (await asyncio.wait_for(task, 5)).allowed


async def test_page_refuses_self_approval(site: Site) -> None:
    rid, task = await site.held("alice-bot")
    page = f"{site.base}/approvals/{rid}"
    async with site.http.get(page, headers=site.auth("alice")) as r:
        token = _csrf(await r.text())
    form = {"action": "approve", "reason": "", "window": "0", "csrf": token}
    async with site.http.post(page, data=form, headers=site.auth("alice")) as r:
        assert r.status == 403 and "self-approval" in await r.text()
    assert await site.state(rid) == "pending"
    task.cancel()


async def _callback(
    site: Site, body: bytes, headers: dict[str, str]
) -> tuple[int, dict[str, Any] | None]:
    async with site.http.post(f"{site.base}/slack/interactivity", data=body, headers=headers) as r:
        return r.status, (await r.json() if r.status != 200 else None)


async def test_slack_signed_callback_approves_and_updates_message(site: Site) -> None:
    rid, task = await site.held("agent")
    response_url = f"{site.slack.base}/response/1"
    body, headers = signed(block_actions(rid, "U_BOB", True, response_url))
    status, _ = await _callback(site, body, headers)
    assert status == 200
    assert (await asyncio.wait_for(task, 5)).allowed
    doc = await site.env.store.get("request", rid)
    assert doc is not None and doc["approvals"][0]["channel"] == "slack"
    update = (await site.slack.next("/response/1")).json
    assert update["replace_original"] is True and "Approved by bob" in update["text"]
    assert not any(b["type"] == "actions" for b in update["blocks"])  # buttons gone


async def test_slack_refuses_unsigned_wrong_stale_and_replayed(site: Site) -> None:
    rid, task = await site.held("agent")
    payload = block_actions(rid, "U_BOB", True)
    body, headers = signed(payload)
    status, err = await _callback(site, body, {"Content-Type": headers["Content-Type"]})
    assert status == 401 and err and "missing" in err["error"]
    _, wrong = signed(payload, secret="not-the-secret")
    status, err = await _callback(site, body, wrong)
    assert status == 401 and err and err["error"] == "bad signature"
    stale_body, stale = signed(payload, ts=time.time() - 301)
    status, err = await _callback(site, stale_body, stale)
    assert status == 401 and err and err["error"] == "stale timestamp"
    tampered = body.replace(b"U_BOB", b"U_CAR")
    status, err = await _callback(site, tampered, headers)
    assert status == 401
    assert await site.state(rid) == "pending"
    status, _ = await _callback(site, body, headers)
    assert status == 200
    status, err = await _callback(site, body, headers)
    assert status == 401 and err and err["error"] == "replayed callback"
    assert (await task).allowed


async def test_slack_refuses_self_approval_and_unmapped_users(site: Site) -> None:
    rid, task = await site.held("alice-bot")
    for n, user in enumerate(("U_ALICE", "U_NOBODY", "U_CAROL")):
        url = f"{site.slack.base}/response/self{n}"
        body, headers = signed(block_actions(rid, user, True, url))
        status, _ = await _callback(site, body, headers)
        assert status == 200
        reply = (await site.slack.next(f"/response/self{n}")).json
        assert reply["response_type"] == "ephemeral" and reply["replace_original"] is False
        expected = ("self-approval", "not mapped", "not an approver")[n]
        assert expected in reply["text"]
    assert await site.state(rid) == "pending"
    body, headers = signed(block_actions(rid, "U_BOB", False, f"{site.slack.base}/response/d"))
    assert (await _callback(site, body, headers))[0] == 200
    outcome = await task
    assert not outcome.allowed and "denied by bob: denied in Slack by bob" in outcome.message

"""The broker against a real SQLite store and real transcripts: hold, deny, quorum, expiry,
withdrawal, grant windows, retry mode, restart recovery and cross-node release."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.approvals.broker import (
    ApprovalError,
    Broker,
    Conflict,
    Forbidden,
    NotFound,
)
from gateway.approvals.config import WebhookConfig, parse_approvals
from gateway.approvals.notifiers import WebhookNotifier
from gateway.model import ReviewMode
from gateway.store.base import SessionRow
from protocols.classification import Category, Classification
from tests.gateway.approvals.harness import GRANT, grant_action, identity, make_env, verdict


async def test_hold_then_approve_releases_with_request_id(tmp_path: Path) -> None:
    env = await make_env(tmp_path)
    client = env.client("alice-bot")
    task = env.review(client)
    rid = await client.next_request_id()
    assert not task.done()
    doc = await env.broker.decide(rid, identity("bob"), True, "looks fine")
    outcome = await asyncio.wait_for(task, 5)
    assert outcome.allowed and outcome.request_id == rid
    assert doc["state"] == "approved" and doc["decided_by"] == "bob"
    states = [e["state"] for e in client.events()]
    assert states == ["requested", "approved"]
    stored = await env.store.get("request", rid)
    assert stored is not None and stored["sha256"] == grant_action().sha256
    assert stored["agent_reason"] == "rotate keys" and stored["agent"] == "psql"


async def test_notice_names_id_categories_url_and_timeout(tmp_path: Path) -> None:
    env = await make_env(tmp_path)
    client = env.client()
    task = env.review(client, verdict(timeout_s=300))
    text = await asyncio.wait_for(client.notices.get(), 5)
    rid = (await env.broker.requests())[0]["id"]
    assert rid in text and "privilege" in text
    assert f"https://airlock.example/approvals/{rid}" in text and "5 min" in text
    task.cancel()


async def test_deny_is_42501_with_who_and_why(tmp_path: Path) -> None:
    env = await make_env(tmp_path)
    client = env.client()
    task = env.review(client)
    rid = await client.next_request_id()
    with pytest.raises(ApprovalError, match="reason"):
        await env.broker.decide(rid, identity("bob"), False, "  ")
    await env.broker.decide(rid, identity("bob"), False, "not during the freeze")
    outcome = await task
    assert not outcome.allowed and outcome.sqlstate == "42501"
    assert outcome.message == f"airlock: denied by bob: not during the freeze (request {rid})"
    assert client.events()[-1]["state"] == "denied"


async def test_no_self_approval_same_user_or_same_person(tmp_path: Path) -> None:
    env = await make_env(tmp_path, approvers=["group:admins", "alice-bot"])
    client = env.client("alice-bot")
    task = env.review(client)
    rid = await client.next_request_id()
    for who in ("alice-bot", "alice"):  # the account itself, and the human behind it
        with pytest.raises(Forbidden, match="self-approval"):
            await env.broker.decide(rid, identity(who), True)
    with pytest.raises(Forbidden, match="not an approver"):
        await env.broker.decide(rid, identity("carol"), True)
    assert (await env.store.get("request", rid) or {})["state"] == "pending"
    await env.broker.decide(rid, identity("bob"), True)
    assert (await task).allowed


async def test_rule_approver_set_overrides_default(tmp_path: Path) -> None:
    env = await make_env(tmp_path)
    client = env.client("agent")
    task = env.review(client, verdict(approvers=frozenset({"group:dba"})))
    rid = await client.next_request_id()
    with pytest.raises(Forbidden):
        await env.broker.decide(rid, identity("bob"), True)  # admins are not in group:dba
    await env.broker.decide(rid, identity("carol"), True)
    assert (await task).allowed


async def test_quorum_counts_distinct_people(tmp_path: Path) -> None:
    env = await make_env(tmp_path)
    client = env.client("agent")
    task = env.review(client, verdict(quorum=2))
    rid = await client.next_request_id()
    doc = await env.broker.decide(rid, identity("alice"), True)
    assert doc["state"] == "pending" and len(doc["approvals"]) == 1
    with pytest.raises(Conflict, match="already approved"):
        await env.broker.decide(rid, identity("alice"), True)
    assert not task.done()
    doc = await env.broker.decide(rid, identity("bob"), True)
    assert doc["state"] == "approved"
    outcome = await task
    assert outcome.allowed
    assert client.events()[-1]["approvals"][1]["by"] == "bob"
    with pytest.raises(Conflict, match="already approved"):
        await env.broker.decide(rid, identity("dave"), True)


async def test_expiry_is_a_denial(tmp_path: Path) -> None:
    env = await make_env(tmp_path)
    client = env.client()
    outcome = await env.review(client, verdict(timeout_s=0.2))
    assert not outcome.allowed and outcome.sqlstate == "42501"
    assert "expired" in outcome.message and outcome.request_id
    doc = await env.store.get("request", outcome.request_id)
    assert doc is not None and doc["state"] == "expired"
    with pytest.raises(Conflict):
        await env.broker.decide(outcome.request_id, identity("bob"), True)
    assert client.events()[-1]["state"] == "expired"


async def test_cancel_withdraws(tmp_path: Path) -> None:
    env = await make_env(tmp_path)
    client = env.client()
    task = env.review(client)
    rid = await client.next_request_id()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    doc = await env.store.get("request", rid)
    assert doc is not None and doc["state"] == "withdrawn"
    assert client.events()[-1]["state"] == "withdrawn"
    with pytest.raises(Conflict, match="withdrawn"):
        await env.broker.decide(rid, identity("bob"), True)


async def test_unknown_request_and_bad_window(tmp_path: Path) -> None:
    env = await make_env(tmp_path, max_window_minutes=30)
    with pytest.raises(NotFound):
        await env.broker.decide("nope", identity("bob"), True)
    client = env.client()
    task = env.review(client)
    rid = await client.next_request_id()
    with pytest.raises(ApprovalError, match="window"):
        await env.broker.decide(rid, identity("bob"), True, window_minutes=31)
    task.cancel()


async def test_grant_window_covers_category_on_that_session_only(tmp_path: Path) -> None:
    env = await make_env(tmp_path)
    now = [1000.0]
    env.broker.clock = lambda: now[0]
    client = env.client("agent")
    task = env.review(client)
    rid = await client.next_request_id()
    await env.broker.decide(rid, identity("bob"), True, "migration", window_minutes=10)
    assert (await task).allowed
    windows = await env.broker.windows(client.ctx.session.id)
    assert [w["category"] for w in windows] == ["privilege"] and windows[0]["by"] == "bob"
    # Same session, same category: allowed at once, no new request, recorded.
    again = await env.review(client, action=grant_action("GRANT SELECT ON u TO PUBLIC"))
    assert again.allowed and again.request_id == rid
    assert client.events()[-1]["window"] is True
    assert len(await env.broker.requests(include_final=True)) == 1
    # A category the window does not cover still needs a human.
    both = GRANT.merge(Classification(("DropStmt",), frozenset({Category.DESTRUCTIVE})))
    other = env.review(client, c=both)
    await client.next_request_id()
    other.cancel()
    # Another session of the same user is not covered.
    second = env.client("agent")
    held = env.review(second)
    await second.next_request_id()
    held.cancel()
    # After the window ends, review again.
    now[0] += 601
    late = env.review(client)
    await client.next_request_id()
    late.cancel()


async def test_retry_mode_fails_now_then_passes_once(tmp_path: Path) -> None:
    env = await make_env(tmp_path, retry_ttl_s=60)
    client = env.client("agent")
    v = verdict(mode=ReviewMode.RETRY)
    first = await env.review(client, v)
    assert not first.allowed and first.sqlstate == "42501" and first.request_id
    rid = first.request_id
    assert rid in first.message and "again" in first.message
    pending = await env.review(client, v)  # still pending: same request, no new one
    assert not pending.allowed and pending.request_id == rid
    assert len(await env.broker.requests()) == 1
    await env.broker.decide(rid, identity("bob"), True)
    # Different bytes, or another user on the same target, do not ride on the approval.
    other = await env.review(client, v, action=grant_action("GRANT SELECT ON t TO bob"))
    assert not other.allowed and other.request_id != rid
    stranger = env.client("carol")
    assert not (await env.review(stranger, v)).allowed
    # The exact bytes from the same user and target: once.
    retry = await env.review(env.client("agent"), v)
    assert retry.allowed and retry.request_id == rid
    again = await env.review(client, v)
    assert not again.allowed and again.request_id not in (None, rid)


async def test_retry_mode_single_use_under_concurrency_and_ttl(tmp_path: Path) -> None:
    env = await make_env(tmp_path, retry_ttl_s=60)
    now = [5000.0]
    env.broker.clock = lambda: now[0]
    client = env.client("agent")
    v = verdict(mode=ReviewMode.RETRY)
    rid = (await env.review(client, v)).request_id
    assert rid is not None
    await env.broker.decide(rid, identity("bob"), True)
    outcomes = await asyncio.gather(*(env.review(env.client("agent"), v) for _ in range(8)))
    assert sum(o.allowed for o in outcomes) == 1
    # TTL: a second approved request is unusable after retry_ttl_s.
    rid2 = (await env.review(client, v, action=grant_action("GRANT ALL ON t TO PUBLIC"))).request_id
    assert rid2 is not None
    await env.broker.decide(rid2, identity("bob"), True)
    now[0] += 61
    late = await env.review(client, v, action=grant_action("GRANT ALL ON t TO PUBLIC"))
    assert not late.allowed and late.request_id != rid2


async def test_sweep_expires_retry_requests(tmp_path: Path) -> None:
    env = await make_env(tmp_path)
    now = [100.0]
    env.broker.clock = lambda: now[0]
    client = env.client("agent")
    rid = (await env.review(client, verdict(mode=ReviewMode.RETRY, timeout_s=30))).request_id
    assert await env.broker.sweep() == 0
    now[0] += 31
    assert await env.broker.sweep() == 1
    assert ((await env.store.get("request", rid or "")) or {})["state"] == "expired"
    assert client.events()[-1]["state"] == "expired"


async def test_restart_withdraws_requests_whose_session_died(tmp_path: Path) -> None:
    env = await make_env(tmp_path)
    client = env.client("agent")
    task = env.review(client)
    mine = await client.next_request_id()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    # Put back a pending request as if the process had crashed while holding it.
    doc = await env.store.get("request", mine)
    assert doc is not None
    doc = {**doc, "state": "pending"}
    await env.store.put("request", mine, doc)
    # One held on another node whose session ended, one on another node still live.
    await env.store.session_started(SessionRow("dead", "postgres", "agent", (), "main", "", "",
                                               "n2", 1.0, 2.0, 0, 0, 0, 0, ""))  # fmt: skip
    await env.store.session_started(SessionRow("live", "postgres", "agent", (), "main", "", "",
                                               "n2", 1.0, None, 0, 0, 0, 0, ""))  # fmt: skip
    for key, sid in (("r-dead", "dead"), ("r-live", "live")):
        await env.store.put("request", key, {**doc, "id": key, "node": "n2", "session_id": sid})
    await env.store.put("request", "r-retry", {**doc, "id": "r-retry", "mode": "retry"})
    restarted = Broker(env.store, parse_approvals({}), node="n1")
    await restarted.start()
    await restarted.stop()
    states = {d["id"]: d["state"] for d in await restarted.requests(include_final=True)}
    assert states[mine] == "withdrawn" and states["r-dead"] == "withdrawn"
    assert states["r-live"] == "pending" and states["r-retry"] == "pending"


async def test_decision_on_another_node_releases_the_hold(tmp_path: Path) -> None:
    here = await make_env(tmp_path, node="n1", poll_s=600)
    there = await make_env(tmp_path, node="n2", store=here.store)
    client = here.client("agent")
    task = here.review(client)
    rid = await client.next_request_id()
    await there.broker.decide(rid, identity("bob"), True)
    assert not task.done()  # no pub/sub between these two: the store's NOTIFY calls this
    await here.broker.on_decision(rid)
    assert (await asyncio.wait_for(task, 5)).allowed


async def test_poll_is_the_safety_net_between_nodes(tmp_path: Path) -> None:
    here = await make_env(tmp_path, node="n1", poll_s=0.05)
    there = await make_env(tmp_path, node="n2", store=here.store)
    client = here.client("agent")
    task = here.review(client)
    rid = await client.next_request_id()
    await there.broker.decide(rid, identity("bob"), False, "no")
    outcome = await asyncio.wait_for(task, 5)
    assert not outcome.allowed and "denied by bob: no" in outcome.message


async def test_failing_notifier_never_breaks_the_hold(tmp_path: Path) -> None:
    dead = WebhookNotifier(WebhookConfig(url="http://127.0.0.1:9/hook", key="k", retries=1,
                                         backoff_s=0.01))  # fmt: skip
    env = await make_env(tmp_path, notifiers=[dead])
    client = env.client("agent")
    task = env.review(client)
    rid = await client.next_request_id()
    await env.broker.decide(rid, identity("bob"), True)
    assert (await task).allowed
    await env.broker.stop()

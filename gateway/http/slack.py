"""Slack interactivity: a verified button click becomes a decision by the mapped identity.

Verification follows Slack's v0 scheme: ``v0=`` + HMAC-SHA256(signing secret,
``v0:{timestamp}:{raw body}``), a timestamp within 5 minutes, and each signature accepted
once (a captured callback cannot be replayed inside the window).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from typing import Any

import aiohttp
from aiohttp import web

from gateway.approvals.broker import ApprovalError
from gateway.approvals.notifiers import (
    APPROVE_ACTION,
    DENY_ACTION,
    decided_summary,
    slack_blocks,
)
from gateway.http.state import HttpState, json_error, state_of

log = logging.getLogger("airlock.http.slack")

MAX_SKEW_S = 300


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def verify(
    secret: str, timestamp: str, signature: str, body: bytes, seen: dict[str, float], now: float
) -> str | None:
    """None when the callback is authentic and fresh, else why it is refused."""
    if not timestamp or not signature:
        return "missing X-Slack-Signature or X-Slack-Request-Timestamp"
    try:
        ts = int(timestamp)
    except ValueError:
        return "bad timestamp"
    if abs(now - ts) > MAX_SKEW_S:
        return "stale timestamp"
    if not hmac.compare_digest(slack_signature(secret, timestamp, body), signature):
        return "bad signature"
    for sig, expiry in list(seen.items()):
        if expiry < now:
            del seen[sig]
    if signature in seen:
        return "replayed callback"
    seen[signature] = now + 2 * MAX_SKEW_S
    return None


async def interactivity(request: web.Request) -> web.Response:
    st = state_of(request)
    secret = st.broker.config.slack.signing_secret
    if not secret:
        return json_error(404, "slack interactivity is not configured")
    body = await request.read()
    problem = verify(
        secret,
        request.headers.get("X-Slack-Request-Timestamp", ""),
        request.headers.get("X-Slack-Signature", ""),
        body,
        st.slack_seen,
        time.time(),
    )
    if problem is not None:
        log.warning("slack callback refused: %s", problem)
        return json_error(401, problem)
    try:
        form = dict(await request.post())
        payload: dict[str, Any] = json.loads(str(form["payload"]))
        action = payload["actions"][0]
        slack_user = payload["user"]["id"]
        request_id = str(action["value"])
        action_id = action["action_id"]
    except (KeyError, IndexError, TypeError, ValueError):
        return json_error(400, "not a block_actions payload")
    if action_id not in (APPROVE_ACTION, DENY_ACTION):
        return json_error(400, f"unknown action {action_id!r}")
    response_url = payload.get("response_url", "")
    reply = await _decide(st, slack_user, request_id, action_id == APPROVE_ACTION)
    if response_url:
        task = asyncio.create_task(_respond(response_url, reply))
        st.tasks.add(task)
        task.add_done_callback(st.tasks.discard)
    return web.Response(status=200)


async def _decide(st: HttpState, slack_user: str, request_id: str, approve: bool) -> dict[str, Any]:
    """The message to send back to Slack: the updated card, or an ephemeral refusal."""
    identity = await st.slack_resolver(slack_user)
    if identity is None:
        return _ephemeral(f"Slack user {slack_user} is not mapped to an Airlock approver.")
    reason = "approved in Slack" if approve else f"denied in Slack by {identity.user}"
    try:
        doc = await st.broker.decide(request_id, identity, approve, reason, channel="slack")
    except ApprovalError as exc:
        return _ephemeral(f"Not recorded: {exc}")
    if doc["state"] == "pending":
        return _ephemeral(
            f"Approval by {identity.user} recorded: {len(doc['approvals'])} of {doc['quorum']}."
        )
    url = st.broker.approval_url(doc["id"])
    return {
        "replace_original": True,
        "text": decided_summary(doc),
        "blocks": slack_blocks(doc, url, decided=True),
    }


def _ephemeral(text: str) -> dict[str, Any]:
    return {"replace_original": False, "response_type": "ephemeral", "text": text}


async def _respond(url: str, message: dict[str, Any]) -> None:
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
            http.post(url, json=message) as resp,
        ):
            if resp.status >= 300:
                log.warning("slack response_url answered %s", resp.status)
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("slack response_url failed: %r", exc)


def register(router: web.UrlDispatcher) -> None:
    router.add_post("/slack/interactivity", interactivity)

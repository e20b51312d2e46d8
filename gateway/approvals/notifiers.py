"""Channels that tell humans about approval requests: Slack, Teams, a signed webhook.

Each one is fire-and-forget from the broker's point of view (failures are logged, never
block a hold). Payloads are built by pure functions so tests can check their shape, and
everything shown is the request document's already-redacted text plus the sha256.

Requester-controlled strings (the statement, the agent's reason and name, objects) go
through `display.for_humans` (invisible and bidi characters escaped) on every channel, and
through `_mrkdwn` for Slack, where ``<...>`` would otherwise become a link or an
``@channel`` mention. The webhook gets the raw document plus ``text_display``.
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

from gateway.approvals.config import ApprovalsConfig, SlackConfig, TeamsConfig, WebhookConfig
from gateway.approvals.display import for_humans, hidden_count, with_display

log = logging.getLogger("airlock.approvals.notify")

APPROVE_ACTION = "airlock_approve"
DENY_ACTION = "airlock_deny"
_TIMEOUT = aiohttp.ClientTimeout(total=10)


def _mrkdwn(text: str) -> str:
    """Slack's three control characters: `<!channel>` or `<https://x|y>` stay literal."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _warning(text: str) -> str:
    hidden = hidden_count(text)
    return (
        f"⚠ {hidden} invisible or control characters, shown as \\u escapes; check them"
        if hidden
        else ""
    )


def _code(text: str, limit: int = 2600) -> str:
    """Slack section text is capped at 3000 characters; keep room for the fences."""
    warning = _warning(text)
    text = for_humans(text)
    text = text if len(text) <= limit else text[:limit] + "…"
    fenced = "```" + _mrkdwn(text).replace("```", "`\\u0060``") + "```"
    return f"*{warning}*\n{fenced}" if warning else fenced


def _facts(doc: dict[str, Any]) -> list[tuple[str, str]]:
    return [(k, for_humans(v)) for k, v in _raw_facts(doc)]


def _raw_facts(doc: dict[str, Any]) -> list[tuple[str, str]]:
    expires = time.strftime("%H:%M:%S UTC", time.gmtime(doc["expires_at"]))
    return [
        ("Who", f"{doc['user']} ({doc['agent'] or 'unknown client'}) from {doc['client_addr']}"),
        ("Where", f"{doc['protocol']} target {doc['target']}"),
        ("What", ", ".join(doc["categories"]) or "-"),
        ("Why", doc["agent_reason"] or "(no reason given)"),
        ("Rule", f"{doc['rule']}: {doc['rule_reason']}"),
        ("Request", f"{doc['id']} · quorum {doc['quorum']} · expires {expires}"),
    ]


def decided_summary(doc: dict[str, Any]) -> str:
    state = doc["state"]
    if state == "approved":
        extra = (
            f" for {doc['window_minutes']} min on this session" if doc.get("window_minutes") else ""
        )
        return f"✅ Approved by {doc['decided_by']}{extra}"
    if state == "denied":
        return f"⛔ Denied by {doc['decided_by']}: {for_humans(doc.get('decision_reason') or '-')}"
    return f"⌛ {state.capitalize()}: {for_humans(doc.get('decision_reason') or '-')}"


def slack_blocks(doc: dict[str, Any], url: str, decided: bool = False) -> list[dict[str, Any]]:
    """Block Kit: header, who/what/why/where fields, the redacted text, buttons."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Airlock: approval requested"}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*{k}*\n{_mrkdwn(v)}"[:2000]} for k, v in _facts(doc)
            ],
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": _code(doc["text"])}},
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"sha256 `{doc['sha256']}` · <{url}|open>"}],
        },
    ]
    if decided:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"*{_mrkdwn(decided_summary(doc))}*"},
            }
        )
    else:
        blocks.append(
            {
                "type": "actions",
                "block_id": f"airlock:{doc['id']}",
                "elements": [
                    {
                        "type": "button",
                        "action_id": APPROVE_ACTION,
                        "style": "primary",
                        "text": {"type": "plain_text", "text": "Approve"},
                        "value": doc["id"],
                    },
                    {
                        "type": "button",
                        "action_id": DENY_ACTION,
                        "style": "danger",
                        "text": {"type": "plain_text", "text": "Deny"},
                        "value": doc["id"],
                    },
                ],
            }
        )
    return blocks


def slack_fallback_text(doc: dict[str, Any]) -> str:
    what = ", ".join(doc["categories"])
    return _mrkdwn(
        for_humans(f"Airlock approval requested: {doc['user']} on {doc['target']} ({what})")
    )


def teams_card(doc: dict[str, Any], url: str, decided: bool = False) -> dict[str, Any]:
    """An Adaptive Card (Teams incoming webhook) linking to the approval page."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "size": "Medium",
            "weight": "Bolder",
            "text": decided_summary(doc) if decided else "Airlock: approval requested",
        },
        {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in _facts(doc)]},
        *(
            [{"type": "TextBlock", "text": warning, "color": "Attention", "wrap": True}]
            if (warning := _warning(doc["text"]))
            else []
        ),
        # A TextRun is plain text: a TextBlock would render markdown, so `**`, `_` or
        # `[x](url)` in a statement would change what the approver reads.
        {
            "type": "RichTextBlock",
            "inlines": [
                {"type": "TextRun", "text": for_humans(doc["text"])[:2000], "fontType": "Monospace"}
            ],
        },
        {"type": "TextBlock", "text": f"sha256 {doc['sha256']}", "isSubtle": True, "wrap": True},
    ]
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "actions": [{"type": "Action.OpenUrl", "title": "Review and decide", "url": url}],
    }
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
        ],
    }


def sign_webhook(key: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` + HMAC-SHA256(key, "{timestamp}.{body}"): the timestamp stops replays."""
    mac = hmac.new(key.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _decided_channel(doc: dict[str, Any]) -> str:
    if doc.get("denial"):
        return str(doc["denial"].get("channel", ""))
    approvals = doc.get("approvals") or []
    return str(approvals[-1].get("channel", "")) if approvals else ""


class _Http:
    """One lazily created aiohttp session per notifier, on the gateway's loop."""

    name = "http"

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=_TIMEOUT)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class SlackNotifier(_Http):
    name = "slack"

    def __init__(self, config: SlackConfig) -> None:
        super().__init__()
        self.config = config
        self.messages: dict[str, tuple[str, str]] = {}  # request id -> (channel, ts)

    async def _api(self, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.config.bot_token}"}
        async with self.http.post(
            f"{self.config.api_base}/{method}", json=payload, headers=headers
        ) as resp:
            data: dict[str, Any] = await resp.json(content_type=None)
        if not data.get("ok"):
            raise RuntimeError(f"slack {method} failed: {data.get('error', resp.status)}")
        return data

    async def request_created(self, doc: dict[str, Any], url: str) -> None:
        payload = {"text": slack_fallback_text(doc), "blocks": slack_blocks(doc, url)}
        if self.config.bot_token:
            data = await self._api("chat.postMessage", {"channel": self.config.channel, **payload})
            self.messages[doc["id"]] = (data["channel"], data["ts"])
        elif self.config.webhook_url:
            async with self.http.post(self.config.webhook_url, json=payload) as resp:
                if resp.status >= 300:
                    raise RuntimeError(f"slack webhook answered {resp.status}")

    async def request_decided(self, doc: dict[str, Any], url: str) -> None:
        """Replace the buttons with the outcome (a Slack click already did it by response_url)."""
        where = self.messages.pop(doc["id"], None)
        if where is None or not self.config.bot_token or _decided_channel(doc) == "slack":
            return
        channel, ts = where
        await self._api(
            "chat.update",
            {
                "channel": channel,
                "ts": ts,
                "text": decided_summary(doc),
                "blocks": slack_blocks(doc, url, decided=True),
            },
        )


class TeamsNotifier(_Http):
    name = "teams"

    def __init__(self, config: TeamsConfig) -> None:
        super().__init__()
        self.config = config

    async def _post(self, payload: dict[str, Any]) -> None:
        assert self.config.webhook_url
        async with self.http.post(self.config.webhook_url, json=payload) as resp:
            if resp.status >= 300:
                raise RuntimeError(f"teams webhook answered {resp.status}")

    async def request_created(self, doc: dict[str, Any], url: str) -> None:
        await self._post(teams_card(doc, url))

    async def request_decided(self, doc: dict[str, Any], url: str) -> None:
        await self._post(teams_card(doc, url, decided=True))


class WebhookNotifier(_Http):
    """JSON POST signed with HMAC-SHA256; retried with exponential backoff on failure."""

    name = "webhook"

    def __init__(self, config: WebhookConfig) -> None:
        super().__init__()
        self.config = config

    async def send(self, event: str, doc: dict[str, Any], url: str) -> int:
        """Returns the number of attempts it took; raises after the last failed retry."""
        assert self.config.url and self.config.key
        payload = {"event": event, "url": url, "request": with_display(doc)}
        body = json.dumps(payload, sort_keys=True).encode()
        delay = self.config.backoff_s
        for attempt in range(1, self.config.retries + 2):
            timestamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                "X-Airlock-Timestamp": timestamp,
                self.config.header: sign_webhook(self.config.key, timestamp, body),
                "X-Airlock-Event": event,
            }
            try:
                async with self.http.post(self.config.url, data=body, headers=headers) as resp:
                    if resp.status < 300:
                        return attempt
                    problem = f"HTTP {resp.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                problem = repr(exc)
            if attempt > self.config.retries:
                raise RuntimeError(f"webhook {event} failed after {attempt} attempts: {problem}")
            log.warning("webhook %s attempt %d failed (%s); retrying", event, attempt, problem)
            await asyncio.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    async def request_created(self, doc: dict[str, Any], url: str) -> None:
        await self.send("request.created", doc, url)

    async def request_decided(self, doc: dict[str, Any], url: str) -> None:
        await self.send("request.decided", doc, url)


def build_notifiers(
    config: ApprovalsConfig,
) -> list[SlackNotifier | TeamsNotifier | WebhookNotifier]:
    out: list[SlackNotifier | TeamsNotifier | WebhookNotifier] = []
    if config.slack.enabled:
        out.append(SlackNotifier(config.slack))
    if config.teams.webhook_url:
        out.append(TeamsNotifier(config.teams))
    if config.webhook.url:
        out.append(WebhookNotifier(config.webhook))
    return out

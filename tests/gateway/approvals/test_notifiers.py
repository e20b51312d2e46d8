"""Notifiers post their real payloads to the stand-in Slack/Teams/webhook server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.approvals.config import SlackConfig, TeamsConfig, WebhookConfig, parse_approvals
from gateway.approvals.notifiers import (
    SlackNotifier,
    TeamsNotifier,
    WebhookNotifier,
    build_notifiers,
    sign_webhook,
)
from gateway.config import ConfigError
from tests.gateway.approvals.harness import grant_action, identity, make_env, verdict
from tests.support.slack import BOT_TOKEN, SlackStandIn


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    server = await SlackStandIn().start()
    yield server
    await server.stop()


async def test_slack_bot_posts_block_kit_and_updates_after_api_decision(
    tmp_path: Path, slack: SlackStandIn
) -> None:
    notifier = SlackNotifier(SlackConfig(bot_token=BOT_TOKEN, channel="C_APPROVALS",
                                         api_base=slack.api_base))  # fmt: skip
    env = await make_env(tmp_path, notifiers=[notifier])
    client = env.client("agent")
    task = env.review(client)
    rid = await client.next_request_id()
    posted = await slack.next("/api/chat.postMessage")
    assert posted.headers["Authorization"] == f"Bearer {BOT_TOKEN}"
    msg = posted.json
    assert msg["channel"] == "C_APPROVALS" and "agent" in msg["text"]
    blocks = msg["blocks"]
    fields = " ".join(f["text"] for f in blocks[1]["fields"])
    for fact in ("agent (psql) from 127.0.0.1:40000", "target main", "privilege", "rotate keys",
                 "review-privilege", rid):  # fmt: skip
        assert fact in fields
    assert "GRANT SELECT ON t TO PUBLIC" in blocks[2]["text"]["text"]
    assert grant_action().sha256 in blocks[3]["elements"][0]["text"]
    buttons = {e["action_id"]: e for e in blocks[-1]["elements"]}
    assert buttons["airlock_approve"]["value"] == rid and buttons["airlock_deny"]["value"] == rid
    await env.broker.decide(rid, identity("bob"), True, "ok")
    assert (await task).allowed
    update = (await slack.next("/api/chat.update")).json
    assert update["channel"] == "C_APPROVALS" and update["ts"] == "1.0001"
    assert "Approved by bob" in update["text"]
    await env.broker.stop()


async def test_slack_incoming_webhook_and_redaction(tmp_path: Path, slack: SlackStandIn) -> None:
    notifier = SlackNotifier(SlackConfig(webhook_url=f"{slack.base}/services/T/B/X"))
    env = await make_env(tmp_path, notifiers=[notifier])
    client = env.client("agent")
    secret_sql = "ALTER ROLE app PASSWORD 'hunter2-very-secret'"
    task = env.review(client, action=grant_action(secret_sql))
    await client.next_request_id()
    posted = await slack.next("/services/T/B/X")
    assert (
        "hunter2" not in posted.body.decode() and "ALTER ROLE app PASSWORD" in posted.body.decode()
    )
    task.cancel()
    await env.broker.stop()


async def test_teams_adaptive_card_links_to_page(tmp_path: Path, slack: SlackStandIn) -> None:
    env = await make_env(tmp_path, notifiers=[TeamsNotifier(TeamsConfig(f"{slack.base}/teams"))])
    client = env.client("agent")
    task = env.review(client)
    rid = await client.next_request_id()
    card = (await slack.next("/teams")).json
    attachment = card["attachments"][0]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    content = attachment["content"]
    assert content["type"] == "AdaptiveCard"
    assert content["actions"][0] == {"type": "Action.OpenUrl", "title": "Review and decide",
                                     "url": f"https://airlock.example/approvals/{rid}"}  # fmt: skip
    await env.broker.decide(rid, identity("bob"), False, "not now")
    await task
    done = (await slack.next("/teams")).json
    assert "Denied by bob" in done["attachments"][0]["content"]["body"][0]["text"]
    await env.broker.stop()


async def test_webhook_is_signed_and_retried(tmp_path: Path, slack: SlackStandIn) -> None:
    hook = WebhookNotifier(WebhookConfig(url=f"{slack.base}/hook", key="k3y", retries=3,
                                         backoff_s=0.01))  # fmt: skip
    slack.fail_next["/hook"] = 2
    env = await make_env(tmp_path, notifiers=[hook])
    client = env.client("agent")
    task = env.review(client, verdict(timeout_s=30))
    rid = await client.next_request_id()
    got = await slack.next("/hook")
    assert slack.queue("/hook#failed").qsize() == 2
    ts = got.headers["X-Airlock-Timestamp"]
    assert got.headers["X-Airlock-Signature"] == sign_webhook("k3y", ts, got.body)
    assert got.headers["X-Airlock-Signature"] != sign_webhook("other", ts, got.body)
    event: dict[str, Any] = json.loads(got.body)
    assert event["event"] == "request.created" and event["request"]["id"] == rid
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await env.broker.stop()  # ends the background "decided" post for the withdrawal
    slack.fail_next["/hook"] = 4
    with pytest.raises(RuntimeError, match="after 4 attempts"):
        await hook.send("request.created", event["request"], event["url"])
    await hook.close()


def test_config_secrets_come_from_env_or_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match=r"approvals\.slack\.bot_token: secrets are not read"):
        parse_approvals({"slack": {"bot_token": "xoxb-inline"}})
    monkeypatch.setenv("T_BOT", "xoxb-1")
    secret_file = tmp_path / "hook.key"
    secret_file.write_text("filekey\n")
    config = parse_approvals({
        "approvers": ["bob", "group:admins"], "operator": "alice",
        "slack": {"bot_token_env": "T_BOT", "channel": "C1"},
        "webhook": {"url": "https://hooks.example/x", "key_file": str(secret_file)},
    })  # fmt: skip
    assert config.slack.bot_token == "xoxb-1" and config.webhook.key == "filekey"
    assert config.approvers == frozenset({"bob", "group:admins"})
    assert [n.name for n in build_notifiers(config)] == ["slack", "webhook"]
    assert "xoxb" not in repr(config)
    with pytest.raises(ConfigError, match=r"approvals\.slack\.channel"):
        parse_approvals({"slack": {"bot_token_env": "T_BOT"}})
    with pytest.raises(ConfigError, match=r"approvals\.webhook\.key_env"):
        parse_approvals({"webhook": {"url": "https://x"}})
    with pytest.raises(ConfigError, match=r"approvals\.approvrs"):
        parse_approvals({"approvrs": []})
    assert parse_approvals({}).approvers == frozenset({"group:admins"})


HIDDEN = "GRANT SELECT ON t TO PUBLIC; -- \u202eEXPLAIN\u202c\u200b\u3164\u00a0<!channel>\r"
ESCAPED = "\\u202eEXPLAIN\\u202c\\u200b\\u3164\\xa0"
INVISIBLE = "\u202e\u202c\u200b\u3164\u00a0\r"


async def test_every_chat_channel_shows_hidden_characters_escaped(
    tmp_path: Path, slack: SlackStandIn
) -> None:
    notifiers = [
        SlackNotifier(SlackConfig(bot_token=BOT_TOKEN, channel="C1", api_base=slack.api_base)),
        TeamsNotifier(TeamsConfig(f"{slack.base}/teams")),
        WebhookNotifier(WebhookConfig(url=f"{slack.base}/hook", key="k")),
    ]
    env = await make_env(tmp_path, notifiers=notifiers)
    client = env.client("agent")
    task = env.review(client, action=grant_action(HIDDEN))
    await client.next_request_id()
    posted = (await slack.next("/api/chat.postMessage")).json
    code = posted["blocks"][2]["text"]["text"]
    assert ESCAPED in code and "\\r" in code and not any(ch in code for ch in INVISIBLE)
    assert "<!channel>" not in json.dumps(posted) and "&lt;!channel&gt;" in code
    assert "hidden" in posted["blocks"][2]["text"]["text"].lower() or any(
        "invisible" in json.dumps(b) for b in posted["blocks"]
    )
    teams = (await slack.next("/teams")).json
    statement = teams["attachments"][0]["content"]["body"][3]
    assert statement["type"] == "RichTextBlock"  # plain text runs: no markdown rendering
    assert statement["inlines"][0]["text"].startswith("GRANT SELECT ON t TO PUBLIC; -- \\u202e")
    card = json.dumps(teams, ensure_ascii=False)
    assert ESCAPED.replace("\\", "\\\\") in card and not any(ch in card for ch in INVISIBLE)
    hook = json.loads((await slack.next("/hook")).body)
    display = hook["request"]["text_display"]
    assert display.startswith("GRANT SELECT") and ESCAPED in display
    assert hook["request"]["hidden_characters"] == 6
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await env.broker.stop()
    for n in notifiers:
        await n.close()

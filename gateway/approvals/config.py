"""The ``[approvals]`` config table: who approves by default, channels and their secrets.

Parsed here (not in gateway.config) because only the approvals package reads it; errors are
``gateway.config.ConfigError`` naming the exact key, like every other config error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.config_table import ConfigError, Section, secret


@dataclass(frozen=True, slots=True)
class SlackConfig:
    bot_token: str | None = field(default=None, repr=False)  # chat.postMessage / chat.update
    webhook_url: str | None = field(default=None, repr=False)  # incoming webhook instead
    signing_secret: str | None = field(default=None, repr=False)  # verifies interactivity
    channel: str = ""
    api_base: str = "https://slack.com/api"
    users: Mapping[str, str] = field(default_factory=dict)  # Slack user id -> airlock user

    @property
    def enabled(self) -> bool:
        return bool(self.bot_token and self.channel) or bool(self.webhook_url)


@dataclass(frozen=True, slots=True)
class TeamsConfig:
    webhook_url: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    url: str | None = field(default=None, repr=False)
    key: str | None = field(default=None, repr=False)  # HMAC-SHA256 key for the signature
    header: str = "X-Airlock-Signature"
    retries: int = 4
    backoff_s: float = 0.5


@dataclass(frozen=True, slots=True)
class ApprovalsConfig:
    """Defaults are safe: only ``group:admins`` may approve unless configured otherwise."""

    approvers: frozenset[str] = frozenset({"group:admins"})
    operator: str = ""  # identity the CLI acts as (overridable with --as)
    retry_ttl_s: float = 900.0  # how long an approved retry-mode request stays usable
    max_window_minutes: int = 240
    poll_s: float = 2.0  # held requests re-read the store this often (multi-node safety net)
    sweep_s: float = 5.0  # pending requests past their deadline are expired this often
    slack: SlackConfig = field(default_factory=SlackConfig)
    teams: TeamsConfig = field(default_factory=TeamsConfig)
    webhook: WebhookConfig = field(default_factory=WebhookConfig)


def _approver_list(sec: Section, name: str) -> frozenset[str]:
    values = sec.strings(name)
    for i, value in enumerate(values):
        if not value or value == "group:":
            raise ConfigError(f"{sec.key(name)}[{i}]", "must be a user or group:NAME")
    return frozenset(values)


def _secret_or_literal_url(sec: Section, name: str) -> str | None:
    """Webhook URLs carry their own secret (Slack/Teams), so they are secrets too."""
    return secret(sec, name)


def parse_approvals(raw: Mapping[str, Any] | None) -> ApprovalsConfig:
    root = Section(raw or {}, "approvals")
    approvers = _approver_list(root, "approvers") if "approvers" in root.data else None
    if approvers is not None and not approvers:
        raise ConfigError("approvals.approvers", "must not be empty (omit it for group:admins)")
    slack_sec = root.table("slack")
    users = slack_sec.get("users", dict, {})
    for uid, name in users.items():
        if not isinstance(name, str) or not name:
            raise ConfigError(f"approvals.slack.users.{uid}", "must be an airlock user name")
    slack = SlackConfig(
        bot_token=secret(slack_sec, "bot_token"),
        webhook_url=_secret_or_literal_url(slack_sec, "webhook_url"),
        signing_secret=secret(slack_sec, "signing_secret"),
        channel=slack_sec.get("channel", str, ""),
        api_base=slack_sec.get("api_base", str, "https://slack.com/api").rstrip("/"),
        users=dict(users),
    )
    if slack.bot_token and not slack.channel:
        raise ConfigError("approvals.slack.channel", "is required with a bot token")
    slack_sec.finish()
    teams_sec = root.table("teams")
    teams = TeamsConfig(webhook_url=_secret_or_literal_url(teams_sec, "webhook_url"))
    teams_sec.finish()
    hook_sec = root.table("webhook")
    webhook = WebhookConfig(
        url=hook_sec.get("url", str, "") or None,
        key=secret(hook_sec, "key"),
        header=hook_sec.get("header", str, "X-Airlock-Signature"),
        retries=hook_sec.get("retries", int, 4),
        backoff_s=hook_sec.positive("backoff_s", float, 0.5),
    )
    if webhook.url and not webhook.key:
        raise ConfigError("approvals.webhook.key_env", "a signing key is required with url")
    if webhook.retries < 0:
        raise ConfigError("approvals.webhook.retries", "must be >= 0")
    hook_sec.finish()
    config = ApprovalsConfig(
        approvers=approvers if approvers is not None else frozenset({"group:admins"}),
        operator=root.get("operator", str, ""),
        retry_ttl_s=root.positive("retry_ttl_s", float, 900.0),
        max_window_minutes=root.positive("max_window_minutes", int, 240),
        poll_s=root.positive("poll_s", float, 2.0),
        sweep_s=root.positive("sweep_s", float, 5.0),
        slack=slack,
        teams=teams,
        webhook=webhook,
    )
    root.finish()
    return config

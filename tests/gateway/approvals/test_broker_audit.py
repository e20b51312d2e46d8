"""The broker's audit lines and approval metrics for an expiry (the transition the daemon
test does not wait for): one `request.expired` line, latency observed, gauge back down."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from tests.gateway.approvals.harness import make_env, verdict


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_expiry_is_audited_and_measured(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="airlock.audit")
    env = await make_env(tmp_path)
    expired_before = _value("airlock_approval_latency_seconds_count", outcome="expired")
    pending_before = _value("airlock_approval_requests_pending")
    outcome = await env.review(env.client(), verdict(timeout_s=0.2))
    assert not outcome.allowed
    events = [vars(r) for r in caplog.records if r.name == "airlock.audit"]
    created = [e for e in events if e["event"] == "request.created"]
    expired = [e for e in events if e["event"] == "request.expired"]
    assert [e["request"] for e in created] == [outcome.request_id]
    assert [e["request"] for e in expired] == [outcome.request_id]
    assert expired[0]["decided_by"] == "airlock" and expired[0]["latency_s"] >= 0.2
    assert created[0]["reason"] == "rotate keys" and created[0]["user"] == "alice-bot"
    count = _value("airlock_approval_latency_seconds_count", outcome="expired")
    assert count == expired_before + 1
    assert _value("airlock_approval_requests_pending") == pending_before

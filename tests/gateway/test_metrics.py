"""Metrics helpers move the right series on the default registry /metrics serves."""

from __future__ import annotations

from prometheus_client import REGISTRY, generate_latest

from gateway import metrics


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_session_metrics_track_active_total_and_bytes() -> None:
    labels = {"protocol": "postgres", "target": "metrics-t1"}
    m = metrics.session_started("postgres", "metrics-t1")
    assert value("airlock_sessions_active", **labels) == 1
    assert value("airlock_sessions_total", **labels) == 1
    m.bytes_in(10)
    m.bytes_in(5)
    m.bytes_out(1000)
    m.ended()
    m.ended()  # idempotent: a second exit path must not drive the gauge negative
    assert value("airlock_sessions_active", **labels) == 0
    assert value("airlock_sessions_total", **labels) == 1
    assert value("airlock_bytes_total", direction="in", **labels) == 15
    assert value("airlock_bytes_total", direction="out", **labels) == 1000


def test_statement_counts_each_category_and_each_decision_once() -> None:
    def read() -> tuple[float, float, float]:
        return (
            value("airlock_statements_total", protocol="ssh", category="read", verdict="review"),
            value("airlock_statements_total", protocol="ssh", category="export", verdict="review"),
            value("airlock_decisions_total", protocol="ssh", verdict="review"),
        )

    before = read()
    metrics.statement("ssh", ["read", "export"], "review")
    metrics.statement("ssh", ["read"], "review")
    after = read()
    assert [a - b for a, b in zip(after, before, strict=True)] == [2, 1, 2]


def test_approval_pending_and_latency() -> None:
    pending = value("airlock_approval_requests_pending")
    count = value("airlock_approval_latency_seconds_count", outcome="approved")
    metrics.approval_requested()
    metrics.approval_requested()
    assert value("airlock_approval_requests_pending") == pending + 2
    metrics.approval_finished("approved", 3.5)
    assert value("airlock_approval_requests_pending") == pending + 1
    assert value("airlock_approval_latency_seconds_count", outcome="approved") == count + 1
    assert value("airlock_approval_latency_seconds_bucket", outcome="approved", le="5.0") >= 1
    metrics.set_pending(0)
    assert value("airlock_approval_requests_pending") == 0


def test_errors_rejections_reloads_info_are_exposed() -> None:
    metrics.upstream_error("postgres", "metrics-t2", "connect")
    metrics.rejected("limit-user")
    metrics.reloaded(False)
    metrics.set_node("node-a")
    text = generate_latest().decode()
    assert (
        'airlock_upstream_errors_total{kind="connect",protocol="postgres",target="metrics-t2"} 1.0'
        in text
    )
    assert 'airlock_connections_rejected_total{reason="limit-user"}' in text
    assert 'airlock_config_reloads_total{result="rejected"}' in text
    assert 'airlock_build_info{node="node-a",version="' in text

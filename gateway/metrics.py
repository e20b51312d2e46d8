"""Prometheus metrics on the default registry, and the cheap helpers relays call.

Label values are resolved once per session (``SessionMetrics``) or cached per label tuple
(``statement``), so the per-read and per-statement cost is one lock-protected add, not a
label lookup. The HTTP app serves ``prometheus_client.generate_latest()`` at /metrics.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from gateway import __version__

SESSIONS_ACTIVE = Gauge(
    "airlock_sessions_active", "Client sessions open now", ["protocol", "target"]
)
SESSIONS = Counter("airlock_sessions", "Client sessions opened", ["protocol", "target"])


class _StatementCollector(Collector):
    """Statement counters kept as plain ints and exported at scrape time.

    Counting is on every statement's path; a dict increment costs a fraction of a
    prometheus Counter child's lock-protected inc, and scrapes are rare.
    """

    def __init__(self) -> None:
        self.by_category: dict[tuple[str, str, str], int] = {}
        self.by_decision: dict[tuple[str, str], int] = {}

    def collect(self) -> Iterable[Metric]:
        statements = CounterMetricFamily(
            "airlock_statements",
            "Statements/commands decided, once per category they carry",
            labels=["protocol", "category", "verdict"],
        )
        for key, n in list(self.by_category.items()):
            statements.add_metric(list(key), n)
        decisions = CounterMetricFamily(
            "airlock_decisions",
            "Statements/commands decided, once each",
            labels=["protocol", "verdict"],
        )
        for dkey, n in list(self.by_decision.items()):
            decisions.add_metric(list(dkey), n)
        return [statements, decisions]


_STATEMENTS = _StatementCollector()
REGISTRY.register(_STATEMENTS)
PENDING = Gauge("airlock_approval_requests_pending", "Approval requests awaiting a decision")
APPROVAL_LATENCY = Histogram(
    "airlock_approval_latency_seconds",
    "Time from an approval request to its decision",
    ["outcome"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, float("inf")),
)
UPSTREAM_ERRORS = Counter(
    "airlock_upstream_errors",
    "Failures talking to an upstream (connect, auth, TLS, lost connection)",
    ["protocol", "target", "kind"],
)
BYTES = Counter(
    "airlock_bytes",
    "Bytes relayed; in = client to upstream, out = upstream to client",
    ["protocol", "target", "direction"],
)
REJECTED = Counter(
    "airlock_connections_rejected", "Connections refused before relaying", ["reason"]
)
RELOADS = Counter("airlock_config_reloads", "SIGHUP reloads", ["result"])
INFO = Gauge("airlock_build_info", "Always 1; labels say which build and node", ["version", "node"])


class SessionMetrics:
    """One session's labelled children, looked up once when the session starts."""

    __slots__ = ("_active", "_in", "_open", "_out")

    def __init__(self, protocol: str, target: str) -> None:
        SESSIONS.labels(protocol, target).inc()
        self._active = SESSIONS_ACTIVE.labels(protocol, target)
        self._in = BYTES.labels(protocol, target, "in")
        self._out = BYTES.labels(protocol, target, "out")
        self._active.inc()
        self._open = True

    def bytes_in(self, n: int) -> None:
        self._in.inc(n)

    def bytes_out(self, n: int) -> None:
        self._out.inc(n)

    def ended(self) -> None:
        """Idempotent, so every exit path of a relay may call it."""
        if self._open:
            self._open = False
            self._active.dec()


def session_started(protocol: str, target: str) -> SessionMetrics:
    return SessionMetrics(protocol, target)


def statement(protocol: str, categories: Iterable[str], verdict: str) -> None:
    """Count one decided statement: once per category, and once in ``airlock_decisions``."""
    decisions = _STATEMENTS.by_decision
    dkey = (protocol, verdict)
    decisions[dkey] = decisions.get(dkey, 0) + 1
    by_category = _STATEMENTS.by_category
    for category in categories:
        key = (protocol, str(category), verdict)
        by_category[key] = by_category.get(key, 0) + 1


def approval_requested() -> None:
    PENDING.inc()


def approval_finished(outcome: str, seconds: float) -> None:
    """``outcome``: approved, denied, expired, withdrawn."""
    PENDING.dec()
    APPROVAL_LATENCY.labels(outcome).observe(seconds)


def set_pending(count: int) -> None:
    """For a broker that knows the exact number (e.g. after loading requests at start)."""
    PENDING.set(count)


def upstream_error(protocol: str, target: str, kind: str) -> None:
    """``kind``: connect, auth, tls, lost, timeout, limit."""
    UPSTREAM_ERRORS.labels(protocol, target, kind).inc()


def rejected(reason: str) -> None:
    """``reason``: limit-global, limit-user, limit-target, auth, startup-timeout, draining,
    login-throttled (too many failed logins, any protocol)."""
    REJECTED.labels(reason).inc()


def reloaded(ok: bool) -> None:
    RELOADS.labels("ok" if ok else "rejected").inc()


def set_node(node: str) -> None:
    INFO.labels(__version__, node).set(1)

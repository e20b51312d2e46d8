"""Connection limits: global, per user, and per target (upstream connection caps).

Checked after authentication and routing, before an upstream connection is opened, so a
refused client gets a clear message and the upstream never sees the attempt. Counts live
in this process: each node enforces its own share (shared counts would need the store on
every connect).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from gateway.config import ConfigError

_KEYS = ("max_connections", "per_user")


@dataclass(frozen=True, slots=True)
class Limits:
    """``[limits]``. Zero means no limit."""

    max_connections: int = 1000
    per_user: int = 50


def parse_limits(raw: Mapping[str, Any]) -> Limits:
    """Read the ``[limits]`` table from ``config.raw``; errors name the key."""
    section = raw.get("limits", {})
    if not isinstance(section, Mapping):
        raise ConfigError("limits", "must be a table")
    for key in section:
        if key not in _KEYS:
            raise ConfigError(f"limits.{key}", "unknown key (check the spelling)")
    values: dict[str, int] = {}
    for key in _KEYS:
        if key in section:
            value = section[key]
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"limits.{key}", f"must be an integer >= 0, got {value!r}")
            values[key] = value
    return Limits(**values)


class LimitExceeded(Exception):
    """A connection refused by a limit; ``reason`` is the metrics label."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class ConnectionLimiter:
    """Counts open client sessions; ``try_acquire`` before relaying, ``release`` after.

    Not thread-safe by design: every caller runs on the one event loop.
    """

    def __init__(self, limits: Limits, target_caps: Mapping[str, int] | None = None) -> None:
        self.limits = limits
        self.target_caps: Mapping[str, int] = dict(target_caps or {})
        self.total = 0
        self.by_user: Counter[str] = Counter()
        self.by_target: Counter[str] = Counter()

    @classmethod
    def from_config(cls, config: Any) -> ConnectionLimiter:
        """From a ``gateway.config.Config``: ``[limits]`` and each target's max_connections."""
        return cls(parse_limits(config.raw), _caps(config))

    def reconfigure(self, config: Any) -> None:
        """SIGHUP: new limits apply to new connections; open ones are never cut."""
        self.limits = parse_limits(config.raw)
        self.target_caps = _caps(config)

    def check(self, user: str, target: str) -> LimitExceeded | None:
        lim = self.limits
        if lim.max_connections and self.total >= lim.max_connections:
            return LimitExceeded(
                "limit-global",
                f"airlock: too many connections ({lim.max_connections} open); try again later",
            )
        if lim.per_user and self.by_user[user] >= lim.per_user:
            return LimitExceeded(
                "limit-user",
                f"airlock: user {user!r} already has {lim.per_user} connections open "
                "(limits.per_user)",
            )
        cap = self.target_caps.get(target, 0)
        if cap and self.by_target[target] >= cap:
            return LimitExceeded(
                "limit-target",
                f"airlock: target {target!r} is at its connection cap ({cap}; "
                f"targets.{target}.max_connections)",
            )
        return None

    def try_acquire(self, user: str, target: str) -> str | None:
        """Take a slot and return None, or return the message to show the client."""
        refused = self.check(user, target)
        if refused is not None:
            return str(refused)
        self.total += 1
        self.by_user[user] += 1
        self.by_target[target] += 1
        return None

    def release(self, user: str, target: str) -> None:
        """Give back a slot taken by a successful ``try_acquire`` (call exactly once)."""
        if self.by_user[user] <= 0 or self.by_target[target] <= 0:
            raise RuntimeError(f"release without acquire for {user!r} on {target!r}")
        self.total -= 1
        for counter, key in ((self.by_user, user), (self.by_target, target)):
            counter[key] -= 1
            if counter[key] == 0:
                del counter[key]  # users come and go: don't keep a key per one ever seen

    @contextmanager
    def slot(self, user: str, target: str) -> Iterator[None]:
        """``with limiter.slot(user, target):`` relay; raises LimitExceeded when full."""
        refused = self.check(user, target)
        if refused is not None:
            raise refused
        self.try_acquire(user, target)
        try:
            yield
        finally:
            self.release(user, target)


def _caps(config: Any) -> dict[str, int]:
    caps = {}
    for name, target in config.targets.items():
        if target.max_connections < 0:
            raise ConfigError(f"targets.{name}.max_connections", "must be >= 0")
        if target.max_connections:
            caps[name] = target.max_connections
    return caps

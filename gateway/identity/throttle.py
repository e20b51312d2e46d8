"""Failed-login throttling, per user name and per client address: HTTP, SSH and Postgres.

Every failed password (or token) check counts against two keys: the user name tried and
the address it came from. After ``free_failures`` failures on a user
(``address_free_failures`` on an address: many people and programs share one, behind NAT
or on one application host) within ``forget_after_s``, the key is blocked for
``backoff_s``, doubling with each further failure up to ``max_backoff_s``. A blocked key
is refused before any credential is checked, so guessing stops learning anything;
attempts while blocked do not count (a person retrying does not extend their own wait).
A success clears the user's count, never the address's: one valid account cannot launder
an address that is guessing another account's password.

The per-user key is what stops a guesser spread over many addresses, and it is also what
lets anyone delay a given user's logins by failing on purpose; the cap on the backoff
bounds that (documented in docs/identity.md). Counts live in this process, like the
connection limits: each node throttles what it sees.

Pure logic with an injected clock, so tests need no sleeps.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.config_table import ConfigError, Section

MAX_KEYS = 100_000  # memory bound against a flood of distinct names or addresses


@dataclass(frozen=True, slots=True)
class ThrottleSettings:
    """``[identity.throttle]``."""

    failure_delay_s: float = 0.5  # every failed login answers no sooner than this
    free_failures: int = 5  # failures on one user name before it is blocked
    address_free_failures: int = 20  # failures from one address before it is blocked
    backoff_s: float = 1.0  # the first block; doubles per further failure
    max_backoff_s: float = 60.0
    forget_after_s: float = 900.0  # a key with no failure for this long starts over


def parse_throttle(sec: Section) -> ThrottleSettings:
    defaults = ThrottleSettings()
    values: dict[str, Any] = {}
    for name in ("failure_delay_s", "backoff_s", "max_backoff_s", "forget_after_s"):
        default = getattr(defaults, name)
        value = sec.get(name, float, default)
        if value < 0:
            raise ConfigError(sec.key(name), f"must be >= 0, got {value!r}")
        values[name] = value
    for name in ("free_failures", "address_free_failures"):
        count = sec.get(name, int, getattr(defaults, name))
        if count < 1:
            raise ConfigError(sec.key(name), f"must be >= 1, got {count!r}")
        values[name] = count
    if values["max_backoff_s"] < values["backoff_s"]:
        raise ConfigError(sec.key("max_backoff_s"), "must be >= backoff_s")
    sec.finish()
    return ThrottleSettings(**values)


@dataclass(slots=True)
class _Entry:
    failures: int = 0
    last: float = 0.0
    blocked_until: float = 0.0


@dataclass(frozen=True, slots=True)
class Throttled:
    """A login refused before checking: too many recent failures for this user or address."""

    retry_after_s: float


@dataclass(slots=True)
class LoginThrottle:
    settings: ThrottleSettings = field(default_factory=ThrottleSettings)
    clock: Callable[[], float] = time.monotonic
    max_keys: int = MAX_KEYS
    _keys: dict[str, _Entry] = field(default_factory=dict)

    def _names(self, user: str, addr: str) -> tuple[str, ...]:
        return (f"u:{user}", f"a:{addr}") if addr else (f"u:{user}",)

    def retry_after(self, user: str, addr: str) -> float:
        """Seconds until a login for `user` from `addr` may be tried (0: now)."""
        now = self.clock()
        wait = 0.0
        for name in self._names(user, addr):
            entry = self._keys.get(name)
            if entry is not None:
                wait = max(wait, entry.blocked_until - now)
        return wait

    def attempt(self, user: str, addr: str) -> float:
        """Call before checking credentials. A positive answer is the wait: refuse without
        checking (nothing is counted). Zero: go ahead; the attempt already counts as a
        failure, so concurrent attempts whose checks await (the store, the directory, a
        Postgres client's next message) cannot all start before the first one fails.
        `succeeded` takes it back."""
        wait = self.retry_after(user, addr)
        if wait <= 0:
            self.failed(user, addr)
        return max(0.0, wait)

    def failed(self, user: str, addr: str) -> None:
        """Count one failure now (`attempt` does this for every attempt it lets through)."""
        now = self.clock()
        s = self.settings
        for name in self._names(user, addr):
            entry = self._keys.pop(name, None) or _Entry()
            if now - entry.last > s.forget_after_s:
                entry = _Entry()
            entry.failures += 1
            entry.last = now
            free = s.free_failures if name.startswith("u:") else s.address_free_failures
            over = entry.failures - free
            if over >= 0:
                entry.blocked_until = now + min(s.max_backoff_s, s.backoff_s * 2 ** min(over, 32))
            self._keys[name] = entry  # re-inserted: the dict stays ordered by last failure
        self._prune(now)

    def succeeded(self, user: str, addr: str) -> None:
        """After an `attempt` that logged in: the user starts over, the address gets back
        the one failure the attempt counted (and nothing more)."""
        self._keys.pop(f"u:{user}", None)
        if addr:
            self._give_back(f"a:{addr}", self.settings.address_free_failures)

    def abandoned(self, user: str, addr: str) -> None:
        """After an `attempt` whose check never finished (the client went away first, as
        psql does before prompting for a password): nothing was learnt, nothing counts."""
        self._give_back(f"u:{user}", self.settings.free_failures)
        if addr:
            self._give_back(f"a:{addr}", self.settings.address_free_failures)

    def _give_back(self, name: str, free: int) -> None:
        entry = self._keys.get(name)
        if entry is not None:
            entry.failures = max(0, entry.failures - 1)
            if entry.failures < free:
                entry.blocked_until = 0.0  # a block needs `free` failures: none was due

    def reconfigure(self, settings: ThrottleSettings) -> None:
        self.settings = settings

    def _prune(self, now: float) -> None:
        horizon = max(self.settings.forget_after_s, self.settings.max_backoff_s)
        while self._keys:
            name, entry = next(iter(self._keys.items()))
            if len(self._keys) <= self.max_keys and now - entry.last <= horizon:
                break
            del self._keys[name]

    def snapshot(self) -> Mapping[str, int]:
        """Failure counts per key (for tests and debugging)."""
        return {name: e.failures for name, e in self._keys.items()}

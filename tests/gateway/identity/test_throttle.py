"""The failed-login throttle on an injected clock: per user, per address, backoff, forgetting."""

from __future__ import annotations

import asyncio
from pathlib import Path

from gateway.config import parse_config
from gateway.identity.authenticator import Authenticator
from gateway.identity.throttle import MAX_KEYS, LoginThrottle, Throttled, ThrottleSettings
from gateway.store.sqlite import SqliteStore
from tests.gateway.approvals.harness import PASSWORDS, config_dict


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _throttle(**kw: float) -> tuple[LoginThrottle, Clock]:
    clock = Clock()
    settings = ThrottleSettings(**{"free_failures": 3, "address_free_failures": 3,
                                   "backoff_s": 2.0, "max_backoff_s": 10.0,
                                   "forget_after_s": 100.0, **kw})  # type: ignore[arg-type]  # fmt: skip
    return LoginThrottle(settings, clock), clock


def test_free_failures_then_doubling_backoff_up_to_the_cap() -> None:
    t, clock = _throttle()
    for _ in range(2):
        t.attempt("bob", "10.0.0.1")
        assert t.retry_after("bob", "10.0.0.1") == 0
    t.attempt("bob", "10.0.0.1")  # the third: blocked for backoff_s
    assert t.retry_after("bob", "10.0.0.1") == 2.0
    clock.now += 2.0
    assert t.retry_after("bob", "10.0.0.1") == 0
    waits = []
    for _ in range(4):
        t.attempt("bob", "10.0.0.1")
        waits.append(t.retry_after("bob", "10.0.0.1"))
        clock.now += waits[-1]
    assert waits == [4.0, 8.0, 10.0, 10.0]


def test_per_user_and_per_address_independently() -> None:
    t, _ = _throttle()
    for n in range(3):  # one address guessing three different users
        t.attempt(f"user{n}", "10.0.0.1")
    assert t.retry_after("someone-else", "10.0.0.1") == 2.0
    assert t.retry_after("someone-else", "10.0.0.2") == 0
    for n in range(3):  # three addresses guessing one user
        t.attempt("carol", f"10.0.1.{n}")
    assert t.retry_after("carol", "10.0.9.9") == 2.0
    assert t.retry_after("dave", "10.0.9.9") == 0


def test_an_address_may_fail_more_often_than_a_user() -> None:
    t, _ = _throttle(address_free_failures=5)
    for n in range(4):
        t.attempt(f"user{n}", "10.0.0.1")
        assert t.retry_after("nobody", "10.0.0.1") == 0
    t.attempt("user9", "10.0.0.1")
    assert t.retry_after("nobody", "10.0.0.1") == 2.0


def test_success_clears_the_user_but_not_the_address() -> None:
    t, _ = _throttle()
    for _ in range(2):
        t.attempt("bob", "10.0.0.1")  # failed guesses
    for _ in range(3):  # logins to a valid account of the guesser's own
        assert t.attempt("mallory", "10.0.0.1") == 0
        t.succeeded("mallory", "10.0.0.1")
    assert t.snapshot() == {"u:bob": 2, "a:10.0.0.1": 2}
    assert t.attempt("bob", "10.0.0.1") == 0
    t.succeeded("bob", "10.0.0.1")  # bob's own login clears bob, not the address
    assert "u:bob" not in t.snapshot()
    t.attempt("dave", "10.0.0.1")
    assert t.retry_after("dave", "10.0.0.1") == 2.0  # the address kept its two failures


def test_failures_are_forgotten_after_a_quiet_period() -> None:
    t, clock = _throttle()
    for _ in range(2):
        t.attempt("bob", "10.0.0.1")
    clock.now += 101
    t.attempt("bob", "10.0.0.1")
    assert t.retry_after("bob", "10.0.0.1") == 0
    assert t.snapshot() == {"u:bob": 1, "a:10.0.0.1": 1}


def test_memory_is_bounded() -> None:
    t, clock = _throttle()
    assert t.max_keys == MAX_KEYS
    t.max_keys = 100
    for n in range(500):
        t.attempt(f"u{n}", f"a{n}")
    assert len(t.snapshot()) == 100
    assert "u:u499" in t.snapshot() and "u:u0" not in t.snapshot()  # the oldest went first
    clock.now += 1000
    t.attempt("last", "")
    assert t.snapshot() == {"u:last": 1}


async def test_concurrent_attempts_cannot_all_slip_through_before_the_first_fails(
    tmp_path: Path,
) -> None:
    """Checks that await (the store for a token, the directory) run concurrently: each
    attempt counts when it starts, so only the free ones are checked at all."""
    store = SqliteStore(tmp_path / "t.db")
    await store.open()
    raw = config_dict(tmp_path)
    raw["identity"] = {"throttle": {"failure_delay_s": 0, "free_failures": 3}}
    auth = Authenticator(parse_config(raw), store)
    guess = "alk_0123456789abcdef_" + "A" * 43  # token-shaped: the check awaits the store
    results = await asyncio.gather(*(auth.login("bob", guess, "10.0.0.1") for _ in range(10)))
    assert results.count(None) == 3
    assert all(isinstance(r, Throttled) for r in results if r is not None)
    # And a success gives back what its own attempt counted on the address.
    assert isinstance(await auth.login("bob", PASSWORDS["bob"], "10.0.0.2"), Throttled)
    assert await auth.login("dave", PASSWORDS["dave"], "10.0.0.2") is not None
    assert auth.throttle.snapshot().get("a:10.0.0.2", 0) == 0
    await store.close()


def test_an_abandoned_attempt_counts_for_nothing() -> None:
    t, _ = _throttle()
    for _ in range(2):
        t.attempt("bob", "10.0.0.1")
    for _ in range(5):  # psql connects, is asked for a password, leaves to prompt for it
        assert t.attempt("bob", "10.0.0.1") == 0
        t.abandoned("bob", "10.0.0.1")
    assert t.snapshot() == {"u:bob": 2, "a:10.0.0.1": 2}

"""The failed-login throttle on an injected clock: per user, per address, backoff, forgetting."""

from __future__ import annotations

from gateway.identity.throttle import MAX_KEYS, LoginThrottle, ThrottleSettings


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
        t.failed("bob", "10.0.0.1")
        assert t.retry_after("bob", "10.0.0.1") == 0
    t.failed("bob", "10.0.0.1")  # the third: blocked for backoff_s
    assert t.retry_after("bob", "10.0.0.1") == 2.0
    clock.now += 2.0
    assert t.retry_after("bob", "10.0.0.1") == 0
    waits = []
    for _ in range(4):
        t.failed("bob", "10.0.0.1")
        waits.append(t.retry_after("bob", "10.0.0.1"))
        clock.now += waits[-1]
    assert waits == [4.0, 8.0, 10.0, 10.0]


def test_per_user_and_per_address_independently() -> None:
    t, _ = _throttle()
    for n in range(3):  # one address guessing three different users
        t.failed(f"user{n}", "10.0.0.1")
    assert t.retry_after("someone-else", "10.0.0.1") == 2.0
    assert t.retry_after("someone-else", "10.0.0.2") == 0
    for n in range(3):  # three addresses guessing one user
        t.failed("carol", f"10.0.1.{n}")
    assert t.retry_after("carol", "10.0.9.9") == 2.0
    assert t.retry_after("dave", "10.0.9.9") == 0


def test_an_address_may_fail_more_often_than_a_user() -> None:
    t, _ = _throttle(address_free_failures=5)
    for n in range(4):
        t.failed(f"user{n}", "10.0.0.1")
        assert t.retry_after("nobody", "10.0.0.1") == 0
    t.failed("user9", "10.0.0.1")
    assert t.retry_after("nobody", "10.0.0.1") == 2.0


def test_success_clears_the_user_but_not_the_address() -> None:
    t, _ = _throttle()
    for _ in range(2):
        t.failed("bob", "10.0.0.1")
    t.succeeded("mallory", "10.0.0.1")  # a valid account of the guesser's own
    t.succeeded("bob", "10.0.0.1")
    t.failed("dave", "10.0.0.1")
    assert t.retry_after("dave", "10.0.0.1") == 2.0  # the address kept its count
    assert "u:bob" not in t.snapshot()


def test_failures_are_forgotten_after_a_quiet_period() -> None:
    t, clock = _throttle()
    for _ in range(2):
        t.failed("bob", "10.0.0.1")
    clock.now += 101
    t.failed("bob", "10.0.0.1")
    assert t.retry_after("bob", "10.0.0.1") == 0
    assert t.snapshot() == {"u:bob": 1, "a:10.0.0.1": 1}


def test_memory_is_bounded() -> None:
    t, clock = _throttle()
    for n in range(MAX_KEYS // 2 + 10):
        t.failed(f"u{n}", f"a{n}")
    assert len(t.snapshot()) <= MAX_KEYS
    clock.now += 1000
    t.failed("last", "")
    assert t.snapshot() == {"u:last": 1}

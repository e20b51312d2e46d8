"""Connection limits: global, per user, per target; clear errors; config keys named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.config import ConfigError, parse_config
from gateway.limits import ConnectionLimiter, LimitExceeded, Limits, parse_limits


def _config(tmp_path: Path, limits: dict[str, Any], cap: int = 0) -> Any:
    return parse_config(
        {
            "gateway": {"state_dir": str(tmp_path)},
            "limits": limits,
            "targets": {
                "db": {"protocol": "postgres", "host": "h", "user": "u", "max_connections": cap},
                "free": {"protocol": "postgres", "host": "h", "user": "u"},
            },
        },
        tmp_path / "airlock.toml",
    )


def test_defaults_and_parse() -> None:
    assert parse_limits({}) == Limits(1000, 50)
    assert parse_limits({"limits": {"per_user": 0}}) == Limits(1000, 0)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"limits": {"per_user": -1}}, "limits.per_user"),
        ({"limits": {"max_connections": "10"}}, "limits.max_connections"),
        ({"limits": {"max_connections": True}}, "limits.max_connections"),
        ({"limits": {"per_usr": 3}}, "limits.per_usr"),
        ({"limits": 5}, "limits"),
    ],
)
def test_config_errors_name_the_key(raw: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_limits(raw)
    assert err.value.key == key


def test_per_user_limit(tmp_path: Path) -> None:
    lim = ConnectionLimiter.from_config(_config(tmp_path, {"per_user": 2}))
    assert lim.try_acquire("alice", "free") is None
    assert lim.try_acquire("alice", "free") is None
    refused = lim.try_acquire("alice", "free")
    assert refused is not None and "limits.per_user" in refused and "alice" in refused
    assert lim.try_acquire("bob", "free") is None  # other users are unaffected
    lim.release("alice", "free")
    assert lim.try_acquire("alice", "free") is None


def test_global_limit(tmp_path: Path) -> None:
    lim = ConnectionLimiter.from_config(_config(tmp_path, {"max_connections": 2, "per_user": 0}))
    assert lim.try_acquire("a", "free") is None
    assert lim.try_acquire("b", "free") is None
    refused = lim.try_acquire("c", "free")
    assert refused is not None and "too many connections" in refused
    assert lim.total == 2


def test_target_cap(tmp_path: Path) -> None:
    lim = ConnectionLimiter.from_config(_config(tmp_path, {}, cap=1))
    assert lim.try_acquire("a", "db") is None
    refused = lim.try_acquire("b", "db")
    assert refused is not None and "targets.db.max_connections" in refused
    assert lim.try_acquire("b", "free") is None  # uncapped target


def test_release_forgets_idle_users_and_rejects_double_release() -> None:
    lim = ConnectionLimiter(Limits())
    assert lim.try_acquire("a", "t") is None
    lim.release("a", "t")
    assert (lim.total, dict(lim.by_user), dict(lim.by_target)) == (0, {}, {})
    with pytest.raises(RuntimeError):
        lim.release("a", "t")


def test_slot_context_manager_raises_with_reason() -> None:
    lim = ConnectionLimiter(Limits(max_connections=0, per_user=1))
    with lim.slot("a", "t"):
        assert lim.total == 1
        with pytest.raises(LimitExceeded) as err, lim.slot("a", "t"):
            pass
        assert err.value.reason == "limit-user"
    assert lim.total == 0


def test_reconfigure_keeps_open_counts(tmp_path: Path) -> None:
    lim = ConnectionLimiter.from_config(_config(tmp_path, {"per_user": 5}))
    for _ in range(3):
        assert lim.try_acquire("a", "db") is None
    lim.reconfigure(_config(tmp_path, {"per_user": 2}, cap=10))
    assert lim.by_user["a"] == 3
    assert lim.try_acquire("a", "db") is not None  # new limit applies to new connections
    lim.release("a", "db")
    lim.release("a", "db")
    assert lim.try_acquire("a", "db") is None

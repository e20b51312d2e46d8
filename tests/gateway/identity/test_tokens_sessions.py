"""Token text and TTLs; the session registry and the revocation poller (real SQLite)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.identity.sessions import SessionRegistry, watch_revocations
from gateway.identity.tokens import create_token, parse_token, parse_ttl, user_salt
from gateway.store.sqlite import SqliteStore


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = SqliteStore(tmp_path / "airlock.db")
    await s.open()
    yield s
    await s.close()


def test_parse_ttl() -> None:
    assert parse_ttl("90s") == 90 and parse_ttl("30m") == 1800
    assert parse_ttl("24h") == 86400 and parse_ttl("7d") == 7 * 86400 and parse_ttl("5") == 5
    for bad in ("", "0h", "-1h", "1w", "h"):
        with pytest.raises(ValueError, match="invalid TTL"):
            parse_ttl(bad)


def test_parse_token_shape() -> None:
    good = "alk_0123456789abcdef_" + "A" * 43
    assert parse_token(good) == "0123456789abcdef"
    assert parse_token(good + "x") is None
    assert parse_token("alk_0123456789ABCDEF_" + "A" * 43) is None
    assert parse_token("my password") is None


async def test_created_tokens_are_unique_and_parse(store: SqliteStore) -> None:
    salt = await user_salt(store, "robot", None)
    (r1, t1), (r2, t2) = [await create_token(store, "robot", 60, "n", salt) for _ in range(2)]
    assert r1.id != r2.id and t1 != t2
    assert parse_token(t1) == r1.id
    assert r1.expires_at is not None and r1.expires_at - r1.created_at == pytest.approx(60)
    assert {r.id for r in await store.tokens_for("robot")} == {r1.id, r2.id}


def test_registry_revoke_ends_only_that_tokens_sessions() -> None:
    reg = SessionRegistry()
    closed: list[tuple[str, str]] = []
    reg.register("s1", "t1", lambda why: closed.append(("s1", why)))
    reg.register("s2", "t1", lambda why: closed.append(("s2", why)))
    forget = reg.register("s3", "t2", lambda why: closed.append(("s3", why)))
    assert reg.revoke("t1") == 2
    assert sorted(s for s, _ in closed) == ["s1", "s2"]
    assert closed[0][1] == "airlock: token revoked"
    forget()  # the session ended on its own
    assert reg.revoke("t2") == 0 and reg.token_ids() == set()


def test_a_failing_close_does_not_stop_the_others() -> None:
    reg = SessionRegistry()
    closed: list[str] = []

    def boom(why: str) -> None:
        raise RuntimeError("broken transport")

    reg.register("s1", "t1", boom)
    reg.register("s2", "t1", closed.append)
    assert reg.revoke("t1") == 2 and closed == ["airlock: token revoked"]


async def test_sweep_ends_revoked_and_expired(store: SqliteStore) -> None:
    salt = await user_salt(store, "robot", None)
    live, _ = await create_token(store, "robot", 3600, "", salt)
    revoked, _ = await create_token(store, "robot", 3600, "", salt)
    expiring, _ = await create_token(store, "robot", 10, "", salt)
    reg = SessionRegistry()
    closed: dict[str, str] = {}
    for row in (live, revoked, expiring):
        reg.register(f"s-{row.id}", row.id, lambda why, i=row.id: closed.__setitem__(i, why))
    reg.register("s-ghost", "deadbeefdeadbeef", lambda why: closed.__setitem__("ghost", why))
    await store.revoke_token(revoked.id, time.time())
    assert await reg.sweep(store) == 2  # the revoked one and one whose token is gone
    assert closed == {revoked.id: "airlock: token revoked", "ghost": "airlock: token revoked"}
    assert await reg.sweep(store, now=time.time() + 11) == 1
    assert closed[expiring.id] == "airlock: token expired"
    assert reg.token_ids() == {live.id}


async def test_watcher_notices_a_revoke_from_another_process(store: SqliteStore) -> None:
    salt = await user_salt(store, "robot", None)
    row, _ = await create_token(store, "robot", 3600, "", salt)
    reg = SessionRegistry()
    ended: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    reg.register("s1", row.id, ended.set_result)
    watcher = asyncio.create_task(watch_revocations(store, reg, 0.05))
    try:
        # A second store connection stands in for the CLI process.
        other = SqliteStore(store.path)
        await other.open()
        await other.revoke_token(row.id, time.time())
        await other.close()
        assert await asyncio.wait_for(ended, 5) == "airlock: token revoked"
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher

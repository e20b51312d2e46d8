"""The Store contract, run against both the embedded SQLite store and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gateway.store.base import SessionRow, Store, TokenRow


def _session(id_: str, user: str = "alice", target: str = "main", at: float = 100.0) -> SessionRow:
    return SessionRow(
        id=id_, protocol="postgres", user=user, groups=("dev", "ops"), target=target,
        client_addr="127.0.0.1:5000", agent="psql", node="n1", started_at=at, ended_at=None,
        bytes_in=0, bytes_out=0, statements=0, head_seq=0, head_hash="", token_id=None,
    )  # fmt: skip


def _token(id_: str, user: str = "alice", at: float = 1.0) -> TokenRow:
    return TokenRow(id_, user, f"name-{id_}", "SCRAM-SHA-256$x", at, None, None)


async def test_session_roundtrip(store: Store) -> None:
    row = _session("s1")
    await store.session_started(row)
    assert await store.get_session("s1") == row
    assert await store.get_session("nope") is None


async def test_session_ended_and_head(store: Store) -> None:
    await store.session_started(_session("s1"))
    await store.set_head("s1", 7, "abc")
    await store.session_ended("s1", 200.5, 10, 2**40, 3)
    got = await store.get_session("s1")
    assert got is not None
    assert (got.ended_at, got.bytes_in, got.bytes_out, got.statements) == (200.5, 10, 2**40, 3)
    assert (got.head_seq, got.head_hash) == (7, "abc")
    assert await store.session_heads() == {"s1": (7, "abc")}


async def test_session_token_id_and_empty_groups(store: Store) -> None:
    row = SessionRow(
        "s2", "ssh", "bob", (), "box", "::1", "", "n2", 1.0, None, 0, 0, 0, 0, "", "tok-1"
    )
    await store.session_started(row)
    assert await store.get_session("s2") == row


async def test_duplicate_session_rejected(store: Store) -> None:
    await store.session_started(_session("s1"))
    with pytest.raises(Exception):  # noqa: B017 - each engine raises its own integrity error
        await store.session_started(_session("s1"))


async def test_list_sessions_filters_and_order(store: Store) -> None:
    await store.session_started(_session("c", user="bob", at=300.0))
    await store.session_started(_session("a", user="alice", at=100.0))
    await store.session_started(_session("b", user="alice", target="app", at=200.0))
    assert [s.id for s in await store.list_sessions()] == ["a", "b", "c"]
    assert [s.id for s in await store.list_sessions(user="alice")] == ["a", "b"]
    assert [s.id for s in await store.list_sessions(target="main")] == ["a", "c"]
    assert [s.id for s in await store.list_sessions(since=200.0)] == ["b", "c"]
    assert [s.id for s in await store.list_sessions("alice", "app", 150.0)] == ["b"]
    assert await store.list_sessions(user="nobody") == []


async def test_tokens(store: Store) -> None:
    await store.add_token(_token("t2", at=2.0))
    await store.add_token(_token("t1", at=1.0))
    await store.add_token(_token("t3", user="bob", at=3.0))
    assert [t.id for t in await store.list_tokens()] == ["t1", "t2", "t3"]
    assert {t.id for t in await store.tokens_for("alice")} == {"t1", "t2"}
    assert await store.tokens_for("carol") == []
    assert await store.revoke_token("t1", 9.0) is True
    assert await store.revoke_token("t1", 10.0) is False  # already revoked: first time kept
    assert await store.revoke_token("missing", 10.0) is False
    t1 = next(t for t in await store.tokens_for("alice") if t.id == "t1")
    assert t1 == TokenRow("t1", "alice", "name-t1", "SCRAM-SHA-256$x", 1.0, None, 9.0)


async def test_docs_put_get_list(store: Store) -> None:
    doc: dict[str, Any] = {"state": "pending", "n": 1, "nested": {"a": [1, 2.5, None]}, "u": "é"}
    await store.put("request", "b", doc)
    await store.put("request", "a", {"state": "x"})
    await store.put("other", "a", {"state": "y"})
    assert await store.get("request", "b") == doc
    assert await store.get("request", "zz") is None
    assert await store.list("request") == [{"state": "x"}, doc]  # ordered by key
    await store.put("request", "a", {"state": "replaced"})
    assert await store.get("request", "a") == {"state": "replaced"}
    assert await store.list("nothing") == []


async def test_list_orders_keys_bytewise(store: Store) -> None:
    for key in ("b", "B", "a", "_"):
        await store.put("k", key, {"k": key})
    assert [d["k"] for d in await store.list("k")] == ["B", "_", "a", "b"]


async def test_update_if(store: Store) -> None:
    await store.put("request", "r1", {"state": "pending", "votes": 0})
    assert await store.update_if("request", "r1", {"state": "approved"}, {"state": "x"}) is False
    assert await store.get("request", "r1") == {"state": "pending", "votes": 0}
    ok = await store.update_if(
        "request", "r1", {"state": "pending", "votes": 0}, {"state": "approved", "votes": 1}
    )
    assert ok is True
    assert await store.get("request", "r1") == {"state": "approved", "votes": 1}
    assert await store.update_if("request", "missing", {}, {"state": "x"}) is False


async def test_update_if_missing_field_matches_none(store: Store) -> None:
    await store.put("request", "r1", {"state": "pending"})
    assert await store.update_if("request", "r1", {"decided_by": None}, {"decided_by": "bob"})
    assert not await store.update_if("request", "r1", {"decided_by": None}, {"decided_by": "eve"})
    assert await store.get("request", "r1") == {"decided_by": "bob"}


async def test_update_if_concurrent_single_winner(store: Store) -> None:
    await store.put("request", "r1", {"state": "pending"})

    async def decide(who: str) -> bool:
        return await store.update_if(
            "request", "r1", {"state": "pending"}, {"state": "decided", "by": who}
        )

    results = await asyncio.gather(*(decide(f"u{i}") for i in range(20)))
    assert results.count(True) == 1
    winner = f"u{results.index(True)}"
    assert await store.get("request", "r1") == {"state": "decided", "by": winner}


async def test_pubsub_delivers_to_subscribers(store: Store) -> None:
    got: list[str] = []
    other: list[str] = []
    done = asyncio.Event()

    def on_decision(payload: str) -> None:
        got.append(payload)
        if len(got) == 2:
            done.set()

    def broken(_payload: str) -> None:
        raise RuntimeError("a failing subscriber must not stop the others")

    await store.subscribe("airlock_decisions", broken)
    await store.subscribe("airlock_decisions", on_decision)
    await store.subscribe("airlock_other", other.append)
    await store.publish("airlock_decisions", "req-1")
    await store.publish("airlock_decisions", "req-2")
    await asyncio.wait_for(done.wait(), 5)
    assert got == ["req-1", "req-2"]
    assert other == []


async def test_unsubscribe_stops_delivery(store: Store) -> None:
    first: list[str] = []
    second: list[str] = []
    second_done = asyncio.Event()

    def on_second(payload: str) -> None:
        second.append(payload)
        second_done.set()

    await store.subscribe("ch", first.append)
    await store.subscribe("ch2", on_second)
    await store.unsubscribe("ch", first.append)
    await store.publish("ch", "lost")
    # NOTIFYs from one session arrive in order: once ch2's arrives, ch's would have too.
    await store.publish("ch2", "seen")
    await asyncio.wait_for(second_done.wait(), 5)
    assert first == []
    assert second == ["seen"]

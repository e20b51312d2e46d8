"""The shared store: PostgreSQL through an asyncpg pool, for several Airlock nodes.

Same semantics as the embedded SQLite store (gateway/store/sqlite.py), plus LISTEN/NOTIFY so
an approval decided through one node releases a session held on another. Migrations are
the numbered ``migrations/NNN_*.sql`` files, applied once each under an advisory lock so
nodes starting together do not race.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Mapping
from importlib import resources
from typing import Any

import asyncpg

from gateway.store.base import SessionRow, Store, TokenRow
from gateway.store.pubsub import Callback, deliver

log = logging.getLogger("airlock.store")

#: pg_advisory_xact_lock key held while migrating ("Airlock" in ASCII).
MIGRATION_LOCK = 0x4169726C6F636B
#: Payload delivered to every subscriber after the LISTEN connection came back: notifications
#: sent while it was down are lost, so subscribers should re-check what they wait for.
RESYNC = "*"

_SESSION_COLS = (
    'id, protocol, "user", "groups", target, client_addr, agent, node, started_at, ended_at, '
    "bytes_in, bytes_out, statements, head_seq, head_hash, token_id"
)
_TOKEN_COLS = 'id, "user", name, hash, created_at, expires_at, revoked_at'  # noqa: S105
_MIGRATION_NAME = re.compile(r"^(\d+)_[\w-]+\.sql$")


def migrations() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) for every shipped migration, in order."""
    found = []
    for entry in resources.files("gateway.store.migrations").iterdir():
        m = _MIGRATION_NAME.match(entry.name)
        if m:
            found.append((int(m.group(1)), entry.name, entry.read_text()))
    found.sort()
    versions = [v for v, _, _ in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration versions: {versions}")
    return found


async def migrate(conn: Any) -> int:
    """Bring the schema up to date; returns the version now in place. Idempotent.

    One transaction holds a transaction-scoped advisory lock, so a second node starting at
    the same moment waits, then finds the work done. DDL is transactional in PostgreSQL: a
    failing migration leaves the previous version intact.
    """
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS airlock_schema_version ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        current = int(
            await conn.fetchval("SELECT coalesce(max(version), 0) FROM airlock_schema_version")
        )
        known = migrations()
        for version, name, sql in known:
            if version > current:
                await conn.execute(sql)
                await conn.execute(
                    "INSERT INTO airlock_schema_version (version, name) VALUES ($1, $2)",
                    version,
                    name,
                )
                log.info("store: applied migration %s", name)
                current = version
        newest = known[-1][0] if known else 0
        if current > newest:
            log.warning(
                "store: schema version %s is newer than this node knows (%s)", current, newest
            )
        return current


def _session(r: Any) -> SessionRow:
    return SessionRow(
        r["id"], r["protocol"], r["user"], tuple(r["groups"]), r["target"], r["client_addr"],
        r["agent"], r["node"], r["started_at"], r["ended_at"], r["bytes_in"], r["bytes_out"],
        r["statements"], r["head_seq"], r["head_hash"], r["token_id"],
    )  # fmt: skip


def _token(r: Any) -> TokenRow:
    return TokenRow(
        r["id"], r["user"], r["name"], r["hash"], r["created_at"], r["expires_at"],
        r["revoked_at"],
    )  # fmt: skip


def _count(status: str) -> int:
    """Rows affected, from a command tag such as ``UPDATE 1``."""
    return int(status.rsplit(" ", 1)[-1])


class PostgresStore(Store):
    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10) -> None:
        self.url = url
        self.min_size = min_size
        self.max_size = max_size
        self._pool: Any = None
        self._listen_conn: Any = None
        self._channels: dict[str, list[Callback]] = {}
        self._reconnect: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def pool(self) -> Any:
        if self._pool is None:
            raise RuntimeError("store is not open")
        return self._pool

    async def open(self) -> None:
        self._closing = False
        self._pool = await asyncpg.create_pool(
            self.url, min_size=self.min_size, max_size=self.max_size
        )
        async with self._pool.acquire() as conn:
            await migrate(conn)

    async def close(self) -> None:
        self._closing = True
        if self._reconnect is not None:
            self._reconnect.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconnect
            self._reconnect = None
        if self._listen_conn is not None:
            conn, self._listen_conn = self._listen_conn, None
            with contextlib.suppress(Exception):
                await conn.close(timeout=5)
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def schema_version(self) -> int:
        return int(
            await self.pool.fetchval("SELECT coalesce(max(version), 0) FROM airlock_schema_version")
        )

    # -- sessions -----------------------------------------------------------------------
    async def session_started(self, row: SessionRow) -> None:
        await self.pool.execute(
            f"INSERT INTO sessions ({_SESSION_COLS}) VALUES "
            "($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)",
            row.id, row.protocol, row.user, list(row.groups), row.target, row.client_addr,
            row.agent, row.node, row.started_at, row.ended_at, row.bytes_in, row.bytes_out,
            row.statements, row.head_seq, row.head_hash, row.token_id,
        )  # fmt: skip

    async def session_ended(
        self, session_id: str, ended_at: float, bytes_in: int, bytes_out: int, statements: int
    ) -> None:
        await self.pool.execute(
            "UPDATE sessions SET ended_at=$1, bytes_in=$2, bytes_out=$3, statements=$4 WHERE id=$5",
            ended_at,
            bytes_in,
            bytes_out,
            statements,
            session_id,
        )

    async def set_head(self, session_id: str, seq: int, hash_: str) -> None:
        await self.pool.execute(
            "UPDATE sessions SET head_seq=$1, head_hash=$2 WHERE id=$3", seq, hash_, session_id
        )

    async def list_sessions(
        self, user: str | None = None, target: str | None = None, since: float | None = None
    ) -> list[SessionRow]:
        where, args = ["true"], []
        for column, value in (('"user"', user), ("target", target), ("started_at", since)):
            if value is not None:
                args.append(value)
                op = ">=" if column == "started_at" else "="
                where.append(f"{column} {op} ${len(args)}")
        rows = await self.pool.fetch(
            f"SELECT {_SESSION_COLS} FROM sessions WHERE {' AND '.join(where)} ORDER BY started_at",
            *args,
        )
        return [_session(r) for r in rows]

    async def get_session(self, session_id: str) -> SessionRow | None:
        row = await self.pool.fetchrow(
            f"SELECT {_SESSION_COLS} FROM sessions WHERE id = $1", session_id
        )
        return _session(row) if row is not None else None

    async def session_heads(self) -> dict[str, tuple[int, str]]:
        rows = await self.pool.fetch("SELECT id, head_seq, head_hash FROM sessions")
        return {r["id"]: (r["head_seq"], r["head_hash"]) for r in rows}

    # -- tokens -------------------------------------------------------------------------
    async def add_token(self, row: TokenRow) -> None:
        await self.pool.execute(
            f"INSERT INTO tokens ({_TOKEN_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7)",
            row.id, row.user, row.name, row.hash, row.created_at, row.expires_at, row.revoked_at,
        )  # fmt: skip

    async def tokens_for(self, user: str) -> list[TokenRow]:
        rows = await self.pool.fetch(f'SELECT {_TOKEN_COLS} FROM tokens WHERE "user" = $1', user)
        return [_token(r) for r in rows]

    async def list_tokens(self) -> list[TokenRow]:
        rows = await self.pool.fetch(f"SELECT {_TOKEN_COLS} FROM tokens ORDER BY created_at")
        return [_token(r) for r in rows]

    async def revoke_token(self, token_id: str, at: float) -> bool:
        status = await self.pool.execute(
            "UPDATE tokens SET revoked_at=$1 WHERE id=$2 AND revoked_at IS NULL", at, token_id
        )
        return _count(status) == 1

    # -- documents ----------------------------------------------------------------------
    async def put(self, kind: str, key: str, doc: Mapping[str, Any]) -> None:
        await self.pool.execute(
            "INSERT INTO docs (kind, key, doc) VALUES ($1, $2, $3::jsonb) "
            "ON CONFLICT (kind, key) DO UPDATE SET doc = excluded.doc",
            kind,
            key,
            json.dumps(doc, sort_keys=True),
        )

    async def get(self, kind: str, key: str) -> dict[str, Any] | None:
        text = await self.pool.fetchval(
            "SELECT doc::text FROM docs WHERE kind=$1 AND key=$2", kind, key
        )
        return json.loads(text) if text is not None else None  # type: ignore[no-any-return]

    async def list(self, kind: str) -> list[dict[str, Any]]:
        # COLLATE "C": byte order, the same order SQLite's default BINARY collation gives.
        rows = await self.pool.fetch(
            'SELECT doc::text AS doc FROM docs WHERE kind=$1 ORDER BY key COLLATE "C"', kind
        )
        return [json.loads(r["doc"]) for r in rows]

    async def update_if(
        self, kind: str, key: str, expect: Mapping[str, Any], doc: Mapping[str, Any]
    ) -> bool:
        # Compare in Python under a row lock (not jsonb @>) so "matches" means exactly what it
        # means in SqliteStore: current.get(k) == v, where a missing field equals None.
        async with self.pool.acquire() as conn, conn.transaction():
            text = await conn.fetchval(
                "SELECT doc::text FROM docs WHERE kind=$1 AND key=$2 FOR UPDATE", kind, key
            )
            if text is None:
                return False
            current = json.loads(text)
            if any(current.get(k) != v for k, v in expect.items()):
                return False
            await conn.execute(
                "UPDATE docs SET doc=$3::jsonb WHERE kind=$1 AND key=$2",
                kind,
                key,
                json.dumps(doc, sort_keys=True),
            )
            return True

    # -- LISTEN / NOTIFY ----------------------------------------------------------------
    async def publish(self, channel: str, payload: str) -> None:
        """Deliver ``payload`` to every subscriber of ``channel`` on every node (this one
        included), once the notifying statement commits (it runs in autocommit)."""
        await self.pool.execute("SELECT pg_notify($1, $2)", channel, payload)

    async def subscribe(self, channel: str, callback: Callback) -> None:
        """Call ``callback(payload)`` in the event loop for each notification on ``channel``.

        After the LISTEN connection is lost and re-established, every subscriber receives
        ``RESYNC`` because notifications sent meanwhile were lost.
        """
        callbacks = self._channels.setdefault(channel, [])
        callbacks.append(callback)
        if len(callbacks) == 1:
            conn = await self._listener()
            await conn.add_listener(channel, self._on_notify)

    async def unsubscribe(self, channel: str, callback: Callback) -> None:
        callbacks = self._channels.get(channel, [])
        if callback in callbacks:
            callbacks.remove(callback)
        if not callbacks and channel in self._channels:
            del self._channels[channel]
            if self._listen_conn is not None and not self._listen_conn.is_closed():
                await self._listen_conn.remove_listener(channel, self._on_notify)

    async def _listener(self) -> Any:
        if self._listen_conn is None or self._listen_conn.is_closed():
            # A dedicated connection outside the pool: LISTEN belongs to one backend.
            conn = await asyncpg.connect(self.url)
            conn.add_termination_listener(self._on_terminated)
            self._listen_conn = conn
        return self._listen_conn

    def _on_notify(self, _conn: Any, _pid: int, channel: str, payload: str) -> None:
        for callback in list(self._channels.get(channel, ())):
            deliver(callback, channel, payload)

    def _on_terminated(self, conn: Any) -> None:
        if self._closing or conn is not self._listen_conn:
            return
        log.warning("store: LISTEN connection lost; reconnecting")
        self._listen_conn = None
        if self._reconnect is None or self._reconnect.done():
            self._reconnect = asyncio.get_running_loop().create_task(self._relisten())

    async def _relisten(self) -> None:
        delay = 0.05
        while not self._closing:
            try:
                conn = await self._listener()
                for channel in list(self._channels):
                    await conn.add_listener(channel, self._on_notify)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("store: LISTEN reconnect failed (%s); retrying in %.1fs", exc, delay)
                self._listen_conn = None
                await asyncio.sleep(delay)  # backoff between attempts, not synchronisation
                delay = min(delay * 2, 5.0)
                continue
            log.info("store: LISTEN connection restored")
            for channel, callbacks in list(self._channels.items()):
                for callback in list(callbacks):
                    deliver(callback, channel, RESYNC)
            return

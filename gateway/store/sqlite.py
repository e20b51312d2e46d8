"""The embedded store: SQLite in WAL mode, driven from one worker thread.

One thread owns the connection so the event loop never blocks on disk and SQLite never
sees concurrent use of a connection.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from gateway.files import create_private, tighten
from gateway.store.base import SessionRow, Store, TokenRow
from gateway.store.pubsub import LocalPubSub

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, protocol TEXT NOT NULL, user TEXT NOT NULL, groups TEXT NOT NULL,
    target TEXT NOT NULL, client_addr TEXT NOT NULL, agent TEXT NOT NULL, node TEXT NOT NULL,
    started_at REAL NOT NULL, ended_at REAL, bytes_in INTEGER NOT NULL DEFAULT 0,
    bytes_out INTEGER NOT NULL DEFAULT 0, statements INTEGER NOT NULL DEFAULT 0,
    head_seq INTEGER NOT NULL DEFAULT 0, head_hash TEXT NOT NULL DEFAULT '', token_id TEXT
);
CREATE INDEX IF NOT EXISTS sessions_started ON sessions (started_at);
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY, user TEXT NOT NULL, name TEXT NOT NULL, hash TEXT NOT NULL,
    created_at REAL NOT NULL, expires_at REAL, revoked_at REAL
);
CREATE TABLE IF NOT EXISTS docs (
    kind TEXT NOT NULL, key TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (kind, key)
);
"""

_SESSION_COLS = (
    "id, protocol, user, groups, target, client_addr, agent, node, started_at, ended_at, "
    "bytes_in, bytes_out, statements, head_seq, head_hash, token_id"
)


def _session(row: tuple[Any, ...]) -> SessionRow:
    values = list(row)
    values[3] = tuple(json.loads(values[3]))
    return SessionRow(*values)


class SqliteStore(LocalPubSub, Store):
    def __init__(self, path: Path) -> None:
        self.path = path
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="airlock-sqlite")
        self._db: sqlite3.Connection | None = None

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._call, fn)

    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        assert self._db is not None, "store is not open"
        with self._db:
            return fn(self._db)

    async def open(self) -> None:
        def connect() -> None:
            # Created 0600 before SQLite opens it: SQLite would create it 0644 (less the
            # umask), and gives -wal/-shm the database file's mode.
            create_private(self.path)
            for path in (self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-shm")):
                tighten(path)  # left readable by an older version
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=5000")
            db.executescript(SCHEMA)
            db.isolation_level = "DEFERRED"  # `with db:` opens and commits a transaction
            self._db = db

        await asyncio.get_running_loop().run_in_executor(self._pool, connect)

    async def close(self) -> None:
        if self._db is not None:
            db = self._db
            await asyncio.get_running_loop().run_in_executor(self._pool, db.close)
            self._db = None
        self._pool.shutdown(wait=True)

    async def session_started(self, row: SessionRow) -> None:
        values = (
            row.id, row.protocol, row.user, json.dumps(list(row.groups)), row.target,
            row.client_addr, row.agent, row.node, row.started_at, row.ended_at, row.bytes_in,
            row.bytes_out, row.statements, row.head_seq, row.head_hash, row.token_id,
        )  # fmt: skip
        await self._run(
            lambda db: db.execute(
                f"INSERT INTO sessions ({_SESSION_COLS}) VALUES ({','.join('?' * 16)})", values
            )
        )

    async def session_ended(
        self, session_id: str, ended_at: float, bytes_in: int, bytes_out: int, statements: int
    ) -> None:
        await self._run(
            lambda db: db.execute(
                "UPDATE sessions SET ended_at=?, bytes_in=?, bytes_out=?, statements=? WHERE id=?",
                (ended_at, bytes_in, bytes_out, statements, session_id),
            )
        )

    async def set_head(self, session_id: str, seq: int, hash_: str) -> None:
        await self._run(
            lambda db: db.execute(
                "UPDATE sessions SET head_seq=?, head_hash=? WHERE id=?", (seq, hash_, session_id)
            )
        )

    async def list_sessions(
        self, user: str | None = None, target: str | None = None, since: float | None = None
    ) -> list[SessionRow]:
        where: list[str] = ["1=1"]
        args: list[object] = []
        for column, value in (("user", user), ("target", target)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if since is not None:
            where.append("started_at >= ?")
            args.append(since)
        sql = (
            f"SELECT {_SESSION_COLS} FROM sessions WHERE {' AND '.join(where)} ORDER BY started_at"
        )
        rows = await self._run(lambda db: db.execute(sql, args).fetchall())
        return [_session(r) for r in rows]

    async def get_session(self, session_id: str) -> SessionRow | None:
        rows = await self._run(
            lambda db: db.execute(
                f"SELECT {_SESSION_COLS} FROM sessions WHERE id = ?", (session_id,)
            ).fetchall()
        )
        return _session(rows[0]) if rows else None

    async def session_heads(self) -> dict[str, tuple[int, str]]:
        rows = await self._run(
            lambda db: db.execute("SELECT id, head_seq, head_hash FROM sessions").fetchall()
        )
        return {r[0]: (r[1], r[2]) for r in rows}

    async def add_token(self, row: TokenRow) -> None:
        await self._run(
            lambda db: db.execute(
                "INSERT INTO tokens VALUES (?,?,?,?,?,?,?)",
                (
                    row.id,
                    row.user,
                    row.name,
                    row.hash,
                    row.created_at,
                    row.expires_at,
                    row.revoked_at,
                ),
            )
        )

    async def tokens_for(self, user: str) -> list[TokenRow]:
        rows = await self._run(
            lambda db: db.execute("SELECT * FROM tokens WHERE user = ?", (user,)).fetchall()
        )
        return [TokenRow(*r) for r in rows]

    async def list_tokens(self) -> list[TokenRow]:
        rows = await self._run(
            lambda db: db.execute("SELECT * FROM tokens ORDER BY created_at").fetchall()
        )
        return [TokenRow(*r) for r in rows]

    async def revoke_token(self, token_id: str, at: float) -> bool:
        cur = await self._run(
            lambda db: db.execute(
                "UPDATE tokens SET revoked_at=? WHERE id=? AND revoked_at IS NULL", (at, token_id)
            )
        )
        return cur.rowcount == 1

    async def put(self, kind: str, key: str, doc: Mapping[str, Any]) -> None:
        text = json.dumps(doc, sort_keys=True)
        await self._run(
            lambda db: db.execute(
                "INSERT INTO docs VALUES (?,?,?) "
                "ON CONFLICT (kind, key) DO UPDATE SET doc=excluded.doc",
                (kind, key, text),
            )
        )

    async def get(self, kind: str, key: str) -> dict[str, Any] | None:
        rows = await self._run(
            lambda db: db.execute(
                "SELECT doc FROM docs WHERE kind=? AND key=?", (kind, key)
            ).fetchall()
        )
        return json.loads(rows[0][0]) if rows else None  # type: ignore[no-any-return]

    async def list(self, kind: str) -> list[dict[str, Any]]:
        rows = await self._run(
            lambda db: db.execute(
                "SELECT doc FROM docs WHERE kind=? ORDER BY key", (kind,)
            ).fetchall()
        )
        return [json.loads(r[0]) for r in rows]

    async def update_if(
        self, kind: str, key: str, expect: Mapping[str, Any], doc: Mapping[str, Any]
    ) -> bool:
        def swap(db: sqlite3.Connection) -> bool:
            rows = db.execute("SELECT doc FROM docs WHERE kind=? AND key=?", (kind, key)).fetchall()
            if not rows:
                return False
            current = json.loads(rows[0][0])
            if any(current.get(k) != v for k, v in expect.items()):
                return False
            db.execute(
                "UPDATE docs SET doc=? WHERE kind=? AND key=?",
                (json.dumps(doc, sort_keys=True), kind, key),
            )
            return True

        return await self._run(swap)


def open_store(url: str, path: Path) -> Store:
    if url == "sqlite":
        return SqliteStore(path)
    from gateway.store.postgres import PostgresStore  # type: ignore[import-not-found]

    return PostgresStore(url)  # type: ignore[no-any-return]

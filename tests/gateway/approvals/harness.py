"""Shared pieces for approvals tests: a config with approvers, a real SQLite store, a real
transcript writer per session, and a held review running as a task."""

from __future__ import annotations

import asyncio
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.approvals.broker import Broker
from gateway.approvals.config import parse_approvals
from gateway.checkpoint import SessionContext
from gateway.config import Config, parse_config
from gateway.identity.passwords import make_verifier
from gateway.model import (
    Action,
    ActionKind,
    Decision,
    Identity,
    Outcome,
    ReviewMode,
    Session,
    Verdict,
    WireProtocol,
)
from gateway.recording import Recorder
from gateway.recording.reader import read_events
from gateway.store.sqlite import SqliteStore
from protocols.classification import Category, Classification

PASSWORDS = {
    "agent": "agent-pw",
    "alice": "alice-pw",
    "alice-bot": "alice-bot-pw",
    "bob": "bob-pw",
    "carol": "carol-pw",
    "dave": "dave-pw",
}
GROUPS = {"agent": ["dev"], "alice": ["admins"], "alice-bot": ["dev"], "bob": ["admins"],
          "carol": ["dba"], "dave": ["admins"]}  # fmt: skip
PERSONS = {"alice-bot": "alice"}  # an agent account run by alice: the same person
_HASHES = {n: str(make_verifier(p, iterations=4096)) for n, p in PASSWORDS.items()}
_ids = itertools.count(1)

GRANT = Classification(
    ("GrantStmt",),
    frozenset({Category.PRIVILEGE}),
    ("table:public.t",),
    ("GRANT changes privileges",),
)


def config_dict(state: Path, **approvals: Any) -> dict[str, Any]:
    return {
        "gateway": {"node": "n1", "state_dir": str(state)},
        "postgres": {"listen": "off"},
        "ssh": {"listen": "off"},
        "http": {"listen": "127.0.0.1:0", "public_url": "http://127.0.0.1:9"},
        "users": {
            n: {"password_hash": _HASHES[n], "groups": GROUPS[n], "person": PERSONS.get(n, "")}
            for n in PASSWORDS
        },
        "approvals": approvals,
    }


def make_config(state: Path, **approvals: Any) -> Config:
    return parse_config(config_dict(state, **approvals))


def identity(user: str) -> Identity:
    return Identity(user, frozenset(GROUPS[user]), person=PERSONS.get(user, ""))


def verdict(
    mode: ReviewMode = ReviewMode.HOLD,
    quorum: int = 1,
    timeout_s: float = 60.0,
    approvers: frozenset[str] = frozenset(),
) -> Verdict:
    return Verdict(Decision.REVIEW, "review-privilege", "privilege needs review", approvers,
                   quorum, timeout_s, mode)  # fmt: skip


def grant_action(text: str = "GRANT SELECT ON t TO PUBLIC") -> Action:
    return Action(ActionKind.QUERY, text.encode() + b"\0", text)


@dataclass
class Client:
    """One session's context with a real transcript and the notices it was sent."""

    ctx: SessionContext
    path: Path
    notices: asyncio.Queue[str] = field(default_factory=asyncio.Queue)

    async def next_request_id(self) -> str:
        text = await asyncio.wait_for(self.notices.get(), 10)
        found = re.search(r"request ([0-9a-f]{16})", text)
        assert found, text
        return found.group(1)

    def events(self, kind: str = "approval") -> list[dict[str, Any]]:
        return [e for e in read_events(self.path) if e.get("type", e.get("t")) == kind]


@dataclass
class Env:
    store: SqliteStore
    broker: Broker
    recorder: Recorder
    config: Config

    def client(self, user: str = "alice-bot", target: str = "main", session_id: str = "") -> Client:
        sid = session_id or f"s{next(_ids)}"
        writer = self.recorder.open(sid, user=user, target=target)
        session = Session(sid, WireProtocol.POSTGRES, identity(user), target, "127.0.0.1:40000",
                          agent="psql", reason="rotate keys", node="n1")  # fmt: skip
        client = Client(SessionContext(session, recorder=writer), writer.path)

        async def notify(text: str) -> None:
            client.notices.put_nowait(text)

        client.ctx.notify = notify
        return client

    def review(
        self,
        client: Client,
        v: Verdict | None = None,
        action: Action | None = None,
        c: Classification = GRANT,
    ) -> asyncio.Task[Outcome]:
        return asyncio.ensure_future(
            self.broker.review(client.ctx, action or grant_action(), c, v or verdict())
        )


async def make_env(tmp_path: Path, node: str = "n1", store: SqliteStore | None = None,
                   notifiers: list[Any] | None = None, **approvals: Any) -> Env:  # fmt: skip
    config = make_config(tmp_path, **approvals)
    if store is None:
        store = SqliteStore(tmp_path / f"airlock-{node}.db")
        await store.open()
    broker = Broker(store, parse_approvals(config.raw.get("approvals")), node=node,
                    public_url="https://airlock.example", notifiers=notifiers or [])  # fmt: skip
    recorder = Recorder(tmp_path / f"t-{node}", Ed25519PrivateKey.generate())
    return Env(store, broker, recorder, config)

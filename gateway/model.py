"""The values everything passes: who is connected, what they asked for, what was decided."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum

from protocols.classification import Classification


class WireProtocol(StrEnum):
    """Which front a session came through (not typing.Protocol)."""

    POSTGRES = "postgres"
    SSH = "ssh"


class ActionKind(StrEnum):
    """Where in a protocol an action came from; policy and transcripts show it."""

    QUERY = "query"  # Postgres simple Query
    PARSE = "parse"  # Postgres extended Parse
    FUNCTION_CALL = "function-call"  # Postgres fastpath
    EXECUTE = "execute"  # Postgres Execute of a statement whose Parse the relay did not vouch for
    EXEC = "exec"  # SSH exec request
    SHELL_LINE = "shell-line"  # a line submitted in an interactive shell
    SHELL_SESSION = "shell-session"  # opening an interactive shell at all
    SFTP = "sftp"
    FORWARD = "forward"


class Decision(StrEnum):
    ALLOW = "allow"
    DENY = "deny"
    REVIEW = "review"


class ReviewMode(StrEnum):
    HOLD = "hold"  # suspend the session with the exact bytes until a decision
    RETRY = "retry"  # fail now; an approved identical retry passes once


@dataclass(frozen=True, slots=True)
class Identity:
    """An authenticated person or agent. ``person`` ties accounts of one human together."""

    user: str
    groups: frozenset[str] = frozenset()
    source: str = "local"  # local | token | ldap
    person: str = ""
    token_id: str | None = None

    @property
    def person_key(self) -> str:
        return self.person or self.user


@dataclass(frozen=True, slots=True)
class Session:
    """One client connection through the gateway."""

    id: str
    protocol: WireProtocol
    identity: Identity
    target: str
    client_addr: str
    agent: str = ""  # application_name or SSH client version
    reason: str = ""  # the agent's stated reason (airlock.reason / AIRLOCK_REASON)
    tls: bool = False
    node: str = ""


@dataclass(frozen=True, slots=True)
class Action:
    """One thing a client asked for, as the exact bytes and as text for classification."""

    kind: ActionKind
    raw: bytes
    text: str
    classification: Classification | None = None  # set by relays that classify themselves

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()


@dataclass(frozen=True, slots=True)
class Verdict:
    """What policy decided for one action, and which rule decided it."""

    decision: Decision
    rule: str
    reason: str
    approvers: frozenset[str] = frozenset()  # users and "group:NAME"
    quorum: int = 1
    timeout_s: float = 600.0
    mode: ReviewMode = ReviewMode.HOLD


@dataclass(frozen=True, slots=True)
class Outcome:
    """The checkpoint's final answer to a relay: forward the bytes or refuse with a message."""

    allowed: bool
    classification: Classification
    verdict: Verdict
    message: str = ""  # shown to the client when refused (or a notice when allowed late)
    request_id: str | None = None
    sqlstate: str = "42501"
    #: The standard DETAIL and HINT fields (Postgres): what happened (starting with one of
    #: the stable prefixes of docs/approvals.md), and what the agent can do about it.
    detail: str = ""
    hint: str = ""
    #: 1-based character position of a syntax error in the statement (0: none).
    position: int = 0


#: A relay supplies this so the checkpoint can tell a waiting client what is going on.
Notify = Callable[[str], Awaitable[None]]


@dataclass(slots=True)
class SessionStats:
    """Mutable counters a relay keeps; written to the store when the session ends."""

    bytes_in: int = 0
    bytes_out: int = 0
    statements: int = 0
    extra: dict[str, int] = field(default_factory=dict)

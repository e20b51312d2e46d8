"""One store interface; SQLite (embedded default) and PostgreSQL implement it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.model import Session


@dataclass(frozen=True, slots=True)
class SessionRow:
    id: str
    protocol: str
    user: str
    groups: tuple[str, ...]
    target: str
    client_addr: str
    agent: str
    node: str
    started_at: float
    ended_at: float | None
    bytes_in: int
    bytes_out: int
    statements: int
    head_seq: int
    head_hash: str
    token_id: str | None = None

    @classmethod
    def opened(cls, session: Session, started: float) -> SessionRow:
        """The row a listener stores when a session starts (both protocols, one shape)."""
        return cls(
            id=session.id,
            protocol=session.protocol.value,
            user=session.identity.user,
            groups=tuple(sorted(session.identity.groups)),
            target=session.target,
            client_addr=session.client_addr,
            agent=session.agent,
            node=session.node,
            started_at=started,
            ended_at=None,
            bytes_in=0,
            bytes_out=0,
            statements=0,
            head_seq=0,
            head_hash="",
            token_id=session.identity.token_id,
        )


@dataclass(frozen=True, slots=True)
class TokenRow:
    id: str
    user: str
    name: str
    hash: str  # SCRAM verifier of the token secret (see gateway.identity.passwords)
    created_at: float
    expires_at: float | None
    revoked_at: float | None


class Store(ABC):
    """Async because the PostgreSQL store is; the SQLite one runs in a single thread."""

    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    # sessions
    @abstractmethod
    async def session_started(self, row: SessionRow) -> None: ...

    @abstractmethod
    async def session_ended(
        self, session_id: str, ended_at: float, bytes_in: int, bytes_out: int, statements: int
    ) -> None: ...

    @abstractmethod
    async def set_head(self, session_id: str, seq: int, hash_: str) -> None: ...

    @abstractmethod
    async def list_sessions(
        self, user: str | None = None, target: str | None = None, since: float | None = None
    ) -> list[SessionRow]: ...

    @abstractmethod
    async def get_session(self, session_id: str) -> SessionRow | None: ...

    @abstractmethod
    async def session_heads(self) -> dict[str, tuple[int, str]]: ...

    # tokens
    @abstractmethod
    async def add_token(self, row: TokenRow) -> None: ...

    @abstractmethod
    async def tokens_for(self, user: str) -> list[TokenRow]: ...

    @abstractmethod
    async def list_tokens(self) -> list[TokenRow]: ...

    @abstractmethod
    async def revoke_token(self, token_id: str, at: float) -> bool: ...

    # key-value documents (approval requests and the like), keyed by kind and id
    @abstractmethod
    async def put(self, kind: str, key: str, doc: Mapping[str, Any]) -> None: ...

    @abstractmethod
    async def get(self, kind: str, key: str) -> dict[str, Any] | None: ...

    @abstractmethod
    async def list(self, kind: str) -> list[dict[str, Any]]: ...

    @abstractmethod
    async def update_if(
        self, kind: str, key: str, expect: Mapping[str, Any], doc: Mapping[str, Any]
    ) -> bool:
        """Replace the document only if its fields match `expect` (atomic compare-and-set)."""

    # pub/sub: decisions made on one node release sessions held on another
    @abstractmethod
    async def subscribe(self, channel: str, callback: Callable[[str], None]) -> None: ...

    @abstractmethod
    async def unsubscribe(self, channel: str, callback: Callable[[str], None]) -> None: ...

    @abstractmethod
    async def publish(self, channel: str, payload: str) -> None: ...

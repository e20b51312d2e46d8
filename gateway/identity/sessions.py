"""Live sessions by token, so revoking (or the expiry of) a token ends them.

`airlock token revoke` runs in another process and only writes the store, so the daemon
polls the tokens table (`watch_revocations`, every `identity.revocation_poll_s` seconds,
and only while some live session uses a token). Polling needs no channel between the CLI
and the daemon and works for every node sharing a PostgreSQL store.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from gateway.identity.tokens import is_live
from gateway.store.base import Store

log = logging.getLogger("airlock.identity")

#: Ends one session; called with a short reason shown to the client.
CloseSession = Callable[[str], None]


class SessionRegistry:
    def __init__(self) -> None:
        self._by_token: dict[str, dict[str, CloseSession]] = {}

    def register(self, session_id: str, token_id: str, close: CloseSession) -> Callable[[], None]:
        """Track a session opened with a token; returns the function that forgets it."""
        self._by_token.setdefault(token_id, {})[session_id] = close

        def forget() -> None:
            sessions = self._by_token.get(token_id)
            if sessions is not None:
                sessions.pop(session_id, None)
                if not sessions:
                    del self._by_token[token_id]

        return forget

    def token_ids(self) -> set[str]:
        return set(self._by_token)

    def revoke(self, token_id: str, reason: str = "token revoked") -> int:
        """End every live session of this token; returns how many were ended."""
        sessions = self._by_token.pop(token_id, {})
        for session_id, close in sessions.items():
            log.info("ending session %s: %s (token %s)", session_id, reason, token_id)
            try:
                close(f"airlock: {reason}")
            except Exception:
                log.exception("closing session %s failed", session_id)
        return len(sessions)

    async def sweep(self, store: Store, now: float | None = None) -> int:
        """One poll: end sessions whose token is revoked, expired or gone."""
        wanted = self.token_ids()
        if not wanted:
            return 0
        now = time.time() if now is None else now
        rows = {row.id: row for row in await store.list_tokens() if row.id in wanted}
        ended = 0
        for token_id in wanted:
            row = rows.get(token_id)
            if row is None or not is_live(row, now):
                why = "token expired" if row and row.revoked_at is None else "token revoked"
                ended += self.revoke(token_id, why)
        return ended


async def watch_revocations(store: Store, registry: SessionRegistry, interval_s: float) -> None:
    """Run until cancelled; a store error is logged and retried at the next tick."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await registry.sweep(store)
        except Exception:
            log.exception("checking for revoked tokens failed")

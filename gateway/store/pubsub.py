"""Publish/subscribe between nodes. PostgreSQL uses LISTEN/NOTIFY; this is the one-node form.

A single-node store (SQLite) mixes in ``LocalPubSub`` so callers can always ``publish`` a
decision and ``subscribe`` to decisions, whichever store is configured.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger("airlock.store")

Callback = Callable[[str], None]


class LocalPubSub:
    """In-process channels: ``publish`` calls every subscriber of the channel right away.

    Callbacks run synchronously in the publisher's task, as asyncpg runs LISTEN callbacks
    in the event loop: keep them short (set an event, schedule a task).
    """

    _subscribers: dict[str, list[Callback]]

    def _subs(self) -> dict[str, list[Callback]]:
        # No __init__: a mixin must not fight the store's own constructor.
        try:
            return self._subscribers
        except AttributeError:
            self._subscribers = {}
            return self._subscribers

    async def subscribe(self, channel: str, callback: Callback) -> None:
        self._subs().setdefault(channel, []).append(callback)

    async def unsubscribe(self, channel: str, callback: Callback) -> None:
        callbacks = self._subs().get(channel, [])
        if callback in callbacks:
            callbacks.remove(callback)

    async def publish(self, channel: str, payload: str) -> None:
        for callback in list(self._subs().get(channel, ())):
            deliver(callback, channel, payload)


def deliver(callback: Callback, channel: str, payload: str) -> None:
    """Run one subscriber; its failure is logged, never raised into the publisher."""
    try:
        callback(payload)
    except Exception:
        log.exception("subscriber of %s failed", channel)

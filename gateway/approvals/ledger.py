"""The approvals ledger: every approval event, hash-chained and signed like a transcript.

Each node keeps one ledger per process run: a transcript (same line format, chain,
signature and verifier — ``gateway/recording``) whose session id starts with ``ledger-``
and whose events are ``approval`` events: ``requested``, each ``vote`` (approve or deny,
with who, channel, reason and window), the final state (``approved``, ``denied``,
``expired``, ``withdrawn``) and each grant ``window`` opened. It is written through the
node's recorder, so it reaches the object store like any transcript (signed segments while
open, the whole file once closed at shutdown).

:func:`cross_check` ties transcripts to ledgers: each approval event a transcript records
must be backed by the ledger (the request exists; a decision matches the ledger's final
state; a grant-window use names a window the ledger opened). It only runs when some ledger
is present, so transcripts recorded before ledgers existed are not flagged.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from gateway.config import Config
from gateway.recording import chain
from gateway.recording.fleet import ledger_directory, merged_view
from gateway.recording.spool import Spool
from gateway.recording.verify import VerifyReport, verify_session
from gateway.recording.writer import Recorder, RecorderError, TranscriptWriter

log = logging.getLogger(__name__)

LEDGER_PREFIX = "ledger-"
FINAL = ("approved", "denied", "expired", "withdrawn")


def is_ledger(session_id: str) -> bool:
    return session_id.startswith(LEDGER_PREFIX)


class Ledger:
    """This node's ledger writer. ``append`` is synchronous (one local write), like every
    transcript event; failures are logged, never raised into the approval flow. Ledgers
    live in their own directory (``state_dir/ledger``; ``prefix/ledger`` in the object
    store), so transcript listings and counts are unchanged."""

    def __init__(self, recorder: Recorder, node: str) -> None:
        self.recorder = recorder
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", node)[:60] or "node"
        self.session_id = f"{LEDGER_PREFIX}{safe}-{time.time_ns()}"
        self._w: TranscriptWriter | None = None

    def open(self) -> None:
        self._w = self.recorder.open(self.session_id, protocol="ledger", kind="approvals-ledger")

    def append(self, state: str, doc: Mapping[str, Any], **fields: Any) -> None:
        w = self._w
        if w is None or w.closed:
            return
        reason = fields.pop("reason", "") or ""
        try:
            w.write(
                "approval",
                request_id=doc.get("id"),
                state=state,
                session=doc.get("session_id"),
                user=doc.get("user"),
                target=doc.get("target"),
                reason=self.recorder.redactor.redact_text(str(reason)),
                **fields,
            )
        except (RecorderError, TypeError, ValueError):
            log.exception("could not append %s of %s to the approvals ledger", state, doc.get("id"))

    def close(self) -> None:
        if self._w is not None:
            self._w.close(reason="gateway stopped")


def verify_ledgers(files: Mapping[str, Path], public_key: Ed25519PublicKey) -> list[VerifyReport]:
    """Each ledger checked like a transcript (chain, sequence, signature)."""
    return [
        verify_session(path, public_key, session_id=sid)
        for sid, path in sorted(files.items())
        if is_ledger(sid)
    ]


def _events(path: Path) -> Iterable[Mapping[str, object]]:
    for raw in path.read_bytes().splitlines(keepends=True):
        parts = chain.split(raw)
        ev = chain.event_of(parts[0]) if parts else None
        if ev is not None and ev.get("type") == "approval":
            yield ev


def cross_check(
    files: Mapping[str, Path], reports: Iterable[VerifyReport], public_key: Ed25519PublicKey
) -> list[VerifyReport]:
    """Add ``missing``/``modified`` problems to transcript reports whose approval events
    the ledgers (in ``files``, by session id) do not back. Ledgers that are tampered with
    are not trusted (their own reports say why)."""
    requested: set[str] = set()
    final: dict[str, str] = {}
    windows: set[str] = set()
    ledgers = 0
    for sid, path in files.items():
        if not is_ledger(sid) or verify_session(path, public_key, session_id=sid).tampered:
            continue
        ledgers += 1
        for ev in _events(path):
            rid, state = str(ev.get("request_id")), ev.get("state")
            if state == "requested":
                requested.add(rid)
            elif state in FINAL:
                final[rid] = str(state)
            elif state == "window":
                windows.add(rid)
    out = list(reports)
    if not ledgers:
        return out
    for report in out:
        file = files.get(report.session_id)
        if file is None or is_ledger(report.session_id) or report.tampered:
            continue
        for ev in _events(file):
            rid, state, seq = str(ev.get("request_id")), ev.get("state"), ev.get("seq")
            where = seq if isinstance(seq, int) else None
            if rid not in requested:
                report.add("missing", where, f"approval request {rid} is in no approvals ledger")
            elif ev.get("window") is True:
                if rid not in windows:
                    report.add("modified", where, f"grant window of {rid} is not in the ledger")
            elif state in FINAL and state != "withdrawn" and final.get(rid) != state:
                report.add(
                    "modified",
                    where,
                    f"request {rid} is {state} here, {final.get(rid, 'undecided')} in the ledger",
                )
    return out


class LedgerService:
    """The running node's ledger: its own recorder (same audit key) and, with object
    storage, its own spool to ``prefix/ledger``."""

    def __init__(self, config: Config, signing_key: Ed25519PrivateKey) -> None:
        from gateway.recording.redact import Redactor
        from gateway.recording.writer import Durability

        rec = config.recording
        self.recorder = Recorder(
            ledger_directory(config.state_dir),
            signing_key,
            Redactor(rec.redact_patterns, rec.sensitive_columns),
            Durability(rec.durability),
            node=config.node,
        )
        self.ledger = Ledger(self.recorder, config.node)
        self.spool: Spool | None = None
        if rec.storage is not None:
            from gateway.recording.fleet import ledger_storage

            self.spool = Spool(self.recorder, ledger_storage(rec.storage), signing_key)

    async def start(self) -> Ledger:
        if self.spool is not None:
            await self.spool.start()
        self.ledger.open()
        return self.ledger

    async def aclose(self) -> None:
        await self.recorder.aclose(reason="gateway stopped")
        if self.spool is not None:
            await self.spool.aclose()


def configured_ledgers(config: Config, public_key: Ed25519PublicKey) -> dict[str, Path]:
    """Every ledger this config can see: the local ledger directory and, with object
    storage, ``prefix/ledger`` (segments of open ledgers included)."""
    from gateway.recording.verify import transcripts

    if config.recording.storage is not None:
        return transcripts(merged_view(config, None, public_key, ledger=True))
    directory = ledger_directory(config.state_dir)
    return transcripts(directory) if directory.is_dir() else {}

"""The Postgres relay after startup: client <-> upstream, every statement via the checkpoint.

Protocol callbacks, not streams: a read is framed into whole messages, each checked message
asks the checkpoint synchronously (the hot path), and everything from one read goes out in
one write. Only a message whose decision must wait (a review) suspends this session:
its reading pauses and the rest of the read waits behind it; other sessions never notice.

A refused statement is replaced by a statement that raises 42501 in the upstream itself, so
the client gets exactly a real error's effect (explicit transactions abort; the rest of an
extended-protocol batch is skipped to Sync) without the gateway modelling server state.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from gateway import telling
from gateway.checkpoint import SQL_CACHE, Checkpoint, SessionContext
from gateway.model import Action, ActionKind, Decision, Outcome, SessionStats, Verdict
from gateway.postgres.refusal import own_error, refusal_sql
from gateway.postgres.tlswrite import client_writer
from gateway.recording.writer import RecorderError, RowSampler, TranscriptWriter
from protocols.classification import Category, Classification
from protocols.pgwire import messages as m
from protocols.sql import LexingState
from protocols.sql.context import SqlEffects, apply_prepared
from protocols.sql.reason import stated_reason

log = logging.getLogger("airlock.postgres")

Q, P, F, X, C_, B, S_, Z, E_ = (ord(c) for c in "QPFXCBSZE")  # E_: Execute / ErrorResponse
PARSE_COMPLETE, BIND_COMPLETE = ord("1"), ord("2")
T_, D_ = ord("T"), ord("D")  # RowDescription, DataRow
SYNC, IN_TX = ord("S"), ord("T")  # client Sync; ReadyForQuery status "in transaction"
KEEP_TRANSACTION = b"SET LOCAL idle_in_transaction_session_timeout = 0"
CHECKED = frozenset({Q, P, F})
_UNSETTLED = Classification.unknown(
    "an earlier statement in this batch changes standard_conforming_strings or "
    "client_encoding; statements before its Sync cannot be classified"
)
_REASON = re.compile(rb"(?i)airlock\.reason")
_REASON_STAND_IN = m.query("SET airlock.reason TO DEFAULT")
_PREPARED_STATEMENTS = frozenset({"PrepareStmt", "DeallocateStmt", "DiscardStmt"})
_EFFECT_STATEMENTS = _PREPARED_STATEMENTS | {"VariableSetStmt"}


class _Side(asyncio.Protocol):
    """One transport's callbacks, forwarded to the relay with which side they came from."""

    def __init__(self, relay: PgRelay, client: bool) -> None:
        self.relay = relay
        self.client = client

    def data_received(self, data: bytes) -> None:
        if self.client:
            self.relay.from_client(data)
        else:
            self.relay.from_upstream(data)

    def eof_received(self) -> bool | None:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.relay.closed(self.client, exc)

    def pause_writing(self) -> None:
        self.relay.block_reading(not self.client, "peer-full")

    def resume_writing(self) -> None:
        self.relay.unblock_reading(not self.client, "peer-full")


class PgRelay:
    def __init__(
        self,
        ctx: SessionContext,
        checkpoint: Checkpoint,
        max_message_bytes: int,
        stats: SessionStats,
        on_result: Callable[[int, bytes, float], None] | None = None,
    ) -> None:
        self.ctx = ctx
        self.checkpoint = checkpoint
        self.stats = stats
        self.on_result = on_result
        self.client_reader = m.MessageReader(max_message_bytes)
        self.upstream_reader = m.MessageReader(1 << 30)
        self.client: asyncio.Transport | None = None
        self.to_client: Callable[[bytes], None] = lambda data: None  # set by attach()
        self.upstream: asyncio.Transport | None = None
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._blocked: tuple[set[str], set[str]] = (set(), set())  # (upstream, client) readers
        self._waiting: asyncio.Future[None] | None = None
        self._held: tuple[int, bytes, Action] | None = None
        self._backlog: list[tuple[int, bytes]] = []
        self._swallow = 0  # ParseComplete/BindComplete answers to our refusal batches
        self._lexing_settles: asyncio.Future[None] | None = None
        self.tx_status = ord("I")
        self._in_flight = 0  # forwarded Query/FunctionCall/Sync messages awaiting their RFQ
        self._queued: list[bytes] = []  # waiting for the transcript's fsync (durability fsync)
        self._lexing_unsettled = False  # a Parse in this batch changes lexing settings
        self._syncing: asyncio.Future[None] | None = None
        self._drop: collections.deque[int] = collections.deque()  # answers not to relay
        self.sent_at = time.monotonic()  # when the last batch went upstream (durations)
        recorder = ctx.recorder
        self._transcript = recorder if isinstance(recorder, TranscriptWriter) else None
        self._sample_rows = self._transcript is not None and self._transcript.samples_rows
        self._fsync = self._transcript is not None and self._transcript.fsync
        self._sampler: RowSampler | None = None
        self._policy_version = checkpoint.policy.version  # the version _decided was made under
        self._portals: dict[str, str] = {}  # portal -> statement (Bind)
        self._decided: dict[str, Action] = {}  # prepared statement -> the action it runs
        self._stale: set[str] = set()  # decided under an older policy, not yet re-decided
        self._reviewed: set[str] = set()  # statements whose Parse a human approved
        self._approved_once: set[str] = set()  # ...and whose one approved execution is unused
        self._approved_portals: set[str] = set()  # portals running an approved execution
        # Portals bound to a statement whose definition no allowed protocol Parse vouches
        # for (SQL PREPARE shares the protocol's namespace; a Parse of an existing name may
        # fail and leave the old one): each of their Executes is decided on its own.
        self._unvouched: set[str] = set()
        # Marks the errors that answer the relay's own refusal statements (refusal_sql):
        # secret, so a client's own DO block cannot have its error fields rewritten.
        self._mark = "airlock_" + secrets.token_hex(12)
        self._mark_field = b"s" + self._mark.encode() + b":"

    # --- wiring ---------------------------------------------------------------------

    def attach(self, client: asyncio.Transport, upstream: asyncio.Transport) -> None:
        self.client, self.upstream = client, upstream
        self.to_client = client_writer(client)
        client.set_protocol(_Side(self, True))
        upstream.set_protocol(_Side(self, False))

    def block_reading(self, client: bool, why: str) -> None:
        blocked = self._blocked[client]
        transport = self.client if client else self.upstream
        if not blocked and transport is not None and not transport.is_closing():
            transport.pause_reading()
        blocked.add(why)

    def unblock_reading(self, client: bool, why: str) -> None:
        blocked = self._blocked[client]
        blocked.discard(why)
        transport = self.client if client else self.upstream
        if not blocked and transport is not None and not transport.is_closing():
            transport.resume_reading()

    def closed(self, client: bool, exc: Exception | None) -> None:
        other = self.upstream if client else self.client
        if other is not None and not other.is_closing():
            other.close()
        if self._waiting is not None:
            self._waiting.cancel()
        if self._syncing is not None:
            self._syncing.cancel()
        if not self.done.done():
            self.done.set_result(None)

    def fail_client(self, sqlstate: str, text: str) -> None:
        """Tell the client what went wrong, then end the session."""
        if self.client is not None and not self.client.is_closing():
            self.to_client(m.error_response(sqlstate, text, "FATAL"))
            self.client.close()
        if self.upstream is not None and not self.upstream.is_closing():
            self.upstream.write(m.terminate())
            self.upstream.close()

    # --- client -> upstream ---------------------------------------------------------

    def from_client(self, data: bytes) -> None:
        self.stats.bytes_in += len(data)
        try:
            msgs = self.client_reader.feed(data)
        except m.ProtocolError as exc:
            self.fail_client(exc.sqlstate, f"airlock: {exc}")
            return
        if self._waiting is not None:
            self._backlog.extend(msgs)
            return
        self._process(msgs)

    def _process(self, msgs: list[tuple[int, bytes]]) -> None:
        out: list[bytes] = []
        for index, (kind, msg) in enumerate(msgs):
            if kind in CHECKED:
                if self._lexing_settles is not None:
                    self._suspend(out, msgs[index:], self._lexing_settles)
                    return
                try:
                    if kind == Q and _REASON.search(msg) and self._take_reason(out, msg):
                        continue
                    action = self._action(kind, msg)
                except m.ProtocolError as exc:
                    self.fail_client("08P01", f"airlock: {exc}")
                    return
                result = self.checkpoint.check(self.ctx, action)
                if not isinstance(result, Outcome):
                    self._suspend(out, msgs[index + 1 :], result, (kind, msg, action))
                    return
                self._apply(out, kind, msg, action, result)
            elif kind == X:
                out.append(msg)
                self._write_upstream(out)
                if self.upstream is not None:
                    self.upstream.close()
                return
            elif kind == B:
                try:
                    portal, statement = m.parse_bind_names(msg)
                except m.ProtocolError as exc:
                    self.fail_client("08P01", f"airlock: {exc}")
                    return
                self._portals[portal] = statement
                if statement in self._decided:
                    self._unvouched.discard(portal)
                else:
                    self._unvouched.add(portal)
                if self._reviewed:
                    self._bind_approval(portal, statement)
                out.append(msg)
            elif kind == E_ and (
                self._unvouched
                or self._reviewed
                or self._stale
                or self._policy_version != self.checkpoint.policy.version
            ):
                if self._policy_version != self.checkpoint.policy.version:
                    self._policy_version = self.checkpoint.policy.version
                    self._stale = set(self._decided)
                # A prepared statement is decided again at Execute when its first decision
                # was a human's (an approval covers one execution) or the policy changed.
                try:
                    recheck = self._recheck(msg)
                except m.ProtocolError as exc:
                    self.fail_client(exc.sqlstate, f"airlock: {exc}")
                    return
                if recheck is None:
                    out.append(msg)
                    continue
                result = self.checkpoint.check(self.ctx, recheck)
                if not isinstance(result, Outcome):
                    self._suspend(out, msgs[index + 1 :], result, (kind, msg, recheck))
                    return
                self._apply(out, kind, msg, recheck, result)
            else:
                if kind == C_:
                    self._closed_statement(msg)
                elif kind == SYNC:
                    self._in_flight += 1
                out.append(msg)
        self._write_upstream(out)

    def _take_reason(self, out: list[bytes], msg: bytes) -> bool:
        """``SET airlock.reason = '...'`` alone in a Query: recorded, kept for the approval
        requests that follow, never forwarded nor held. In its place the server gets
        ``SET airlock.reason TO DEFAULT`` (the setting has no value there): its answer is
        the one the client expects, in order, with a real SET's effect in an aborted
        transaction."""
        if self._lexing_unsettled:
            return False
        reason = stated_reason(self._decode(m.query_text(msg)), self.ctx.lexing)
        if reason is None:
            return False
        try:
            if self._transcript is not None:
                self._transcript.reason(reason)
            elif self.ctx.recorder is not None:
                self.ctx.recorder.write("reason", reason=reason)
        except Exception as exc:
            log.exception("cannot record the stated reason")
            self.fail_client("58030", f"airlock: refused: the transcript cannot be written ({exc})")
            return True
        self.ctx.session = dataclasses.replace(self.ctx.session, reason=reason)
        out.append(_REASON_STAND_IN)
        self._in_flight += 1
        return True

    def _recheck(self, msg: bytes) -> Action | None:
        """The action an Execute runs, if it must be decided again (older policy, or its
        approval is used up); None when it may run as decided."""
        portal = m.parse_execute_portal(msg)
        if portal in self._unvouched:
            return self._unvouched_execute(msg, self._portals.get(portal, ""))
        statement = self._portals.get(portal)
        if statement is None:
            return None
        decided = self._decided.get(statement)
        if decided is None:
            return None
        if statement in self._reviewed:
            return None if portal in self._approved_portals else decided
        return decided if statement in self._stale else None

    def _unvouched_execute(self, msg: bytes, statement: str) -> Action:
        """An Execute of a statement no allowed Parse of ours defines: judged by what the
        session's SQL PREPAREs (and failed re-Parses) may have made of the name, or
        `unknown` when the gateway never saw it defined."""
        known = self.ctx.prepared.get(statement)
        return Action(
            ActionKind.EXECUTE,
            msg,
            f"<execute prepared statement {statement!r}>",
            known
            or Classification.unknown(
                f"Execute of prepared statement {statement!r}, whose definition the gateway "
                "did not see"
            ),
        )

    def _forget_statement(self, name: str) -> None:
        """The name no longer runs what a Parse of ours decided: Executes are decided anew."""
        self._decided.pop(name, None)
        self._stale.discard(name)
        self._reviewed.discard(name)
        self._approved_once.discard(name)

    def _bind_approval(self, portal: str, statement: str) -> None:
        """An approval covers one execution: the first portal bound after it, to its end."""
        if statement in self._approved_once:
            self._approved_once.discard(statement)
            self._approved_portals.add(portal)
        else:
            self._approved_portals.discard(portal)

    def _write_upstream(self, out: list[bytes]) -> None:
        if not out or self.upstream is None:
            return
        writer = self._transcript
        if writer is not None:
            try:
                writer.flush()  # record before forward: the decisions reach the kernel first
            except RecorderError as exc:
                self.fail_client(
                    "58030", f"airlock: refused: the transcript cannot be written ({exc})"
                )
                return
        data = out[0] if len(out) == 1 else b"".join(out)
        if self._queued or (self._fsync and writer is not None and writer.unsynced):
            # durability = fsync: nothing goes upstream before the group commit that covers
            # its transcript lines; this session waits (reading paused), the others don't.
            self._queued.append(data)
            if len(self._queued) == 1:
                self.block_reading(True, "fsync")
                self._syncing = asyncio.ensure_future(self._send_when_durable())
            return
        self.upstream.write(data)
        self.sent_at = time.monotonic()

    async def _send_when_durable(self) -> None:
        writer = self._transcript
        assert writer is not None
        try:
            await writer.durable()
        except RecorderError as exc:
            self._queued.clear()
            self.fail_client("58030", f"airlock: refused: the transcript cannot be synced ({exc})")
            return
        data, self._queued = b"".join(self._queued), []
        if self.upstream is not None and not self.upstream.is_closing():
            self.upstream.write(data)
            self.sent_at = time.monotonic()
        self.unblock_reading(True, "fsync")

    def _action(self, kind: int, msg: bytes) -> Action:
        if kind == Q:
            text = self._decode(m.query_text(msg))
            if self._lexing_unsettled:  # a Query inside an unfinished extended batch
                return Action(ActionKind.QUERY, msg, text, _UNSETTLED)
            return Action(ActionKind.QUERY, msg, text)
        if kind == P:
            parsed = m.parse_parse(msg)
            text = self._decode(parsed.query)
            if self._lexing_unsettled:
                # An earlier statement of this batch changes lexing settings when it runs,
                # and the server reports the result only at Sync: fail closed until then.
                return Action(ActionKind.PARSE, msg, text, _UNSETTLED)
            return Action(ActionKind.PARSE, msg, text)
        return Action(
            ActionKind.FUNCTION_CALL,
            msg,
            "<fastpath function call>",
            Classification.unknown("fastpath FunctionCall runs a function by OID, unseen"),
        )

    def _decode(self, sql: bytes) -> str:
        # Non-UTF-8 client encodings make the lexing state unmodelable (every statement is
        # `unknown`), so UTF-8 is the only decoding that matters for classification.
        return sql.decode("utf-8", "surrogateescape")

    def _apply(
        self, out: list[bytes], kind: int, msg: bytes, action: Action, outcome: Outcome
    ) -> None:
        self.stats.statements += 1
        if kind != P and kind != E_:
            self._in_flight += 1  # a Query or FunctionCall (refused ones too) ends in RFQ
        if outcome.allowed:
            out.append(msg)
            if kind == P:
                name = m.parse_parse(msg).name
                old = self.ctx.prepared.get(name) if name else None
                # A named Parse may fail ("already exists") leaving the old statement: merge.
                merged = (
                    outcome.classification if old is None else old.merge(outcome.classification)
                )
                self.ctx.prepared[name] = merged
                if old is not None:
                    # The name exists: this Parse may fail ("already exists") and leave the
                    # old statement, so no single decision covers what an Execute runs.
                    self._forget_statement(name)
                else:
                    self._decided[name] = action
                    self._stale.discard(name)
                    if outcome.verdict.decision is Decision.ALLOW:
                        self._reviewed.discard(name)
                    else:  # approved by a human (or a grant window): good for one execution
                        self._reviewed.add(name)
                        self._approved_once.add(name)
                # SQL PREPARE/DEALLOCATE/DISCARD sent through Parse redefine names as they run.
                self._track_prepared(action.text, outcome.classification)
            elif kind == E_:
                portal = m.parse_execute_portal(msg)
                if action.kind is ActionKind.EXECUTE:
                    self._unvouched.discard(portal)  # this run; a new Bind asks again
                    return
                statement = self._portals.get(portal, "")
                self._decided[statement] = action
                self._stale.discard(statement)
                if statement in self._reviewed:
                    self._approved_portals.add(portal)
            elif kind == Q:
                self._track_sql_effects(action.text, outcome.classification)
            if kind == P and not self._lexing_unsettled:
                self._lexing_unsettled = self._changes_lexing(action.text, outcome.classification)
            return
        refusal = refusal_sql(
            outcome.message or "airlock: refused",
            outcome.sqlstate,
            outcome.detail,
            outcome.hint,
            f"{self._mark}:{outcome.position}",
        )
        if kind in (P, E_):
            out.append(m.parse("", refusal) + m.bind_unnamed() + m.execute_unnamed())
            self._swallow += 2
        else:
            out.append(m.query(refusal))

    def _changes_lexing(self, text: str, classification: Classification) -> bool:
        if Category.TAMPER not in classification.categories:
            return False
        return bool(SQL_CACHE.analyze(text, self.ctx.lexing, self.ctx.prepared)[1].settings)

    def _track_prepared(self, text: str, classification: Classification) -> None:
        """SQL PREPARE/DEALLOCATE/DISCARD in a Parse: the names they touch are no longer
        what a Parse of ours decided (applied when forwarded: stricter whatever fails)."""
        if _PREPARED_STATEMENTS.intersection(classification.statements):
            _, effects = SQL_CACHE.analyze(text, self.ctx.lexing, self.ctx.prepared)
            self._apply_prepared(effects)

    def _apply_prepared(self, effects: SqlEffects) -> None:
        if not effects.ops:
            return
        self.ctx.prepared = apply_prepared(self.ctx.prepared, effects)
        for op, name, _ in effects.ops:
            if op == "deallocate_all":
                for old in list(self._decided):
                    self._forget_statement(old)
            else:  # PREPARE or DEALLOCATE of the name: no Parse of ours defines it now
                self._forget_statement(name)

    def _track_sql_effects(self, text: str, classification: Classification) -> None:
        """SQL PREPARE/DEALLOCATE and settings that change how the next statement lexes."""
        if not (
            Category.TAMPER in classification.categories
            or _EFFECT_STATEMENTS.intersection(classification.statements)
        ):
            return
        _, effects = SQL_CACHE.analyze(text, self.ctx.lexing, self.ctx.prepared)
        self._apply_prepared(effects)
        if effects.settings and self._lexing_settles is None:
            # Hold later statements until the server reports the new state (ParameterStatus
            # arrives before ReadyForQuery), so nothing is classified with stale lexing.
            self._lexing_settles = asyncio.get_running_loop().create_future()

    def _closed_statement(self, msg: bytes) -> None:
        try:
            kind, name = m.parse_target_name(msg)
        except m.ProtocolError:
            return  # the server will reject it
        if kind == S_:
            self.ctx.prepared.pop(name, None)
            self._forget_statement(name)

    def _suspend(
        self,
        out: list[bytes],
        rest: list[tuple[int, bytes]],
        waiting: Awaitable[Any],
        held: tuple[int, bytes, Action] | None = None,
    ) -> None:
        """Send what was decided, then wait for `waiting` with this session's reading paused."""
        self._write_upstream(out)
        self._backlog = list(rest)
        self.block_reading(True, "decision")
        self._held = held
        self._waiting = asyncio.ensure_future(self._resume_after(waiting))

    def on_hold(self) -> None:
        """A statement now waits for a human (the checkpoint calls this once per review).

        Inside a transaction the upstream sees the session idle in transaction, and its
        idle_in_transaction_session_timeout would end it. SET LOCAL lifts that timeout until
        the transaction ends (and only then); the request's own deadline still bounds the
        wait. Sent only between simple queries, when nothing else is in flight, so its
        answers (CommandComplete, ReadyForQuery) are known and are not relayed.
        """
        held = self._held
        if held is None or held[0] != Q or self.tx_status != IN_TX or self._in_flight:
            return
        if self.upstream is None or self.upstream.is_closing():
            return
        self.upstream.write(m.query(KEEP_TRANSACTION))
        self._drop.extend((C_, Z))

    def cancel_hold(self) -> bool:
        """A client cancel while a statement is held: withdraw it and fail it with 57014."""
        waiting, held = self._waiting, self._held
        if waiting is None or held is None or waiting.done():
            return False
        waiting.cancel()
        action = held[2]
        outcome = Outcome(
            False,
            action.classification or Classification.unknown("cancelled while held"),
            Verdict(Decision.DENY, "client-cancel", "cancelled by the client while held"),
            "airlock: canceling statement due to user request (the approval request is withdrawn)",
            sqlstate="57014",
            detail=f"{telling.WITHDRAWN} The client cancelled the statement while it was held.",
        )
        self._continue(outcome)
        return True

    async def _resume_after(self, waiting: Awaitable[Any]) -> None:
        try:
            result = await waiting
        except asyncio.CancelledError:
            return
        self._continue(result)

    def _continue(self, result: Any) -> None:
        held, self._held, self._waiting = self._held, None, None
        out: list[bytes] = []
        if held is not None:
            kind, msg, action = held
            self._apply(out, kind, msg, action, result)
        backlog, self._backlog = self._backlog, []
        self._write_upstream(out)
        self.unblock_reading(True, "decision")
        self._process(backlog)

    # --- upstream -> client ---------------------------------------------------------

    def from_upstream(self, data: bytes) -> None:
        self.stats.bytes_out += len(data)
        had_partial = self.upstream_reader.pending
        msgs = self.upstream_reader.feed(data)
        keep: list[bytes] | None = None  # built only once a message must be dropped
        on_result = self.on_result
        for index, (kind, msg) in enumerate(msgs):
            if kind == E_ and self._mark_field in msg:
                msg = self._own_error(msg)
                if keep is None:
                    keep = [msg for _, msg in msgs[:index]]
            if self._drop and kind == self._drop[0]:
                self._drop.popleft()  # an answer to the gateway's own statement
                if keep is None:
                    keep = [msg for _, msg in msgs[:index]]
                continue
            if kind == Z:
                self._in_flight -= 1
                self._lexing_unsettled = False
                self.tx_status = msg[5]
                self._swallow = 0
                settles = self._lexing_settles
                if settles is not None:
                    self._lexing_settles = None
                    settles.set_result(None)
            elif kind == S_:
                self._parameter_status(msg)
            elif self._swallow and kind in (PARSE_COMPLETE, BIND_COMPLETE):
                self._swallow -= 1
                if keep is None:
                    keep = [msg for _, msg in msgs[:index]]
                continue
            elif on_result is not None and kind in (ord("C"), E_):
                if self._sampler is not None:
                    self._flush_rows(kind, msg)
                on_result(kind, msg, self.sent_at)
            elif kind == D_ and self._sampler is not None and not self._sampler.full:
                self._sample_row(msg)
            elif kind == T_ and self._sample_rows:
                self._start_rows(msg)
            if keep is not None:
                keep.append(msg)
        if self.client is None:
            return
        if keep is not None:
            self.to_client(b"".join(keep))
        elif not had_partial and not self.upstream_reader.pending:
            self.to_client(data)  # the common case: forward the read as it came
        elif msgs:
            self.to_client(b"".join(msg for _, msg in msgs))

    def _own_error(self, msg: bytes) -> bytes:
        return own_error(msg, self._mark_field[1:])

    # --- bounded result-row samples (recording.rows_limit / rows_bytes_limit) --------

    def _start_rows(self, msg: bytes) -> None:
        assert self._transcript is not None
        try:
            self._sampler = self._transcript.row_sampler(m.parse_row_description(msg))
        except m.ProtocolError:
            self._sampler = None

    def _sample_row(self, msg: bytes) -> None:
        assert self._sampler is not None
        try:
            self._sampler.add(m.parse_data_row(msg))
        except m.ProtocolError:
            self._sampler.full = True

    def _flush_rows(self, kind: int, msg: bytes) -> None:
        sampler, self._sampler = self._sampler, None
        assert sampler is not None
        if kind == ord("C"):
            # Rows past the sample are not decoded; the command tag says how many there were.
            count = m.command_tag(msg).rsplit(" ", 1)[-1]
            if count.isdigit():
                sampler.total = max(sampler.total, int(count))
        try:
            sampler.flush()
        except Exception:
            log.exception("cannot record result rows")

    def _parameter_status(self, msg: bytes) -> None:
        name, value = m.parse_parameter_status(msg)
        lexing = self.ctx.lexing
        if name == "standard_conforming_strings":
            self.ctx.lexing = LexingState(value == "on", lexing.client_encoding)
        elif name == "client_encoding":
            self.ctx.lexing = LexingState(lexing.standard_conforming_strings, value)

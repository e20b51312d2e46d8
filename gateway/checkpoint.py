"""THE decision point: classify -> policy -> (approval wait) -> record -> outcome.

Both protocol relays call only :meth:`Checkpoint.decide`; nothing else decides whether bytes
reach an upstream. Every failure inside (classifier, policy, recorder, reviewer) fails
closed: the action is refused with a message that says why.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from gateway import metrics, telling
from gateway.model import Action, ActionKind, Decision, Notify, Outcome, Session, Verdict
from protocols.classification import Category, Classification
from protocols.shell.state import INITIAL, ShellState
from protocols.sql import LexingState, SqlClassifierCache
from protocols.sql.syntax import syntax_problem

if TYPE_CHECKING:
    from gateway.policy import Policy

log = logging.getLogger("airlock.checkpoint")


class SessionTranscript(Protocol):
    """What the checkpoint, the broker and the listeners use of one session's transcript
    (gateway.recording.writer.TranscriptWriter)."""

    #: True once the session ended and its transcript was closed.
    closed: bool

    def write(self, event_type: str, **fields: Any) -> str: ...

    def decided(self, action: Action, outcome: Outcome) -> None:
        """Record the statement event of one decision (raises if it cannot)."""

    def approval(
        self, request_id: str, state: str, *, by: str = "", reason: str = "", **extra: object
    ) -> str:
        """Record a step of an approval request (requested, approved, denied, ...)."""

    def result(
        self,
        *,
        tag: str = "",
        rows: int | None = None,
        duration_ms: float = 0.0,
        sqlstate: str | None = None,
        error: str | None = None,
        **extra: object,
    ) -> str:
        """Record how a statement ended, as the server reported it."""

    def completed(self, tag: str, duration_ms: float) -> None:
        """Record a statement that completed with this command tag."""

    def close(self, **fields: object) -> tuple[int, str]:
        """End the transcript; returns its head (sequence number, hash)."""


class Reviewer(Protocol):
    """Turns a `review` verdict into an outcome (the approvals broker implements it)."""

    async def review(
        self, ctx: SessionContext, action: Action, classification: Classification, verdict: Verdict
    ) -> Outcome: ...


async def _no_notify(_: str) -> None:
    return None


@dataclass(slots=True, eq=False)
class SessionContext:
    """Per-session state the checkpoint reads: who, the transcript, and SQL lexing state."""

    session: Session
    recorder: SessionTranscript | None = None
    notify: Notify = _no_notify
    lexing: LexingState = field(default_factory=LexingState)
    prepared: dict[str, Classification] = field(default_factory=dict)
    cache: dict[tuple[bytes, LexingState, int], Outcome] = field(default_factory=dict)
    #: Called when an action starts waiting for a human (the relay keeps its session alive).
    on_hold: Callable[[], None] | None = None
    #: The shell's directory and variables as the next exec command or shell line finds
    #: them; advanced only by lines that were allowed (a refused line never ran).
    shell: ShellState = INITIAL
    #: An SSH exec with a terminal: its stdin is checked line by line, not the client's stream.
    terminal: bool = False
    #: Actions decided in this context (a session's statement count; SSH sums channels).
    decided: int = 0
    #: Tells the client with separate DETAIL/HINT fields (Postgres NOTICE); else `notify`.
    notice: Callable[[telling.Told], Awaitable[None]] | None = None

    async def tell(self, told: telling.Told) -> None:
        if self.notice is not None:
            await self.notice(told)
        else:
            await self.notify(told.as_text())


def _advance(ctx: SessionContext, after: ShellState | None, outcome: Outcome) -> Outcome:
    """An allowed shell line runs: later lines see the directory and variables it left."""
    if after is not None and outcome.allowed:
        ctx.shell = after
    return outcome


class RefuseAllReviews:
    """Until a broker is configured, `review` refuses, saying approval is required."""

    async def review(
        self, ctx: SessionContext, action: Action, classification: Classification, verdict: Verdict
    ) -> Outcome:
        told = telling.no_approver(classification, verdict)
        return Outcome(
            False, classification, verdict, told.message, detail=told.detail, hint=told.hint
        )


def classify(action: Action, ctx: SessionContext) -> Classification:
    """Classify an action by its protocol; relays that classify themselves pass it in."""
    return classify_stateful(action, ctx)[0]


def classify_stateful(
    action: Action, ctx: SessionContext
) -> tuple[Classification, ShellState | None]:
    """The classification, and for shell text the shell state after it runs."""
    if action.classification is not None:
        return action.classification, None
    if action.kind in (ActionKind.QUERY, ActionKind.PARSE):
        return SQL_CACHE.classify(action.text, ctx.lexing, ctx.prepared), None
    if action.kind in (ActionKind.EXEC, ActionKind.SHELL_LINE):
        from protocols.shell import classify as classify_line
        from protocols.shell.stdin import exec_stdin_code, fed_stdin_code

        classification, state = classify_line(action.text, ctx.shell)
        # Programs reading commands from stdin: an exec's stdin is the client's stream,
        # unless it has a terminal (checked line by line); then, like a shell line's, only
        # what a pipe or `<` feeds a program is unseen.
        terminal = action.kind is ActionKind.SHELL_LINE or ctx.terminal
        extra = fed_stdin_code(action.text) if terminal else exec_stdin_code(action.text)
        return (classification if extra is None else classification.merge(extra)), state
    return Classification.unknown(f"no classifier for {action.kind}"), None


def policy_denial(classification: Classification, verdict: Verdict) -> Outcome:
    told = telling.policy_denied(classification, verdict)
    return Outcome(False, classification, verdict, told.message, detail=told.detail, hint=told.hint)


def syntax_error(action: Action, ctx: SessionContext, c: Classification) -> Outcome | None:
    """SQL text the server's own grammar rejects (under a modelled lexing state) is answered
    at once as the 42601 it is, never held: it cannot run (protocols.sql.syntax). Only text
    the classifier could not read is tried, so the hot path never parses twice."""
    if action.classification is not None or action.kind not in (ActionKind.QUERY, ActionKind.PARSE):
        return None
    if Category.UNKNOWN not in c.categories:
        return None
    problem = syntax_problem(action.text, ctx.lexing)
    if problem is None:
        return None
    told = telling.syntax_error(problem.message)
    return Outcome(
        False,
        c,
        Verdict(Decision.DENY, "syntax-error", f"not sent: {problem.message}"),
        told.message,
        sqlstate="42601",
        detail=told.detail,
        position=problem.position,
    )


#: One process-wide exact-text cache (text + lexing state); policy is applied after it, so
#: a policy reload needs no flush. Single-threaded: only the event loop touches it.
SQL_CACHE = SqlClassifierCache(8192)

_CACHE_LIMIT = 512


class Checkpoint:
    def __init__(self, policy: Policy, reviewer: Reviewer | None = None) -> None:
        self.policy = policy
        self.reviewer: Reviewer = reviewer or RefuseAllReviews()

    def replace_policy(self, policy: Policy) -> None:
        """Atomic swap on reload: statements decided after this see the new policy."""
        self.policy = policy

    def check(self, ctx: SessionContext, action: Action) -> Outcome | Awaitable[Outcome]:
        """An Outcome now when nothing needs to wait (the hot path), else an awaitable.

        Relays on the hot path call this and await only when they got an awaitable; the
        awaitable suspends only the calling session.
        """
        # The cache keys on the bytes that are classified. Shell text is judged against the
        # session's shell state, which the key does not hold; an action whose classification
        # the relay supplies (an Execute of a prepared name, a fastpath call) is not judged
        # by its bytes (the same Execute bytes run another statement once the name is
        # redefined): neither is ever served from or stored in the cache.
        stateful = action.kind in (ActionKind.EXEC, ActionKind.SHELL_LINE)
        uncacheable = stateful or action.classification is not None
        key = None if uncacheable else (action.raw, ctx.lexing, self.policy.version)
        cached = ctx.cache.get(key) if key is not None else None
        if cached is not None:
            return self._finish(ctx, action, cached, None)
        try:
            classification, after = classify_stateful(action, ctx)
            not_sql = syntax_error(action, ctx, classification)
            if not_sql is not None:
                return self._finish(ctx, action, not_sql, None)
            verdict = self.policy.evaluate(ctx.session, action, classification)
        except Exception as exc:  # fail closed on anything unexpected
            return self._failed(exc)
        if verdict.decision is Decision.ALLOW:
            allowed = Outcome(True, classification, verdict)
            return _advance(ctx, after, self._finish(ctx, action, allowed, key))
        if verdict.decision is Decision.DENY:
            return self._finish(ctx, action, policy_denial(classification, verdict), None)
        return self._review(ctx, action, classification, verdict, after)

    async def decide(self, ctx: SessionContext, action: Action) -> Outcome:
        result = self.check(ctx, action)
        return result if isinstance(result, Outcome) else await result

    async def _review(
        self,
        ctx: SessionContext,
        action: Action,
        classification: Classification,
        verdict: Verdict,
        after: ShellState | None = None,
    ) -> Outcome:
        # The statement is on record (verdict `review`) before anyone is asked about it, so
        # the transcript reads statement -> approval events -> result.
        pending = Outcome(False, classification, verdict, "held for review")
        if not self._record(ctx, action, pending):
            return self._finish(ctx, action, pending, None, record=False, broken=True)
        if ctx.on_hold is not None:
            ctx.on_hold()
        try:
            outcome = await self.reviewer.review(ctx, action, classification, verdict)
        except Exception as exc:
            return self._failed(exc)
        return _advance(ctx, after, self._finish(ctx, action, outcome, None, record=False))

    @staticmethod
    def _failed(exc: Exception) -> Outcome:
        log.error("checkpoint failed; refusing: %r", exc, exc_info=exc)
        return Outcome(
            False,
            Classification.unknown(f"checkpoint error: {type(exc).__name__}"),
            Verdict(Decision.DENY, "internal-error", str(exc)),
            f"airlock: refused because the checkpoint failed ({type(exc).__name__})",
        )

    def _finish(
        self,
        ctx: SessionContext,
        action: Action,
        outcome: Outcome,
        cache_key: tuple[bytes, LexingState, int] | None,
        *,
        record: bool = True,
        broken: bool = False,
    ) -> Outcome:
        ctx.decided += 1
        metrics.statement(
            ctx.session.protocol.value,
            outcome.classification.categories,
            outcome.verdict.decision.value if outcome.allowed else "refused",
        )
        if broken or (record and not self._record(ctx, action, outcome)):
            return Outcome(
                False,
                outcome.classification,
                outcome.verdict,
                "airlock: refused because the transcript could not be written",
            )
        if cache_key is not None and outcome.classification.cacheable:
            if len(ctx.cache) >= _CACHE_LIMIT:
                ctx.cache.clear()
            ctx.cache[cache_key] = outcome
        return outcome

    @staticmethod
    def _record(ctx: SessionContext, action: Action, outcome: Outcome) -> bool:
        """Record before forward (invariant 3): False means the action must be refused."""
        if ctx.recorder is None:
            return True
        try:
            ctx.recorder.decided(action, outcome)
        except Exception:
            log.exception("recorder failed; refusing the action")
            return False
        return True

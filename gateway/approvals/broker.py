"""The approvals broker: turns a `review` verdict into a human decision (the checkpoint's
``Reviewer``).

Requests are JSON documents in the store (kind ``request``), so a restart or another node
sees them; every state change is a compare-and-set on ``version`` so two approvers, the
expiry sweeper and a withdrawing client can race safely. A held session awaits a future
that the decision resolves directly on this node (``decide``) or through the store's
pub/sub (``on_decision``); a slow poll of the store is the safety net between nodes.

States: pending -> approved | denied | expired | withdrawn.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from gateway import metrics, telling
from gateway.approvals import accounting
from gateway.approvals.config import ApprovalsConfig
from gateway.model import Action, Identity, Outcome, ReviewMode, Verdict
from protocols.classification import BENIGN, Classification

if TYPE_CHECKING:
    from gateway.approvals.ledger import Ledger
    from gateway.checkpoint import SessionContext
    from gateway.recording.redact import Redactor
    from gateway.store.base import Store

log = logging.getLogger("airlock.approvals")

PENDING, APPROVED, DENIED, EXPIRED, WITHDRAWN = (
    "pending", "approved", "denied", "expired", "withdrawn",
)  # fmt: skip
FINAL = frozenset({APPROVED, DENIED, EXPIRED, WITHDRAWN})
DECISIONS_CHANNEL = "airlock_decisions"
_TEXT_LIMIT = 4000  # what humans see; the sha256 covers the exact bytes


class ApprovalError(Exception):
    """A refused decision; ``status`` is the HTTP status the API answers with."""

    status = 400


class NotFound(ApprovalError):
    status = 404


class Forbidden(ApprovalError):
    status = 403


class Conflict(ApprovalError):
    status = 409


class Notifier(Protocol):
    """A channel that tells humans about requests (Slack, Teams, webhook)."""

    name: str

    async def request_created(self, doc: dict[str, Any], url: str) -> None: ...

    async def request_decided(self, doc: dict[str, Any], url: str) -> None: ...

    async def close(self) -> None:
        """Release the channel's connections (the broker stops)."""


def window_categories(classification: Classification) -> list[str]:
    """Categories a grant window must cover: the non-benign ones (all, if only benign)."""
    risky = classification.categories - BENIGN
    return sorted(risky or classification.categories)


def person_key(identity: Identity) -> str:
    return identity.person_key


class Broker:
    def __init__(
        self,
        store: Store,
        config: ApprovalsConfig | None = None,
        *,
        node: str = "",
        public_url: str = "http://127.0.0.1:8080",
        redactor: Redactor | None = None,
        notifiers: Sequence[Notifier] = (),
        clock: Callable[[], float] = time.time,
        shared_store: bool = True,
    ) -> None:
        self.store = store
        #: Only a store other nodes write to can be decided behind this node's back; an
        #: embedded one is decided through this process, so a held request just sleeps.
        self.shared_store = shared_store
        self.config = config or ApprovalsConfig()
        self.node = node
        self.public_url = public_url.rstrip("/")
        if redactor is None:
            from gateway.recording.redact import Redactor

            redactor = Redactor()
        self.redactor = redactor
        self.notifiers = list(notifiers)
        self.clock = clock
        self._waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._retry_ctx: dict[str, SessionContext] = {}  # retry-mode requests made here
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._closing: str | None = None  # set by withdraw_all (SIGTERM drain): why
        self.ledger: Ledger | None = None  # approvals ledger (gateway.approvals.ledger)

    # --- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        """Withdraw requests whose session died, subscribe to decisions, start the sweeper."""
        await self.recover()
        await self.sweep()  # also sets the pending gauge from the store
        await self.store.subscribe(DECISIONS_CHANNEL, self._on_notify)
        self._sweeper = asyncio.create_task(self._sweep_loop(), name="airlock-approvals-sweep")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for notifier in self.notifiers:
            await notifier.close()

    async def recover(self) -> int:
        """A pending hold on this node died with the old process; elsewhere, check sessions."""
        count = 0
        for doc in await self.store.list("request"):
            if doc.get("state") != PENDING or doc.get("mode") == ReviewMode.RETRY.value:
                continue
            dead = doc.get("node") == self.node
            if not dead:
                row = await self.store.get_session(doc["session_id"])
                dead = row is not None and row.ended_at is not None
            if dead and await self._transition(doc, WITHDRAWN, reason="session ended"):
                count += 1
        return count

    async def withdraw_all(self, reason: str) -> int:
        """Drain: withdraw every request held on this node and refuse new holds.

        Each held client is answered at once with ``reason`` (SQLSTATE 57P01 for Postgres,
        stderr and exit 126 for SSH) instead of waiting out the drain deadline for a human
        who can no longer release it. Returns how many requests were withdrawn.
        """
        self._closing = reason
        count = 0
        for request_id in list(self._waiters):
            if await self._withdraw_held(request_id):
                count += 1
        return count

    async def _withdraw_held(self, request_id: str) -> bool:
        assert self._closing is not None
        doc = await self.store.get("request", request_id)
        if doc is None or doc["state"] != PENDING:
            return False
        return await self._transition(doc, WITHDRAWN, reason=self._closing) is not None

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def approval_url(self, request_id: str) -> str:
        return f"{self.public_url}/approvals/{request_id}"

    # --- the checkpoint's side ----------------------------------------------------------
    async def review(
        self,
        ctx: SessionContext,
        action: Action,
        classification: Classification,
        verdict: Verdict,
    ) -> Outcome:
        session = ctx.session
        if self._closing is not None:
            # Draining: nobody could release a new hold before the process exits.
            message = f"airlock: approval required, but {self._closing}; try again later"
            return Outcome(False, classification, verdict, message, sqlstate="57P01")
        window = await self._live_window(session.id, window_categories(classification))
        if window is not None:
            self._record(
                ctx,
                window["request_id"],
                APPROVED,
                window.get("by", ""),
                "grant window",
                window=True,
                until=window["until"],
            )
            return Outcome(True, classification, verdict, request_id=window["request_id"])
        if verdict.mode is ReviewMode.RETRY:
            reused = await self._retry_lookup(ctx, action, classification, verdict)
            if reused is not None:
                return reused
        doc = self._new_request(ctx, action, classification, verdict)
        await self.store.put("request", doc["id"], doc)
        accounting.created(doc)
        if self.ledger is not None:
            self.ledger.append("requested", doc, categories=doc["categories"], rule=doc["rule"])
        if verdict.mode is ReviewMode.RETRY:
            key = _retry_key(session.identity.user, session.target, doc["sha256"])
            await self.store.put("retry", key, {"request_id": doc["id"]})
        self._record(
            ctx,
            doc["id"],
            "requested",
            "",
            doc["agent_reason"],
            categories=doc["categories"],
            rule=doc["rule"],
            mode=doc["mode"],
        )
        await self._tell_client(ctx, doc, classification, verdict)
        url = self.approval_url(doc["id"])
        for notifier in self.notifiers:
            self._spawn(
                self._notify(notifier, "request_created", doc, url), f"notify-{notifier.name}"
            )
        if verdict.mode is ReviewMode.RETRY:
            self._retry_ctx[doc["id"]] = ctx
            message = (
                f"airlock: approval required (request {doc['id']}); approve at {url}, then "
                f"send the same statement again (usable once, within "
                f"{_minutes(self.config.retry_ttl_s)} of approval)"
            )
            told = telling.held(classification, verdict, doc["id"], url, doc["expires_at"], True)
            return Outcome(
                False,
                classification,
                verdict,
                message,
                request_id=doc["id"],
                detail=told.detail,
                hint=told.hint,
            )
        return await self._hold(ctx, doc, classification, verdict)

    def _new_request(
        self, ctx: SessionContext, action: Action, c: Classification, verdict: Verdict
    ) -> dict[str, Any]:
        s = ctx.session
        now = self.clock()
        text = action.text
        text = (
            self.redactor.redact_sql(text)
            if s.protocol == "postgres"
            else self.redactor.redact_text(text)
        )
        if len(text) > _TEXT_LIMIT:
            text = text[:_TEXT_LIMIT] + f"... ({len(text) - _TEXT_LIMIT} more characters)"
        return {
            "id": secrets.token_hex(8),
            "version": 1,
            "state": PENDING,
            "mode": verdict.mode.value,
            "created_at": now,
            "expires_at": now + verdict.timeout_s,
            "timeout_s": verdict.timeout_s,
            "node": self.node,
            "session_id": s.id,
            "protocol": s.protocol.value,
            "user": s.identity.user,
            "person": s.identity.person_key,
            "groups": sorted(s.identity.groups),
            "agent": self.redactor.redact_text(s.agent) if s.agent else s.agent,
            "client_addr": s.client_addr,
            "target": s.target,
            "agent_reason": self.redactor.redact_text(s.reason) if s.reason else s.reason,
            "kind": action.kind.value,
            "text": text,
            "sha256": action.sha256,
            "categories": sorted(c.categories),
            "window_categories": window_categories(c),
            # objects and reasons quote the text (COPY ... PROGRAM 'PGPASSWORD=... psql')
            "objects": self.redactor.redact_all(c.objects),
            "reasons": self.redactor.redact_all(c.reasons),
            "rule": verdict.rule,
            "rule_reason": verdict.reason,
            "approvers": sorted(verdict.approvers or self.config.approvers),
            "quorum": verdict.quorum,
            "approvals": [],
            "decided_at": None,
            "decided_by": "",
            "decision_reason": "",
            "window_minutes": 0,
            "used": False,
        }

    async def _tell_client(
        self, ctx: SessionContext, doc: dict[str, Any], c: Classification, verdict: Verdict
    ) -> None:
        url = self.approval_url(doc["id"])
        text = (
            f"airlock: approval required for {', '.join(doc['categories']) or 'this action'} "
            f"(request {doc['id']}); approve at {url}; "
            + (
                f"waiting up to {_minutes(doc['timeout_s'])}"
                if doc["mode"] == ReviewMode.HOLD.value
                else f"the request stays open for {_minutes(doc['timeout_s'])}"
            )
        )
        retry = doc["mode"] != ReviewMode.HOLD.value
        told = telling.held(c, verdict, doc["id"], url, doc["expires_at"], retry)
        try:
            await ctx.tell(telling.Told(text, told.detail, told.hint))
        except Exception:  # the client may be gone; the hold itself decides what happens
            log.warning("could not notify session %s of request %s", ctx.session.id, doc["id"])

    async def _hold(
        self, ctx: SessionContext, doc: dict[str, Any], c: Classification, verdict: Verdict
    ) -> Outcome:
        request_id = doc["id"]
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters[request_id] = future
        if self._closing is not None:  # withdraw_all ran while this request was being made
            await self._withdraw_held(request_id)
        try:
            final = await self._wait(future, doc)
        except asyncio.CancelledError:
            # The client cancelled or disconnected: nothing ran, so the request is moot.
            with contextlib.suppress(Exception):
                current = await self.store.get("request", request_id)
                if current is not None and current["state"] == PENDING:
                    await self._transition(current, WITHDRAWN, reason="client cancelled or left")
                self._record(ctx, request_id, WITHDRAWN, "", "client cancelled or disconnected")
            raise
        finally:
            self._waiters.pop(request_id, None)
        outcome = self._outcome(ctx, final, c, verdict)
        if outcome.allowed:  # the agent learns who approved before the result arrives
            told = telling.approved(request_id, str(final.get("decided_by", "")))
            try:
                await ctx.tell(told)
            except Exception:
                log.warning("could not notify session %s of approval", ctx.session.id)
        return outcome

    async def _wait(
        self, future: asyncio.Future[dict[str, Any]], doc: dict[str, Any]
    ) -> dict[str, Any]:
        """Sleep on the future (no CPU while held); re-read the store every poll_s."""
        request_id = doc["id"]
        while True:
            remaining = doc["expires_at"] - self.clock()
            if remaining <= 0:
                break
            step = min(remaining, self.config.poll_s) if self.shared_store else remaining
            done, _ = await asyncio.wait({future}, timeout=step)
            if done:
                return future.result()
            if not self.shared_store:
                continue
            current = await self.store.get("request", request_id)
            if current is not None and current["state"] != PENDING:
                return current
        current = await self.store.get("request", request_id)
        if current is None:
            raise NotFound(f"request {request_id} vanished from the store")
        if current["state"] == PENDING:
            expired = await self._transition(current, EXPIRED, reason="no decision in time")
            current = expired or await self.store.get("request", request_id) or current
        return current

    def _outcome(
        self, ctx: SessionContext, doc: dict[str, Any], c: Classification, verdict: Verdict
    ) -> Outcome:
        rid, state = doc["id"], doc["state"]
        self._record(
            ctx,
            rid,
            state,
            doc.get("decided_by", ""),
            doc.get("decision_reason", ""),
            approvals=doc.get("approvals", []),
            window_minutes=doc.get("window_minutes", 0),
        )
        if state == APPROVED:
            return Outcome(True, c, verdict, request_id=rid)
        if state == DENIED:
            why = doc.get("decision_reason") or "no reason given"
            message = f"airlock: denied by {doc.get('decided_by')}: {why} (request {rid})"
        elif state == EXPIRED:
            message = (
                f"airlock: approval request {rid} expired after "
                f"{_minutes(doc['timeout_s'])} without a decision"
            )
        else:
            why = doc.get("decision_reason")
            message = f"airlock: approval request {rid} was {state}" + (f": {why}" if why else "")
        # A request withdrawn by a drain fails like a server shutting down (57P01,
        # admin_shutdown), so clients know that retrying elsewhere makes sense.
        shutdown = state == WITHDRAWN and self._closing is not None
        sqlstate = "57P01" if shutdown else "42501"
        told = telling.decided(
            c,
            verdict,
            rid,
            state,
            doc.get("decided_by", ""),
            doc.get("decision_reason", ""),
            self.approval_url(rid),
        )
        return Outcome(
            False,
            c,
            verdict,
            message,
            request_id=rid,
            sqlstate=sqlstate,
            detail=told.detail,
            hint=told.hint,
        )

    async def _retry_lookup(
        self, ctx: SessionContext, action: Action, c: Classification, verdict: Verdict
    ) -> Outcome | None:
        """An approved identical retry passes once; a still-pending one fails again, same id."""
        s = ctx.session
        pointer = await self.store.get(
            "retry", _retry_key(s.identity.user, s.target, action.sha256)
        )
        if pointer is None:
            return None
        doc = await self.store.get("request", pointer["request_id"])
        if doc is None:
            return None
        now = self.clock()
        rid = doc["id"]
        if doc["state"] == PENDING and now < doc["expires_at"]:
            url = self.approval_url(rid)
            message = f"airlock: request {rid} is still waiting for approval at {url}"
            told = telling.held(c, verdict, rid, url, doc["expires_at"], True)
            return Outcome(
                False, c, verdict, message, request_id=rid, detail=told.detail, hint=told.hint
            )
        if doc["state"] != APPROVED or doc["used"]:
            return None
        if now > (doc["decided_at"] or 0) + self.config.retry_ttl_s:
            return None
        used = {**doc, "used": True, "used_at": now, "version": doc["version"] + 1}
        if not await self.store.update_if(
            "request", rid, {"version": doc["version"], "used": False}, used
        ):
            return None  # someone else used it first: single use
        self._record(
            ctx, rid, APPROVED, doc.get("decided_by", ""), "approved retry used", retry=True
        )
        try:
            await ctx.tell(telling.approved(rid, str(doc.get("decided_by", ""))))
        except Exception:
            log.warning("could not notify session %s of approval", ctx.session.id)
        return Outcome(True, c, verdict, request_id=rid)

    async def _live_window(
        self, session_id: str, categories: Iterable[str]
    ) -> dict[str, Any] | None:
        categories = list(categories)
        if not categories:
            return None
        now = self.clock()
        found: dict[str, Any] | None = None
        for category in categories:
            window = await self.store.get("window", f"{session_id}/{category}")
            if window is None or window["until"] <= now:
                return None
            found = window
        return found

    @staticmethod
    def _record(
        ctx: SessionContext | None, rid: str, state: str, by: str, reason: str, **extra: Any
    ) -> None:
        if ctx is None or ctx.recorder is None or ctx.recorder.closed:
            return  # the session (and its transcript) ended first: a withdrawal after a hangup
        try:
            ctx.recorder.approval(rid, state, by=by, reason=reason, **extra)
        except Exception:
            log.exception("could not record approval event for %s", rid)

    async def _notify(self, notifier: Notifier, what: str, doc: dict[str, Any], url: str) -> None:
        """Channel failures are logged and never touch the hold."""
        try:
            await getattr(notifier, what)(doc, url)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("approvals notifier %s failed (%s %s)", notifier.name, what, doc["id"])

    # --- the approvers' side ------------------------------------------------------------
    async def get(self, request_id: str) -> dict[str, Any] | None:
        return await self.store.get("request", request_id)

    async def requests(self, include_final: bool = False) -> list[dict[str, Any]]:
        docs = await self.store.list("request")
        if not include_final:
            docs = [d for d in docs if d.get("state") == PENDING]
        return sorted(docs, key=lambda d: d.get("created_at", 0))

    async def windows(self, session_id: str | None = None) -> list[dict[str, Any]]:
        now = self.clock()
        return [
            w
            for w in await self.store.list("window")
            if w["until"] > now and (session_id is None or w["session_id"] == session_id)
        ]

    def may_approve(self, doc: dict[str, Any], approver: Identity) -> str | None:
        """None if `approver` may decide `doc`, else why not (no self-approval, ever)."""
        if approver.user == doc["user"] or approver.person_key == doc["person"]:
            return "self-approval is not allowed: the requester cannot decide their own request"
        allowed = frozenset(doc["approvers"]) or self.config.approvers
        if approver.user in allowed or any(f"group:{g}" in allowed for g in approver.groups):
            return None
        return f"{approver.user} is not an approver for rule {doc['rule']}"

    async def decide(
        self,
        request_id: str,
        approver: Identity,
        approve: bool,
        reason: str = "",
        window_minutes: int = 0,
        channel: str = "api",
    ) -> dict[str, Any]:
        """Record one approver's decision; returns the request as stored afterwards."""
        if window_minutes < 0 or window_minutes > self.config.max_window_minutes:
            raise ApprovalError(
                f"window must be 0-{self.config.max_window_minutes} minutes, got {window_minutes}"
            )
        if not approve and not reason.strip():
            raise ApprovalError("a denial needs a reason")
        for _ in range(8):  # compare-and-set retries under contention
            doc = await self.store.get("request", request_id)
            if doc is None:
                raise NotFound(f"no request {request_id}")
            if doc["state"] != PENDING:
                raise Conflict(f"request {request_id} is already {doc['state']}")
            now = self.clock()
            if now >= doc["expires_at"]:
                await self._transition(doc, EXPIRED, reason="no decision in time")
                raise Conflict(f"request {request_id} expired")
            why_not = self.may_approve(doc, approver)
            if why_not is not None:
                if approver.user == doc["user"] or approver.person_key == doc["person"]:
                    accounting.self_approval(doc, approver.user, channel, approve)
                raise Forbidden(why_not)
            if any(a["person"] == approver.person_key for a in doc["approvals"]):
                raise Conflict(f"{approver.user} already approved request {request_id}")
            vote = {
                "by": approver.user,
                "person": approver.person_key,
                "at": now,
                "reason": reason,
                "window_minutes": window_minutes,
                "channel": channel,
            }
            new = {**doc, "version": doc["version"] + 1}
            if not approve:
                new.update(
                    state=DENIED,
                    decided_at=now,
                    decided_by=approver.user,
                    decision_reason=reason,
                    denial=vote,
                )
            else:
                new["approvals"] = [*doc["approvals"], vote]
                if len(new["approvals"]) >= doc["quorum"]:
                    windows = [a["window_minutes"] for a in new["approvals"]]
                    new.update(
                        state=APPROVED,
                        decided_at=now,
                        decided_by=", ".join(a["by"] for a in new["approvals"]),
                        decision_reason=reason,
                        window_minutes=min(windows),
                    )
            if await self.store.update_if("request", request_id, {"version": doc["version"]}, new):
                break
        else:
            raise Conflict(f"request {request_id} is changing too fast; try again")
        if self.ledger is not None:
            self.ledger.append("vote", new, **vote, approve=approve)
        if new["state"] in FINAL:
            await self._finished(new)
        return new

    async def _transition(
        self, doc: dict[str, Any], state: str, reason: str
    ) -> dict[str, Any] | None:
        """pending -> expired/withdrawn by the system; None if someone else changed it first."""
        new = {
            **doc,
            "version": doc["version"] + 1,
            "state": state,
            "decided_at": self.clock(),
            "decided_by": "airlock",
            "decision_reason": reason,
        }
        ok = await self.store.update_if(
            "request", doc["id"], {"version": doc["version"], "state": PENDING}, new
        )
        if not ok:
            return None
        await self._finished(new)
        return new

    async def _finished(self, doc: dict[str, Any]) -> None:
        """After a final state: open grant windows, wake the local waiter, tell other nodes."""
        accounting.finished(doc)
        if self.ledger is not None:
            self.ledger.append(
                doc["state"], doc, by=doc.get("decided_by", ""), reason=doc.get("decision_reason")
            )
        if doc["state"] == APPROVED and doc.get("window_minutes"):
            until = doc["decided_at"] + doc["window_minutes"] * 60
            for category in doc["window_categories"]:
                await self.store.put(
                    "window",
                    f"{doc['session_id']}/{category}",
                    {
                        "session_id": doc["session_id"],
                        "category": category,
                        "until": until,
                        "by": doc["decided_by"],
                        "request_id": doc["id"],
                        "granted_at": doc["decided_at"],
                        "user": doc["user"],
                        "target": doc["target"],
                    },
                )
                if self.ledger is not None:
                    self.ledger.append("window", doc, category=category, until=until)
        self._wake(doc)
        try:
            await self.store.publish(DECISIONS_CHANNEL, doc["id"])
        except Exception:
            log.exception("could not publish decision of %s", doc["id"])
        url = self.approval_url(doc["id"])
        for notifier in self.notifiers:
            self._spawn(
                self._notify(notifier, "request_decided", doc, url), f"notify-{notifier.name}"
            )

    def _wake(self, doc: dict[str, Any]) -> None:
        future = self._waiters.get(doc["id"])
        if future is not None and not future.done():
            future.set_result(doc)
        ctx = self._retry_ctx.pop(doc["id"], None)
        if ctx is not None:
            self._record(
                ctx,
                doc["id"],
                doc["state"],
                doc.get("decided_by", ""),
                doc.get("decision_reason", ""),
                approvals=doc.get("approvals", []),
            )

    async def on_decision(self, request_id: str) -> None:
        """A decision made elsewhere (another node, via the store's pub/sub): re-read, wake."""
        if request_id not in self._waiters and request_id not in self._retry_ctx:
            return
        doc = await self.store.get("request", request_id)
        if doc is not None and doc["state"] in FINAL:
            self._wake(doc)

    def _on_notify(self, payload: str) -> None:
        self._spawn(self.on_decision(payload), "approvals-on-decision")

    async def sweep(self) -> int:
        """Expire pending requests past their deadline (retry-mode ones have no waiter)."""
        now = self.clock()
        count = pending = 0
        for doc in await self.store.list("request"):
            if doc.get("state") != PENDING:
                continue
            due = doc["expires_at"] <= now
            if due and await self._transition(doc, EXPIRED, reason="no decision in time"):
                count += 1
            elif not due:
                pending += 1
        # The store is the truth (other nodes create and decide requests too): the gauge
        # moves with this node's own changes between sweeps and is reset here.
        metrics.set_pending(pending)
        return count

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.sweep_s)
            try:
                await self.sweep()
            except Exception:
                log.exception("approvals sweep failed")


def _retry_key(user: str, target: str, sha256: str) -> str:
    return hashlib.sha256(f"{user}\0{target}\0{sha256}".encode()).hexdigest()


def _minutes(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:g} s"
    return f"{seconds / 60:g} min"

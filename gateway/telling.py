"""What the agent is told when a statement is held, refused, approved, or not sent.

An agent reads the error or notice it gets back and decides what to do next, so every such
message carries, in Postgres's standard fields, the same facts a person would want: the
plain-language reason (what the statement does), its categories, the request id, the
deadline and the approval link in DETAIL; how to give a reason and (retry mode) how to
retry in HINT. The first words of DETAIL are a stable prefix that tells the outcomes apart
(documented in docs/approvals.md); clients may match on it:

=============================  ========  ======================================
DETAIL starts with             SQLSTATE  meaning
=============================  ========  ======================================
``airlock: held.``             (NOTICE)  waiting for a person (hold mode)
``airlock: approved.``         (NOTICE)  a person approved; the result follows
``airlock: approval pending.`` 42501     retry mode: send it again once approved
``airlock: denied by policy.`` 42501     a policy rule denies it; nobody was asked
``airlock: denied.``           42501     a person denied it
``airlock: expired.``          42501     nobody decided before the deadline
``airlock: withdrawn.``        42501     the request was withdrawn (57014 when the
                                         client cancelled, 57P01 on a gateway drain)
``airlock: no approver.``      42501     review needed, no approval channel set up
``airlock: not sent.``         42601     the server's grammar rejects the text
=============================  ========  ======================================

Requester-controlled text (the agent's own reason) is never put here; reasons written by
approvers go through ``for_humans`` so a control character cannot repaint a terminal.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from gateway.approvals.display import for_humans as escape
from gateway.model import Verdict
from protocols.classification import Classification

HELD = "airlock: held."
APPROVED = "airlock: approved."
PENDING = "airlock: approval pending."
DENIED_BY_POLICY = "airlock: denied by policy."
DENIED = "airlock: denied."
EXPIRED = "airlock: expired."
WITHDRAWN = "airlock: withdrawn."
NO_APPROVER = "airlock: no approver."
NOT_SENT = "airlock: not sent."

#: Rule names the policy gives itself (gateway.policy); they mean nothing to an agent.
_BUILTIN_RULES = frozenset({"fallback", "builtin-allow-benign", "internal-error"})

REASON_HINT = (
    "To tell the approver why, run SET airlock.reason = 'why' before the statement "
    "(or connect with PGOPTIONS='-c airlock.reason=why')."
)


def for_humans(text: str) -> str:
    """One line with every control and invisible character escaped (approvals.display)."""
    return " ".join(escape(text).split("\n"))


@dataclass(frozen=True, slots=True)
class Told:
    """One message for the agent: the primary line, DETAIL and HINT."""

    message: str
    detail: str
    hint: str = ""

    def as_text(self) -> str:
        """For channels without fields (an SSH session's stderr): the primary line, which
        names the request and the link itself; the HINT's advice is Postgres's."""
        return self.message


def what_it_does(c: Classification) -> str:
    """The plain-language reason: what the classifier found, then the categories."""
    reasons = "; ".join(dict.fromkeys(c.reasons)) or "no reason recorded"
    categories = ", ".join(sorted(c.categories)) or "none"
    return f"Why: {reasons}. Categories: {categories}."


def which_rule(verdict: Verdict) -> str:
    if verdict.rule in _BUILTIN_RULES:
        return "Policy: no rule allows this, so the default applies."
    return f"Policy: rule {verdict.rule!r}."


def deadline(expires_at: float, now: float | None = None) -> str:
    left = max(0.0, expires_at - (time.time() if now is None else now))
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(expires_at))
    return f"Deadline: {stamp} (in {_span(left)})."


def _span(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"


def _join(parts: Iterable[str]) -> str:
    return " ".join(part for part in parts if part)


def policy_denied(c: Classification, verdict: Verdict) -> Told:
    rule = "the default policy" if verdict.rule in _BUILTIN_RULES else f"rule {verdict.rule}"
    return Told(
        f"airlock: denied by {rule}: {verdict.reason}",
        _join((DENIED_BY_POLICY, what_it_does(c), which_rule(verdict))),
        "Nobody can approve this here; ask an administrator if it is needed.",
    )


def no_approver(c: Classification, verdict: Verdict) -> Told:
    return Told(
        f"airlock: approval required ({', '.join(sorted(c.categories))}) and no approval "
        "channel is configured",
        _join((NO_APPROVER, what_it_does(c), which_rule(verdict))),
        "Ask an administrator to configure approvals, or to allow this by policy.",
    )


def held(
    c: Classification, verdict: Verdict, request_id: str, url: str, expires_at: float, retry: bool
) -> Told:
    what = ", ".join(sorted(c.categories)) or "this action"
    message = f"airlock: approval required for {what} (request {request_id}); " + (
        "refused for now" if retry else "waiting for a decision"
    )
    detail = _join(
        (
            PENDING if retry else HELD,
            what_it_does(c),
            which_rule(verdict),
            f"Request: {request_id}.",
            deadline(expires_at),
        )
    )
    step = (
        f"Once it is approved at {url}, send exactly the same statement again (it passes once)."
        if retry
        else f"Approve or deny at {url}; the statement runs as soon as it is approved."
    )
    return Told(message, detail, f"{step} {REASON_HINT}")


def approved(request_id: str, by: str) -> Told:
    who = for_humans(by) if by else "an approver"
    return Told(
        f"airlock: approved by {who} (request {request_id}); running the statement",
        f"{APPROVED} Request: {request_id}. Approved by: {who}.",
    )


def decided(
    c: Classification,
    verdict: Verdict,
    request_id: str,
    state: str,
    by: str,
    why: str,
    url: str,
) -> Told:
    """The refusal for a request that ended denied, expired or withdrawn."""
    prefix = {"denied": DENIED, "expired": EXPIRED}.get(state, WITHDRAWN)
    parts = [prefix, what_it_does(c), which_rule(verdict), f"Request: {request_id}."]
    if by:
        parts.append(f"Decided by: {for_humans(by)}.")
    if why:
        parts.append(f"Their reason: {for_humans(why)}.")
    hint = f"See {url}. {REASON_HINT}" if state != "denied" else f"See {url}."
    return Told("", _join(parts), hint)


def syntax_error(message: str) -> Told:
    return Told(
        message,
        f"{NOT_SENT} The server's grammar rejects this text, so it cannot run; Airlock "
        "answered it without sending it.",
    )

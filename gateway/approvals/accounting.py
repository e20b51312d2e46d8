"""What the broker tells operators about requests: audit lines and approval metrics.

Kept apart from the broker's state machine: the broker calls one function per transition,
and what goes into the audit log (never a secret: the request text is already redacted)
is decided here.
"""

from __future__ import annotations

from typing import Any

from gateway import audit, metrics
from gateway.audit import Event

_FINAL_EVENTS = {
    "approved": Event.REQUEST_APPROVED,
    "denied": Event.REQUEST_DENIED,
    "expired": Event.REQUEST_EXPIRED,
    "withdrawn": Event.REQUEST_WITHDRAWN,
}


def created(doc: dict[str, Any]) -> None:
    metrics.approval_requested()
    audit.emit(
        Event.REQUEST_CREATED,
        request=doc["id"],
        session=doc["session_id"],
        protocol=doc["protocol"],
        user=doc["user"],
        target=doc["target"],
        source=doc["client_addr"],
        categories=doc["categories"],
        rule=doc["rule"],
        mode=doc["mode"],
        reason=doc["agent_reason"],
        text=doc["text"],
        sha256=doc["sha256"],
        expires_at=doc["expires_at"],
    )


def self_approval(doc: dict[str, Any], user: str, channel: str, approve: bool) -> None:
    audit.emit(
        Event.SELF_APPROVAL,
        request=doc["id"],
        user=user,
        requester=doc["user"],
        channel=channel,
        approve=approve,
    )


def finished(doc: dict[str, Any]) -> None:
    """A request reached a final state on this node: latency observed, one audit line."""
    latency = max(0.0, (doc.get("decided_at") or doc["created_at"]) - doc["created_at"])
    metrics.approval_finished(doc["state"], latency)
    audit.emit(
        _FINAL_EVENTS[doc["state"]],
        request=doc["id"],
        session=doc["session_id"],
        protocol=doc["protocol"],
        user=doc["user"],
        target=doc["target"],
        categories=doc["categories"],
        rule=doc["rule"],
        decided_by=doc.get("decided_by", ""),
        approvers=[a["by"] for a in doc.get("approvals", [])],
        decision_reason=doc.get("decision_reason", ""),
        latency_s=round(latency, 3),
        window_minutes=doc.get("window_minutes", 0),
    )

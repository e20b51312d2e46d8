"""The approval page: one server-rendered request with Approve / Deny and a reason.

Login is HTTP Basic (the browser prompts). Browsers replay Basic credentials on cross-site
requests, so every POST carries a CSRF token: HMAC(process key, user + request id), which
another site cannot compute; the app's middleware also refuses a foreign ``Origin`` and
forbids framing. Every requester-controlled string is shown through
`gateway.approvals.display.for_humans` (invisible and bidi characters escaped), with a
warning when the statement had any. Written by hand (a few lines of HTML) rather than
pulling in a template engine for one page.
"""

from __future__ import annotations

import hashlib
import hmac
from html import escape
from typing import Any

from aiohttp import web

from gateway.approvals.broker import ApprovalError
from gateway.approvals.display import for_humans, hidden_count
from gateway.http.state import authenticate, state_of


def csrf_token(key: bytes, user: str, request_id: str) -> str:
    return hmac.new(key, f"{user}\0{request_id}".encode(), hashlib.sha256).hexdigest()


def _challenge() -> web.Response:
    return web.Response(
        status=401,
        text="login required",
        headers={"WWW-Authenticate": 'Basic realm="airlock", charset="UTF-8"'},
    )


_STYLE = (
    "body{font:15px system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem}"
    "pre{background:#f4f4f4;padding:1rem;white-space:pre-wrap;overflow-wrap:anywhere}"
    "th{text-align:left;padding-right:1rem;vertical-align:top}"
    ".state{font-weight:bold}.msg{padding:.5rem;background:#fff3cd}"
    ".warn{padding:.5rem;background:#f8d7da;font-weight:bold}"
)
#: What the redirect after a decision may say (the ``m`` query parameter); anything else
#: in a crafted link is not shown.
_MESSAGES = frozenset({"approved", "denied", "pending", "expired", "withdrawn"})


def render(doc: dict[str, Any], user: str, token: str, message: str = "") -> str:
    rows = [
        ("State", doc["state"]),
        (
            "Requester",
            f"{doc['user']} ({doc['agent'] or 'unknown client'}) from {doc['client_addr']}",
        ),
        ("Target", f"{doc['protocol']} {doc['target']}"),
        ("Categories", ", ".join(doc["categories"])),
        ("Objects", ", ".join(doc["objects"]) or "-"),
        ("Agent's reason", doc["agent_reason"] or "(none given)"),
        ("Rule", f"{doc['rule']}: {doc['rule_reason']}"),
        ("Approvers", f"{', '.join(doc['approvers'])} (quorum {doc['quorum']})"),
        ("Approvals so far", ", ".join(a["by"] for a in doc["approvals"]) or "none"),
        ("SHA-256 of the exact bytes", doc["sha256"]),
    ]
    if doc["state"] != "pending":
        rows.append(("Decided by", f"{doc['decided_by']}: {doc.get('decision_reason') or '-'}"))
    table = "".join(
        f"<tr><th>{escape(k)}</th><td>{escape(for_humans(str(v)))}</td></tr>" for k, v in rows
    )
    hidden = hidden_count(doc["text"])
    warning = (
        f'<p class="warn">This statement contains {hidden} invisible or control characters, '
        "shown as \\u escapes below. Check them before approving.</p>"
        if hidden
        else ""
    )
    form = ""
    if doc["state"] == "pending":
        form = (
            f'<form method="post"><input type="hidden" name="csrf" value="{escape(token)}">'
            '<p><label>Reason <input name="reason" size="60"></label></p>'
            "<p><label>Also allow these categories on this session for "
            '<input name="window" type="number" min="0" value="0" size="4"> minutes '
            "(0: this statement only)</label></p>"
            '<button name="action" value="approve">Approve</button> '
            '<button name="action" value="deny">Deny</button></form>'
        )
    note = f'<p class="msg">{escape(message)}</p>' if message else ""
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Airlock request "
        f"{escape(doc['id'])}</title><style>{_STYLE}</style></head><body>"
        f"<h1>Approval request {escape(doc['id'])}</h1>{note}"
        f"<p>Signed in as {escape(user)}.</p><table>{table}</table>"
        f"<h2>Statement (redacted)</h2>{warning}<pre>{escape(for_humans(doc['text']))}</pre>"
        f"{form}</body></html>"
    )


async def show(request: web.Request) -> web.Response:
    identity = await authenticate(request)
    if identity is None:
        return _challenge()
    st = state_of(request)
    doc = await st.broker.get(request.match_info["id"])
    if doc is None:
        return web.Response(status=404, text="no such request")
    token = csrf_token(st.csrf_key, identity.user, doc["id"])
    message = request.query.get("m", "")
    message = message if message in _MESSAGES else ""
    return web.Response(text=render(doc, identity.user, token, message), content_type="text/html")


async def decide(request: web.Request) -> web.Response:
    identity = await authenticate(request)
    if identity is None:
        return _challenge()
    st = state_of(request)
    request_id = request.match_info["id"]
    form = await request.post()
    expected = csrf_token(st.csrf_key, identity.user, request_id)
    if not hmac.compare_digest(str(form.get("csrf", "")), expected):
        return web.Response(status=403, text="invalid or missing CSRF token; reload the page")
    action = form.get("action")
    if action not in ("approve", "deny"):
        return web.Response(status=400, text="action must be approve or deny")
    try:
        window = int(str(form.get("window", "0") or "0"))
    except ValueError:
        return web.Response(status=400, text="window must be a whole number of minutes")
    reason = str(form.get("reason", ""))
    try:
        doc = await st.broker.decide(
            request_id, identity, action == "approve", reason, window, channel="page"
        )
    except ApprovalError as exc:
        current = await st.broker.get(request_id)
        if current is None:
            return web.Response(status=exc.status, text=str(exc))
        page = render(current, identity.user, expected, str(exc))
        return web.Response(status=exc.status, text=page, content_type="text/html")
    raise web.HTTPSeeOther(f"/approvals/{doc['id']}?m={doc['state']}")


def register(router: web.UrlDispatcher) -> None:
    router.add_get("/approvals/{id}", show)
    router.add_post("/approvals/{id}", decide)

"""`airlock requests | approve ID | deny ID`: the CLI approval channel.

The CLI calls the running daemon's HTTP API (``http.public_url``, or ``--url``) rather than
writing to the store, so a decision wakes the held session at once on any store and goes
through the same checks as every other channel (authentication, approver set, no
self-approval). It authenticates as the operator (``[approvals] operator`` or ``--as``)
with HTTP Basic, the secret being an API token or that user's password from the
environment variable ``AIRLOCK_TOKEN``. Standard library only: it is a few requests.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from gateway.approvals.display import for_humans, hidden_count
from gateway.config import ConfigError, load_config

TOKEN_ENV = "AIRLOCK_TOKEN"  # noqa: S105 - the variable name, not a secret


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _client(args: argparse.Namespace) -> tuple[str, str]:
    """(base URL, Authorization header) from --config/--url/--as and $AIRLOCK_TOKEN."""
    config = load_config(args.config)
    base = (args.url or config.http.public_url).rstrip("/")
    approvals = config.raw.get("approvals", {})
    user = args.as_user or (approvals.get("operator", "") if isinstance(approvals, dict) else "")
    if not user:
        raise ConfigError("approvals.operator", "is not set; pass --as USER")
    secret = os.environ.get(TOKEN_ENV, "")
    if not secret:
        raise ConfigError(TOKEN_ENV, f"set ${TOKEN_ENV} to {user}'s API token or password")
    basic = base64.b64encode(f"{user}:{secret}".encode()).decode()
    return base, f"Basic {basic}"


def call(
    base: str, auth: str, method: str, path: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{base}/api/v1{path}", data=data, method=method)  # noqa: S310
    request.add_header("Authorization", auth)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310
            return json.loads(resp.read())  # type: ignore[no-any-return]
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("error", exc.reason)
        except ValueError:
            message = exc.reason
        raise ApiError(exc.code, str(message)) from None
    except urllib.error.URLError as exc:
        raise ApiError(0, f"cannot reach the daemon at {base}: {exc.reason}") from None


def _line(doc: dict[str, Any], now: float) -> str:
    """One request for a terminal: every string through `for_humans`, so a statement cannot
    reorder, hide or repaint what the operator sees (escape sequences, bidi overrides)."""
    left = doc["expires_at"] - now
    when = f"{left / 60:.1f} min left" if doc["state"] == "pending" else doc["state"]
    text = str(doc["text"])
    hidden = hidden_count(text)
    warning = f"\n    ({hidden} hidden characters, shown as \\u escapes)" if hidden else ""
    head = (
        f"{doc['id']}  {doc['state']:<9} {doc['user']}@{doc['target']} "
        f"[{','.join(doc['categories'])}] rule={doc['rule']} {when}"
    )
    # One line per request: a newline in the statement must not start a fake entry.
    shown = for_humans(text[:200] + ("..." if len(text) > 200 else "")).replace("\n", "\\n")
    reason = str(doc.get("agent_reason") or "")
    said = for_humans(reason[:200]).replace("\n", "\\n")  # one line, like the statement
    why = f"\n    reason: {said}" if reason else ""
    return for_humans(head) + f"\n    {shown}" + why + warning


def cmd_requests(args: argparse.Namespace) -> int:
    base, auth = _client(args)
    docs = call(base, auth, "GET", "/requests" + ("?all=1" if args.all else ""))["requests"]
    if args.json:
        print(json.dumps(docs, indent=2, sort_keys=True))
    elif not docs:
        print("no pending requests" if not args.all else "no requests")
    else:
        now = time.time()
        for doc in docs:
            print(_line(doc, now))
    return 0


def _decide(args: argparse.Namespace, verb: str, body: dict[str, Any]) -> int:
    base, auth = _client(args)
    doc = call(base, auth, "POST", f"/requests/{args.id}/{verb}", body)
    if args.json:
        print(json.dumps(doc, indent=2, sort_keys=True))
    elif doc["state"] == "pending":
        print(f"recorded: {len(doc['approvals'])} of {doc['quorum']} approvals for {doc['id']}")
    else:
        print(f"request {doc['id']} {doc['state']} by {doc['decided_by']}")
    return 0


def cmd_approve(args: argparse.Namespace) -> int:
    return _decide(args, "approve", {"reason": args.reason, "window_minutes": args.window})


def cmd_deny(args: argparse.Namespace) -> int:
    return _decide(args, "deny", {"reason": args.reason})


def _guarded(func: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        try:
            return int(func(args))
        except ApiError as exc:
            print(f"airlock: {exc} (HTTP {exc.status})" if exc.status else f"airlock: {exc}",
                  file=sys.stderr)  # fmt: skip
            return 1

    return run


def register(sub: Any) -> None:
    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", required=True, help="the daemon's config file")
        p.add_argument("--url", help="daemon base URL (default: http.public_url)")
        p.add_argument("--as", dest="as_user", help="act as USER (default: approvals.operator)")
        p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("requests", help="list approval requests (pending unless --all)")
    common(p)
    p.add_argument("--all", action="store_true", help="include decided requests")
    p.set_defaults(func=_guarded(cmd_requests))

    p = sub.add_parser("approve", help="approve a request")
    common(p)
    p.add_argument("id")
    p.add_argument("--reason", default="", help="why (recorded)")
    p.add_argument("--window", type=int, default=0, metavar="MINUTES",
                   help="also allow these categories on that session for MINUTES")  # fmt: skip
    p.set_defaults(func=_guarded(cmd_approve))

    p = sub.add_parser("deny", help="deny a request")
    common(p)
    p.add_argument("id")
    p.add_argument("--reason", required=True, help="why (shown to the requester)")
    p.set_defaults(func=_guarded(cmd_deny))

"""`airlock requests | approve ID | deny ID`: the CLI approval channel.

The CLI calls the running daemon's HTTP API (``http.public_url``, or ``--url``) rather than
writing to the store, so a decision wakes the held session at once on any store and goes
through the same checks as every other channel (authentication, approver set, no
self-approval). It authenticates as the operator (``[approvals] operator`` or ``--as``)
with HTTP Basic, the secret being an API token or that user's password from the
environment variable ``AIRLOCK_TOKEN``. Standard library only: it is a few requests.
The config is ``--config``, else ``$AIRLOCK_CONFIG``, else /etc/airlock/airlock.toml, as
for every other verb.
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
CONFIG_ENV = "AIRLOCK_CONFIG"
DEFAULT_CONFIG = "/etc/airlock/airlock.toml"


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _client(args: argparse.Namespace) -> tuple[str, str]:
    """(base URL, Authorization header) from --config/--url/--as and $AIRLOCK_TOKEN.

    With both ``--url`` and ``--as`` no config file is needed (an approver's laptop).
    """
    base, user = args.url or "", args.as_user or ""
    if not (base and user):
        config = load_config(args.config or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)
        base = base or config.http.public_url
        approvals = config.raw.get("approvals", {})
        if not user and isinstance(approvals, dict):
            user = approvals.get("operator", "")
    base = base.rstrip("/")
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


def time_left(seconds: float) -> str:
    """``4m 05s left``: what an approver needs to know at a glance."""
    if seconds <= 0:
        return "expiring now"
    s = int(seconds)
    if s >= 3600:
        return f"{s // 3600}h {s % 3600 // 60:02d}m left"
    return f"{s // 60}m {s % 60:02d}s left"


def _line(doc: dict[str, Any], now: float) -> str:
    """One request for a terminal: every string through `for_humans`, so a statement cannot
    reorder, hide or repaint what the operator sees (escape sequences, bidi overrides)."""
    if doc["state"] == "pending":
        when = time_left(doc["expires_at"] - now)
    else:
        by = f" by {doc['decided_by']}" if doc.get("decided_by") else ""
        when = f"{doc['state']}{by}"
    reason = str(doc.get("agent_reason") or "(none given)")
    text = str(doc["text"])
    hidden = hidden_count(text)
    warning = f"\n    ({hidden} hidden characters, shown as \\u escapes)" if hidden else ""
    head = (
        f"{doc['id']}  {doc['state']:<9} {doc['user']}@{doc['target']} "
        f"[{','.join(doc['categories'])}] rule={doc['rule']}  {when}"
    )
    # One line per request: a newline in the statement must not start a fake entry.
    shown = for_humans(text[:200] + ("..." if len(text) > 200 else "")).replace("\n", "\\n")
    why = for_humans(reason).replace("\n", "\\n")
    return for_humans(head) + f"\n    reason: {why}\n    {shown}" + warning


def _render(docs: list[dict[str, Any]], include_all: bool, now: float) -> str:
    if not docs:
        return "no pending requests" if not include_all else "no requests"
    return "\n".join(_line(doc, now) for doc in docs)


def cmd_requests(args: argparse.Namespace) -> int:
    base, auth = _client(args)
    path = "/requests" + ("?all=1" if args.all else "")
    if args.watch:
        return _watch(args, base, auth, path)
    docs = call(base, auth, "GET", path)["requests"]
    if args.json:
        print(json.dumps(docs, indent=2, sort_keys=True))
    else:
        print(_render(docs, args.all, time.time()))
    return 0


def _watch(args: argparse.Namespace, base: str, auth: str, path: str) -> int:
    """Poll the queue until interrupted. On a terminal: redraw in place (time left ticks);
    otherwise (a pipe, a log): print the listing again only when the set of requests or
    their states changed, so a script can follow it line by line."""
    if not args.interval > 0:
        print("airlock: --interval must be a positive number of seconds", file=sys.stderr)
        return 2
    tty = sys.stdout.isatty()
    last: object = None
    try:
        while True:
            docs = call(base, auth, "GET", path)["requests"]
            if args.json:
                key: object = docs
                text = json.dumps(docs, sort_keys=True)
            else:
                key = [(d["id"], d["state"]) for d in docs]
                text = _render(docs, args.all, time.time())
            if tty:
                stamp = time.strftime("%H:%M:%S")
                sys.stdout.write(f"\x1b[H\x1b[2J{stamp}  every {args.interval:g}s, ^C to stop\n")
                print(text, flush=True)
            elif key != last:
                print(text, flush=True)
            last = key
            time.sleep(args.interval)
    except KeyboardInterrupt:
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
    reason = args.reason
    if not reason:
        if not sys.stdin.isatty():
            print("airlock: a denial needs a reason (shown to the requester): --reason TEXT",
                  file=sys.stderr)  # fmt: skip
            return 2
        try:
            reason = input(f"reason for denying {args.id} (shown to the requester): ").strip()
        except EOFError:
            reason = ""
        if not reason:
            print("airlock: a denial needs a reason; nothing was sent", file=sys.stderr)
            return 2
    return _decide(args, "deny", {"reason": reason})


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
        p.add_argument("--config", help=f"the daemon's config file (default ${CONFIG_ENV}, "
                       f"else {DEFAULT_CONFIG})")  # fmt: skip
        p.add_argument("--url", help="daemon base URL (default: http.public_url)")
        p.add_argument("--as", dest="as_user", help="act as USER (default: approvals.operator)")
        p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("requests", help="list approval requests (pending unless --all)")
    common(p)
    p.add_argument("--all", action="store_true", help="include decided requests")
    p.add_argument("--watch", action="store_true", help="keep listing until interrupted")
    p.add_argument("--interval", type=float, default=2.0, metavar="SECONDS",
                   help="--watch polling interval (default 2)")  # fmt: skip
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
    p.add_argument("--reason", help="why (shown to the requester; asked for on a terminal)")
    p.set_defaults(func=_guarded(cmd_deny))

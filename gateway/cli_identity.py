"""`airlock token create|list|revoke`: API tokens for agents.

`create` prints the token once; the store keeps only its SCRAM verifier. A revoke takes
effect for new logins at once and ends the token's live sessions within
`identity.revocation_poll_s` (the daemon polls the store; see gateway/identity/sessions.py).
Exit codes: 0 ok, 1 not found / refused, 2 usage or configuration error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from gateway.config import Config, load_config
from gateway.store.base import Store, TokenRow

T = TypeVar("T")
DEFAULT_CONFIG = "/etc/airlock/airlock.toml"


def _config(args: argparse.Namespace) -> Config:
    path = args.config or os.environ.get("AIRLOCK_CONFIG") or DEFAULT_CONFIG
    return load_config(path)


async def _with_store(config: Config, fn: Callable[[Store], Awaitable[T]]) -> T:
    from gateway.store.sqlite import open_store

    store = open_store(config.store, config.store_path)
    await store.open()
    try:
        return await fn(store)
    finally:
        await store.close()


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds") if ts else ""


def _status(row: TokenRow, now: float) -> str:
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= now:
        return "expired"
    return "live"


async def _known_user(config: Config, user: str) -> str | None:
    """None when the user exists (config or directory), else why not."""
    if user in config.users:
        return None
    from gateway.identity.settings import parse_identity

    settings = parse_identity(config.raw, config.path.parent if config.path else None)
    if settings.ldap is None:
        return f"unknown user {user!r} (not in [users] and no [identity.ldap] configured)"
    from gateway.identity.ldap import DirectoryUnavailable, LdapDirectory

    directory = LdapDirectory(settings.ldap)
    try:
        found = await directory.lookup(user)
    except DirectoryUnavailable as exc:
        return f"cannot check user {user!r}: {exc} (use --no-check to skip)"
    finally:
        directory.close()
    return None if found is not None else f"unknown user {user!r} (not in the directory)"


def cmd_create(args: argparse.Namespace) -> int:
    from gateway.identity.tokens import create_token, parse_ttl, user_salt

    try:
        ttl = None if args.ttl in ("none", "never") else parse_ttl(args.ttl)
    except ValueError as exc:
        print(f"airlock: --ttl: {exc}", file=sys.stderr)
        return 2
    config = _config(args)
    if not args.no_check and (problem := asyncio.run(_known_user(config, args.user))):
        print(f"airlock: {problem}", file=sys.stderr)
        return 1
    local = config.users.get(args.user)

    async def create(store: Store) -> tuple[TokenRow, str]:
        salt = await user_salt(store, args.user, local.password_hash if local else None)
        return await create_token(store, args.user, ttl, args.name or "", salt)

    row, token = asyncio.run(_with_store(config, create))
    if args.json:
        print(json.dumps({**_row_json(row, time.time()), "token": token}))
    else:
        print(token)
        print(
            f"airlock: token {row.id} for {row.user}, expires {_when(row.expires_at) or 'never'}"
            " (shown once; only its hash is stored)",
            file=sys.stderr,
        )
    return 0


def _row_json(row: TokenRow, now: float) -> dict[str, Any]:
    return {
        "id": row.id,
        "user": row.user,
        "name": row.name,
        "status": _status(row, now),
        "created_at": row.created_at,
        "expires_at": row.expires_at,
        "revoked_at": row.revoked_at,
    }


def cmd_list(args: argparse.Namespace) -> int:
    rows = asyncio.run(_with_store(_config(args), lambda s: s.list_tokens()))
    if args.user:
        rows = [r for r in rows if r.user == args.user]
    now = time.time()
    if args.json:
        print(json.dumps([_row_json(r, now) for r in rows], indent=2))
        return 0
    print(f"{'ID':<16}  {'USER':<16}  {'STATUS':<8}  {'EXPIRES':<25}  NAME")
    for r in rows:
        expires = _when(r.expires_at) or "never"
        print(f"{r.id:<16}  {r.user:<16}  {_status(r, now):<8}  {expires:<25}  {r.name}")
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    revoked = asyncio.run(
        _with_store(_config(args), lambda s: s.revoke_token(args.id, time.time()))
    )
    if not revoked:
        print(f"airlock: no live token {args.id!r}", file=sys.stderr)
        return 1
    print(f"airlock: token {args.id} revoked; its live sessions end within seconds")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("token", help="API tokens for agents: create, list, revoke")
    verbs = p.add_subparsers(dest="token_verb", metavar="VERB", required=True)

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("--config", type=Path, help="config file (default $AIRLOCK_CONFIG)")

    q = verbs.add_parser("create", help="create a token and print it once")
    common(q)
    q.add_argument("--user", required=True, help="the user the token logs in as")
    q.add_argument("--ttl", default="24h", help="lifetime: 90s, 30m, 24h, 7d or 'never'")
    q.add_argument("--name", default="", help="a label, e.g. the agent's name")
    q.add_argument("--no-check", action="store_true", help="do not check the user exists")
    q.add_argument("--json", action="store_true", help="print a JSON object with the token")
    q.set_defaults(func=cmd_create)

    q = verbs.add_parser("list", help="list tokens (never their secrets)")
    common(q)
    q.add_argument("--user", help="only this user's tokens")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(func=cmd_list)

    q = verbs.add_parser("revoke", help="revoke a token and end its live sessions")
    common(q)
    q.add_argument("id", help="token id (from `airlock token list`)")
    q.set_defaults(func=cmd_revoke)

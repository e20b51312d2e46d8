"""``airlock sessions``, ``airlock replay`` and ``airlock verify``.

With ``--config`` they use the configured transcript directory, audit public key and the
store (session list, head hashes). ``--dir`` and ``--public-key`` work on a transcript
directory alone, e.g. a copy on an auditor's machine that holds the public key off-host.
Exit codes: 0 ok, 1 a transcript failed verification (tampered or missing), 2 usage or
configuration error, 3 (``verify`` only) nothing tampered but some transcript is unclosed —
cut short by a gateway crash or still open; ``--allow-unclosed`` turns that into 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    load_pem_public_key,
    load_ssh_public_key,
)

from gateway.recording import replay
from gateway.recording.reader import read_events, session_info
from gateway.recording.verify import (
    VerifyReport,
    find_transcript,
    pruned_sessions,
    transcripts,
    verify_all,
    verify_session,
)

EXIT_OK, EXIT_TAMPERED, EXIT_USAGE, EXIT_UNCLOSED = 0, 1, 2, 3
DEFAULT_CONFIG = "/etc/airlock/airlock.toml"


class UsageError(Exception):
    pass


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key in PEM (SubjectPublicKeyInfo) or OpenSSH form."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read public key {path}: {exc.strerror}") from exc
    try:
        if data.lstrip().startswith(b"ssh-ed25519"):
            key: Any = load_ssh_public_key(data.strip())
        else:
            key = load_pem_public_key(data)
    except ValueError as exc:
        raise UsageError(f"{path} is not a PEM or OpenSSH public key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise UsageError(f"{path} is not an Ed25519 key")
    return key


def _config(args: argparse.Namespace) -> Any:
    from gateway.config import ConfigError, load_config

    path = getattr(args, "config", None) or os.environ.get("AIRLOCK_CONFIG") or DEFAULT_CONFIG
    try:
        return load_config(path)
    except (ConfigError, OSError) as exc:
        raise UsageError(f"{exc} (or give --dir and --public-key)") from exc


def _use_store(args: argparse.Namespace) -> bool:
    return args.dir is None


def _directory(args: argparse.Namespace) -> Path:
    if args.dir is not None:
        return Path(args.dir)
    return Path(_config(args).recording.directory)


def _public_key(args: argparse.Namespace) -> Ed25519PublicKey:
    if args.public_key is not None:
        return load_public_key(Path(args.public_key))
    return load_public_key(Path(_config(args).keys.audit_public))


async def _with_store(args: argparse.Namespace, what: str, **kw: Any) -> Any:
    from gateway.store.sqlite import open_store

    config = _config(args)
    store = open_store(config.store, config.store_path)
    await store.open()
    try:
        return await getattr(store, what)(**kw)
    finally:
        await store.close()


async def _store_state(
    args: argparse.Namespace,
) -> tuple[dict[str, tuple[int, str]], set[str], set[str]]:
    """(heads, closed, live) from the store: sessions whose end it recorded, and open
    sessions whose node is running now (gateway/liveness.py); any other open session
    was cut by a crash."""
    from gateway.liveness import live_sessions
    from gateway.store.sqlite import open_store

    config = _config(args)
    store = open_store(config.store, config.store_path)
    await store.open()
    try:
        heads = dict(await store.session_heads())
        rows = await store.list_sessions()
        live = await live_sessions(store, rows)
    finally:
        await store.close()
    return heads, {r.id for r in rows if r.ended_at is not None}, live


def parse_since(text: str, now: float | None = None) -> float:
    """``2h``/``3d``/``45m``/``30s`` ago, or an ISO 8601 date/time (local time if naive)."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd])", text.strip())
    if m:
        unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
        return (time.time() if now is None else now) - float(m.group(1)) * unit
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError as exc:
        raise UsageError(f"--since {text!r}: use e.g. 2h, 3d or 2024-05-01T12:00") from exc


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="config file")
    p.add_argument("--dir", type=Path, help="transcript directory (instead of the config's)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``sessions``, ``replay`` and ``verify`` to the ``airlock`` command."""
    p = subparsers.add_parser("sessions", help="list recorded sessions")
    _common(p)
    p.add_argument("--user", help="only this user's sessions")
    p.add_argument("--target", help="only sessions to this target")
    p.add_argument("--since", help="started after: 2h, 3d, or an ISO date/time")
    p.set_defaults(func=run_sessions)

    p = subparsers.add_parser("replay", help="show or play a recorded session")
    _common(p)
    p.add_argument("session", help="session id")
    p.add_argument("--format", choices=("text", "asciicast", "json"), default="text")
    p.add_argument("--speed", type=float, default=1.0, help="playback speed factor")
    p.add_argument("--idle-cap", type=float, default=None, help="longest pause, seconds")
    p.add_argument("--no-timing", action="store_true", help="print at once, no pauses")
    p.add_argument("--public-key", type=Path, help="audit public key (PEM or OpenSSH)")
    p.add_argument(
        "--force",
        action="store_true",
        help="show a transcript that fails verification or cannot be verified (with a warning)",
    )
    p.set_defaults(func=run_replay)

    p = subparsers.add_parser("verify", help="check transcripts for tampering")
    _common(p)
    p.add_argument("--public-key", type=Path, help="audit public key (PEM or OpenSSH)")
    p.add_argument("session", nargs="?", help="session id (default with --all: every one)")
    p.add_argument("--all", action="store_true", help="verify every transcript")
    p.add_argument(
        "--allow-unclosed",
        action="store_true",
        help="exit 0 when the only findings are unclosed transcripts (crash-cut, intact)",
    )
    p.set_defaults(func=run_verify)


def _fail(verb: str, exc: Exception) -> int:
    print(f"airlock {verb}: {exc}", file=sys.stderr)
    return EXIT_USAGE


def run_sessions(args: argparse.Namespace) -> int:
    try:
        since = parse_since(args.since) if args.since else None
        rows = _list_sessions(args, since)
    except UsageError as exc:
        return _fail("sessions", exc)
    if args.json:
        print(json.dumps(rows, indent=1))
        return EXIT_OK
    table = [("SESSION", "STARTED", "PROTOCOL", "USER", "TARGET", "CLIENT", "STATE", "STATEMENTS")]
    for r in rows:
        started = datetime.fromtimestamp(float(r["started"])).isoformat(timespec="seconds")
        table.append(
            (
                str(r["session"]),
                started,
                str(r.get("protocol", "")),
                str(r.get("user", "")),
                str(r.get("target", "")),
                str(r.get("client_addr", "")),
                str(r.get("state", "")),
                str(r.get("statements", "")),
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return EXIT_OK


def _list_sessions(args: argparse.Namespace, since: float | None) -> list[dict[str, Any]]:
    if _use_store(args):
        rows = asyncio.run(
            _with_store(args, "list_sessions", user=args.user, target=args.target, since=since)
        )
        _, _, live = asyncio.run(_store_state(args))
        return [
            {
                "session": r.id,
                "protocol": r.protocol,
                "user": r.user,
                "groups": list(r.groups),
                "target": r.target,
                "client_addr": r.client_addr,
                "agent": r.agent,
                "node": r.node,
                "started": r.started_at,
                "ended": r.ended_at,
                "statements": r.statements,
                "head_seq": r.head_seq,
                "state": "ended"
                if r.ended_at is not None
                else ("live" if r.id in live else "crashed"),
            }
            for r in rows
        ]
    out = []
    for path in transcripts(args.dir).values():
        info = session_info(path)
        if info is None:
            continue
        if args.user and info.user != args.user:
            continue
        if args.target and info.target != args.target:
            continue
        if since is not None and info.started < since:
            continue
        out.append({**info.to_json(), "state": "ended" if info.ended is not None else "open"})
    out.sort(key=lambda r: (r["started"], r["session"]))
    return out


def run_replay(args: argparse.Namespace) -> int:
    try:
        directory = _directory(args)
    except UsageError as exc:
        return _fail("replay", exc)
    path = find_transcript(directory, args.session)
    if path is None:
        return _fail("replay", UsageError(f"no transcript for session {args.session}"))
    refused = _verify_before_replay(args, path)
    if refused is not None:
        return refused
    events = read_events(path)
    if args.format == "json" or args.json:
        for ev in events:
            print(json.dumps(ev, ensure_ascii=False))
    elif args.format == "asciicast":
        sys.stdout.write(replay.to_asciicast(events))
    elif args.no_timing or not sys.stdout.isatty():
        for line in replay.render_text(events):
            print(line)
    else:
        try:
            replay.play(events, sys.stdout, speed=args.speed, idle_cap=args.idle_cap)
        except ValueError as exc:
            return _fail("replay", exc)
    return EXIT_OK


def _verify_before_replay(args: argparse.Namespace, path: Path) -> int | None:
    """None when the transcript may be shown; else the exit code, having said why.

    A transcript is evidence: showing a tampered one as if it were true misleads. It is
    verified first (chain, signature, the store's head); tampered or unverifiable means
    exit 1 and nothing shown, unless ``--force`` (then a warning on stderr first).
    """
    try:
        key = _public_key(args)
        head: tuple[int, str] | None = None
        closed = live = False
        if _use_store(args):
            heads, closed_set, live_set = asyncio.run(_store_state(args))
            head = heads.get(args.session)
            closed, live = args.session in closed_set, args.session in live_set
        report = verify_session(path, key, head, session_id=args.session, live=live, closed=closed)
        problem = (
            ""
            if not report.tampered
            else "; ".join(
                f"{p.kind}" + (f" at event {p.seq}" if p.seq is not None else "") + f": {p.detail}"
                for p in report.problems
                if p.tamper
            )
        )
    except (UsageError, OSError) as exc:
        problem = f"cannot verify it: {exc}"
        report = None
    if problem:
        what = "FAILS VERIFICATION" if report is not None else "IS UNVERIFIED"
        print(f"airlock replay: transcript {args.session} {what}: {problem}", file=sys.stderr)
        if not args.force:
            print("airlock replay: not shown; --force shows it anyway", file=sys.stderr)
            return EXIT_TAMPERED
        print("airlock replay: --force: showing it; do not trust its content", file=sys.stderr)
    elif report is not None and report.status == "unclosed":
        print(
            f"airlock replay: transcript {args.session} is unclosed (cut short by a crash); "
            "every event shown verifies",
            file=sys.stderr,
        )
    return None


def run_verify(args: argparse.Namespace) -> int:
    """Exit 0 all verified (live/pruned included), 1 any tampered or missing, 3 none
    tampered but some unclosed (0 with ``--allow-unclosed``), 2 usage.

    An open session is ``live`` (exit 0) when the store says its node is running it now
    (gateway/liveness.py); an open session of a node that stopped, restarted or went
    silent was cut by a crash: ``unclosed`` ("every event present verifies, the end is
    missing"). With ``--dir`` there is no store, so every open transcript is ``unclosed``.
    """
    if bool(args.session) == bool(args.all):
        return _fail("verify", UsageError("give a SESSION or --all"))
    try:
        directory = _directory(args)
        key = _public_key(args)
        heads: Mapping[str, tuple[int, str]] = {}
        closed: set[str] = set()
        live: set[str] = set()
        if _use_store(args):
            heads, closed, live = asyncio.run(_store_state(args))
    except UsageError as exc:
        return _fail("verify", exc)
    reports: Sequence[VerifyReport]
    if args.all:
        reports = verify_all(directory, key, heads, live, closed=closed)
    else:
        path = find_transcript(directory, args.session)
        pruned = pruned_sessions(directory, key) if path is None else {}
        if path is None and args.session in pruned:
            reports = verify_all(directory, key, {}, pruned={args.session: pruned[args.session]})
            reports = [r for r in reports if r.session_id == args.session]
        else:
            reports = [
                verify_session(
                    path,
                    key,
                    heads.get(args.session),
                    session_id=args.session,
                    live=args.session in live,
                    closed=args.session in closed,
                )
            ]
    tampered = [r for r in reports if r.tampered]
    unclosed = [r for r in reports if r.status == "unclosed"]
    if tampered:
        code = EXIT_TAMPERED
    elif unclosed and not args.allow_unclosed:
        code = EXIT_UNCLOSED
    else:
        code = EXIT_OK
    if args.json:
        summary = {
            "ok": code == EXIT_OK,
            "exit": code,
            "checked": len(reports),
            "tampered": len(tampered),
            "unclosed": len(unclosed),
            "reports": [r.to_json() for r in reports],
        }
        print(json.dumps(summary, indent=1))
        return code
    for r in reports:
        if r.ok:
            what = {"verified": "signed", "live": "open, no session_end yet"}.get(r.status, "")
            extra = f"{r.events} events, {what}" if r.status != "pruned" else "deleted, recorded"
            print(f"{r.status:<9} {r.session_id}  {extra}")
        for prob in r.problems:
            where = f" event {prob.seq}" if prob.seq is not None else ""
            label = prob.kind if prob.tamper else "unclosed"
            print(f"{label:<13} {r.session_id}{where}: {prob.detail}")
    ok = len(reports) - len(tampered) - len(unclosed)
    n_live = sum(1 for r in reports if r.status == "live")
    print(
        f"{ok} of {len(reports)} transcripts verified ({n_live} live), {len(unclosed)} "
        f"unclosed (crash-cut, every event present intact), {len(tampered)} tampered or missing"
    )
    return code

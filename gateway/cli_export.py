"""``airlock export`` (an evidence bundle) and ``airlock verify --bundle`` (check it offline).

Export picks sessions by id, or by time range (``--since``/``--until``, with ``--user`` /
``--target``) from the store (``--config``) or the transcripts themselves (``--dir``),
reads each transcript from the local directory or the object store, adds the approvals
ledgers that hold their requests and the audit public key, and signs a manifest of hashes
with the audit key. ``verify --bundle`` needs nothing but the bundle and the public key.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from gateway.cli_recording import (
    EXIT_OK,
    EXIT_TAMPERED,
    EXIT_UNCLOSED,
    UsageError,
    _config,
    _fail,
    _public_key,
    load_public_key,
    parse_since,
    run_verify,
)
from gateway.recording.bundle import build_bundle, verify_bundle
from gateway.recording.reader import iter_events, session_info
from gateway.recording.verify import transcripts


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("export", help="write an evidence bundle for auditors")
    p.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="config file")
    p.add_argument("--dir", type=Path, help="transcript directory (instead of the config's)")
    p.add_argument("--ledger-dir", type=Path, help="approvals ledger directory (with --dir)")
    p.add_argument("--key", type=Path, help="audit private key (default: the config's)")
    p.add_argument("--session", nargs="+", default=[], help="session ids")
    p.add_argument("--since", help="sessions started after: 2h, 3d, or an ISO date/time")
    p.add_argument("--until", help="sessions started before: 2h, 3d, or an ISO date/time")
    p.add_argument("--user", help="only this user's sessions")
    p.add_argument("--target", help="only sessions to this target")
    p.add_argument("-o", "--output", type=Path, required=True, help="bundle.tar to write")
    p.set_defaults(func=run_export)
    # `verify --bundle` is this module's: the verify verb (gateway/cli_recording.py) is
    # registered first and checks a bundle through here, so cli_recording needs no import
    # of this module (no import cycle).
    verify = subparsers.choices["verify"]
    verify.add_argument(
        "--bundle", type=Path, help="check an evidence bundle offline (airlock export)"
    )
    verify.set_defaults(func=_verify_or_bundle)


def _verify_or_bundle(args: argparse.Namespace) -> int:
    if args.bundle is not None:
        return run_verify_bundle(args)
    return run_verify(args)


def _signing_key(args: argparse.Namespace) -> Any:
    from gateway.keys import load_audit_key

    path = args.key if args.key is not None else _config(args).keys.audit_key
    try:
        return load_audit_key(Path(path))
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot load audit key {path}: {exc}") from exc


def _views(args: argparse.Namespace) -> tuple[dict[str, Path], dict[str, Path]]:
    """(transcripts, ledgers) by id: the local directory and, with a config, the store."""
    if args.dir is not None:
        ledgers = transcripts(args.ledger_dir) if args.ledger_dir else {}
        return transcripts(args.dir), ledgers
    config = _config(args)
    key = _public_key(argparse.Namespace(**{**vars(args), "public_key": None}))
    if config.recording.storage is None:
        from gateway.recording.fleet import ledger_directory

        ldir = ledger_directory(config.state_dir)
        return (
            transcripts(config.recording.directory),
            transcripts(ldir) if ldir.is_dir() else {},
        )
    from gateway.recording.fleet import merged_view

    return (
        transcripts(merged_view(config, None, key)),
        transcripts(merged_view(config, None, key, ledger=True)),
    )


def _select(args: argparse.Namespace, files: dict[str, Path]) -> list[str]:
    if args.session:
        return list(dict.fromkeys(args.session))
    if not args.since:
        raise UsageError("give --session ID... or --since (with --until, --user, --target)")
    since = parse_since(args.since)
    until = parse_since(args.until) if args.until else None
    chosen = []
    for sid, path in files.items():
        info = session_info(path)
        if info is None or info.protocol == "maintenance":
            continue
        if info.started < since or (until is not None and info.started >= until):
            continue
        if (args.user and info.user != args.user) or (args.target and info.target != args.target):
            continue
        chosen.append((info.started, sid))
    return [sid for _, sid in sorted(chosen)]


def _requests(path: Path) -> set[str]:
    return {
        str(ev.get("request_id"))
        for ev in iter_events(path)
        if ev.get("type") == "approval" and ev.get("request_id")
    }


def run_export(args: argparse.Namespace) -> int:
    try:
        key = _signing_key(args)
        files, ledger_files = _views(args)
        chosen = _select(args, files)
    except UsageError as exc:
        return _fail("export", exc)
    missing = [sid for sid in chosen if sid not in files]
    if missing:
        return _fail("export", UsageError(f"no transcript for session(s) {', '.join(missing)}"))
    wanted: set[str] = set()
    for sid in chosen:
        wanted |= _requests(files[sid])
    ledgers = {
        lid: path.read_bytes()
        for lid, path in sorted(ledger_files.items())
        if wanted & _requests(path)
    }
    selection = {
        k: v
        for k, v in {
            "sessions": args.session,
            "since": args.since,
            "until": args.until,
            "user": args.user,
            "target": args.target,
        }.items()
        if v
    }
    manifest = build_bundle(
        args.output,
        {sid: files[sid].read_bytes() for sid in chosen},
        key,
        ledgers=ledgers,
        selection=selection,
    )
    print(
        f"airlock export: wrote {args.output}: {len(chosen)} transcripts, "
        f"{len(ledgers)} ledgers, {len(manifest['parts'])} parts"  # type: ignore[arg-type]
    )
    return EXIT_OK


def run_verify_bundle(args: argparse.Namespace) -> int:
    """``verify --bundle``: offline; exit codes as ``verify``."""
    if args.public_key is None:
        return _fail("verify", UsageError("--bundle needs --public-key (the auditor's copy)"))
    try:
        key = load_public_key(Path(args.public_key))
    except UsageError as exc:
        return _fail("verify", exc)
    report = verify_bundle(Path(args.bundle), key)
    unclosed = report.unclosed
    code = EXIT_TAMPERED if report.tampered else EXIT_UNCLOSED if unclosed else EXIT_OK
    if code == EXIT_UNCLOSED and args.allow_unclosed:
        code = EXIT_OK
    if args.json:
        print(json.dumps({"exit": code, "ok": code == EXIT_OK, **report.to_json()}, indent=1))
        return code
    for p in report.problems:
        print(f"{p.kind:<13} bundle: {p.detail}", file=sys.stdout)
    for r in (*report.reports, *report.ledgers):
        if r.ok:
            print(f"{r.status:<9} {r.session_id}  {r.events} events")
        for prob in r.problems:
            where = f" event {prob.seq}" if prob.seq is not None else ""
            label = prob.kind if prob.tamper else "unclosed"
            print(f"{label:<13} {r.session_id}{where}: {prob.detail}")
    print(
        f"bundle {'signed' if report.signed else 'NOT signed'}: {len(report.reports)} "
        f"transcripts, {len(report.ledgers)} ledgers, "
        f"{'TAMPERED' if report.tampered else 'no tampering found'}"
    )
    return code

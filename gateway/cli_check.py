"""``airlock check``: dry-run classification + policy on text, or on a whole query log.

Classification goes through :func:`gateway.checkpoint.classify` and the verdict through
:meth:`gateway.policy.Policy.evaluate`, so check answers exactly what the live gateway would
for a fresh session (no prepared statements, default lexing state). Only the ``[policy]``
table of ``--config`` is read (and ``users.NAME.groups`` for ``--user``): checking a policy
must not need the gateway's secrets, state directory or keys.

Exit status: 0 when every input was checked; 1 if any ``--batch`` line was bad (it still gets
an ``{"error": ...}`` line and checking continues); 2 on usage or config errors. With
``--exit-code`` the worst verdict also counts: review -> 3, deny -> 4 (1 and 2 win).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

from gateway.config import ConfigError
from gateway.model import Action, ActionKind, Decision, Identity, Session, Verdict, WireProtocol
from gateway.policy import Policy, default_policy, load_policy
from protocols.classification import Classification

EXIT_OK, EXIT_BAD_INPUT, EXIT_USAGE, EXIT_REVIEW, EXIT_DENY = 0, 1, 2, 3, 4
_SEVERITY = {Decision.ALLOW: EXIT_OK, Decision.REVIEW: EXIT_REVIEW, Decision.DENY: EXIT_DENY}
_DEFAULT_KIND = {WireProtocol.POSTGRES: ActionKind.QUERY, WireProtocol.SSH: ActionKind.EXEC}
_CACHE_LIMIT = 65536  # query logs repeat themselves; keeps --batch memory bounded

EPILOG = """\
exit status: 0 checked; 1 a --batch line was bad; 2 usage or config error;
with --exit-code also 3 if any verdict is review, 4 if any is deny.
--batch reads JSON lines {"text": ..., "protocol"?, "user"?, "groups"?, "target"?, "kind"?}
and prints one JSON object per line: line, text, verdict, categories, objects, statements,
rule, reason (or line and error); --summary adds verdict counts on stderr."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "check",
        help="show how a SQL statement or shell command would be classified and decided",
        description="Classify TEXT (or stdin) and apply the policy, as the gateway would.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--protocol", choices=[p.value for p in WireProtocol], help="postgres or ssh")
    p.add_argument(
        "--config",
        type=Path,
        help="config file (default $AIRLOCK_CONFIG, else the built-in policy)",
    )
    p.add_argument("--user", default="check", help="user the session is for (default: check)")
    p.add_argument("--group", action="append", default=[], help="a group of the user (repeat)")
    p.add_argument("--target", default="", help="target name the session is for")
    p.add_argument("--kind", choices=[k.value for k in ActionKind], help="action kind override")
    p.add_argument("--json", action="store_true", help="print a JSON object")
    p.add_argument("--batch", action="store_true", help="read JSON lines from stdin")
    p.add_argument("--exit-code", action="store_true", help="exit 3 on review, 4 on deny")
    p.add_argument(
        "--summary", action="store_true", help="with --batch: print verdict counts on stderr"
    )
    p.add_argument("text", nargs="?", help="SQL or command line (default: read stdin)")
    p.set_defaults(func=run)


class Checker:
    """Classify + evaluate with a small exact-text cache (same key rules as the checkpoint)."""

    def __init__(self, policy: Policy, user_groups: Mapping[str, frozenset[str]]) -> None:
        from gateway.checkpoint import SessionContext, classify  # needs the classifiers

        self.policy = policy
        self.user_groups = user_groups
        self._classify = classify
        self._context = SessionContext
        self._cache: dict[tuple[ActionKind, str], Classification] = {}

    def check(
        self,
        protocol: WireProtocol,
        text: str,
        user: str,
        groups: Iterable[str],
        target: str,
        kind: ActionKind | None = None,
    ) -> tuple[Classification, Verdict]:
        identity = Identity(user, frozenset(groups) | self.user_groups.get(user, frozenset()))
        session = Session("check", protocol, identity, target, "check")
        action = Action(
            kind or _DEFAULT_KIND[protocol], text.encode("utf-8", "surrogatepass"), text
        )
        key = (action.kind, text)
        classification = self._cache.get(key)
        if classification is None:
            try:
                classification = self._classify(action, self._context(session=session))
            except Exception as exc:  # the checkpoint denies on a classifier failure too
                failed = Classification.unknown(f"classifier error: {type(exc).__name__}: {exc}")
                return failed, Verdict(Decision.DENY, "internal-error", str(exc))
            if classification.cacheable:
                if len(self._cache) >= _CACHE_LIMIT:
                    self._cache.clear()
                self._cache[key] = classification
        from gateway.checkpoint import syntax_error

        not_sql = syntax_error(action, self._context(session=session), classification)
        if not_sql is not None:  # answered as the server's syntax error, never reviewed
            return classification, not_sql.verdict
        return classification, self.policy.evaluate(session, action, classification)


def result(text: str, c: Classification, v: Verdict) -> dict[str, Any]:
    """The JSON shape of one checked text (stable: scripts consume it)."""
    out: dict[str, Any] = {
        "text": text,
        "verdict": v.decision.value,
        "categories": sorted(c.categories),
        "objects": list(c.objects),
        "statements": list(c.statements),
        "rule": v.rule,
        "reason": v.reason,
        "reasons": list(c.reasons),
    }
    if v.decision is Decision.REVIEW:
        out["approvers"] = sorted(v.approvers)
        out["quorum"] = v.quorum
        out["timeout"] = v.timeout_s
        out["mode"] = v.mode.value
    return out


def _human(r: Mapping[str, Any]) -> str:
    lines = [
        f"verdict:    {r['verdict']}",
        f"categories: {', '.join(r['categories']) or '-'}",
        f"objects:    {', '.join(r['objects']) or '-'}",
        f"statements: {', '.join(r['statements']) or '-'}",
        f"rule:       {r['rule']}",
        f"reason:     {r['reason']}",
    ]
    if r["verdict"] == "review":
        who = ", ".join(r["approvers"]) or "(broker default)"
        lines.append(
            f"review:     approvers {who}; quorum {r['quorum']}; "
            f"timeout {r['timeout']:g}s; mode {r['mode']}"
        )
    return "\n".join(lines) + "\n"


def _load(path: Path | None) -> tuple[Policy, dict[str, frozenset[str]]]:
    if path is None:
        return default_policy(), {}
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError("config", f"cannot read {path}: {exc.strerror}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError("config", f"{path}: invalid TOML: {exc}") from exc
    policy = load_policy(data.get("policy", {}))
    groups: dict[str, frozenset[str]] = {}
    users = data.get("users", {})
    if isinstance(users, dict):
        for name, spec in users.items():
            g = spec.get("groups", []) if isinstance(spec, dict) else []
            if isinstance(g, list):
                groups[name] = frozenset(x for x in g if isinstance(x, str))
    return policy, groups


def _batch_line(checker: Checker, raw: bytes, args: argparse.Namespace) -> dict[str, Any]:
    """One ``--batch`` input line -> its result; ValueError says what is wrong with it."""
    try:
        item = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"invalid JSON: {exc}") from None
    if not isinstance(item, dict):
        raise ValueError("each line must be a JSON object with a 'text' string")
    text = item.get("text")
    if not isinstance(text, str):
        raise ValueError("'text' must be a string")
    defaults = {"protocol": args.protocol, "user": args.user, "target": args.target}
    fields = {k: item.get(k, default) for k, default in {**defaults, "kind": args.kind}.items()}
    for name, value in fields.items():
        if value is not None and not isinstance(value, str):
            raise ValueError(f"'{name}' must be a string")
    if fields["protocol"] is None:
        raise ValueError("no 'protocol' on the line and no --protocol given")
    try:
        protocol = WireProtocol(fields["protocol"])
    except ValueError:
        raise ValueError(
            f"'protocol' must be postgres or ssh, got {fields['protocol']!r}"
        ) from None
    try:
        kind = ActionKind(fields["kind"]) if fields["kind"] else None
    except ValueError:
        raise ValueError(f"unknown 'kind' {fields['kind']!r}") from None
    groups = item.get("groups", [])
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise ValueError("'groups' must be a list of strings")
    c, v = checker.check(
        protocol, text, fields["user"], [*args.group, *groups], fields["target"], kind
    )
    return result(text, c, v)


def _run_batch(checker: Checker, args: argparse.Namespace, src: IO[bytes], out: IO[str]) -> int:
    counts = dict.fromkeys(["allow", "review", "deny", "error"], 0)
    dumps = json.dumps
    for number, raw in enumerate(src, 1):
        if not raw.strip():
            continue
        try:
            r = _batch_line(checker, raw, args)
        except ValueError as exc:
            counts["error"] += 1
            out.write(dumps({"line": number, "error": str(exc)}) + "\n")
            continue
        counts[r["verdict"]] += 1
        out.write(dumps({"line": number, **r}) + "\n")
    if args.summary:
        summary = ", ".join(f"{k} {v}" for k, v in counts.items())
        print(f"checked {sum(counts.values())}: {summary}", file=sys.stderr)
    if counts["error"]:
        return EXIT_BAD_INPUT
    if not args.exit_code:
        return EXIT_OK
    return EXIT_DENY if counts["deny"] else EXIT_REVIEW if counts["review"] else EXIT_OK


def run(args: argparse.Namespace) -> int:
    """Entry point the ``airlock`` CLI dispatches to (``func`` of the ``check`` parser)."""
    out = sys.stdout
    if args.batch and args.text is not None:
        print("airlock check: give TEXT or --batch, not both", file=sys.stderr)
        return EXIT_USAGE
    if not args.batch and args.protocol is None:
        print("airlock check: --protocol postgres|ssh is required", file=sys.stderr)
        return EXIT_USAGE
    try:
        env_config = os.environ.get("AIRLOCK_CONFIG")
        policy, user_groups = _load(args.config or (Path(env_config) if env_config else None))
    except ConfigError as exc:
        print(f"airlock check: {exc}", file=sys.stderr)
        return EXIT_USAGE
    checker = Checker(policy, user_groups)
    if args.batch:
        return _run_batch(checker, args, sys.stdin.buffer, out)
    text = args.text if args.text is not None else sys.stdin.read()
    kind = ActionKind(args.kind) if args.kind else None
    protocol = WireProtocol(args.protocol)
    c, v = checker.check(protocol, text, args.user, args.group, args.target, kind)
    r = result(text, c, v)
    out.write(json.dumps(r) + "\n" if args.json else _human(r))
    return _SEVERITY[v.decision] if args.exit_code else EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Standalone ``python -m gateway.cli_check check ...`` (the ``airlock`` CLI wraps it)."""
    parser = argparse.ArgumentParser(prog="airlock")
    register(parser.add_subparsers(dest="verb", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())

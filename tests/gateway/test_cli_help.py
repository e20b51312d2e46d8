"""`airlock --help` is written for users, and the commands it shows are real."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

from gateway.cli import EPILOG, build_parser

ROOT = Path(__file__).resolve().parents[2]


def test_help_speaks_to_users_and_names_every_verb_and_variable() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "--help"],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert out.returncode == 0
    text = out.stdout
    assert "dispatches" not in text and "registers itself" not in text  # not the module doc
    assert text.count("\n") < 60
    for word in ("SSH and PostgreSQL", "approve", "AIRLOCK_CONFIG", "AIRLOCK_TOKEN"):
        assert word in text
    for verb in ("init", "serve", "check", "requests", "approve", "deny", "sessions",
                 "replay", "verify", "token", "passwd"):  # fmt: skip
        assert f"\n    {verb} " in text, verb


def test_every_example_in_the_help_parses() -> None:
    parser = build_parser()
    examples = []
    for line in EPILOG.splitlines():
        for part in line.split("|"):
            command = part.strip().split("   ")[0]
            if command.startswith("airlock "):
                examples.append(shlex.split(command)[1:])
    assert len(examples) >= 8
    for argv in examples:
        args = parser.parse_args(argv)
        assert args.func is not None, argv


def test_the_check_example_runs_without_a_config() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "check", "--protocol", "postgres", "DROP TABLE t"],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert out.returncode == 0 and "destructive" in out.stdout, out.stderr

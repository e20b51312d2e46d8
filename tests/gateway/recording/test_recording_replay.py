from __future__ import annotations

import io
import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from gateway import cli_recording
from gateway.recording import Recorder, replay
from gateway.recording.reader import read_events, session_info
from gateway.recording.retention import prune
from protocols import asciicast

T0 = 1_700_000_000.0


def _pg(rec: Recorder) -> Path:
    w = rec.open(
        "pg1",
        ts=T0,
        user="alice",
        protocol="postgres",
        target="db1",
        client_addr="10.0.0.5",
        agent="psql",
        tls=True,
    )
    w.statement(
        b"SELECT 1", "SELECT 1", categories=["read"], verdict="allow", rule="default", ts=T0 + 0.5
    )
    w.result(tag="SELECT 1", rows=1, duration_ms=1.5, ts=T0 + 0.6)
    w.statement(
        b"DROP TABLE t",
        "DROP TABLE t",
        categories=["destructive", "ddl"],
        verdict="review",
        rule="drops",
        request_id="r-7",
        ts=T0 + 1.0,
    )
    w.approval("r-7", "approved", by="bob", reason="planned", ts=T0 + 61.0)
    w.result(tag="", error="table t does not exist", sqlstate="42P01", ts=T0 + 61.1)
    w.close(reason="client closed", ts=T0 + 62.0)
    return w.path


def _ssh(rec: Recorder) -> Path:
    w = rec.open("ssh1", ts=T0, user="carol", protocol="ssh", target="web1")
    w.resize(100, 30, ts=T0)
    w.term_output(b"$ ", ts=T0 + 0.1)
    w.term_input(b"ls\r", echo=True, ts=T0 + 1.0)
    w.term_output(b"ls\r\nfile\r\n$ ", ts=T0 + 1.1)
    w.term_output(b"bye\r\n", ts=T0 + 31.1)
    w.close(reason="exit", ts=T0 + 31.2)
    return w.path


def test_postgres_text_transcript(recorder: Recorder) -> None:
    text = "\n".join(replay.render_text(read_events(_pg(recorder))))
    assert text == (
        "[+    0.000s] session pg1 start: alice -> postgres:db1 from 10.0.0.5 (psql) tls\n"
        "[+    0.500s] ALLOW [read] rule=default\n    SELECT 1\n"
        "[+    0.600s]   -> SELECT 1 rows=1 1.5ms\n"
        "[+    1.000s] REVIEW [ddl,destructive] rule=drops request=r-7\n    DROP TABLE t\n"
        "[+   61.000s] approval r-7 approved by bob: planned\n"
        "[+   61.100s]   -> ERROR 42P01 table t does not exist\n"
        "[+   62.000s] session end client closed"
    )


def test_ssh_play_with_timing(recorder: Recorder) -> None:
    events = read_events(_ssh(recorder))
    out = io.StringIO()
    pauses: list[float] = []
    slept = replay.play(events, out, speed=2.0, idle_cap=5.0, sleep=pauses.append)
    assert "$ ls\r\nfile\r\n$ bye\r\n" in out.getvalue()
    assert [round(p, 3) for p in pauses] == [0.05, 0.5, 5.0, 0.05]  # 30 s idle capped at 5
    assert round(slept, 3) == 5.6


def test_asciicast_export_parses_back(recorder: Recorder) -> None:
    header, evs = asciicast.decode(replay.to_asciicast(read_events(_ssh(recorder))))
    assert (header.width, header.height, header.timestamp) == (100, 30, int(T0))
    assert [(round(e.time, 3), e.code) for e in evs] == [
        (0.0, "m"),
        (0.0, "r"),
        (0.1, "o"),
        (1.0, "i"),
        (1.1, "o"),
        (31.1, "o"),
        (31.2, "m"),
    ]
    assert "".join(e.data for e in evs if e.code == "o") == "$ ls\r\nfile\r\n$ bye\r\n"
    pg = asciicast.decode(replay.to_asciicast(read_events(_pg(recorder))))[1]
    assert any("DROP TABLE t" in e.data for e in pg)


def test_session_info(recorder: Recorder) -> None:
    info = session_info(_pg(recorder))
    assert info is not None
    assert (info.user, info.target, info.protocol, info.started, info.ended, info.events) == (
        "alice",
        "db1",
        "postgres",
        T0,
        T0 + 62.0,
        7,
    )


def test_retention_prunes_old_transcripts(recorder: Recorder) -> None:
    import os

    old = _pg(recorder)
    new = _ssh(recorder)
    os.utime(old, (T0, T0 + 62))
    os.utime(new, (T0 + 40 * 86400, T0 + 40 * 86400))
    pruned = prune(recorder.directory, 30, now=T0 + 40 * 86400)
    assert [(p.session_id, p.path) for p in pruned] == [("pg1", old)]
    assert not old.exists() and new.exists()
    assert prune(recorder.directory, 0, now=T0 * 2) == []
    assert prune(recorder.directory, 30, now=T0 * 2, keep={"ssh1"}) == []


# -- CLI (works on a transcript directory and a public key, no config) ------------------
def _cli(argv: list[str], capsys: object) -> tuple[int, str]:
    import argparse

    parser = argparse.ArgumentParser(prog="airlock")
    cli_recording.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    code = args.func(args)
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    return code, out


def _cli3(argv: list[str], capsys: object) -> tuple[int, str, str]:
    """Like _cli, with stderr too."""
    import argparse

    parser = argparse.ArgumentParser(prog="airlock")
    cli_recording.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    code = args.func(args)
    captured = capsys.readouterr()  # type: ignore[attr-defined]
    return code, captured.out, captured.err


def _pub(tmp_path: Path, key: Ed25519PrivateKey, ssh: bool = False) -> str:
    pub = key.public_key()
    path = tmp_path / ("k.pub" if ssh else "k.pem")
    if ssh:
        path.write_bytes(pub.public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH))
    else:
        path.write_bytes(pub.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    return str(path)


def test_cli_verify(
    recorder: Recorder, audit_key: Ed25519PrivateKey, tmp_path: Path, capsys: object
) -> None:
    path = _pg(recorder)
    _ssh(recorder)
    d = str(recorder.directory)
    code, out = _cli(
        ["verify", "--all", "--dir", d, "--public-key", _pub(tmp_path, audit_key)], capsys
    )
    assert code == 0 and "2 of 2 transcripts verified" in out
    code, out = _cli(
        [
            "verify",
            "pg1",
            "--json",
            "--dir",
            d,
            "--public-key",
            _pub(tmp_path, audit_key, ssh=True),
        ],
        capsys,
    )
    assert code == 0 and json.loads(out)["ok"] is True
    path.write_bytes(path.read_bytes().replace(b"DROP TABLE t", b"SELECT 2    "))
    code, out = _cli(
        ["verify", "--all", "--json", "--dir", d, "--public-key", _pub(tmp_path, audit_key)], capsys
    )
    doc = json.loads(out)
    assert code == 1 and doc["ok"] is False
    assert [p["kind"] for r in doc["reports"] for p in r["problems"]] == ["modified"]
    code, _ = _cli(["verify", "--dir", d, "--public-key", _pub(tmp_path, audit_key)], capsys)
    assert code == 2


def test_cli_replay_and_sessions(
    recorder: Recorder, audit_key: Ed25519PrivateKey, tmp_path: Path, capsys: object
) -> None:
    _pg(recorder)
    _ssh(recorder)
    d = str(recorder.directory)
    key = ["--public-key", _pub(tmp_path, audit_key)]
    code, out = _cli(["replay", "pg1", "--dir", d, *key], capsys)
    assert code == 0 and "REVIEW [ddl,destructive] rule=drops request=r-7" in out
    code, out = _cli(["replay", "ssh1", "--dir", d, *key, "--format", "asciicast"], capsys)
    assert code == 0 and asciicast.decode(out)[0].width == 100
    code, out = _cli(["replay", "ssh1", "--dir", d, *key, "--format", "json"], capsys)
    assert [json.loads(x)["type"] for x in out.splitlines()][-1] == "session_end"
    code, out = _cli(["replay", "nope", "--dir", d, *key], capsys)
    assert code == 2
    code, out = _cli(["sessions", "--dir", d, "--json", "--user", "carol"], capsys)
    assert code == 0 and [r["session"] for r in json.loads(out)] == ["ssh1"]
    code, out = _cli(["sessions", "--dir", d, "--since", "1h"], capsys)
    assert code == 0 and out.split() == [  # both started in 2023: the header alone
        "SESSION", "STARTED", "PROTOCOL", "USER", "TARGET", "CLIENT", "STATE", "STATEMENTS"
    ]  # fmt: skip
    code, out = _cli(["sessions", "--dir", d], capsys)
    header, *rows = out.splitlines()
    assert header.split()[0] == "SESSION" and header.split()[-1] == "STATEMENTS"
    by_id = {r.split()[0]: r.split() for r in rows}
    assert by_id["pg1"][-2:] == ["ended", "2"] and by_id["ssh1"][-2:] == ["ended", "0"]


def test_replay_refuses_a_tampered_or_unverifiable_transcript(
    recorder: Recorder, audit_key: Ed25519PrivateKey, tmp_path: Path, capsys: object
) -> None:
    path = _pg(recorder)
    d = str(recorder.directory)
    key = ["--public-key", _pub(tmp_path, audit_key)]
    path.write_bytes(path.read_bytes().replace(b"DROP TABLE t", b"SELECT 2    "))
    code, out, err = _cli3(["replay", "pg1", "--dir", d, *key], capsys)
    assert code == 1 and out == ""
    assert "FAILS VERIFICATION" in err and "modified" in err and "--force" in err
    for fmt in ("text", "json", "asciicast"):
        code, out = _cli(["replay", "pg1", "--dir", d, *key, "--format", fmt], capsys)
        assert code == 1 and out == ""
    code, out, err = _cli3(["replay", "pg1", "--dir", d, *key, "--force"], capsys)
    assert code == 0 and "SELECT 2" in out and "do not trust" in err
    code, out, err = _cli3(["replay", "pg1", "--dir", d], capsys)  # no key: unverifiable
    assert code == 1 and out == "" and "IS UNVERIFIED" in err


def test_asciicast_header_uses_the_initial_terminal_size(recorder: Recorder) -> None:
    w = recorder.open("ssh2", ts=T0, user="carol", protocol="ssh", target="web1")
    w.write("pty", channel=0, term="xterm", cols=132, rows=43, ts=T0)
    w.term_output(b"$ ", ts=T0 + 0.1)
    w.resize(100, 30, ts=T0 + 1)
    w.close(reason="exit", ts=T0 + 2)
    header, events = asciicast.decode(replay.to_asciicast(read_events(w.path)))
    assert (header.width, header.height) == (132, 43)
    assert [e.data for e in events if e.code == "r"] == ["100x30"]


def test_parse_since() -> None:
    assert cli_recording.parse_since("2h", now=10_000.0) == 2800.0
    assert cli_recording.parse_since("1d", now=86_400.0) == 0.0

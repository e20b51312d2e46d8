"""The approvals ledger fed by the real broker (SQLite store, real transcripts)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.approvals.ledger import Ledger, cross_check, verify_ledgers
from gateway.recording import Recorder
from gateway.recording.reader import read_events
from gateway.recording.verify import transcripts, verify_all
from tests.gateway.approvals.harness import identity, make_env


async def test_every_approval_event_is_in_a_verifying_ledger(tmp_path: Path) -> None:
    env = await make_env(tmp_path)
    key = env.recorder.signing_key
    ledger = Ledger(Recorder(tmp_path / "ledger", key), "n1")
    ledger.open()
    env.broker.ledger = ledger
    client = env.client("agent")
    task = env.review(client)
    rid = await client.next_request_id()
    await env.broker.decide(
        rid, identity("bob"), True, "migration", window_minutes=5, channel="slack"
    )
    assert (await task).allowed
    assert (await env.review(client)).allowed  # inside the grant window
    other = env.client("agent")
    denied = env.review(other)
    rid2 = await other.next_request_id()
    await env.broker.decide(rid2, identity("bob"), False, "not today")
    assert not (await denied).allowed
    third = env.client("agent")
    held = env.review(third)
    await third.next_request_id()
    held.cancel()
    await asyncio.gather(held, return_exceptions=True)
    for c in (client, other, third):
        c.ctx.recorder.close()  # type: ignore[union-attr]
    ledger.close()

    events = [e for e in read_events(ledger.recorder.directory.rglob("*.jsonl").__next__())
              if e["type"] == "approval"]  # fmt: skip
    got = [(e["request_id"], e["state"]) for e in events]
    assert (rid, "requested") in got and (rid, "approved") in got and (rid, "window") in got
    assert (rid2, "denied") in got and ("withdrawn" in {s for _, s in got})
    vote = next(e for e in events if e["state"] == "vote" and e["request_id"] == rid2)
    assert (vote["by"], vote["channel"], vote["reason"], vote["approve"]) == (
        "bob", "api", "not today", False,
    )  # fmt: skip
    assert next(e for e in events if e["state"] == "vote")["channel"] == "slack"

    pub = key.public_key()
    lfiles = transcripts(tmp_path / "ledger")
    assert all(r.status == "verified" for r in verify_ledgers(lfiles, pub))
    tfiles = transcripts(env.recorder.directory)
    reports = cross_check({**tfiles, **lfiles}, verify_all(env.recorder.directory, pub, {}), pub)
    assert [r.problems for r in reports] == [[], [], []]

    # Remove the ledger's record of the denial: the ledger no longer verifies, so it backs
    # nothing, and every approval event of every transcript is reported.
    (lpath,) = lfiles.values()
    lines = lpath.read_bytes().splitlines(keepends=True)
    lpath.write_bytes(b"".join(x for x in lines if b'"state":"denied"' not in x))
    assert all(r.tampered for r in verify_ledgers(lfiles, pub))
    reports = cross_check({**tfiles, **lfiles}, verify_all(env.recorder.directory, pub, {}), pub)
    # (no ledger that verifies: nothing to cross-check against, and verify reports the
    # ledger itself as tampered)
    assert all(not r.problems for r in reports)


def test_verify_with_a_config_checks_ledgers_and_cross_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from gateway.cli import main
    from gateway.keys import load_audit_key, write_audit_key

    state = tmp_path / "state"
    write_audit_key(state / "keys" / "audit", state / "keys" / "audit.pub")
    conf = tmp_path / "airlock.toml"
    conf.write_text(f'[gateway]\nstate_dir = "{state}"\n[keys]\naudit_key = "keys/audit"\n')
    key = load_audit_key(state / "keys" / "audit")
    ledger = Ledger(Recorder(state / "ledger", key), "n1")
    ledger.open()
    w = Recorder(state / "transcripts", key).open("s1", user="alice")
    doc = {"id": "r1", "session_id": "s1", "user": "alice", "target": "db"}
    ledger.append("requested", doc)
    w.approval("r1", "requested")
    ledger.append("approved", doc, by="bob")
    w.approval("r1", "approved", by="bob")
    w.close()

    def verify() -> tuple[int, dict]:  # type: ignore[type-arg]
        capsys.readouterr()
        code = main(["verify", "--config", str(conf), "--all", "--json"])
        return code, json.loads(capsys.readouterr().out)

    code, out = verify()  # the ledger is still open (a running node): not a finding
    assert code == 0 and out["checked"] == 1 and len(out["ledgers"]) == 1, out
    ledger.close()
    w2 = Recorder(state / "transcripts", key).open("s2", user="eve")
    w2.approval("r-forged", "approved", by="nobody")
    w2.close()
    code, out = verify()
    assert code == 1 and out["checked"] == 2
    assert any("r-forged" in p["detail"] for r in out["reports"] for p in r["problems"])
    (lpath,) = (state / "ledger").rglob("*.jsonl")
    lpath.write_bytes(lpath.read_bytes().replace(b'"by":"bob"', b'"by":"eve"'))
    code, out = verify()
    assert code == 1 and out["ledgers"][0]["status"] == "tampered"

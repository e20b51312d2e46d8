"""`airlock requests / approve / deny` against the real HTTP API of a running app."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from gateway.cli import main
from tests.gateway.approvals.harness import PASSWORDS
from tests.gateway.http.conftest import Site


def _config(tmp_path: Path, site: Site, operator: str = "alice") -> str:
    path = tmp_path / "cli.toml"
    path.write_text(
        f'[gateway]\nstate_dir = "{tmp_path}/cli-state"\n'
        f'[http]\npublic_url = "{site.base}"\n'
        f'[approvals]\noperator = "{operator}"\n'
    )
    return str(path)


async def _cli(*argv: str) -> int:
    return await asyncio.to_thread(main, list(argv))


async def test_cli_lists_and_approves_as_operator(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, site, operator="bob")
    rid, task = await site.held("agent")
    monkeypatch.setenv("AIRLOCK_TOKEN", PASSWORDS["bob"])
    assert await _cli("requests", "--config", config, "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [d["id"] for d in listed] == [rid]
    assert await _cli("requests", "--config", config) == 0
    assert rid in capsys.readouterr().out
    assert await _cli("approve", rid, "--config", config, "--reason", "ok", "--window", "5") == 0
    assert f"request {rid} approved by bob" in capsys.readouterr().out
    assert (await asyncio.wait_for(task, 5)).allowed
    assert [w["category"] for w in await site.env.broker.windows()] == ["privilege"]


async def test_cli_refuses_self_approval_and_denies(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, site, operator="alice")
    rid, task = await site.held("alice-bot")
    monkeypatch.setenv("AIRLOCK_TOKEN", PASSWORDS["alice"])
    assert await _cli("approve", rid, "--config", config) == 1
    err = capsys.readouterr().err
    assert "self-approval" in err and "HTTP 403" in err
    assert await site.state(rid) == "pending"
    monkeypatch.setenv("AIRLOCK_TOKEN", "wrong")
    assert await _cli("deny", rid, "--config", config, "--reason", "x", "--as", "bob") == 1
    assert "HTTP 401" in capsys.readouterr().err
    monkeypatch.setenv("AIRLOCK_TOKEN", PASSWORDS["bob"])
    assert await _cli("deny", rid, "--config", config, "--reason", "freeze", "--as", "bob") == 0
    outcome = await task
    assert not outcome.allowed and "denied by bob: freeze" in outcome.message


async def test_cli_needs_an_operator_and_a_secret(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, site, operator="")
    monkeypatch.setenv("AIRLOCK_TOKEN", "x")
    assert await _cli("requests", "--config", config) == 2
    assert "approvals.operator" in capsys.readouterr().err
    monkeypatch.delenv("AIRLOCK_TOKEN")
    assert await _cli("requests", "--config", config, "--as", "bob") == 2
    assert "AIRLOCK_TOKEN" in capsys.readouterr().err
    monkeypatch.setenv("AIRLOCK_TOKEN", "x")
    assert (
        await _cli("requests", "--config", config, "--as", "bob", "--url", "http://127.0.0.1:9")
        == 1
    )
    assert "cannot reach" in capsys.readouterr().err


async def test_cli_shows_hidden_characters_escaped(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.gateway.approvals.harness import grant_action, verdict

    config = _config(tmp_path, site, operator="bob")
    client = site.env.client("agent")
    text = "GRANT SELECT ON t TO PUBLIC -- \u3164\u202e\x1b[2J"
    task = site.env.review(client, verdict(), grant_action(text))
    await client.next_request_id()
    monkeypatch.setenv("AIRLOCK_TOKEN", PASSWORDS["bob"])
    assert await _cli("requests", "--config", config) == 0
    out = capsys.readouterr().out
    assert "\\u3164\\u202e\\x1b[2J" in out and not any(ch in out for ch in "\u3164\u202e\x1b")
    assert "hidden" in out
    task.cancel()

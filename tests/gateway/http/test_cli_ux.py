"""`airlock requests --watch`, reason and time left in the listing, $AIRLOCK_CONFIG for the
approval verbs, and `deny` asking for a reason on a terminal (a real pty)."""

from __future__ import annotations

import asyncio
import os
import pty
import sys
from pathlib import Path

from tests.gateway.approvals.harness import PASSWORDS, identity
from tests.gateway.http.conftest import Site

ROOT = Path(__file__).resolve().parents[3]


def _config(tmp_path: Path, site: Site, operator: str = "bob") -> Path:
    path = tmp_path / "cli.toml"
    path.write_text(
        f'[gateway]\nstate_dir = "{tmp_path}/cli-state"\n'
        f'[http]\npublic_url = "{site.base}"\n'
        f'[approvals]\noperator = "{operator}"\n'
    )
    return path


def _env(config: Path, user: str = "bob") -> dict[str, str]:
    return {**os.environ, "AIRLOCK_CONFIG": str(config), "AIRLOCK_TOKEN": PASSWORDS[user]}


async def _airlock(*argv: str, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway.cli", *argv, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_listing_shows_reason_and_time_left_with_airlock_config(
    site: Site, tmp_path: Path
) -> None:
    env = _env(_config(tmp_path, site))
    rid, task = await site.held("agent")
    rc, out, err = await _airlock("requests", env=env)  # no --config: $AIRLOCK_CONFIG
    assert rc == 0, err
    assert rid in out and "reason: rotate keys" in out
    assert "m " in out and "s left" in out
    rc, out, err = await _airlock("approve", rid, "--reason", "ok", env=env)
    assert rc == 0 and f"request {rid} approved by bob" in out, err
    assert (await asyncio.wait_for(task, 10)).allowed


async def test_watch_prints_each_change_until_interrupted(site: Site, tmp_path: Path) -> None:
    env = _env(_config(tmp_path, site))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway.cli", "requests", "--watch", "--interval", "0.1",
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    try:

        async def line() -> str:
            return (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()  # type: ignore[union-attr]

        assert await line() == "no pending requests\n"
        rid, task = await site.held("agent")
        first = await line()
        assert first.startswith(rid) and "pending" in first and "left" in first
        assert await line() == "    reason: rotate keys\n"
        await line()  # the statement
        await site.env.broker.decide(rid, identity("bob"), False, "not now")
        assert await line() == "no pending requests\n"
        assert not (await asyncio.wait_for(task, 10)).allowed
    finally:
        proc.send_signal(2)  # SIGINT: a clean stop
        assert await asyncio.wait_for(proc.wait(), 30) == 0


async def test_deny_without_reason_asks_on_a_terminal_and_refuses_elsewhere(
    site: Site, tmp_path: Path
) -> None:
    env = _env(_config(tmp_path, site))
    rid, task = await site.held("agent")
    rc, _, err = await _airlock("deny", rid, env=env)  # stdin is not a terminal
    assert rc == 2 and "--reason" in err
    assert await site.state(rid) == "pending"

    master, slave = pty.openpty()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway.cli", "deny", rid, cwd=ROOT, env=env,
        stdin=slave, stdout=slave, stderr=slave,
    )  # fmt: skip
    os.close(slave)
    loop = asyncio.get_running_loop()
    seen = b""
    try:
        while b"reason for denying" not in seen:
            seen += await asyncio.wait_for(loop.run_in_executor(None, os.read, master, 1024), 30)
        os.write(master, b"change freeze\n")
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        outcome = await asyncio.wait_for(task, 10)
        assert not outcome.allowed and "change freeze" in outcome.message
    finally:
        os.close(master)
        if proc.returncode is None:
            proc.kill()

"""`make run` (scripts/run.sh) as a newcomer meets it: quiet, its printed commands work (as
the user running it, root included), and Ctrl-C stops the gateway and the demo PostgreSQL."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.servers import free_port, require_binary

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def state() -> Iterator[Path]:
    # Not pytest's tmp_path: as root the demo server runs as `postgres`, which must be able
    # to reach its data directory (pytest's base directory is private to the user).
    directory = Path(tempfile.mkdtemp(prefix="airlock-run-"))
    directory.chmod(0o755)
    yield directory / "state"
    shutil.rmtree(directory, ignore_errors=True)


def test_make_run_is_quiet_its_commands_work_and_ctrl_c_stops_the_demo_server(
    state: Path,
) -> None:
    require_binary("pg_config", "PostgreSQL server binaries (the demo database)")
    require_binary("psql", "the psql client")
    ports = {name: str(free_port()) for name in ("PG_PORT", "SSH_PORT", "HTTP_PORT", "DEMO_PORT")}
    env = {
        **os.environ,
        **ports,
        "STATE": str(state),
        "AIRLOCK_BIN": str(Path(sys.executable).parent),
        "PYTHONPATH": str(ROOT),  # this checkout's code, whatever the venv has installed
    }
    proc = subprocess.Popen(
        ["bash", "scripts/run.sh"], cwd=ROOT, env=env, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("airlock: ready"):
                break
        else:
            raise AssertionError("run.sh ended before the gateway was ready:\n" + "".join(lines))
        text = "".join(lines)
        assert "Traceback" not in text and "Warning" not in text, text
        assert len(lines) <= 30, text  # quiet: what to type, not build noise
        [psql_line] = [x.strip() for x in lines if x.strip().startswith("PGPASSWORD=")]
        out = subprocess.run(
            ["bash", "-c", psql_line + " -X -At -c 'SELECT 40 + 2'"],
            capture_output=True, text=True, timeout=60, env=os.environ,
        )  # fmt: skip
        assert out.returncode == 0 and out.stdout.strip() == "42", out.stderr
        [export] = [x.strip() for x in lines if x.strip().startswith("export AIRLOCK_CONFIG=")]
        [requests] = [x.strip() for x in lines if x.strip().endswith("airlock requests --watch")]
        once = requests.removesuffix(" --watch")
        out = subprocess.run(
            ["bash", "-c", f"{export} && {once}"],
            capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        assert out.returncode == 0 and "no pending requests" in out.stdout, out.stderr
        data = state / "demo-pg"
        assert (data / "postmaster.pid").exists()
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
        rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, rest
    assert "demo PostgreSQL stopped" in rest
    assert not (state / "demo-pg" / "postmaster.pid").exists()

"""Packaging checks that need no Docker engine and no running systemd.

Dockerfile: stages, non-root user, ports, health check, and that it installs the way the
Makefile (hence CI and the README) does. systemd: `systemd-analyze verify` and its offline
security review pass, and ExecStart is the Docker image's entry point.
"""

from __future__ import annotations

import configparser
import http.server
import json
import os
import re
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.servers import require_binary

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "systemd" / "airlock.service"
SYSUSERS = ROOT / "systemd" / "airlock.sysusers"
EXEC_START = "/opt/airlock/.venv/bin/airlock serve --config /etc/airlock/airlock.toml"


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuations joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip().removesuffix("\\") + " "
        if not line.rstrip().endswith("\\"):
            word, _, rest = pending.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
            pending = ""
    return out


def stages() -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for instr in dockerfile():
        if instr[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(instr)
    return result


def args(instrs: list[tuple[str, str]], name: str) -> list[str]:
    return [a for n, a in instrs if n == name]


def exec_form(text: str) -> list[str]:
    value = json.loads(text)
    assert isinstance(value, list)
    return [str(v) for v in value]


def test_dockerfile_is_multi_stage_and_runtime_is_slim() -> None:
    builder, runtime = stages()
    assert re.search(r"\bAS builder\b", builder[0][1], re.I)
    runtime_runs = " ".join(args(runtime, "RUN"))
    assert "-dev" not in runtime_runs and "build-essential" not in runtime_runs
    assert "build-essential" in " ".join(args(builder, "RUN"))
    assert any("--from=builder" in a and ".venv" in a for a in args(runtime, "COPY"))


def test_runtime_runs_as_airlock_not_root() -> None:
    runtime = stages()[-1]
    users = args(runtime, "USER")
    assert users and users[-1] not in ("root", "0")
    assert users[-1] == "airlock"
    assert "useradd --system" in " ".join(args(runtime, "RUN"))


def test_exposes_the_default_ports() -> None:
    exposed = " ".join(args(stages()[-1], "EXPOSE")).split()
    assert sorted(exposed) == ["2222", "6432", "8080"]


def test_entrypoint_matches_systemd_exec_start() -> None:
    runtime = stages()[-1]
    argv = exec_form(args(runtime, "ENTRYPOINT")[-1]) + exec_form(args(runtime, "CMD")[-1])
    assert argv == shlex.split(EXEC_START)
    assert unit()["Service"]["ExecStart"] == EXEC_START


def _pip_commands(text: str) -> list[str]:
    return [m.strip() for m in re.findall(r"pip install[^&\n;]*", text)]


def _normalise(cmd: str) -> tuple[str, ...]:
    """A pip install as (flags..., extras...) with editable mode and test extras removed."""
    words = [w.strip("'\"") for w in shlex.split(cmd)[2:] if w not in ("-e", "-q")]
    out: list[str] = []
    for w in words:
        m = re.fullmatch(r"\.\[(.*)\]", w)
        if m:
            extras = sorted(e for e in m.group(1).split(",") if e and e != "test")
            out.append(".[" + ",".join(extras) + "]" if extras else ".")
        else:
            out.append(w)
    return tuple(out)


def test_install_steps_are_the_makefiles() -> None:
    """The image builds its venv with the Makefile's own commands (minus test extras)."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("$(VENV)/.installed: pyproject.toml", 1)[1].split("\n\n", 1)[0]
    make_cmds = {_normalise(c) for c in _pip_commands(recipe)}
    docker_runs = " ".join(args(stages()[0], "RUN"))
    docker_cmds = [_normalise(c) for c in _pip_commands(docker_runs)]
    assert "-m venv .venv" in docker_runs and "-m venv" in recipe
    assert docker_cmds, "the builder installs nothing"
    for cmd in docker_cmds:
        assert cmd in make_cmds, f"{cmd} is not a Makefile install step ({make_cmds})"
    assert ("--upgrade", "pip") in docker_cmds
    assert (".[ldap]",) in docker_cmds  # the widest runtime set the Makefile installs


def test_copied_sources_exist_and_are_not_dockerignored() -> None:
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for instr in args(stages()[0], "COPY"):
        for src in instr.split()[:-1]:
            assert (ROOT / src).exists(), f"COPY {src}: missing"
            assert src.rstrip("/") not in ignored
    assert "tests" in ignored and ".venv" in ignored and ".git" in ignored


def test_runtime_packages_provide_what_python_ldap_links() -> None:
    """The slim stage's apt list covers every LDAP/SASL library the built module needs."""
    try:
        import _ldap  # type: ignore[import-not-found]
    except ImportError:
        if os.environ.get("CI") == "true":  # `make .venv` installs it under CI
            pytest.fail("python-ldap is not installed in this venv")
        pytest.skip("python-ldap is not installed in this venv")
    require_binary("ldd", "ldd (libc-bin)")
    ldd = subprocess.run(["ldd", _ldap.__file__], capture_output=True, text=True, check=True)
    libs = re.findall(r"=> (\S*(?:ldap|lber|sasl)\S*)", ldd.stdout)
    assert libs
    runtime_runs = " ".join(args(stages()[-1], "RUN"))
    for lib in libs:
        owner = subprocess.run(["dpkg", "-S", lib], capture_output=True, text=True)
        if owner.returncode:  # /lib -> /usr/lib merged paths: ask with the real path
            owner = subprocess.run(
                ["dpkg", "-S", str(Path(lib).resolve())], capture_output=True, text=True
            )
        package = owner.stdout.split(":", 1)[0]
        assert package and package in runtime_runs, f"{lib} comes from {package!r}"


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[http.server.HTTPServer]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_healthcheck_command_passes_on_200_and_fails_otherwise(
    health_server: http.server.HTTPServer,
) -> None:
    runtime = stages()[-1]
    check = args(runtime, "HEALTHCHECK")[-1]
    argv = exec_form(check.split("CMD", 1)[1].strip())
    assert argv[0] == "/opt/airlock/.venv/bin/python" and "/healthz" in argv[-1]
    port = health_server.server_address[1]
    code = argv[-1].replace("127.0.0.1:8080", f"127.0.0.1:{port}")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0
    _Health.status = 503
    try:
        assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode != 0
    finally:
        _Health.status = 200


# --- systemd ------------------------------------------------------------------------------


def unit() -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    return parser


def test_unit_is_notify_hardened_and_unprivileged() -> None:
    service = unit()["Service"]
    assert service["Type"] == "notify"
    assert service["User"] == "airlock"
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert service["KillSignal"] == "SIGTERM"
    assert service["CapabilityBoundingSet"] == ""
    for key in ("WatchdogSec", "TimeoutStopSec", "StateDirectory", "ConfigurationDirectory"):
        assert service.get(key), key
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateDevices"):
        assert service[key] == "yes", key
    assert service["ProtectSystem"] == "strict"
    assert service["RestrictAddressFamilies"] == "AF_UNIX AF_INET AF_INET6"
    assert "@system-service" in UNIT.read_text()


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    """verify checks that ExecStart exists: point it at a stand-in for the image's binary."""
    analyze = require_binary("systemd-analyze", "systemd-analyze (systemd)")
    stand_in = tmp_path / "airlock"
    stand_in.write_text("#!/bin/sh\n")
    stand_in.chmod(0o755)
    copy = tmp_path / "airlock.service"
    copy.write_text(UNIT.read_text().replace("/opt/airlock/.venv/bin/airlock", str(stand_in)))
    out = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip() == "" and out.stdout.strip() == ""


def test_systemd_security_exposure_is_low() -> None:
    analyze = require_binary("systemd-analyze", "systemd-analyze (systemd)")
    out = subprocess.run(
        [analyze, "security", "--offline=true", "--threshold=15", "--no-pager", str(UNIT)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr  # exposure <= 1.5 of 10


def test_sysusers_creates_the_service_user(tmp_path: Path) -> None:
    sysusers = require_binary("systemd-sysusers", "systemd-sysusers (systemd)")
    (tmp_path / "etc").mkdir()
    subprocess.run([sysusers, f"--root={tmp_path}", str(SYSUSERS)], check=True, capture_output=True)
    passwd = (tmp_path / "etc" / "passwd").read_text()
    assert re.search(r"^airlock:x:\d+:\d+:.*:/var/lib/airlock:/usr/sbin/nologin$", passwd, re.M)
    assert (tmp_path / "etc" / "group").read_text().startswith("airlock:")


def test_license_is_an_spdx_string_so_builds_are_quiet() -> None:
    """A `project.license` table makes setuptools >= 77 print a deprecation warning on
    every build (~150 lines during `make run`'s install); the SPDX string form does not."""
    import tomllib

    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert meta["project"]["license"] == "Apache-2.0"
    requires = meta["build-system"]["requires"]
    assert any(re.fullmatch(r"setuptools>=(7[7-9]|[89]\d)(\.\d+)*", r) for r in requires), requires

"""Build a real SshGateway in front of a real sshd, and drive it with the OpenSSH client."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh

from gateway.checkpoint import Checkpoint, SessionContext
from gateway.config import Config, parse_config
from gateway.identity.authenticator import Authenticator
from gateway.identity.passwords import make_verifier
from gateway.model import Action, Outcome, Verdict
from gateway.policy import Policy, default_policy, load_policy
from gateway.recording.writer import TranscriptFactory
from gateway.ssh.server import SshGateway
from protocols.classification import Classification
from tests.support.sshd import Sshd, write_key

PASSWORD = "correct horse battery"


class HoldingReviewer:
    """An approval channel for tests: texts listed in ``held`` wait for ``decide``."""

    def __init__(self) -> None:
        self.held: dict[str, asyncio.Future[bool]] = {}
        self.seen: list[tuple[Action, SessionContext]] = []
        self._n = 0

    def hold(self, text: str) -> asyncio.Future[bool]:
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.held[text] = fut
        return fut

    async def review(
        self, ctx: SessionContext, action: Action, classification: Classification, verdict: Verdict
    ) -> Outcome:
        self.seen.append((action, ctx))
        fut = self.held.get(action.text)
        if fut is None:
            return Outcome(
                False, classification, verdict, f"airlock: approval required ({verdict.reason})"
            )
        self._n += 1
        rid = f"req-{self._n}"
        await ctx.notify(f"airlock: held for approval, request {rid}")
        approved = await fut
        if approved:
            return Outcome(True, classification, verdict, request_id=rid)
        return Outcome(False, classification, verdict, f"airlock: request {rid} denied", rid)


class ObservedCheckpoint(Checkpoint):
    """The real checkpoint, remembering every action it was asked about (for assertions
    on what the relay sent it: the session context, the exact shell line)."""

    def __init__(self, policy: Policy, reviewer: HoldingReviewer) -> None:
        super().__init__(policy, reviewer=reviewer)
        self.checked: list[tuple[SessionContext, Action]] = []

    def check(self, ctx: SessionContext, action: Action) -> Outcome | Awaitable[Outcome]:
        self.checked.append((ctx, action))
        return super().check(ctx, action)


@dataclass
class Gw:
    port: int
    gateway: SshGateway
    config: Config
    reviewer: HoldingReviewer
    client_key: Path
    known_hosts: Path
    directory: Path
    checked: list[tuple[SessionContext, Action]] = field(default_factory=list)

    def common_options(self) -> list[str]:
        """Options every OpenSSH tool (ssh, scp, sftp) takes: our key, our known_hosts."""
        return [
            "-F", "/dev/null",
            "-i", str(self.client_key),
            "-o", "IdentitiesOnly=yes",
            "-o", "IdentityAgent=none",
            "-o", "BatchMode=yes",
            "-o", f"UserKnownHostsFile={self.known_hosts}",
            "-o", "StrictHostKeyChecking=yes",
            "-o", "LogLevel=ERROR",
        ]  # fmt: skip

    def ssh_argv(
        self, login: str = "agent", *command: str, options: Sequence[str] = ()
    ) -> list[str]:
        """OpenSSH client argv: ``options`` go before the destination, ``command`` after."""
        # options first: OpenSSH keeps the first value given for an option
        return ["ssh", *options, "-p", str(self.port), *self.common_options(),
                f"{login}@127.0.0.1", *command]  # fmt: skip

    def sftp_argv(self, batch: Path, login: str = "agent") -> list[str]:
        return ["sftp", "-b", str(batch), "-P", str(self.port), *self.common_options(),
                f"{login}@127.0.0.1"]  # fmt: skip

    def scp_argv(self, *args: str) -> list[str]:
        return ["scp", "-P", str(self.port), *self.common_options(), *args]


async def run(
    argv: list[str],
    stdin: bytes | None = None,
    timeout: float = 60,
    env: Mapping[str, str] | None = None,
) -> tuple[int, bytes, bytes]:
    """Run a real client without blocking the loop that serves the gateway."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(env) if env is not None else None,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
    assert proc.returncode is not None
    return proc.returncode, out, err


@asynccontextmanager
async def ssh_gateway(
    sshd: Sshd,
    policy_raw: Mapping[str, Any] | None = None,
    target_extra: Mapping[str, Any] | None = None,
    recorder_factory: TranscriptFactory | None = None,
) -> AsyncIterator[Gw]:
    directory = Path(tempfile.mkdtemp(prefix="airlock-gw-"))
    client = asyncssh.generate_private_key("ssh-ed25519")
    client_path = write_key(directory / "agent_ed25519", client)
    pub = client.export_public_key().decode().strip()
    wrong = directory / "wrong_known_hosts"
    wrong.write_text(sshd.known_hosts_line(asyncssh.generate_private_key("ssh-ed25519")))
    box = {
        "protocol": "ssh",
        "host": "127.0.0.1",
        "port": sshd.port,
        "user": sshd.user,
        "key_file": str(sshd.client_key),
        "known_hosts": str(sshd.known_hosts),
        **(target_extra or {}),
    }
    data = {
        "gateway": {"state_dir": str(directory / "state"), "node": "test"},
        "users": {
            "agent": {
                "ssh_keys": [pub],
                "password_hash": str(make_verifier(PASSWORD, iterations=4096)),
                "targets": ["box"],
            },
            "multi": {"ssh_keys": [pub], "targets": ["box", "badkey", "nohosts"]},
        },
        "targets": {
            "box": box,
            "badkey": {**box, "known_hosts": str(wrong)},
            "nohosts": {k: v for k, v in box.items() if k != "known_hosts"},
            "db": {"protocol": "postgres", "host": "127.0.0.1", "user": "x"},
        },
        "policy": dict(policy_raw or {}),
    }
    config = parse_config(data, None)
    reviewer = HoldingReviewer()
    policy = load_policy(config.policy_raw) if policy_raw else default_policy()
    checkpoint = ObservedCheckpoint(policy, reviewer=reviewer)
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    gateway = SshGateway(
        config, Authenticator(config), checkpoint, recorder_factory, host_key=host_key
    )
    port = await gateway.start("127.0.0.1", 0)
    known = directory / "gateway_known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {host_key.export_public_key().decode()}")
    os.chmod(directory, 0o700)
    try:
        yield Gw(port, gateway, config, reviewer, client_path, known, directory, checkpoint.checked)
    finally:
        await gateway.close()
        shutil.rmtree(directory, ignore_errors=True)

#!/usr/bin/env bash
# SSH benchmark: direct vs an OpenSSH jump host (ssh -J) vs Airlock, interleaved in one run.
#
#   bench/ssh.sh [ROUNDS] [BULK_MIB]      (needs root: it starts its own sshd; see tests/support)
#
# Measures, per path: bulk throughput (remote `head -c N /dev/zero` to /dev/null), session
# setup (`ssh HOST true`, wall time) and echo round trip (64 bytes through a remote `cat`,
# median of 500). Airlock runs in its own process with uvloop, classification and a real
# transcript recorder on. All three paths use the same OpenSSH client and its default cipher.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${1:-5}" BULK_MIB="${2:-200}" exec .venv/bin/python - <<'PY'
import asyncio, json, os, statistics, subprocess, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, os.getcwd())
from tests.support.sshd import run_sshd, write_key  # noqa: E402
import asyncssh  # noqa: E402

ROUNDS = int(os.environ["ROUNDS"])
BULK = int(os.environ["BULK_MIB"]) * 1024 * 1024

GATEWAY = r'''
import asyncio, json, sys
from pathlib import Path
import asyncssh
try:
    import uvloop; uvloop.install()
except ImportError:
    pass
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from gateway.checkpoint import Checkpoint
from gateway.config import parse_config
from gateway.identity.authenticator import Authenticator
from gateway.policy import default_policy
from gateway.recording.writer import Recorder
from gateway.ssh.server import SshGateway

async def main():
    spec = json.loads(sys.argv[1])
    config = parse_config(spec["config"])
    recorder = Recorder(Path(spec["transcripts"]), Ed25519PrivateKey.generate())
    def factory(s):
        if spec["no_record"]:
            return None
        return recorder.open(s.id, user=s.identity.user, target=s.target)
    gw = SshGateway(config, Authenticator(config), Checkpoint(default_policy()), factory,
                    host_key=Path(spec["host_key"]))
    print(await gw.start("127.0.0.1", 0), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await gw.close()
asyncio.run(main())
'''


def ssh_base(key: Path, known: Path, port: int) -> list[str]:
    return ["ssh", "-F", "/dev/null", "-p", str(port), "-i", str(key), "-o", "IdentitiesOnly=yes",
            "-o", "IdentityAgent=none", "-o", "BatchMode=yes", "-o", f"UserKnownHostsFile={known}",
            "-o", "StrictHostKeyChecking=yes", "-o", "LogLevel=ERROR"]


async def bulk(argv: list[str]) -> float:
    t = time.perf_counter()
    p = await asyncio.create_subprocess_exec(*argv, f"head -c {BULK} /dev/zero",
                                             stdout=asyncio.subprocess.PIPE)
    n = 0
    assert p.stdout
    while chunk := await p.stdout.read(1 << 20):
        n += len(chunk)
    await p.wait()
    assert n == BULK, n
    return BULK / (time.perf_counter() - t) / 2**20


async def setup(argv: list[str]) -> float:
    t = time.perf_counter()
    p = await asyncio.create_subprocess_exec(*argv, "true")
    assert await p.wait() == 0
    return (time.perf_counter() - t) * 1000


async def echo(argv: list[str], n: int = 500) -> float:
    p = await asyncio.create_subprocess_exec(*argv, "cat", stdin=asyncio.subprocess.PIPE,
                                             stdout=asyncio.subprocess.PIPE)
    assert p.stdin and p.stdout
    msg = b"x" * 63 + b"\n"
    times = []
    for _ in range(n):
        t = time.perf_counter()
        p.stdin.write(msg)
        await p.stdout.readexactly(len(msg))
        times.append(time.perf_counter() - t)
    p.stdin.close()
    await p.wait()
    return statistics.median(times) * 1000


async def main(sshd) -> None:
    work = Path(tempfile.mkdtemp(prefix="airlock-bench-"))
    agent = asyncssh.generate_private_key("ssh-ed25519")
    write_key(work / "agent", agent)
    gw_key = asyncssh.generate_private_key("ssh-ed25519")
    write_key(work / "gw_host", gw_key)
    spec = {
        "host_key": str(work / "gw_host"),
        "transcripts": str(work / "transcripts"),
        "no_record": os.environ.get("NO_RECORD") == "1",  # diagnosis: recorder cost
        "config": {
            "gateway": {"state_dir": str(work / "state")},
            "users": {"agent": {"ssh_keys": [agent.export_public_key().decode()]}},
            "targets": {"box": {"protocol": "ssh", "host": "127.0.0.1", "port": sshd.port,
                                "user": sshd.user, "key_file": str(sshd.client_key),
                                "known_hosts": str(sshd.known_hosts)}},
        },
    }
    gw = subprocess.Popen([sys.executable, "-c", GATEWAY, json.dumps(spec)],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert gw.stdout
        gw_port = int(gw.stdout.readline())
        (work / "gw_known").write_text(f"[127.0.0.1]:{gw_port} {gw_key.export_public_key().decode()}")
        user = f"{sshd.user}@127.0.0.1"
        direct = [*ssh_base(sshd.client_key, sshd.known_hosts, sshd.port), user]
        # The jump host is the same sshd (direct-tcpip to itself): one extra SSH hop, as Airlock.
        jump_cfg = work / "jump_config"
        jump_cfg.write_text(
            f"Host jump\n HostName 127.0.0.1\n Port {sshd.port}\n User {sshd.user}\n"
            f" IdentityFile {sshd.client_key}\n IdentitiesOnly yes\n IdentityAgent none\n"
            f" UserKnownHostsFile {sshd.known_hosts}\n BatchMode yes\n LogLevel ERROR\n")
        jumped = ["ssh", "-F", str(jump_cfg), "-J", "jump", "-p", str(sshd.port),
                  "-i", str(sshd.client_key), "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
                  "-o", f"UserKnownHostsFile={sshd.known_hosts}", "-o", "BatchMode=yes", user]
        airlock = [*ssh_base(work / "agent", work / "gw_known", gw_port), "agent@127.0.0.1"]
        paths = {"direct": direct, "ssh -J": jumped, "airlock": airlock}
        results: dict[str, dict[str, list[float]]] = {k: {"bulk": [], "setup": [], "echo": []} for k in paths}
        for _ in range(ROUNDS):
            for name, argv in paths.items():  # interleaved: each round runs every path
                results[name]["bulk"].append(await bulk(argv))
                results[name]["setup"].append(await setup(argv))
                results[name]["echo"].append(await echo(argv))
        print(f"rounds={ROUNDS} bulk={BULK >> 20} MiB  (median over rounds)")
        print(f"{'path':10} {'bulk MiB/s':>11} {'setup ms':>9} {'echo ms':>8}")
        for name, r in results.items():
            print(f"{name:10} {statistics.median(r['bulk']):11.0f} "
                  f"{statistics.median(r['setup']):9.1f} {statistics.median(r['echo']):8.3f}")
    finally:
        if gw.stdin:
            gw.stdin.close()
        gw.wait(10)


with run_sshd(Path(tempfile.mkdtemp(prefix="airlock-bench-sshd-"))) as sshd:
    asyncio.run(main(sshd))
PY

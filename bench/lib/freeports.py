"""Print N free loopback TCP ports below the ephemeral range, one per line.

Why not port 0: the kernel hands out ports inside 32768-60999, and after ``pgbench -C``
thousands of TIME_WAIT client sockets sit in that range, so a server started later can
collide. Ports here are picked at random from 20000-32000 and probed by binding.
"""

from __future__ import annotations

import random
import socket
import sys


def free_ports(n: int, low: int = 20000, high: int = 32000) -> list[int]:
    found: list[int] = []
    candidates = random.sample(range(low, high), k=min(2000, high - low))
    for port in candidates:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        found.append(port)
        if len(found) == n:
            return found
    raise SystemExit(f"only {len(found)} free ports found in {low}-{high}")


if __name__ == "__main__":
    print("\n".join(str(p) for p in free_ports(int(sys.argv[1]) if len(sys.argv) > 1 else 1)))

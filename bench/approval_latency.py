"""Decision -> forwarded statement latency on one node (target: median <= 5 ms).

Starts a throwaway PostgreSQL and a real gateway (SQLite store, real transcripts) with a
`review privilege` rule; a psycopg client sends a GRANT that is held; the moment the
broker's decide() starts on the gateway loop is t0, the moment the client has the GRANT's
result is t1. Reports median/p90 of t1 - t0 and of decide() alone.

    .venv/bin/python bench/approval_latency.py [ROUNDS]
"""

from __future__ import annotations

import os
import queue
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from gateway.approvals.broker import Broker
from gateway.approvals.config import parse_approvals
from gateway.model import Identity
from tests.support.gateway import GatewayThread, base_config
from tests.support.pg import start_postgres

POLICY = {"rules": [
    {"name": "review-privilege", "decision": "review", "categories": ["privilege"]},
    {"name": "allow-rest", "decision": "allow",
     "categories": ["read", "write", "ddl", "transaction", "session"]},
]}  # fmt: skip


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    pg = start_postgres()
    try:
        pg.psql("DROP TABLE IF EXISTS bench_t; CREATE TABLE bench_t(x int)")
        state = Path(tempfile.mkdtemp(prefix="alapr"))
        gw = GatewayThread.from_dict(
            base_config(state, pg, policy=POLICY, approvals={"approvers": ["bob"]})
        )
        broker = Broker(gw.app.store, parse_approvals({"approvers": ["bob"]}), node="bench")
        gw.call(broker.start())
        gw.app.checkpoint.reviewer = broker
        bob = Identity("bob")
        ids: queue.Queue[str] = queue.Queue()
        conn = psycopg.connect(gw.dsn("alice", "trusty"), autocommit=True, prepare_threshold=None)
        conn.add_notice_handler(
            lambda d: ids.put(re.search(r"request ([0-9a-f]{16})", d.message_primary or "")[1])  # type: ignore[index]
        )
        total, decide_only = [], []
        for i in range(rounds):
            done: list[float] = []

            def run(i: int = i, done: list[float] = done) -> None:
                verb = "GRANT" if i % 2 == 0 else "REVOKE"
                prep = "TO" if verb == "GRANT" else "FROM"
                try:
                    conn.execute(f"{verb} SELECT ON bench_t {prep} PUBLIC")
                except psycopg.Error as exc:
                    print(f"round {i}: {exc}", file=sys.stderr)
                    ids.put("")
                done.append(time.perf_counter())

            client = threading.Thread(target=run)
            client.start()
            try:
                rid = ids.get(timeout=20)
            except queue.Empty:
                raise SystemExit(f"round {i}: no notice; client finished: {bool(done)}") from None
            if not rid:
                raise SystemExit(f"round {i}: the statement was not held")

            async def decide(rid: str = rid) -> tuple[float, float]:
                t0 = time.perf_counter()
                await broker.decide(rid, bob, True, "bench")
                return t0, time.perf_counter()

            t0, t_decided = gw.call(decide())
            client.join(20)
            total.append((done[0] - t0) * 1000)
            decide_only.append((t_decided - t0) * 1000)
        conn.close()
        gw.call(broker.stop())
        gw.stop()
    finally:
        pg.stop()

    def summary(values: list[float]) -> str:
        q = statistics.quantiles(values, n=10)
        med = statistics.median(values)
        return f"median {med:.2f} ms, p90 {q[-1]:.2f} ms, max {max(values):.2f} ms"

    print(f"rounds: {rounds} (cpu count {os.cpu_count()})")
    print(f"decision -> client has the result: {summary(total)}")
    print(f"decide() alone (CAS in SQLite + wake): {summary(decide_only)}")


if __name__ == "__main__":
    main()

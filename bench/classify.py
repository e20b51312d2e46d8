"""Classification cost: median µs per pgbench-style statement, cache miss and cache hit.

Run: ``.venv/bin/python bench/classify.py [iterations]``. A miss is a full
``analyze_sql`` (libpg_query parse to JSON, json.loads, tree walk); a hit is an exact-text
lookup in ``SqlClassifierCache``.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from protocols.sql import LexingState, SqlClassifierCache, analyze_sql

STATEMENTS = (
    "BEGIN;",
    "UPDATE pgbench_accounts SET abalance = abalance + -4711 WHERE aid = 12345;",
    "SELECT abalance FROM pgbench_accounts WHERE aid = 12345;",
    "UPDATE pgbench_tellers SET tbalance = tbalance + -4711 WHERE tid = 7;",
    "UPDATE pgbench_branches SET bbalance = bbalance + -4711 WHERE bid = 1;",
    "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) "
    "VALUES (7, 1, 12345, -4711, CURRENT_TIMESTAMP);",
    "END;",
)


def median_ns(fn: Callable[[str], object], text: str, n: int) -> float:
    samples = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        fn(text)
        samples.append(time.perf_counter_ns() - t0)
    return statistics.median(samples)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    state = LexingState()
    cache = SqlClassifierCache()
    print(f"{'statement':60} {'miss µs':>8} {'hit µs':>8}")
    misses, hits = [], []
    for text in STATEMENTS:
        miss = median_ns(lambda t: analyze_sql(t, state), text, n) / 1000
        cache.analyze(text, state)
        hit = median_ns(lambda t: cache.analyze(t, state), text, n) / 1000
        misses.append(miss)
        hits.append(hit)
        print(f"{text[:60]:60} {miss:8.2f} {hit:8.3f}")
    print(
        f"{'median over statements':60} {statistics.median(misses):8.2f} "
        f"{statistics.median(hits):8.3f}"
    )


if __name__ == "__main__":
    main()

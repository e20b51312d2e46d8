"""Summarise bench/pg.sh results: median tps and latency per workload and path, and ratios.

Input: a TSV with ``round target workload tps latency_ms transactions cpu_user_s cpu_sys_s``
rows (one per pgbench run; cpu is the proxy process's, zero for direct). Medians over rounds,
because the machine is shared and a single slow round says little. CPU per transaction is the
steadier figure on a busy machine: it does not depend on how much CPU others left us.
"""

from __future__ import annotations

import statistics
import sys
from collections import defaultdict
from pathlib import Path

TARGETS = ("direct", "pgbouncer", "airlock")


def main(path: Path) -> None:
    tps: dict[tuple[str, str], list[float]] = defaultdict(list)
    lat: dict[tuple[str, str], list[float]] = defaultdict(list)
    cpu: dict[tuple[str, str], list[float]] = defaultdict(list)  # µs per transaction
    sys_share: dict[tuple[str, str], list[float]] = defaultdict(list)
    workloads: list[str] = []
    for line in path.read_text().splitlines():
        _round, target, workload, t, lat_ms, txs, user, sys_ = line.split("\t")
        if workload not in workloads:
            workloads.append(workload)
        tps[target, workload].append(float(t))
        lat[target, workload].append(float(lat_ms))
        if target != "direct" and int(txs) > 0:
            used = float(user) + float(sys_)
            cpu[target, workload].append(used / int(txs) * 1e6)
            sys_share[target, workload].append(float(sys_) / used if used else 0.0)

    def med(d: dict[tuple[str, str], list[float]], t: str, w: str) -> float:
        return statistics.median(d[t, w]) if d[t, w] else float("nan")

    head = f"{'workload':<18}" + "".join(f"{t + ' tps':>15}{'lat ms':>8}" for t in TARGETS)
    head += f"{'air/bouncer':>13}{'air/direct':>12}"
    print(head)
    print("-" * len(head))
    for w in workloads:
        row = f"{w:<18}"
        for t in TARGETS:
            row += f"{med(tps, t, w):>15.0f}{med(lat, t, w):>8.2f}"
        air = med(tps, "airlock", w)
        row += f"{air / med(tps, 'pgbouncer', w):>13.2f}{air / med(tps, 'direct', w):>12.2f}"
        print(row)
    print(
        f"\n{'proxy CPU per transaction':<26}{'pgbouncer µs':>14}{'(sys)':>7}"
        f"{'airlock µs':>12}{'(sys)':>7}{'air/bouncer':>13}"
    )
    for w in workloads:
        b, a = med(cpu, "pgbouncer", w), med(cpu, "airlock", w)
        print(
            f"{w:<26}{b:>14.1f}{med(sys_share, 'pgbouncer', w):>7.0%}"
            f"{a:>12.1f}{med(sys_share, 'airlock', w):>7.0%}{a / b:>13.1f}"
        )
    variants = sorted({t for t, _ in tps if t.startswith("airlock-")})
    if variants:
        names = ["airlock", *variants]
        print(f"\n{'variant (tps / pgbouncer)':<26}" + "".join(f"{v:>20}" for v in names))
        for w in workloads:
            bouncer = med(tps, "pgbouncer", w)
            cells = "".join(f"{med(tps, v, w) / bouncer:>20.2f}" for v in ["airlock", *variants])
            print(f"{w:<26}{cells}")
        print(f"\n{'variant CPU µs per tx':<26}" + "".join(f"{v:>20}" for v in names))
        for w in workloads:
            print(f"{w:<26}" + "".join(f"{med(cpu, v, w):>20.1f}" for v in ["airlock", *variants]))
        if "airlock-norecord" in variants:  # issue 5's number: what recording costs in tps
            print(f"\n{'tps / airlock-norecord':<26}" + "".join(f"{v:>20}" for v in names))
            for w in workloads:
                base = med(tps, "airlock-norecord", w)
                print(f"{w:<26}" + "".join(f"{med(tps, v, w) / base:>20.2f}" for v in names))
    rounds = max(len(v) for v in tps.values())
    print(f"\nmedian of {rounds} round(s); per-round tps:")
    for w in workloads:
        for t in [*TARGETS, *variants]:
            print(f"  {w:<18}{t:<22} " + " ".join(f"{x:.0f}" for x in tps[t, w]))


if __name__ == "__main__":
    main(Path(sys.argv[1]))

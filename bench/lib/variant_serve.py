"""`airlock serve` with parts switched off, to measure what each part costs (bench only).

Variants:
  passthrough  the checkpoint allows every message without classifying or recording it
               (the relay alone: issue 2's "checkpoint that allows everything")
  norecord     full classification and policy, no transcript
  noresult     transcripts, but no result events (what they cost)
  nowrite      transcripts built but never written (what the write system call costs)
  timed        full, printing the median time of each recording step to its log at exit
  full         the shipped daemon (same as `airlock serve`)

A suffix after a dot runs another copy: "full.2" is a second full daemon, to compare like
with like (every variant is started the same way).

Production has no switch for any of this; the bench patches the composition root here.
"""

from __future__ import annotations

import sys

from gateway import app, cli
from gateway.checkpoint import Checkpoint, SessionContext
from gateway.model import Action, Decision, Outcome, Verdict
from protocols.classification import Category, Classification

ALLOW = Outcome(
    True,
    Classification(("bench",), frozenset({Category.READ})),
    Verdict(Decision.ALLOW, "bench-passthrough", "bench"),
)


def passthrough(self: Checkpoint, ctx: SessionContext, action: Action) -> Outcome:
    return ALLOW


def _time_recording() -> None:
    """Wall time of each recording step in place, printed to the log at exit (the timer
    itself costs ~0.1 µs per call; medians, so preemption outliers do not count)."""
    import atexit
    import statistics
    import time
    from collections.abc import Callable
    from typing import Any

    from gateway.postgres import listener
    from gateway.recording import writer

    samples: dict[str, list[int]] = {}

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        spent = samples.setdefault(name, [])
        clock = time.perf_counter_ns

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = clock()
            result = fn(*args, **kwargs)
            spent.append(clock() - t0)
            return result

        return wrapper

    Checkpoint._record = staticmethod(timed("statement event", Checkpoint._record))  # type: ignore[method-assign]
    writer.TranscriptWriter.flush = timed("flush (write)", writer.TranscriptWriter.flush)  # type: ignore[method-assign]
    result_recorder = listener._result_recorder

    def timed_results(ctx: SessionContext) -> Any:
        on_result = result_recorder(ctx)
        return on_result and timed("result event", on_result)

    listener._result_recorder = timed_results
    from gateway.postgres import relay
    from protocols.pgwire import messages
    from protocols.sql import cache

    cache.SqlClassifierCache.classify = timed("classify", cache.SqlClassifierCache.classify)  # type: ignore[method-assign]
    messages.MessageReader.feed = timed("feed", messages.MessageReader.feed)  # type: ignore[method-assign]
    relay.PgRelay._action = timed("action", relay.PgRelay._action)  # type: ignore[method-assign]
    empty = timed("timer alone", lambda: None)

    def report() -> None:
        for _ in range(1000):
            empty()
        for name, spent in samples.items():
            if spent:
                median = statistics.median(spent) / 1000
                print(f"timed {name}: n={len(spent)} median {median:.2f} µs", flush=True)

    atexit.register(report)


def main() -> int:
    variant, rest = sys.argv[1].split(".")[0], sys.argv[2:]  # "full.2": a second copy
    if variant == "noresult":  # transcripts without result events (to price them)
        from gateway.postgres import listener

        listener._result_recorder = lambda ctx: None  # type: ignore[assignment]
        variant = "full"
    if variant == "nowrite":  # everything but the transcript's write system call
        from gateway.recording import writer

        writer.TranscriptWriter._write_now = lambda self, data: None  # type: ignore[method-assign]
        variant = "full"
    if variant == "timed":
        _time_recording()
        variant = "full"
    if variant == "timednorecord":
        _time_recording()
        variant = "norecord"
    if variant == "passthrough":
        Checkpoint.check = passthrough  # type: ignore[method-assign,assignment]
    if variant in ("passthrough", "norecord"):
        app.Airlock.open_transcript = lambda self, session: None  # type: ignore[method-assign,assignment,return-value]
    elif variant != "full":
        raise SystemExit(f"unknown variant {variant!r}")
    return cli.main(["serve", *rest])


if __name__ == "__main__":
    sys.exit(main())

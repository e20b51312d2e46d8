"""`airlock serve` with parts switched off, to measure what each part costs (bench only).

Variants:
  passthrough  the checkpoint allows every message without classifying or recording it
               (the relay alone: issue 2's "checkpoint that allows everything")
  norecord     full classification and policy, no transcript
  noresult     transcripts, but no result events (what they cost)
  full         the shipped daemon (same as `airlock serve`)

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


def main() -> int:
    variant, rest = sys.argv[1], sys.argv[2:]
    if variant == "noresult":  # transcripts without result events (to price them)
        from gateway.postgres import listener

        listener._result_recorder = lambda ctx: None  # type: ignore[assignment]
        variant = "full"
    if variant == "passthrough":
        Checkpoint.check = passthrough  # type: ignore[method-assign,assignment]
    if variant in ("passthrough", "norecord"):
        app.Airlock.open_transcript = lambda self, session: None  # type: ignore[method-assign,assignment,return-value]
    elif variant != "full":
        raise SystemExit(f"unknown variant {variant!r}")
    return cli.main(["serve", *rest])


if __name__ == "__main__":
    sys.exit(main())

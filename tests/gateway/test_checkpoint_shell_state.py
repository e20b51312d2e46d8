"""The checkpoint keeps one shell state per session context and advances it only for
lines that were allowed (a refused line never ran)."""

from __future__ import annotations

import asyncio

from gateway.checkpoint import Checkpoint, SessionContext
from gateway.model import Action, ActionKind, Identity, Outcome, Session, Verdict, WireProtocol
from gateway.policy import default_policy
from protocols.classification import Category, Classification
from protocols.shell import INITIAL


def context() -> SessionContext:
    return SessionContext(Session("s", WireProtocol.SSH, Identity("agent"), "prod", "127.0.0.1"))


async def line(checkpoint: Checkpoint, ctx: SessionContext, text: str) -> Outcome:
    return await checkpoint.decide(ctx, Action(ActionKind.SHELL_LINE, text.encode(), text))


async def test_a_directory_entered_on_one_line_is_known_on_the_next() -> None:
    checkpoint, ctx = Checkpoint(default_policy()), context()
    assert (await line(checkpoint, ctx, "cat *")).allowed  # in the home directory
    assert (await line(checkpoint, ctx, "cd ~/.ssh")).allowed
    refused = await line(checkpoint, ctx, "cat *")  # same bytes, another directory
    assert not refused.allowed
    assert Category.EXPORT in refused.classification.categories


async def test_variables_carry_over_and_a_refused_line_changes_nothing() -> None:
    checkpoint, ctx = Checkpoint(default_policy()), context()
    assert (await line(checkpoint, ctx, "k=~/.ssh/id_")).allowed
    outcome = await line(checkpoint, ctx, "cat ${k}rsa")
    assert not outcome.allowed and Category.EXPORT in outcome.classification.categories
    before = ctx.shell
    assert not (await line(checkpoint, ctx, "cd ~/.ssh; rm -rf x")).allowed  # reviewed
    assert ctx.shell == before


async def test_exec_sessions_start_fresh() -> None:
    checkpoint = Checkpoint(default_policy())
    first, second = context(), context()
    action = Action(ActionKind.EXEC, b"cd ~/.ssh", "cd ~/.ssh")
    assert (await checkpoint.decide(first, action)).allowed
    assert first.shell != INITIAL and second.shell == INITIAL


class Approve:
    """A reviewer that approves everything (the line then runs, so the state moves)."""

    async def review(
        self, ctx: SessionContext, action: Action, classification: Classification, verdict: Verdict
    ) -> Outcome:
        await asyncio.sleep(0)
        return Outcome(True, classification, verdict)


async def test_an_approved_line_advances_the_state() -> None:
    checkpoint, ctx = Checkpoint(default_policy(), reviewer=Approve()), context()
    assert (await line(checkpoint, ctx, 'eval "$X"')).allowed  # code: reviewed, approved
    assert ctx.shell.cwd is None
    outcome = await line(checkpoint, ctx, "cat notes.txt")
    assert Category.UNKNOWN in outcome.classification.categories

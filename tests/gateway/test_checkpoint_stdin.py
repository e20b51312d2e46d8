"""The checkpoint combines the stateful shell classification with the stdin model: an
exec's stdin is the client's stream unless it has a terminal, whose lines are checked."""

from __future__ import annotations

from gateway.checkpoint import SessionContext, classify_stateful
from gateway.model import Action, ActionKind, Identity, Session, WireProtocol
from protocols.classification import Category


def _ctx(terminal: bool) -> SessionContext:
    session = Session("s1", WireProtocol.SSH, Identity("alice"), "box", "127.0.0.1")
    return SessionContext(session=session, terminal=terminal)


def _cats(kind: ActionKind, text: str, terminal: bool) -> set[Category]:
    classification, _ = classify_stateful(Action(kind, text.encode(), text), _ctx(terminal))
    return set(classification.categories)


def test_an_exec_without_a_terminal_feeding_an_editor_commands_is_code() -> None:
    assert Category.CODE in _cats(ActionKind.EXEC, "vi notes.txt", terminal=False)


def test_an_exec_with_a_terminal_leaves_the_editor_to_the_checked_lines() -> None:
    assert _cats(ActionKind.EXEC, "vi notes.txt", terminal=True) == {Category.WRITE}


def test_a_shell_line_is_judged_on_what_pipes_feed() -> None:
    assert _cats(ActionKind.SHELL_LINE, "vi notes.txt", terminal=False) == {Category.WRITE}
    assert Category.CODE in _cats(ActionKind.SHELL_LINE, "cat cmds | vi -s notes.txt", False)

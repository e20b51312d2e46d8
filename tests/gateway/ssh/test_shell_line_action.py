"""line_action: what the checkpoint is asked for each kind of submitted line."""

from __future__ import annotations

from gateway.ssh.shell import line_action
from protocols.classification import Category
from protocols.terminal import LineKind, Submitted


def test_a_certain_line_is_classified_by_the_shell_classifier() -> None:
    action = line_action(Submitted("ls -l", b"\r"))
    assert (action.raw, action.text, action.classification) == (b"ls -l", "ls -l", None)


def test_hidden_input_is_unknown_and_carries_no_secret() -> None:
    line = Submitted("", b"\r", LineKind.HIDDEN, "typed at a secret prompt", b"hunter2\r")
    action = line_action(line)
    assert action.classification is not None
    assert action.classification.categories == {Category.UNKNOWN}
    assert b"hunter2" not in action.raw and "hunter2" not in action.text
    assert action.text.startswith("[hidden input]")


def test_full_screen_keys_are_unknown_and_shown() -> None:
    line = Submitted("", b"\r", LineKind.ALTERNATE, "full screen", b":!rm -rf x\r")
    action = line_action(line)
    assert action.classification is not None
    assert action.classification.categories == {Category.UNKNOWN}
    assert action.text == "[full-screen program] :!rm -rf x^M"


def test_an_uncertain_line_is_unknown_plus_its_own_categories() -> None:
    action = line_action(Submitted("rm -rf x", b"\x1b#", LineKind.UNCERTAIN, "M-#"))
    assert action.classification is not None
    assert {Category.UNKNOWN, Category.DESTRUCTIVE} <= action.classification.categories


def test_tagged_raw_bytes_never_equal_a_shell_line() -> None:
    """The checkpoint caches allowed outcomes by exact bytes: an allowed `ls` must not
    let a full-screen `ls` Enter through."""
    plain = line_action(Submitted("ls", b"\r"))
    for kind in (LineKind.ALTERNATE, LineKind.UNCERTAIN, LineKind.HIDDEN):
        other = line_action(Submitted("ls", b"\r", kind, "why", b"ls"))
        assert other.raw != plain.raw and b"\x00" in other.raw

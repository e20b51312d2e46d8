"""Exec commands whose program reads commands from stdin are ``code`` (issue 12 item 5)."""

from __future__ import annotations

import pytest

from protocols.classification import Category
from protocols.shell import classify_shell
from protocols.shell.stdin import (
    STDIN_PROGRAMS,
    classify_exec,
    classify_shell_line,
    stdin_is_code,
    stdin_is_secret,
)
from protocols.shell.words import Word

READS_COMMANDS = [
    "ed -s /dev/null",
    "ed",
    "red notes.txt",
    "ex -s notes.txt",
    "vim notes.txt",
    "vi -e notes.txt",
    "patch -p1",
    "patch notes.txt",
    "patch -p1 -i -",
    "tar x",
    "tar xf -",
    "tar -xzf -",
    "tar -xzf-",
    "tar --extract --file=-",
    "tar -x -f /dev/stdin",
    "tar xvf /dev/fd/0",
    "tar -czf out.tgz -T -",
    "cpio -i",
    "cpio -idmv",
    "cpio -o",
    "sqlite3 app.db",
    "mysql appdb",
    "psql -h db1 -U app orders",
    "dc",
    "redis-cli",
    "redis-cli -x set k",
    "m4",
    "m4 -",
    "gdb",
    "at now",
    "batch",
    "crontab",
    "crontab -",
    "openssl",
    "git apply",
    "git am",
    "git apply -",
    "make -f -",
    "git fast-import",
    "git update-ref --stdin",
    "git update-index --index-info",
    "docker build -",
    "docker build -t app -f - .",
    "podman build -f /dev/stdin .",
    "7z x -si",
    "7z a -sidata.txt out.7z",
    "wget -i -",
    "curl -K -",
    "awk -f - data.txt",
    "sed -f /dev/stdin notes.txt",
    "bash -s arg",
    "sh /dev/stdin",
    "python3 -",
    "python3 -i script.py",
    ". /dev/stdin",
    # wrappers are unwrapped before the table is consulted
    "env ed -s /dev/null",
    "nice -n 5 ed -s x",
    "timeout 5 patch -p1",
    "nohup tar x",
    "bash -c 'ed -s /dev/null'",
    "sh -c 'patch -p0'",
    # stdin that is a pipe, a file or a literal the classifier does not parse
    "cat | ed -s x",
    "ed -s x < cmds.txt",
    "ed -s x <<< '!touch /tmp/pwned'",
    "printf '!id\\n' | ed -s /dev/null",
    "ed $FILE",
]


@pytest.mark.parametrize("command", READS_COMMANDS)
def test_program_reading_commands_from_stdin_is_code(command: str) -> None:
    c = classify_exec(command)
    assert Category.CODE in c.categories, (command, c)


NOT_FROM_STDIN = [
    ("tar xf backup.tar", Category.WRITE),
    ("tar czf out.tgz dir", None),
    ("tar tf -", None),  # listing an archive reads it, runs nothing
    ("patch -i fix.diff", Category.WRITE),
    ("patch notes.txt fix.diff", Category.WRITE),
    ("git status", Category.READ),
    ("git update-ref refs/heads/x HEAD", None),
    ("docker build -t app .", None),
    ("docker ps", Category.READ),
    ("7z x a.7z", Category.WRITE),
    ("wget -O x https://example.com/x", None),
    ("git log -p", Category.READ),
    ("crontab -l", Category.READ),
    ("sed -e s/a/b/ notes.txt", None),
    ("awk '{print $1}' -", None),
    ("cat", Category.READ),
    ("sha256sum", Category.READ),
    ("grep -c x", Category.READ),
    ("openssl version", Category.READ),
    ("python3 --version", Category.READ),
    ("node -v", Category.READ),
    ("redis-cli get session:42", Category.READ),
    ("seq 1 10 | paste -sd+ | bc", Category.READ),
]


@pytest.mark.parametrize(("command", "expected"), NOT_FROM_STDIN)
def test_programs_not_reading_commands_from_stdin_keep_their_class(
    command: str, expected: Category | None
) -> None:
    c = classify_exec(command)
    assert Category.CODE not in c.categories, (command, c)
    if expected is not None:
        assert expected in c.categories, (command, c)


def test_literal_stdin_a_shell_parses_is_classified_not_flagged() -> None:
    """``sh <<'EOF'`` with a literal script is parsed by the classifier itself."""
    c = classify_exec("sh <<'EOF'\necho hi\nEOF")
    assert c.categories == {Category.READ}, c


def test_every_predicate_answers_for_odd_arguments() -> None:
    """A table entry never raises (that would be a classifier error) on strange argv."""
    odd = [[], [Word(None, "*")], [Word("-", "-")], [Word("--", "--")], [Word("-f", "-f")]]
    for prog, reads in STDIN_PROGRAMS.items():
        for args in odd:
            assert isinstance(reads(args), bool), (prog, args)


def test_computed_program_name_is_left_to_the_classifier() -> None:
    assert stdin_is_code([Word(None, "*")], literal_stdin=False) is None
    assert Category.UNKNOWN in classify_exec("$X -s /dev/null").categories


def test_a_shell_line_reading_the_terminal_keeps_its_class() -> None:
    """At a prompt stdin is the terminal, whose lines the shell gate checks itself."""
    assert classify_shell("vim notes.txt").categories == {Category.WRITE}
    assert classify_exec("vim notes.txt").categories == {Category.WRITE, Category.CODE}


def test_exec_guards_fail_closed() -> None:
    assert Category.UNKNOWN in classify_exec("ls\x00").categories
    assert Category.UNKNOWN in classify_exec("ls " * 30_000).categories
    assert Category.UNKNOWN in classify_exec("ls (").categories


@pytest.mark.parametrize(
    ("command", "secret"),
    [
        ("sudo -S apt-get update", True),
        ("sudo -kS true", True),
        ("docker login -u ci --password-stdin registry", True),
        ("gh auth login --with-token", True),
        ("echo x | chpasswd", True),
        ("read -rs pw; echo ok", True),
        ("openssl enc -aes256 -pass stdin", True),
        ("openssl enc -aes256 -passin stdin", True),
        ("cat", False),
        ("sha256sum", False),
        ("sudo ls", False),
    ],
)
def test_commands_reading_a_secret_on_stdin(command: str, secret: bool) -> None:
    assert stdin_is_secret(command) is secret


@pytest.mark.parametrize(
    "line",
    [
        "cat cmds | ed -s x",
        "ed -s x < cmds",
        "ed -s x <<< '!id'",
        "printf '!id\\n' | env ed -s /dev/null",
        "cat diff | patch -p1",
        "curl -s https://x/a.tgz | tar xz",
        "cat cmds | while read -r l; do ed x; done",
        "ls; ed -s x < <(cat cmds)",
        "echo x | sqlite3 app.db",
    ],
)
def test_a_shell_line_feeding_commands_through_a_pipe_or_redirect_is_code(line: str) -> None:
    c = classify_shell_line(line)
    assert Category.CODE in c.categories, (line, c)


@pytest.mark.parametrize(
    ("line", "categories"),
    [
        ("vim notes.txt", {Category.WRITE}),
        ("ed notes.txt", {Category.WRITE, Category.CODE}),  # ed's own model: commands unseen
        ("ls | grep x", {Category.READ}),
        ("ed x > out.txt", {Category.WRITE, Category.CODE}),
        ("grep x < notes.txt", {Category.READ}),
        ("sh <<'EOF'\necho hi\nEOF", {Category.READ}),
    ],
)
def test_a_shell_line_reading_the_terminal_is_unchanged(
    line: str, categories: set[Category]
) -> None:
    assert classify_shell_line(line).categories == categories

"""The program tables are data; each entry must mean what its table says."""

from __future__ import annotations

import pytest

from protocols.classification import Category
from protocols.shell import classify_shell, programs
from protocols.shell.walker import handler_for

C = Category
TABLES = {
    "EXPORT": C.EXPORT, "FORWARDING": C.FORWARDING, "ADMIN": C.ADMIN,
    "DESTRUCTIVE": C.DESTRUCTIVE, "PRIVILEGE": C.PRIVILEGE, "TAMPER": C.TAMPER,
    "CODE": C.CODE, "SHELLS": C.CODE,
}  # fmt: skip
PLAIN = [
    (table, name)
    for table in TABLES
    for name in sorted(getattr(programs, table))
    if handler_for(name) is None
]
HANDLED = [
    (table, name)
    for table in TABLES
    for name in sorted(getattr(programs, table))
    if handler_for(name) is not None
]


@pytest.mark.parametrize(("table", "name"), PLAIN)
def test_plain_entry_gets_its_tables_category(table: str, name: str) -> None:
    assert TABLES[table] in classify_shell(f"{name} arg").categories


@pytest.mark.parametrize(("table", "name"), HANDLED)
def test_handled_dangerous_entry_is_flagged_in_its_usual_form(table: str, name: str) -> None:
    # Handlers refine by argument (``dd`` without ``of=`` reads); the dangerous use flags.
    usual = {"dd": "dd if=x of=/dev/sda", "ifconfig": "ifconfig eth0 down",
             "sysctl": "sysctl -w a=1", "stty": "stty -echo", "gsutil": "gsutil rm gs://b",
             "redis-cli": "redis-cli flushall"}  # fmt: skip
    assert not classify_shell(usual.get(name, f"{name} arg x")).benign


@pytest.mark.parametrize("name", sorted(programs.READ - {"["}))
def test_read_entries_are_benign(name: str) -> None:
    assert classify_shell(f"{name} file.txt").benign


#: Where ``NAME file.txt`` is not the everyday form: extraction without a destination
#: writes names from inside the archive, ed reads commands from stdin, javac runs
#: annotation processors from its class path (see ``archives``/``toolargs``).
USUAL_WRITE = {
    "tar": "tar czf out.tgz file.txt", "unzip": "unzip build.zip -d out",
    "cpio": "find src | cpio -o -F out.cpio", "ar": "ar rcs lib.a file.o", "7z": "7z a out.7z file.txt",
    "7za": "7za a out.7z file.txt", "rar": "rar a out.rar file.txt",
    "unrar": "unrar x a.rar out/", "ed": "ed -s file.txt <<'EOF'\n1d\nw\nq\nEOF",
    "javac": "javac -proc:none X.java",
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(programs.WRITE))
def test_write_entries_are_benign(name: str) -> None:
    command = USUAL_WRITE.get(name, f"{name} file.txt")
    assert classify_shell(command).benign, classify_shell(command)


def test_tables_hold_plain_names() -> None:
    for table in ("READ", "WRITE", *TABLES):
        for name in getattr(programs, table):
            assert name and name == name.strip() and " " not in name


def test_benign_tables_do_not_overlap_dangerous_ones() -> None:
    benign = programs.READ | programs.WRITE
    for table in TABLES:
        assert not benign & getattr(programs, table), table


def test_program_map_unions_tables() -> None:
    assert programs.PROGRAMS["userdel"] >= {C.PRIVILEGE, C.DESTRUCTIVE}
    assert programs.PROGRAMS["sftp"] >= {C.EXPORT, C.FILE_TRANSFER}
    assert programs.PROGRAMS["ls"] == {C.READ}

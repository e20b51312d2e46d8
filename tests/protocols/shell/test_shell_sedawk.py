"""The getopt-style option parser, the sed script parser and the awk scanner, unit by unit."""

from __future__ import annotations

import pytest

from protocols.shell.argmodel import Role, model, parse
from protocols.shell.sedawk import parse_sed, scan_awk
from protocols.shell.words import Word


def words(*values: str) -> list[Word]:
    return [Word(v, v) for v in values]


M = model(
    "ab:c::",
    "all block= color:: compress-program= compress-level=",
    code="--compress-program",
    output="-b",
)


def test_bundled_short_options_and_attached_values() -> None:
    parsed = parse(M, words("-abVALUE", "-c", "x"))
    assert [(o.name, v.value if v else None) for o, v in parsed.options] == [
        ("-a", None),
        ("-b", "VALUE"),
        ("-c", None),
    ]
    assert [w.value for w in parsed.operands] == ["x"]
    assert not parsed.problems


def test_separate_value_and_long_forms() -> None:
    parsed = parse(M, words("-b", "out", "--block=2", "--color", "f"))
    assert [(o.name, v.value if v else None) for o, v in parsed.options] == [
        ("-b", "out"),
        ("--block", "2"),
        ("--color", None),
    ]
    assert parsed.options[0][0].role is Role.OUTPUT


def test_unique_abbreviation_resolves_and_ambiguous_one_fails() -> None:
    parsed = parse(M, words("--compress-p=sh"))
    assert parsed.options[0][0].name == "--compress-program"
    assert parsed.options[0][0].role is Role.CODE
    assert parse(M, words("--compress=sh")).problems  # program or level: ambiguous
    assert parse(M, words("--nope")).problems
    assert parse(M, words("-z")).problems


def test_options_after_operands_and_double_dash() -> None:
    parsed = parse(M, words("f", "--all", "--", "--compress-program=sh"))
    assert [o.name for o, _ in parsed.options] == ["--all"]
    assert [w.value for w in parsed.operands] == ["f", "--compress-program=sh"]


def test_two_word_option_takes_its_name_and_value() -> None:
    m = model("", "arg== rawfile==", input="--rawfile")
    parsed = parse(m, words("--arg", "k", "shadow", "--rawfile", "x", "/etc/shadow", "f"))
    assert [v.value if v else None for _, v in parsed.options] == ["shadow", "/etc/shadow"]
    assert [w.value for w in parsed.operands] == ["f"]
    assert parse(m, words("--arg", "k")).problems


def test_value_where_none_is_taken_and_missing_value_are_problems() -> None:
    assert parse(M, words("--all=1")).problems
    assert parse(M, words("-b")).problems
    assert parse(M, words("--block")).problems


def test_computed_words_that_may_be_options_are_vague() -> None:
    parsed = parse(M, [Word(None, "*"), Word("*.txt", "*.txt"), Word("./*", "./*")])
    assert len(parsed.vague) == 2
    assert parse(M, [Word(None, "--compress-*")]).problems


@pytest.mark.parametrize(
    ("script", "runs", "writes", "reads"),
    [
        ("p", False, [], []),
        ("1,5p;$d", False, [], []),
        ("s/a/b/g", False, [], []),
        ("s|a|b|e", True, [], []),
        ("s/a/b/3ge", True, [], []),
        ("s/a\\/b/c/w out", False, ["out"], []),
        ("/x/!e id", True, [], []),
        ("1~2{e\n}", True, [], []),
        ("$!N;s/\\n/ /", False, [], []),
        ("\\%x%d", False, [], []),
        ("/a/,+3w f1\nW f2", False, ["f1", "f2"], []),
        ("r /etc/shadow", False, [], ["/etc/shadow"]),
        ("a hello; e id", False, [], []),  # one-line text runs to the end of the line
        ("y/ab/cd/", False, [], []),
        (":a;N;$!ba;s/\\n/,/g", False, [], []),
        ("0,/re/s//X/", False, [], []),
    ],
)
def test_sed_script_effects(script: str, runs: bool, writes: list[str], reads: list[str]) -> None:
    fx = parse_sed(script)
    assert fx.error is None
    assert (fx.runs, fx.writes, fx.reads) == (runs, writes, reads)


@pytest.mark.parametrize("script", ["s/a/b", "k", "1,", "s/a/b/;Z", "y/a/"])
def test_sed_script_not_understood_is_an_error(script: str) -> None:
    assert parse_sed(script).error is not None


@pytest.mark.parametrize(
    "program",
    [
        "{print $1}",
        "$3 > 100 {print $1}",
        "NR==1 || /a|b/ {print}",
        "{if ($1 > 5) print}",
        'BEGIN {FS=":"} {printf "%s|%s\\n", $1, $2}',
        "{s += $2} END {print s / NR}",
        "/>/ {print}",
        "/a|b/ {n++} END {print n}",
        "{print $1 / 2, ($2 > 0) ? 1 : 0}",
        "# comment\n{print}",
        "/x\\/y/ {print}",
    ],
)
def test_awk_filters_are_plain(program: str) -> None:
    fx = scan_awk(program)
    assert fx.why is None and not fx.writes, fx


@pytest.mark.parametrize(
    "program",
    [
        'BEGIN {system("id")}',
        '{print | "sh"}',
        '{print |& "sh"}',
        'BEGIN {"id" | getline}',
        'BEGIN {getline line < "/etc/shadow"}',
        "{print > $1}",
        '{print >> ("/tmp/" $1)}',
        'BEGIN {f = "system"; @f("id")}',
        '@load "readfile"',
        'BEGIN {print ENVIRON["HOME"]}',
        'BEGIN {ARGV[1] = "/etc/shadow"; ARGC = 2} {print}',
        'BEGIN {print "unterminated}',
        '{print > "a\\\\b"}',
        '{x = a / system("id") / 2}',  # division, not a regex hiding the call
        '/"/ {system("id")} /"/',  # a quote inside a regex does not open a string
        '/#/ {system("id")}',  # a hash inside a regex does not open a comment
        '/[/]/ {system("id")}',
        "/unterminated {print}",
    ],
)
def test_awk_programs_that_leave_the_program_are_caught(program: str) -> None:
    assert scan_awk(program).why is not None


def test_awk_print_to_a_literal_file_is_a_write_of_that_file() -> None:
    fx = scan_awk('{print $1 > "out.txt"; printf "x" >> "/tmp/log"}')
    assert fx.why is None and fx.writes == ["out.txt", "/tmp/log"]

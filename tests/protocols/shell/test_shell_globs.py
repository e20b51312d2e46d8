"""The glob-language engine under the secret-path checks: braces, normalisation, and the
intersection of a word's glob with the secret patterns."""

from __future__ import annotations

import pytest

from protocols.shell import globs
from protocols.shell.globs import ANY, HOME

H = HOME


@pytest.mark.parametrize(
    ("glob", "expected"),
    [
        ("a{b,c}d", ["abd", "acd"]),
        ("{a,b}{1,2}", ["a1", "a2", "b1", "b2"]),
        ("x{a,{b,c}}", ["xa", "xb", "xc"]),
        ("f{1..3}", ["f1", "f2", "f3"]),
        ("f{3..1}", ["f3", "f2", "f1"]),
        ("f{01..03}", ["f01", "f02", "f03"]),
        ("f{1..5..2}", ["f1", "f3", "f5"]),
        ("{a..c}", ["a", "b", "c"]),
        ("{-../}", ["-", ".", "/"]),  # a character range can spell . and /
        ("\\{a,b}", ["\\{a,b}"]),  # escaped: no expansion
        ("{a}", ["{a}"]),  # no comma, no sequence: literal
        ("{a,b", ["{a,b"]),
        ("{1..99999}", [ANY]),  # too many to list: any text
    ],
)
def test_brace_expansion(glob: str, expected: list[str]) -> None:
    out = globs.expand_braces(glob)
    assert out is not None
    assert [globs.unescape(x) if x != ANY else x for x in out] == [
        globs.unescape(x) if x != ANY else x for x in expected
    ]


def test_too_many_brace_alternatives_are_unbounded() -> None:
    assert globs.expand_braces("{a,b}" * 8) is None


@pytest.mark.parametrize(
    ("glob", "expected"),
    [
        ("/etc/../etc/./shadow", ["/etc/shadow"]),
        ("//etc///shadow/", ["/etc/shadow/"[:-1]]),
        ("/..", ["/"]),
        (H + "/x/../.ssh", [H + "/.ssh"]),
        (H + "/../../etc/shadow", ["/etc/shadow"]),
        (H + "/../x", ["/home/x", "/x"]),
        (ANY + "/../x", [ANY + "/x"]),
        ("/a/*/../b", ["/a/b"]),
    ],
)
def test_normalise(glob: str, expected: list[str]) -> None:
    assert globs.normalise(glob) == expected


def test_absolute_and_tilde() -> None:
    assert globs.absolute("x", None) == [ANY + "/x"]
    assert globs.absolute("x", [H, "/tmp"]) == [H + "/x", "/tmp/x"]
    assert globs.tilde("~/x") == H + "/x"
    assert globs.tilde("~root/x") == "/root/x"
    assert globs.tilde("~bob") == "/home/bob/"
    assert globs.tilde("~+x/y") == "~+x/y"
    assert globs.tilde("x~") == "x~"


@pytest.mark.parametrize(
    ("path", "tree", "expected"),
    [
        (H + "/.ssh/id_rsa", False, True),
        (H + "/.ssh/id_rsa.pub", False, False),
        (H + "/.s*/i*", False, True),
        (H + "/.[!a]sh/id_rsa", False, True),
        (H + "/.[a-r]sh/id_rsa", False, False),
        (H + "/.[[:alpha:]]sh/id_rsa", False, True),
        (H + "/.[ab", False, False),  # an unclosed bracket is a literal
        (H + "/*.*", False, False),  # * never matches a leading dot
        (H + "/[.]pgpass", False, True),
        (H + "/*/id_rsa", False, False),
        (H + "/**/id_rsa", False, True),  # globstar: conservatively any depth
        (H + "/@(.ssh)/id_rsa", False, True),  # extglob
        ("/etc/sh?dow", False, True),
        ("/etc/[^s]hadow", False, False),
        ("/srv/app/*.k?y", False, True),
        ("/srv/app/*y", False, False),  # one spelled character does not name a secret
        (ANY, False, False),  # unbounded: the caller's unknown, not an export
        (ANY + "/.ssh/id_rsa", False, True),
        (H, True, True),
        ("/", True, True),
        ("/srv/app", True, False),
        ("/srv/app/.ssh", True, True),
        ("/home", True, True),
        ("/home/*", True, True),
        ("/home/*/src", True, False),  # a project in someone's home holds no key
        ("/home/bob/project", True, False),
        ("/root/x", True, False),
    ],
)
def test_reaches_secret(path: str, tree: bool, expected: bool) -> None:
    assert globs.reaches_secret(path, tree=tree) is expected


def test_dotglob_and_hidden_trees() -> None:
    assert not globs.reaches_secret(H + "/*/id_rsa")
    assert globs.reaches_secret(H + "/*/id_rsa", dotglob=True)
    assert not globs.reaches_secret(H, tree=True, hidden=False)  # rg skips ~/.ssh
    assert globs.reaches_secret("/", tree=True, hidden=False)  # but not /etc/shadow


def test_plain_and_literal() -> None:
    assert globs.plain(H + "/a\\*" + ANY) == "~/a**"
    assert globs.is_literal("/etc/\\*x") and not globs.is_literal("/etc/*")
    assert globs.escape("~a*") == "\\~a\\*"
    assert globs.unescape("\\~a\\*") == "~a*"

"""Shell state across lines and within a line (issue 12, item 4).

Each line is classified against the directory and variables the earlier lines left;
where they cannot be known, a decision that depends on them is unknown, never read.
"""

from __future__ import annotations

import pytest

from protocols.classification import Category, Classification
from protocols.shell import INITIAL, ShellState, classify
from protocols.shell.state import describe

C = Category


def session(*lines: str) -> tuple[Classification, ShellState]:
    """Run ``lines`` in order as one session; the last line's result and the state."""
    state = INITIAL
    result: Classification | None = None
    for line in lines:
        result, state = classify(line, state)
    assert result is not None
    return result, state


def last(*lines: str) -> frozenset[Category]:
    return session(*lines)[0].categories


@pytest.mark.parametrize(
    "lines",
    [
        ("cd ~/.ssh", "cat *"),
        ("cd ~/.ssh", "cat id_rsa"),
        ("cd ~/.ssh", "base64 -w0 i*"),
        ("cd ~", "cd .ssh", "cat *"),
        ("cd /etc", "cat sh*"),
        ("cd /", "cat etc/shadow"),
        ("cd ~/.kube", "cat config"),
        ("cd /tmp", "cd ~/.aws", "cat cred*"),
        ("cd ~/.ssh", "cd /nonexistent", "cat *"),  # a cd that fails leaves the shell there
        ("cd ~/.ssh", "cd /tmp && ls", "cat *"),
        ("cd ~/.ssh", "tar czf - . | base64"),
        ("cd ~", "grep -r pass ."),
        ("cd ~/.ssh", "cat < id_rsa"),
        ("k=~/.ssh/id_", "cat ${k}rsa"),
        ("k=~/.ssh/id_; cat ${k}rsa",),
        ("k=$HOME/.ssh", "cat $k/id_rsa"),
        ("export K=~/.ssh/id_rsa", "cat $K"),
        ("declare -x K=/etc/shadow", "cat \"$K\""),
        ("d=.ssh", "cat ~/$d/id_rsa"),
        ("d='~/.ssh'", "cd ~; cat ${d#\\~/}/id_rsa"),
        ("a=.s; b=sh", "cat ~/${a}${b}/id_rsa"),
        ("k=/etc/shadow", "k2=$k", "cat $k2"),
        ("k=~/.ssh/id_rsa", "if false; then k=/tmp/x; fi; cat $k"),
        ("k=~/.ssh/id_rsa", "cat $k; k=/tmp/x"),  # order within a line
        ("f='~/.s*/id_rsa'", "cd ~; cat $f"),
        ("f=*", "cd ~/.ssh", "cat $f"),
        ("cat *; cd ~/.ssh", "cat *"),
        ("for i in 1 2; do cat *; cd ~/.ssh; done",),  # the loop's second turn
        ("f() { cat *; }; cd ~/.ssh; f",),
        ("f() { cd ~/.ssh; }; f; cat *",),
        ("f() { cd ~/.ssh; }; cd /tmp && { f; cat *; }",),
        ("cd /tmp && eval 'cd ~/.ssh' && cat *",),
        ("cd ~/.ssh || cat *",),
        ("cd ~/.ssh", "cd /tmp || cat *"),
        ("cd ~/.ssh", "cd '' && cat *"),
        ("cd ~/.ssh", "e=", "cd $e && cat *"),
        ("cd ~/.ssh", "grep -r x ."),
        ("cd ~", "cd src", "grep -r x ."),  # the second cd may have failed
        ("cd ~/.ssh; bash -c 'cat *'",),
        ("cd ~/.ssh", "echo * | xargs cat"),
        ("shopt -s dotglob", "cat ~/*/id_rsa"),
        ("shopt -s nocaseglob", "cat ~/.SSH/ID_RSA*"),
        ("GLOBIGNORE=x", "cat ~/*/id_*"),
        ("cd ~/.ssh; cat $(pwd)/*",),
        ("HOME=/etc", "cat ~/shadow"),
        ("pushd ~/.ssh", "pushd /tmp", "cat ~1/*"),
        ("export TMPDIR=~/.ssh; cd $(mktemp -d) && cat ../*",),
    ],
)  # fmt: skip
def test_state_earlier_in_the_session_reaches_a_secret(lines: tuple[str, ...]) -> None:
    result, _ = session(*lines)
    assert C.EXPORT in result.categories or C.UNKNOWN in result.categories, result
    assert not result.benign


@pytest.mark.parametrize(
    "lines",
    [
        ("cd ~/.ssh && echo KEY >> authorized_keys",),
        ("cd ~/.ssh", "echo KEY >> authorized_keys"),
        ("cd ~/.ssh", "tee -a authorized_keys < k.pub"),
        ("cd ~", "cd .ssh; cat k.pub >> authorized_keys2"),
        ("f=~/.ssh/authorized_keys", "echo KEY >> $f"),
        ("cd /etc", "echo 'x ALL=(ALL) NOPASSWD:ALL' >> sudoers"),
        ("cd /etc/sudoers.d", "cp /tmp/x ."),
    ],
)  # fmt: skip
def test_writes_through_state_are_privilege(lines: tuple[str, ...]) -> None:
    assert C.PRIVILEGE in last(*lines)


@pytest.mark.parametrize(
    "lines",
    [
        ("cd $(cat dir.txt)", "cat notes.txt"),
        ("cd \"$X\"", "cat notes.txt"),
        ("cd -", "cat notes.txt"),
        ("pushd /tmp", "popd", "cat notes.txt"),
        ("pushd +1", "cat notes.txt"),
        ("eval \"$X\"", "cat notes.txt"),
        ("source ./env.sh", "cat notes.txt"),
        (". ./env.sh", "cat notes.txt"),
        ("CDPATH=/etc", "cd ssl", "cat notes.txt"),
        ("read d", "cd $d", "cat notes.txt"),
        ("read k", "cat $k"),
        ("k=$(cat f)", "cat $k"),
        ("mapfile -t a < f", "cat $a"),
        ("printf -v k %s x", "cat $k"),
        ("let k=1", "cat $k"),
        ("declare -n r=k", "cat $k"),
        ("cd /tmp", "cd notes", "cd \"$(cat f)/..\"", "cat x.txt"),
        ("while :; do cd sub; done", "cat x.txt"),
        ("cd ~/.ssh", "bash", "cat $k"),
        ("k=/tmp/x", "sudo -i", "cat $k"),
        ("k=/tmp/x", "su -", "cat $k"),
        ("k=/tmp/x", "ssh db1", "cat $k"),
        ("cd $(mktemp -d -p ~/.ssh) && cat ../*",),
        ("cd x; echo > y",),
    ],
)  # fmt: skip
def test_unknown_state_makes_path_decisions_unknown(lines: tuple[str, ...]) -> None:
    result, _ = session(*lines)
    if lines == ("cd x; echo > y",):  # a relative cd from a known directory is known
        assert result.benign, result
        return
    assert C.UNKNOWN in result.categories, result


@pytest.mark.parametrize(
    "lines",
    [
        ("cd /tmp", "ls"),
        ("cd /tmp", "cat *"),
        ("cd /var/www && ls", "cat index.html"),
        ("cd src && grep -rn foo .",),
        ("cd /srv/app && grep -rn TODO . && tar czf /tmp/app.tgz .",),
        ("cd /tmp", "cd /srv/app && cd sub && rg foo"),
        ("cd ~/.ssh", "ls -la", "cat id_rsa.pub"),
        ("cd ~/.ssh", "cat *.pub"),
        ("cd ~/project", "cd ..", "cat notes.txt"),
        ("k=app.log", "tail -n 5 $k"),
        ("k=~/.ssh/id_rsa", "k=/tmp/x.txt", "cat $k"),  # replaced at the top level
        ("k=~/.ssh/id_rsa; k=/tmp/x.txt; cat $k",),
        ("unset k", "cat notes$k.txt"),
        ("x=5; echo $x",),
        ("for f in *.log; do wc -l \"$f\"; done",),
        ("cat notes; cd ~/.ssh",),
        ("echo $HOME", "cd", "cat README.md"),
        ("export PATH=$PATH:/opt/bin",),
        ("(cd /tmp && ls)", "cat README.md"),
        ("cd /srv/app; git status", "cat README.md"),
        ("cd \"$(mktemp -d)\" && echo hi > f && cat f",),
        ("cd $(mktemp -d -t build.XXXXXX) && tar xzf ~/release.tgz -C out && ls",),
        ("cat $(pwd)/README.md",),
        ("sudo systemctl restart nginx", "cd /srv/app && grep -rn TODO ."),
        ("f=app.log", "sudo ls", "tail $f"),
        ("exec bash --norc", "echo x > /tmp/$USER.log", "cd $(mktemp -d) && ls"),
    ],
)  # fmt: skip
def test_everyday_sessions_stay_allowed(lines: tuple[str, ...]) -> None:
    result, _ = session(*lines)
    assert result.benign, result


def test_the_state_is_frozen_hashable_and_follows_the_session() -> None:
    _, state = session("cd /tmp", "k=~/.ssh/id_", "export J=x")
    assert hash(state) == hash(ShellState(state.cwd, state.variables, state.globopts))
    shown = describe(state)
    assert shown["cwd"] == ["/tmp", "~"]
    assert shown["variables"] == {"J": ["x"], "k": ["~/.ssh/id_"]}
    with pytest.raises(AttributeError):
        state.cwd = None  # type: ignore[misc]


def test_a_line_that_runs_text_we_do_not_follow_forgets_everything() -> None:
    _, state = session("cd /tmp", "k=1", "eval x")
    assert state.cwd is None and state.variables == ()
    _, state = session("cd /tmp", "k=1", "bash")
    assert state.value("k") is None and state.cwd is not None and "/root" in state.cwd


def test_an_unparsable_line_loses_the_state() -> None:
    result, state = classify("cat 'unterminated", INITIAL)
    assert C.UNKNOWN in result.categories and state.cwd is None


def test_the_allowed_corpus_as_one_long_session_stays_allowed() -> None:
    """State carried over hundreds of everyday lines (cds, sudo, loops) adds no alarms."""
    import json
    from pathlib import Path

    corpus = Path(__file__).parents[2] / "corpus" / "shell_corpus.jsonl"
    cases = [json.loads(line) for line in corpus.read_text().splitlines() if line.strip()]
    state = INITIAL
    flagged = []
    for text in (c["text"] for c in cases if c["expect"] == "allow"):
        result, state = classify(text, state)
        if not result.benign and classify(text, INITIAL)[0].benign:
            flagged.append(text)
    assert flagged == []

"""Lines that change what a *later* line runs are flagged on the line that does it."""

from __future__ import annotations

import pytest

from protocols.classification import Category
from protocols.shell import classify_shell

C = Category
CODE, TAMPER, UNKNOWN, SESSION = C.CODE, C.TAMPER, C.UNKNOWN, C.SESSION


def cats(text: str) -> frozenset[Category]:
    return classify_shell(text).categories


@pytest.mark.parametrize(
    ("text", "expected"),
    [("hash -p /tmp/evil ls", {TAMPER, CODE, SESSION}), ("hash -p/tmp/evil ls", {TAMPER, CODE}),
     ("hash -tp /tmp/evil ls", {TAMPER, CODE}), ("builtin hash -p /tmp/evil ls", {TAMPER, CODE}),
     ("hash $o /tmp/evil ls", {UNKNOWN, CODE}), ("BASH_CMDS[ls]=/tmp/evil", {TAMPER, CODE}),
     ("BASH_ALIASES[ls]='rm -rf ~'", {TAMPER, CODE}),
     ("declare -A BASH_CMDS=([ls]=/tmp/evil)", {TAMPER, CODE}),
     ("enable -n echo", {TAMPER, CODE}), ("enable -f /tmp/x.so ls", {TAMPER, CODE}),
     ("command_not_found_handle() { :; }", {TAMPER, CODE}), ("git() { :; }", {TAMPER, CODE}),
     ("alias git=:", {TAMPER, CODE}), ("alias curl=echo", {TAMPER, CODE})],
)  # fmt: skip
def test_redefining_a_program_is_flagged(text: str, expected: set[Category]) -> None:
    assert expected <= cats(text), classify_shell(text)


@pytest.mark.parametrize(
    "text", ["hash", "hash ls", "hash -r", "hash -t ls", "hash -l", "hash -d ls", "enable",
             "enable -a", "enable -n", "caller", "read -r line", "read", "printf '%s\\n' x",
             "mapfile -t lines < f", "readarray -t arr < f", "getopts ab opt", "wait",
             "wait -n -p pid", "for f in *.log; do wc -l \"$f\"; done", "let i++", "((i++))",
             "echo $((i + 1))", "for ((i = 0; i < 3; i++)); do echo $i; done", "[[ $a -eq 1 ]]",
             ": ${x:=1}", "echo ${x:-d} ${x//=/_} ${x%%=*} ${x@Q}", "declare +x FOO",
             "export -n FOO", "local -a arr=(1 2)", "PATH=$PATH:/opt/bin",
             'PATH="$PATH":/opt/bin', 'export "PATH=$PATH:/opt/bin"', "export A=\"$x\"",
             "exec 2>&1", "exec 3>&1", "exec 3</tmp/f", "set -e", "set -- -k", "set +k",
             "declare -n", "select x in a b; do echo $x; done"],
)  # fmt: skip
def test_lookalike_forms_stay_benign(text: str) -> None:
    assert classify_shell(text).benign, classify_shell(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("read PATH", CODE), ("read -r -a PATH", CODE), ("read -p prompt LD_PRELOAD", CODE),
     ("read -rp 'x: ' IFS", CODE), ("read -d '' -a BASH_ENV", CODE), ("read a b PATH", CODE),
     ("read -t 5 -u 3 PS1", TAMPER), ("read 'BASH_CMDS[ls]'", TAMPER),
     ("printf -v PATH /tmp", CODE), ("printf -vPATH %s /tmp", CODE),
     ("printf -v PROMPT_COMMAND x", TAMPER), ("mapfile -t PATH < f", CODE),
     ("mapfile -d , -n 2 -O 0 -s 1 -u 0 LD_PRELOAD", CODE), ("readarray PATH", CODE),
     ("getopts ab PATH", CODE), ("wait -n -p PATH", CODE), ("wait -fp IFS 1", CODE),
     ("command read PATH", CODE)],
)  # fmt: skip
def test_builtins_that_assign_by_name_check_the_variable(text: str, expected: Category) -> None:
    result = cats(text)
    assert {expected, SESSION} <= result, classify_shell(text)


@pytest.mark.parametrize(
    "text", ['read "$x"', "read -a $x", 'printf -v "$n" /tmp', "mapfile ${n}", 'getopts ab "$v"',
             'wait -p "$v"', 'let "$v=1"', "(( $v = 1 ))", "echo $((${v}++))", "export \"$x\"",
             "local \"$@\"", "declare $x", "echo ${!x:=v}", "declare \"$o\" P=PATH"],
)  # fmt: skip
def test_computed_variable_names_fail_closed(text: str) -> None:
    assert {UNKNOWN, CODE} <= cats(text), classify_shell(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("for PATH in /tmp/evil; do ls; done", CODE), ("for IFS in /; do ls; done", CODE),
     ("select PATH in /tmp/evil; do ls; done", CODE), ("for PS1 in x; do :; done", TAMPER),
     ("for ((PATH = 0; ; )); do ls; done", CODE), ("for ((i = 0; i < 1; PATH++)); do :; done",
                                                    CODE)],
)  # fmt: skip
def test_loop_variables_are_checked(text: str, expected: Category) -> None:
    assert expected in cats(text), classify_shell(text)


@pytest.mark.parametrize(
    "text", ["declare -n P=PATH", "local -n P=PATH", "typeset -n P=PATH", "readonly -n P=PATH",
             "declare -n P", "declare -rn P=x", "f() { local -n ref=$1; }"],
)  # fmt: skip
def test_namerefs_are_code_and_tamper(text: str) -> None:
    assert {CODE, TAMPER} <= cats(text), classify_shell(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("let PATH=1", CODE), ("let 'IFS+=1'", CODE), ("((PATH=1))", CODE), ("((PATH++))", CODE),
     ("echo $((IFS <<= 1))", CODE), ("[[ 1 -eq PATH=1 ]]", CODE), ("a[PATH=1]=x", CODE),
     (": ${PATH:=/tmp/evil}", CODE), ("echo ${LD_PRELOAD=/tmp/x.so}", CODE),
     (": ${PS0:='$(id)'}", TAMPER), ("echo ${BASH_CMDS[ls]:=/tmp/evil}", CODE)],
)  # fmt: skip
def test_arithmetic_and_default_value_assignments_are_checked(
    text: str, expected: Category
) -> None:
    assert {expected, SESSION} <= cats(text), classify_shell(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("export 'PATH=/tmp/evil'", CODE), ('declare "LD_PRELOAD=/tmp/x.so"', CODE),
     ("export 'HISTFILE=/dev/null'", TAMPER), ("PATH=$D:$PATH", CODE),
     ("export PATH=\"$D:$PATH\"", CODE), ("PATH='$PATH':/tmp", CODE), ("HOME=/etc", TAMPER),
     ("PS2='$(id)'", TAMPER), ("EXECIGNORE=/usr/bin/ls", CODE),
     ("MAILPATH='/tmp/m?$(id)'", CODE)],
)  # fmt: skip
def test_quoted_and_indirect_variable_assignments(text: str, expected: Category) -> None:
    assert expected in cats(text), classify_shell(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("set -k", {TAMPER, CODE}), ("set -ek", {TAMPER, CODE}), ("set -o keyword", {TAMPER, CODE}),
     ("shopt -so keyword", {TAMPER, CODE}), ("shopt -uo history", {TAMPER}),
     ("exec >/dev/null", {TAMPER}), ("exec 2>/dev/null", {TAMPER}),
     ("exec &>/tmp/log", {TAMPER}), ("exec >&-", {TAMPER}), ("\\exec >/dev/null", {TAMPER}),
     ("exec </tmp/cmds", {CODE}), ("exec <<< 'rm -rf ~'", {CODE}),
     ("exec <<EOF\nls\nEOF", {CODE}), ("echo ${x@P}", {CODE})],
)  # fmt: skip
def test_shell_options_and_exec_rewiring(text: str, expected: set[Category]) -> None:
    assert expected <= cats(text), classify_shell(text)


def test_mapfile_callback_is_classified() -> None:
    result = cats("mapfile -C 'rm -rf /' -c 1 arr < f")
    assert {CODE, C.DESTRUCTIVE} <= result
    assert {UNKNOWN, CODE} <= cats('mapfile -C "$cb" arr < f')

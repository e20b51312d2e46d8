"""Programs with subcommands (git, docker, kubectl, systemctl, package managers, clouds).

Tables map the subcommand to categories; the program's default applies to any other
subcommand, so a new or unlisted verb is never taken for a read.
"""

# Word lists are written as whitespace-separated strings: far easier to read and review
# as data than hundreds of quoted literals.
# ruff: noqa: SIM905

from __future__ import annotations

import re

from protocols.classification import Category

from . import paths, programs
from .core import Acc, Ctx, Handler, has_flag, positionals
from .gitargs import git_options
from .words import Word

C = Category
R, W, A, D = (frozenset({c}) for c in (C.READ, C.WRITE, C.ADMIN, C.DESTRUCTIVE))
X, E, F, P = (frozenset({c}) for c in (C.CODE, C.EXPORT, C.FORWARDING, C.PRIVILEGE))
T = frozenset({C.FILE_TRANSFER})


def _verbs(words: str, cats: frozenset[Category]) -> dict[str, frozenset[Category]]:
    return dict.fromkeys(words.split(), cats)


#: program -> (global options taking a value, {subcommand: categories}, default)
TABLES: dict[str, tuple[frozenset[str], dict[str, frozenset[Category]], frozenset[Category]]] = {
    "git": (
        frozenset({"-C", "-c", "--git-dir", "--work-tree", "--namespace"}),
        {
            **_verbs(
                "status log diff show blame grep shortlog describe rev-parse ls-files "
                "ls-tree cat-file show-ref reflog whatchanged version help bisect "
                "name-rev rev-list count-objects fsck for-each-ref ls-remote",
                R,
            ),
            **_verbs(
                "add commit fetch pull clone init checkout switch restore merge rebase "
                "cherry-pick revert tag branch stash mv rm apply am worktree notes "
                "submodule sparse-checkout mergetool format-patch archive gc prune",
                W,
            ),
            "push": W,
            "config": W,
            "filter-branch": X,
            "filter-repo": D,
        },
        W,
    ),
    "systemctl": (
        frozenset(
            {
                "-H",
                "--host",
                "-M",
                "--machine",
                "-p",
                "--property",
                "-t",
                "--type",
                "--state",
                "-n",
                "--lines",
                "-o",
                "--output",
            }
        ),
        _verbs(
            "status show cat list-units list-unit-files list-timers list-sockets "
            "list-jobs list-dependencies is-active is-enabled is-failed is-system-running "
            "get-default help show-environment",
            R,
        ),
        A,
    ),
    "service": (frozenset(), {}, A),
    "docker": (
        frozenset({"-H", "--host", "--context", "-c", "--config", "-l", "--log-level"}),
        {
            **_verbs(
                "ps images logs inspect version info stats top port diff history events search", R
            ),
            **_verbs("rm rmi kill prune", D),
            **_verbs("build pull tag create commit save load import login logout", W),
            **_verbs("run exec attach", X),
            "cp": T,
            "push": E,
            "export": E,
        },
        A,
    ),
    "kubectl": (
        frozenset(
            {
                "-n",
                "--namespace",
                "--context",
                "--kubeconfig",
                "--cluster",
                "--user",
                "-s",
                "--server",
                "--as",
                "--as-group",
                "--token",
            }
        ),
        {
            **_verbs(
                "get describe logs top explain version api-resources api-versions "
                "cluster-info diff events wait",
                R,
            ),
            **_verbs("delete drain", D),
            **_verbs("exec run attach debug", X),
            **_verbs("port-forward proxy", F),
            "cp": T,
            "auth": R,
            "certificate": P,
        },
        A,
    ),
    "helm": (
        frozenset({"-n", "--namespace", "--kube-context", "--kubeconfig"}),
        {
            **_verbs("list ls status get history show search version template lint env verify", R),
            **_verbs("uninstall delete del un", D),
            **_verbs("repo dependency pull package", W),
        },
        A,
    ),
    "terraform": (
        frozenset({"-chdir"}),
        {
            **_verbs("plan show validate fmt output version providers graph console get", R),
            "init": W,
            "destroy": D,
            "workspace": W,
        },
        A,
    ),
    "apt": (
        frozenset({"-o", "-c", "-t"}),
        _verbs("list search show policy depends rdepends changelog", R),
        A,
    ),
    "apt-get": (frozenset({"-o", "-c", "-t"}), _verbs("check source download changelog", R), A),
    "apt-cache": (frozenset(), {}, R),
    "dnf": (frozenset(), _verbs("list info search repolist provides history check-update", R), A),
    "yum": (frozenset(), _verbs("list info search repolist provides history check-update", R), A),
    "snap": (frozenset(), _verbs("list info find version changes", R), A),
    "brew": (frozenset(), _verbs("list info search outdated doctor config deps leaves", R), A),
    "pip": (
        frozenset(),
        _verbs("list show freeze check search help config debug index inspect", R),
        A,
    ),
    "npm": (
        frozenset(),
        {
            **_verbs(
                "ls list view info outdated audit search help version config whoami explain doctor",
                R,
            ),
            **_verbs("run run-script test start exec restart stop", X),
            "publish": E,
        },
        A,
    ),
    "yarn": (frozenset(), _verbs("list info outdated why audit", R), X),
    "pnpm": (frozenset(), _verbs("list ls outdated why audit", R), X),
    "cargo": (frozenset(), _verbs("version search tree metadata", R), X),
    "go": (frozenset(), _verbs("version env list doc vet fmt mod", R), X),
    "openssl": (
        frozenset(),
        {
            **_verbs(
                "version x509 verify crl asn1parse s_client dgst list ciphers passwd "
                "errstr speed help sess_id ocsp",
                R,
            ),
            "s_server": F,
        },
        W,
    ),
    "gsutil": (
        frozenset({"-o", "-h"}),
        {**_verbs("ls cat du stat hash version", R), **_verbs("rm rb", D)},
        W,
    ),
    "aws": (frozenset({"--region", "--profile", "--output", "--endpoint-url", "--query"}), {}, A),
    "gcloud": (frozenset({"--project", "--format", "--region", "--zone"}), {}, A),
    "az": (frozenset({"--subscription", "-o", "--output", "--query"}), {}, A),
}
TABLES["podman"] = TABLES["docker"]
TABLES["nerdctl"] = TABLES["docker"]
TABLES["oc"] = TABLES["kubectl"]
TABLES["tofu"] = TABLES["terraform"]
TABLES["pip3"] = TABLES["pip"]
TABLES["pipx"] = TABLES["pip"]
TABLES["aptitude"] = TABLES["apt"]
TABLES["zypper"] = TABLES["dnf"]


def subcommand(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    takes, verbs, default = TABLES[prog]
    pos = positionals(args, takes)
    if not pos:
        if has_flag(args, "--version", "-v", "-V", "--help", "-h", "version", "help"):
            acc.add(C.READ, f"{prog} prints its version")
        elif prog == "terraform" or prog not in programs.PROGRAMS:
            acc.add(default, f"{prog}")
        else:
            acc.add(
                C.READ if prog in ("git", "docker", "kubectl", "helm", "systemctl") else default,
                f"{prog} without a subcommand",
            )
        return
    verb = pos[0].value
    if pos[0].lit is None:
        acc.add(C.UNKNOWN, f"{prog} with a computed subcommand")
        return
    # A fresh accumulator: the refinements below may drop the default category, and must
    # not touch what earlier commands on the same line contributed.
    local = Acc()
    local.add(verbs.get(verb, default), f"{prog} {verb}")
    extra = _EXTRA.get(prog)
    if extra is not None:
        extra(prog, verb, pos[1:], args, local)
    acc.absorb(local)


def _git(prog: str, verb: str, rest: list[Word], args: list[Word], acc: Acc) -> None:
    git_options(verb, rest, args, acc)
    lits = [w.value for w in args]
    if verb == "push":
        if has_flag(
            args, "-f", "--force", "--force-with-lease", "--delete", "-d", "--mirror", "--prune"
        ) or any(v.startswith("+") or v.startswith(":") for v in lits[1:]):
            acc.add(C.DESTRUCTIVE, "git push rewrites or deletes remote history")
        if rest and ("://" in rest[0].value or ":" in rest[0].value or "/" in rest[0].value):
            acc.add(C.EXPORT, "git push to an explicit URL")
    elif verb in ("apply", "am") and any(
        v.startswith(("--unsafe-paths", "--directory")) for v in lits
    ):
        acc.add(C.UNKNOWN, f"git {verb} writes outside the work tree")
    elif (verb == "reset" and "--hard" in lits) or (
        verb == "clean" and has_flag(args, "-f", "--force")
    ):
        acc.add(C.DESTRUCTIVE, f"git {verb} discards work")
    elif verb in ("checkout", "restore") and (("--" in lits and "." in lits) or "-f" in lits):
        acc.add(C.DESTRUCTIVE, f"git {verb} discards local changes")
    elif (verb == "branch" and has_flag(args, "-D")) or (
        verb == "stash" and rest and rest[0].value in ("drop", "clear")
    ):
        acc.add(C.DESTRUCTIVE, f"git {verb} deletes work")
    elif verb == "branch" and not rest and not has_flag(args, "-d", "-m", "-M", "-c"):
        acc.add(C.READ, "git branch lists")
    elif verb == "config":
        keys = " ".join(lits).lower()
        if any(
            k in keys
            for k in (
                "alias.",
                "sshcommand",
                "hookspath",
                "fsmonitor",
                "pager",
                "editor",
                "credential.helper",
                "core.askpass",
                "filter.",
                "diff.external",
                "gpg.program",
                "sequence.editor",
            )
        ):
            acc.add(C.CODE, "git config sets a command git will run")
        elif not rest or has_flag(args, "--get", "-l", "--list", "--get-all"):
            acc.add(C.READ, "git config reads")


def _docker(prog: str, verb: str, rest: list[Word], args: list[Word], acc: Acc) -> None:
    lits = [w.value for w in args]
    if verb in ("run", "create", "exec") and (
        "--privileged" in lits
        or any(
            v.startswith(
                (
                    "--pid=host",
                    "--net=host",
                    "--network=host",
                    "--cap-add",
                    "--userns=host",
                    "--ipc=host",
                    "--device",
                )
            )
            for v in lits
        )
        or any(
            v in ("-v", "--volume", "--mount")
            and i + 1 < len(lits)
            and lits[i + 1].startswith(("/:", "/var/run/docker.sock", "/etc", "/root"))
            for i, v in enumerate(lits)
        )
    ):
        acc.add(C.PRIVILEGE, f"docker {verb} with host privileges")
    if verb in ("system", "image", "container", "volume", "network", "builder") and rest:
        sub = rest[0].value
        if sub in ("prune", "rm", "remove"):
            acc.add(C.DESTRUCTIVE, f"docker {verb} {sub}")
        elif sub in ("ls", "list", "inspect", "df", "info", "history"):
            acc.categories.discard(C.ADMIN)
            acc.reasons[:] = [r for r in acc.reasons if not r.endswith(f"docker {verb}")]
            acc.add(C.READ, f"docker {verb} {sub}")
    if verb == "compose" and rest:
        sub = rest[0].value
        acc.categories.discard(C.ADMIN)  # ``acc`` is this command's own accumulator
        acc.add(
            {"down": D, "rm": D, "exec": X, "run": X, "ps": R, "logs": R, "config": R}.get(sub, A),
            f"docker compose {sub}",
        )


def _kubectl(prog: str, verb: str, rest: list[Word], args: list[Word], acc: Acc) -> None:
    kinds = " ".join(w.value.lower() for w in rest)
    if any(w.value.startswith("--kubeconfig") for w in args):
        acc.add(C.CODE, f"{prog} --kubeconfig: a kubeconfig can run credential plugins")
    if verb in ("get", "describe") and "secret" in kinds:
        acc.add(C.EXPORT, "kubectl reads secrets")
    if verb == "config" and rest and "--raw" in [w.value for w in args]:
        acc.add(C.EXPORT, "kubectl config view --raw prints credentials")
    if verb in ("create", "apply") and any(k in kinds for k in ("rolebinding", "clusterrole")):
        acc.add(C.PRIVILEGE, "kubectl changes RBAC")


def _terraform(prog: str, verb: str, rest: list[Word], args: list[Word], acc: Acc) -> None:
    if verb in ("apply", "plan") and has_flag(args, "-destroy", "--destroy"):
        acc.add(C.DESTRUCTIVE if verb == "apply" else C.READ, f"terraform {verb} -destroy")
    if verb == "state" and rest:
        sub = rest[0].value
        acc.add(
            R if sub in ("list", "show", "pull") else D if sub == "rm" else A,
            f"terraform state {sub}",
        )


def _systemctl(prog: str, verb: str, rest: list[Word], args: list[Word], acc: Acc) -> None:
    units = " ".join(w.value for w in rest)
    if verb not in TABLES["systemctl"][1] and any(s in units for s in programs.TAMPER_SERVICES):
        acc.add(C.TAMPER, f"systemctl {verb} on a logging, audit or access service")
    if verb in ("poweroff", "reboot", "halt", "kexec", "rescue", "emergency"):
        acc.add(C.ADMIN, f"systemctl {verb}")


def _service(prog: str, verb: str, rest: list[Word], args: list[Word], acc: Acc) -> None:
    # ``service NAME ACTION``: the verb is the unit; ACTION decides.
    action = rest[0].value if rest else ""
    if action in ("status", "--status-all") or verb == "--status-all":
        acc.categories.discard(C.ADMIN)
        acc.reasons[:] = [r for r in acc.reasons if not r.startswith("admin: service")]
        acc.add(C.READ, "service status")
    elif any(s in verb for s in programs.TAMPER_SERVICES):
        acc.add(C.TAMPER, f"service {action} on a logging, audit or access service")


_READ_VERBS = frozenset("ls list describe show get version cat du stat".split())
_MUTATING = frozenset(
    """create update delete set add remove patch deploy start stop restart reset run exec ssh
    import apply attach detach resize move copy cp mv invoke put post send enable disable
    grant revoke assign login rotate scale terminate modify replace upload sync rm rb
    register deregister associate disassociate authorize tag untag suspend resume""".split()
)


def _cloud_words(prog: str, verb: str, rest: list[Word]) -> list[str]:
    """The command path: ``aws SERVICE OPERATION``; gcloud/az groups up to their verb."""
    words = [verb, *(w.value for w in rest if re.fullmatch(r"[a-z][a-z0-9-]*", w.value))]
    if prog == "aws":
        return words[:2]
    if prog == "gsutil":
        return words[:1]
    for i, w in enumerate(words):
        if (
            w in _READ_VERBS
            or w.split("-")[0] in _MUTATING
            or w.startswith(("describe-", "list-", "get-", "show-"))
        ):
            return words[: i + 1]
    return words[:4]


def _cloud(prog: str, verb: str, rest: list[Word], args: list[Word], acc: Acc) -> None:
    for w in args:  # ``--filter file:///etc/shadow``: the CLI reads the file as a value
        m = re.search(r"fileb?://(.+)", w.value)
        if m is not None:
            acc.add(paths.read_categories(m.group(1)) | {C.READ}, f"{prog} reads {m.group(1)}")
    words = _cloud_words(prog, verb, rest)
    joined = " ".join(words)
    if words[:2] in (["s3", "cp"], ["s3", "sync"], ["s3", "mv"], ["storage", "cp"]) or words[0] in (
        "cp",
        "rsync",
        "mv",
    ):
        dest = [w.value for w in rest if not w.value.startswith("-")]
        if dest and dest[-1].startswith(("s3://", "gs://", "https://")):
            acc.add({C.EXPORT, C.FILE_TRANSFER}, f"{joined} uploads data")
        else:
            acc.add(C.FILE_TRANSFER, f"{joined} downloads data")
    if any(
        w in ("rm", "rb", "delete")
        or w.startswith(("delete-", "terminate-", "remove-", "deregister-", "destroy"))
        for w in words
    ):
        acc.add(C.DESTRUCTIVE, f"{joined} deletes resources")
    elif any(
        w in _READ_VERBS or w.startswith(("describe-", "list-", "get-", "show-")) for w in words
    ) and not any(w.split("-")[0] in _MUTATING for w in words):
        acc.categories.discard(C.ADMIN)
        acc.reasons[:] = [r for r in acc.reasons if not r.startswith("admin: ")]
        acc.add(C.READ, f"{joined} reads")
    if any(
        w
        in (
            "get-secret-value",
            "get-parameter",
            "get-parameters",
            "access",
            "get-password",
            "get-login-password",
        )
        for w in words
    ) or ("secrets" in words and "versions" in words):
        acc.add(C.EXPORT, f"{joined} reads secrets")
    if any(w in ("ssh", "start-session", "scp") for w in words):
        acc.add(C.FORWARDING, f"{joined} opens a remote session")


def _openssl(prog: str, verb: str, rest: list[Word], args: list[Word], acc: Acc) -> None:
    if any(w.value in ("-engine", "-provider", "-provider-path", "-keyform") for w in args):
        acc.add(C.CODE, "openssl loads an engine or provider library")


def _packages(prog: str, verb: str, rest: list[Word], args: list[Word], acc: Acc) -> None:
    if verb == "config" and (
        any(w.value.startswith("--editor") for w in args) or any(w.value == "edit" for w in rest)
    ):
        acc.add(C.CODE, f"{prog} config edit runs an editor")
    if verb in ("remove", "purge", "autoremove", "erase", "uninstall"):
        acc.add(C.DESTRUCTIVE, f"package {verb}")


_EXTRA = {
    "git": _git,
    "openssl": _openssl,
    "docker": _docker,
    "podman": _docker,
    "nerdctl": _docker,
    "kubectl": _kubectl,
    "oc": _kubectl,
    "terraform": _terraform,
    "tofu": _terraform,
    "systemctl": _systemctl,
    "service": _service,
    "aws": _cloud,
    "gcloud": _cloud,
    "az": _cloud,
    "gsutil": _cloud,
    **dict.fromkeys(
        (
            "apt",
            "apt-get",
            "dnf",
            "yum",
            "zypper",
            "aptitude",
            "snap",
            "brew",
            "pip",
            "pip3",
            "pipx",
            "npm",
        ),
        _packages,
    ),
}

HANDLERS: dict[str, Handler] = dict.fromkeys(TABLES, subcommand)

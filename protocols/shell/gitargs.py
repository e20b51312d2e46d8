"""git options that run programs or write files, whatever the subcommand's own category.

Why: ``git grep -O``, ``--upload-pack``, ``rebase --exec``, ``submodule foreach``,
``bisect run``, ``--template``, ``--config-env``, ``--exec-path=DIR`` run commands the
line does not show; ``--output``, ``format-patch -o``, ``bundle create`` write paths.
The subcommand tables (``subcommands``) would call these reads or writes.
"""

from __future__ import annotations

from protocols.classification import Category

from . import paths
from .core import Acc
from .words import Word

C = Category

#: Long options (``--x`` or ``--x=v``) that make git run a program, for any subcommand.
_CODE_LONG = (
    "--open-files-in-pager",
    "--upload-pack",
    "--receive-pack",
    "--exec",
    "--template",
    "--config-env",
    "--extcmd",
    "--tool",
    "--gui",
)
#: Short options that run a program for the given subcommands only.
_CODE_SHORT = {
    "grep": ("-O",),
    "clone": ("-u",),
    "fetch": (),
    "ls-remote": (),
    "rebase": ("-x",),
    "difftool": ("-x", "-t", "-g"),
    "mergetool": ("-t", "-g"),
}
#: Subcommand words that run a command given on the line.
_RUNS = {("submodule", "foreach"), ("bisect", "run"), ("worktree", "add")}
#: ``git -c KEY=VALUE`` keys that only change output or everyday behaviour; any other key
#: may name a command (core.pager, core.fsmonitor, diff.*.textconv, protocol.ext.allow,
#: include.path, safe.directory...) and is ``code``: an allowlist, so a new one fails closed.
_SAFE_CONFIG = (
    "user.",
    "color.",
    "advice.",
    "column.",
    "status.",
    "log.",
    "i18n.",
    "init.defaultbranch",
    "core.quotepath",
    "core.autocrlf",
    "core.safecrlf",
    "core.filemode",
    "core.ignorecase",
    "core.longpaths",
    "core.abbrev",
    "pull.rebase",
    "pull.ff",
    "push.default",
    "push.autosetupremote",
    "format.pretty",
    "diff.renames",
    "diff.algorithm",
    "diff.colormoved",
    "merge.conflictstyle",
    "merge.ff",
    "rebase.autostash",
    "rebase.autosquash",
    "fetch.prune",
    "commit.verbose",
    "tag.sort",
    "branch.sort",
    "gc.auto",
)
_CONFIG_KEYS = (
    "alias.",
    "sshcommand",
    "hookspath",
    "fsmonitor",
    "pager",
    "editor",
    "askpass",
    "filter.",
    "diff.",
    "merge.",
    "credential",
    "core.",
    "gpg.",
    "sequence.",
    "include",
    "protocol.",
    "url.",
    "http.proxy",
    "remote.",
    "uploadpack",
    "receive.",
)


def git_options(verb: str, rest: list[Word], args: list[Word], acc: Acc) -> None:
    """Flag what ``git ... VERB ...`` runs or writes beyond its table category."""
    lits = [w.value for w in args]
    for k, v in enumerate(lits):
        name = v.partition("=")[0]
        # git's parse-options accepts unique abbreviations (``--upload-p=sh``).
        if len(name) >= 5 and any(o.startswith(name) for o in _CODE_LONG) and name != "--config":
            acc.add(C.CODE, f"git {verb} {name} runs a program")
        elif name == "--exec-path" and "=" in v:
            acc.add(C.CODE, "git --exec-path=DIR runs git commands from DIR")
        elif any(v == s or (v.startswith(s) and s == "-O") for s in _CODE_SHORT.get(verb, ())):
            acc.add(C.CODE, f"git {verb} {v} runs a program")
        elif name in ("--output", "-o") and verb != "checkout":
            value = v.partition("=")[2] if "=" in v else (lits[k + 1] if k + 1 < len(lits) else "")
            target = f"{value.rstrip('/')}/x" if verb == "format-patch" else value
            acc.add(paths.write_categories(target) - {C.WRITE}, f"git {verb} writes {value}")
        elif name == "--config" and verb == "clone" and k + 1 < len(lits):
            _config_value(lits[k + 1], acc)
        elif name.startswith("--config=") or (
            name == "-c" and verb == "clone" and k + 1 < len(lits)
        ):
            _config_value(v.partition("=")[2] if name.startswith("--config=") else lits[k + 1], acc)
    for setting in _global_settings(lits, verb):
        key = setting.partition("=")[0].lower()
        if not key.startswith(_SAFE_CONFIG):
            acc.add(C.CODE, f"git -c {key} may set a command git will run")
    subs = [w.value for w in rest]
    if subs and (verb, subs[0]) in _RUNS and verb != "worktree":
        acc.add(C.CODE, f"git {verb} {subs[0]} runs a command")
    if verb == "bundle" and len(subs) > 1 and subs[0] == "create":
        acc.add(paths.write_categories(subs[1]) - {C.WRITE}, f"git bundle writes {subs[1]}")
    if verb == "clone" and subs:
        # The work tree lands in DIR, or in the URL's last name (``https://h/.ssh.git``).
        dest = subs[1] if len(subs) > 1 else subs[0].rstrip("/").rpartition("/")[2]
        dest = dest.rpartition(":")[2].removesuffix(".git") or "."
        cats = paths.write_categories(f"{dest}/x") - {C.WRITE}
        if dest in (".", "..", "~", "/") or cats or paths.is_secret_dir(dest):
            acc.add(cats | {C.UNKNOWN}, f"git clone writes its files into {dest}")
    if verb == "send-email":
        acc.add(C.EXPORT, "git send-email mails patches")
        if any(v.startswith("--smtp-server") and "/" in v for v in lits):
            acc.add(C.CODE, "git send-email --smtp-server runs a program")


_GLOBAL_VALUES = frozenset({"-C", "-c", "--git-dir", "--work-tree", "--namespace"})


def _global_settings(lits: list[str], verb: str) -> list[str]:
    """``KEY=VALUE`` of ``-c`` before the subcommand, and of ``clone -c``."""
    out: list[str] = []
    k, in_globals = 0, True
    while k < len(lits):
        v = lits[k]
        if in_globals and v in _GLOBAL_VALUES and k + 1 < len(lits):
            if v == "-c":
                out.append(lits[k + 1])
            k += 2
            continue
        if in_globals and not v.startswith("-"):
            in_globals = False  # the subcommand
        elif not in_globals and verb == "clone" and v == "-c" and k + 1 < len(lits):
            out.append(lits[k + 1])
            k += 1
        k += 1
    return out


def _config_value(value: str, acc: Acc) -> None:
    if any(k in value.lower() for k in _CONFIG_KEYS):
        acc.add(C.CODE, "git clone --config sets a command git will run")

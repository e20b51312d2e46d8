"""Shell command lines -> Classification, using the tree-sitter-bash grammar.

Used for SSH exec commands, interactive shell lines and legacy ``scp -f``/``scp -t``.
Every simple command is found wherever bash would run it (pipelines, lists, subshells,
``$(...)``, backticks, ``<(...)``, here-documents, compound statements, function bodies);
wrappers (``sudo``, ``env``, ``xargs``, ``find -exec``, ``bash -c``...) are unwrapped and
what they run is classified too. A parse error anywhere is ``unknown`` (fail closed).

Decisions (each is a design choice a reviewer may revisit):

- A program in no table (``frobnicate``) is ``unknown``: policy reviews it. The tables
  hold a generous allowlist of everyday read/write utilities so approvers are not flooded,
  but a name we cannot vouch for is never silently allowed.
- Running a file by a path outside the standard bin directories (``./deploy.sh``,
  ``/tmp/x``), any interpreter (``python script.py``) and build tools (``make``) are
  ``code``: the gateway cannot see what they do.
- Every ``rm`` is ``destructive``; ``mv`` and ``>`` redirects are ``write`` (whether the
  target exists is not knowable statically); sensitive targets (``authorized_keys``,
  ``/etc/*``, history files, block devices) are flagged by path whatever writes them.
- ``ssh host CMD`` is ``forwarding`` (lateral movement) plus CMD's own classification.
- Interactive database shells (``psql`` with no ``-c``) are ``code``: their statements do
  not pass the gateway. ``psql -c SQL`` is classified by ``protocols.sql``.
- A line is classified against the session's :class:`ShellState` (working directory,
  variables; see ``state.py``) and yields the next one; paths are judged by every file
  their globs and expansions could match (``reach.py``, ``globs.py``). A fresh exec
  command starts in the home directory with no variables known.
"""

from __future__ import annotations

from protocols.classification import Classification

from .core import Acc, Ctx
from .state import INITIAL, Effects, Scope, ShellState, finish
from .walker import parse_into, run_argv

__all__ = ["INITIAL", "ShellState", "classify", "classify_shell"]

#: Longer lines are not parsed: a human reviews them (the cost of parsing is linear, but
#: nobody types a megabyte of shell; this bounds the work an agent can demand).
MAX_LENGTH = 64 * 1024

#: Walks of one line before its assignments must have settled (see :mod:`.state`).
MAX_PASSES = 4


def classify_shell(command_line: str) -> Classification:
    """Classify one command line run by a fresh shell in the home directory."""
    return classify(command_line, INITIAL)[0]


def classify(command_line: str, state: ShellState) -> tuple[Classification, ShellState]:
    """Classify one line run with ``state``; return the state the shell has after it.

    Never raises: an internal error is ``unknown`` and leaves nothing known.
    """
    try:
        if len(command_line) > MAX_LENGTH:
            return Classification.unknown("command line too long to classify"), _lost(state)
        if "\x00" in command_line:
            return Classification.unknown("NUL byte in command line"), _lost(state)
        seed = Effects()
        for _ in range(MAX_PASSES):
            acc = _walk(command_line, state, seed)
            effects = acc.scope.effects
            if effects.key() == seed.key():
                return acc.result(), finish(state, effects)
            seed = effects
        # What the line assigns keeps growing (``while :; do cd x; done``): walk it once
        # more knowing nothing, so every path that depends on the state is unknown.
        lost = _lost(state)
        return _walk(command_line, lost, Effects()).result(), lost
    except Exception as exc:  # fail closed on any bug: the invariant beats a traceback
        reason = f"shell classifier error: {type(exc).__name__}: {exc}"
        return Classification.unknown(reason), _lost(state)


def _walk(command_line: str, state: ShellState, seed: Effects) -> Acc:
    acc = Acc(scope=Scope(state, seed))
    parse_into(command_line, acc, Ctx(0, None, set(), parse_into, run_argv))
    return acc


def _lost(state: ShellState) -> ShellState:
    """After a line we could not follow, nothing is known."""
    return ShellState(None, (), state.globopts | {"dotglob", "nocaseglob"})

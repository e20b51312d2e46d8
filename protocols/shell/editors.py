"""Pagers and editors: options and start-up commands that run programs are ``code``.

Why: ``man -P``, ``less +!cmd``/``-k lesskey``, ``vim -c``/``-u``, ``nano --speller``,
``emacs --eval``, and ``ed`` reading its commands from stdin run programs the command
line does not show. What is typed inside them later is not a shell line (README).
"""

# Option lists are written as whitespace-separated strings: far easier to read and review
# as data than hundreds of quoted literals.
# ruff: noqa: SIM905

from __future__ import annotations

import re

from protocols.classification import Category

from . import handlers, paths
from .argmodel import Parsed, apply, model, parse
from .core import Acc, Ctx
from .words import Word

C = Category


# --- viewers and editors --------------------------------------------------------------

MAN = model(
    "7aC:cdDe:fhH::iIkKlL:m:M:p:P:r:R:s:S:tTuVwWX::Z",
    "all apropos ascii catman config-file= debug default ditroff encoding= extension= "
    "global-apropos gxditview:: help html:: ignore-case local-file locale= location "
    "location-cat manpath= match-case names-only nh no-hyphenation no-justification "
    "no-subpages pager= path preprocessor= prompt= recode= regex sections= systems= "
    "troff troff-device:: update usage version warnings:: whatis where where-cat wildcard",
    code="-P --pager -H --html -X --gxditview -C --config-file -p --preprocessor -t --troff "
    "-T --troff-device -Z --ditroff",
)

LESS = model(
    "?aABcCdeEfFgGiIJKLmMnNqQrRsSuUVwWX~b:D:h:j:k:o:O:p:P:t:T:x:y:z:#:",
    "help version quit-at-eof QUIT-AT-EOF quit-if-one-screen chop-long-lines "
    "RAW-CONTROL-CHARS raw-control-chars ignore-case IGNORE-CASE LINE-NUMBERS line-numbers "
    "no-init follow-name mouse MOUSE wheel-lines= use-color tabs= pattern= prompt= "
    "squeeze-blank-lines status-column window= shift= incsearch file-size header= "
    "no-keypad no-histdups save-marks silent quiet tag= tag-file= log-file= LOG-FILE= "
    "lesskey-file= lesskey-src= lesskey-content= buffers= auto-buffers clear-screen "
    "hilite-search HILITE-SEARCH hilite-unread HILITE-UNREAD jump-target= long-prompt "
    "LONG-PROMPT max-back-scroll= max-forw-scroll= redraw-on-quit no-vbell tilde "
    "UNDERLINE-SPECIAL search-skip-screen exit-follow-on-close no-number-headers "
    "no-search-headers rscroll= status-col-width= line-num-width= use-backslash wordwrap "
    "color= dumb",
    code="-k --lesskey-file --lesskey-src --lesskey-content",
    output="-o -O --log-file --LOG-FILE",
    input="-T --tag-file",
)
_LESS_PLUS = re.compile(r"\+(?:[0-9]+[gGp%]?|[GFgp]|/[^!|]*|\?[^!|]*)")


def less(prog: str, parsed: Parsed, acc: Acc, ctx: Ctx) -> None:
    for w in parsed.operands:
        if w.value.startswith("+") and not _LESS_PLUS.fullmatch(w.value):
            acc.add(C.CODE, f"{prog} {w.value} runs pager commands (``!`` runs a shell)")
    acc.add(C.READ, f"{prog} pages files")


VIM = model(
    "AbCdDeEfFgHhLlmMnNRsvXyZo::O::p::r::V::T:u:U:c:S:w:W:t:q:i:x",
    "help version noplugin cmd= startuptime= clean not-a-term ttyfail literal nofork "
    "remote remote-silent remote-wait remote-wait-silent remote-tab remote-send= "
    "remote-expr= serverlist servername= echo-wid= embed headless listen= log= api-info "
    "luamod-dev",
    code="-c --cmd -S -s -u -U -l --remote-send --remote-expr --listen --embed -x",
    output="-w -W --startuptime --log",
    input="-q",
    unknown="-i -V --servername --remote --remote-silent --remote-wait --remote-wait-silent "
    "--remote-tab --serverlist -y",
)
NANO = model(
    "ABDEFGHIKLMNOPRSUVWZabcdeghijklmnpqtuvwxyz%_!0$/@C:s:f:Y:Q:T:r:o:J:X:",
    "help version smarttab backup backupdir= boldtext multibuffer noconvert "
    "wordbounds wordchars= locking historylog ignorercfiles guidestripe= zap "
    "constantshow linenumbers mouse noread operatingdir= preserve quotestr= restricted "
    "speller= tempfile view nowrap nohelp autoindent cutfromcursor rebinddelete "
    "suspendable tabsize= tabstospaces trimblanks unix wordchars= softwrap "
    "fill= rcfile= syntax= showcursor positionlog atblanks emptyline jumpyscrolling "
    "indicator minibar stateflags bookstyle breaklonglines nonewlines magic listsyntaxes "
    "saveonexit modernbindings",
    code="-s --speller -f --rcfile",
    output="-C --backupdir -o --operatingdir",
)
_EMACS_PLAIN = frozenset(
    "-nw --no-window-system -q --no-init-file -Q --quick --no-site-file --no-splash "
    "--no-x-resources -D --basic-display --no-desktop --no-site-lisp --version --help "
    "--debug-init -nsl --no-loadup --reverse-video -rv -iconic --iconic -fs --fullscreen "
    "-mm --maximized -fh -fw -nbi --no-bitmap-icon -nbc --no-blinking-cursor".split()
)


def emacs(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    """emacs: a list of display options; anything else (``--eval``, ``-l``, ``--batch``,
    ``-f``, ``-u``, ``--daemon``...) runs Lisp or cannot be judged."""
    for w in args:
        v = w.lit if w.lit is not None else w.text
        if w.lit is None and v.startswith(("*", "-")):
            acc.add(C.UNKNOWN, f"{prog}: a computed argument could be an option")
        elif v.startswith("-") and v != "-" and v not in _EMACS_PLAIN:
            acc.add(C.CODE, f"{prog} {v}: runs Lisp or cannot be judged")
    handlers.editor(prog, args, acc, ctx)


def ed(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    """ed reads its commands from stdin: a literal here-document is parsed, else code."""
    parsed = parse(_ED, args)
    apply(prog, parsed, acc, _ED)
    acc.add(C.WRITE, f"{prog} edits files")
    for w in parsed.operands:
        if w.value.startswith("!"):
            acc.add(C.CODE, f"{prog} reads a command's output")
        else:
            acc.add(paths.write_categories(w.value) - {C.WRITE}, f"{prog} edits {w.value}")
    if ctx.stdin is None:
        acc.add(C.CODE, f"{prog} reads commands the gateway cannot see")
        return
    for line in ctx.stdin.splitlines():
        m = re.match(r"[\s\d,.$;'a-z+\-/?^]*?([!wWrRe])\s*(.*)", line)
        if line.lstrip().startswith("!") or (m and m.group(1) == "!"):
            acc.add(C.CODE, f"{prog} ! runs a shell command")
        elif m and m.group(2).startswith("!"):
            acc.add(C.CODE, f"{prog} {m.group(1)} !cmd runs a shell command")
        elif m and m.group(1) in "wW" and m.group(2):
            acc.add(paths.write_categories(m.group(2)), f"{prog} writes {m.group(2)}")
        elif m and m.group(1) in "re" and m.group(2):
            acc.add(paths.read_categories(m.group(2), tuple(acc.cwds)), f"{prog} reads")


_ED = model(
    "GlsVhEp:",
    "traditional loose-exit silent verbose prompt= help version extended-regexp strip-trailing-cr",
)

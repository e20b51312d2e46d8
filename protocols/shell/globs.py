"""Could a shell word name a secret file? Intersecting two glob languages.

Why: a glob (``~/.s*/i*``, ``~/.[s]sh/id_rsa``, ``~/.{ssh,x}/id_rsa``) or a recursive read
(``grep -r . ~``) names no secret by its text, yet bash hands the program every file it
matches. So the question is not "does this text match a secret pattern" but "is there a
path both the word and a secret pattern match": the intersection of two regular languages.
Both sides here are path globs, so a product of their two position automata decides it
(``_meet``); no library intersects shell globs with brace expansion and bash's dot rule.

Paths are in *glob syntax*: unquoted ``* ? [..]`` are active, a backslash makes the next
character literal, and three private characters stand for what a word cannot spell:
``HOME`` (the home directory), ``ANY`` (an expansion we cannot bound: any text, ``/``
included) and ``TREE`` (everything below a directory a recursive reader descends into).

Two kinds of secret pattern (derived from :data:`paths.SECRET_READ`):

- *places* (``/etc/shadow*``, ``HOME/.ssh/id_*``, ``/home/*/.aws/credentials``): a word
  or tree that could reach one is an export, whatever its wildcards stand for;
- *named* secrets that may live anywhere (``**/*.key``, ``**/.ssh/id_*``, ``**/.env``):
  every directory tree might hold one, so these count only where the word's own literal
  characters spell at least two characters of the secret's name (``*.k?y`` does,
  ``*`` or a plain ``grep -r foo src/`` does not).
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterable, Iterator

from . import paths

HOME = "\ue000"
ANY = "\ue001"
TREE = "\ue002"
#: Like TREE for tools that skip hidden files (``rg``, ``ag``): no component starts with ``.``.
TREE_VISIBLE = "\ue003"

#: At most this many expansions of one word (braces, variables); beyond it is unbounded.
MAX_EXPANSIONS = 64

_SPECIAL = "\\*?[]{}"


def escape(text: str) -> str:
    """``text`` as a literal in glob syntax (quoted text: no glob, no braces, no ``~``)."""
    out = "".join("\\" + ch if ch in _SPECIAL else ch for ch in text)
    return "\\" + out if out.startswith("~") else out


def unescape(glob: str) -> str:
    """Drop the escapes: a stored value used unquoted is globbed again by bash."""
    return re.sub(r"\\(.)", r"\1", glob, flags=re.S)


# -- brace expansion ----------------------------------------------------------------------


def expand_braces(glob: str) -> list[str] | None:
    """Bash brace expansion (``{a,b}``, ``{1..3}``, ``{a..e..2}``); None if too many."""
    out: list[str] = []
    todo = [glob]
    while todo:
        item = todo.pop()
        split = _first_brace(item)
        if split is None:
            out.append(item)
        else:
            pre, alternatives, post = split
            todo.extend(pre + a + post for a in reversed(alternatives))
        if len(out) + len(todo) > MAX_EXPANSIONS:
            return None
    return out


def _first_brace(glob: str) -> tuple[str, list[str], str] | None:
    i = 0
    while i < len(glob):
        ch = glob[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            end, commas = _brace_end(glob, i)
            if end is not None:
                body = glob[i + 1 : end]
                alts = _split_commas(body, commas) if commas else _sequence(body)
                if alts is not None:
                    return glob[:i], alts, glob[end + 1 :]
        i += 1
    return None


def _brace_end(glob: str, start: int) -> tuple[int | None, list[int]]:
    depth, i = 0, start
    commas: list[int] = []
    while i < len(glob):
        ch = glob[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i, commas
        elif ch == "," and depth == 1:
            commas.append(i - start - 1)
        i += 1
    return None, []


def _split_commas(body: str, commas: list[int]) -> list[str]:
    bounds = [-1, *commas, len(body)]
    return [body[a + 1 : b] for a, b in itertools.pairwise(bounds)]


def _sequence(body: str) -> list[str] | None:
    m = re.fullmatch(r"(-?\d+|[^\\])\.\.(-?\d+|[^\\])(?:\.\.(-?\d+))?", body)
    if m is None:
        return None
    a, b, step_text = m.groups()
    step = abs(int(step_text)) if step_text and int(step_text) else 1
    if a.lstrip("-").isdigit() and b.lstrip("-").isdigit():
        lo, hi = int(a), int(b)
        values = range(lo, hi + 1, step) if lo <= hi else range(lo, hi - 1, -step)
        if len(values) > MAX_EXPANSIONS:
            return [ANY]  # only digits, but too many to list: stand for any text
        width = max(len(a), len(b)) if a.lstrip("-").startswith("0") else 0
        return [escape(str(v).zfill(width)) for v in values]
    if len(a) == 1 and len(b) == 1:
        lo, hi = ord(a), ord(b)
        codes = range(lo, hi + 1, step) if lo <= hi else range(lo, hi - 1, -step)
        if len(codes) > MAX_EXPANSIONS:
            return [ANY]
        return [escape(chr(c)) for c in codes]
    return None


# -- normalisation ------------------------------------------------------------------------


def absolute(glob: str, cwds: Iterable[str] | None) -> list[str]:
    """``glob`` made absolute against each candidate working directory and normalised.

    ``cwds`` None means the directory is unknown: the path is then below ``ANY``.
    """
    if glob.startswith(("/", HOME, ANY)):
        return normalise(glob)
    if cwds is None:
        return normalise(ANY + "/" + glob)
    out: list[str] = []
    for d in cwds:
        out.extend(p for p in normalise(d.rstrip("/") + "/" + glob) if p not in out)
    return out


def normalise(glob: str) -> list[str]:
    """Lexically resolve ``//``, ``.`` and ``..`` (several results when ``..`` climbs out
    of the home directory, whose parent we take to be ``/home`` or ``/``)."""
    root, rest = _root(glob)
    results: list[tuple[str, list[str]]] = [(root, [])]
    for comp in rest.split("/"):
        if comp in ("", "."):
            continue
        nxt: list[tuple[str, list[str]]] = []
        for base, comps in results:
            if comp != "..":
                nxt.append((base, [*comps, comp]))
            elif comps and ANY not in comps[-1] and TREE not in comps[-1]:
                nxt.append((base, comps[:-1]))
            elif comps or base == ANY:
                nxt.append((base, comps))  # ``ANY/..`` is still some directory
            elif base == HOME:
                nxt.extend([("/", ["home"]), ("/", [])])
            else:
                nxt.append((base, comps))  # ``/..`` is ``/``
        results = nxt
    out: list[str] = []
    for base, comps in results:
        path = ("" if base == "/" else base) + "/" + "/".join(comps)
        if path not in out:
            out.append(path)
    return out


def _root(glob: str) -> tuple[str, str]:
    if glob.startswith("/"):
        return "/", glob
    for marker in (HOME, ANY):
        if glob.startswith(marker):
            return marker, glob[1:]
    return ANY, glob


def tilde(glob: str) -> str:
    """Tilde expansion of a word's leading ``~``, ``~/``, ``~user`` (``~+``/``~-`` are the
    caller's: they need the working directory)."""
    if not glob.startswith("~"):
        return glob
    name, _, rest = glob[1:].partition("/")
    if name == "":
        return HOME + "/" + rest
    if re.fullmatch(r"[a-z_][a-z0-9_.-]*\$?", name):
        return ("/root" if name == "root" else "/home/" + name) + "/" + rest
    return glob


# -- tokens and the product automaton -----------------------------------------------------

# A token is (kind, chars, negated): kinds "lit" (one given char), "set" (one of / none of
# chars), "one" (``?``), "star" (``*`` within a component) and "deep" (anything, ``/`` too).
Token = tuple[str, frozenset[str], bool]

_ALL: frozenset[str] = frozenset()
_NO_SLASH = frozenset("/")


@functools.lru_cache(maxsize=4096)
def tokens(glob: str, word: bool) -> tuple[Token, ...]:
    """Tokenise glob syntax. On the word side ``?``/``*``/``[..]`` never match ``/``."""
    out: list[Token] = []
    i = 0
    while i < len(glob):
        ch = glob[i]
        if ch == "\\" and i + 1 < len(glob):
            out.append(("lit", frozenset(glob[i + 1]), False))
            i += 2
            continue
        if ch == TREE_VISIBLE:
            out.append(("visible", _ALL, True))
            i += 1
            continue
        if ch in (ANY, TREE) or (ch == "*" and glob[i + 1 : i + 2] == "*"):
            out.append(("deep", _ALL, True))
            i += 1 if ch != "*" else 2
            while glob[i : i + 1] == "*":
                i += 1
            continue
        if ch in "?*+@!" and glob[i + 1 : i + 2] == "(":
            end = glob.find(")", i)
            if end != -1:  # extglob: any text within the component, dots included
                out.append(("deep", _NO_SLASH if word else _ALL, True))
                i = end + 1
                continue
        if ch == "*":  # within one component, on both sides (``**`` crosses them)
            out.append(("star", _NO_SLASH, True))
        elif ch == "?":
            out.append(("one", _NO_SLASH if word else _ALL, True))
        elif ch == "[":
            parsed = _bracket(glob, i)
            if parsed is None:
                out.append(("lit", frozenset("["), False))
            else:
                chars, negated, i = parsed
                out.append(("set", chars | _NO_SLASH if negated and word else chars, negated))
                continue
        else:
            out.append(("lit", frozenset(ch), False))
        i += 1
    return tuple(out)


def _bracket(glob: str, start: int) -> tuple[frozenset[str], bool, int] | None:
    i = start + 1
    negated = glob[i : i + 1] in ("!", "^")
    i += negated
    chars: set[str] = set()
    first = True
    while i < len(glob):
        ch = glob[i]
        if ch == "]" and not first:
            return frozenset(chars), negated, i + 1
        first = False
        if ch == "[" and glob[i + 1 : i + 2] in (":", "=", "."):
            end = glob.find(glob[i + 1] + "]", i + 2)
            if end == -1:
                return None
            return (_ALL, True, _skip_bracket(glob, end + 2)) if not negated else None
        if ch == "\\" and i + 1 < len(glob):
            ch, i = glob[i + 1], i + 1
        if glob[i + 1 : i + 2] == "-" and i + 2 < len(glob) and glob[i + 2] != "]":
            lo, hi = ord(ch), ord(glob[i + 2])
            if hi - lo > 256:
                return (_ALL, True, _skip_bracket(glob, i + 3)) if not negated else None
            chars.update(chr(c) for c in range(lo, hi + 1))
            i += 3
            continue
        chars.add(ch)
        i += 1
    return None


def _skip_bracket(glob: str, i: int) -> int:
    """A POSIX class or a huge range stands for any character: skip to the ``]``."""
    end = glob.find("]", i)
    return len(glob) if end == -1 else end + 1


def _accepts(tok: Token, ch: str) -> bool:
    kind, chars, negated = tok
    if kind == "lit":
        return ch in chars
    return (ch in chars) != negated


def _other(a: Token, b: Token) -> bool:
    """Is there a character other than ``/`` and ``.`` both tokens accept?"""
    (_, ca, na), (_, cb, nb) = a, b
    special = ("/", ".")
    if na and nb:
        return True
    if na:
        return any(c not in ca and c not in special for c in cb)
    if nb:
        return any(c not in cb and c not in special for c in ca)
    return any(c in cb and c not in special for c in ca)


def _meet(word: tuple[Token, ...], pattern: tuple[Token, ...], need: int, dotglob: bool) -> bool:
    """Is some path matched by both token strings, with ``need`` of the pattern's literal
    characters (``/`` aside) spelled by the word's own literals or brackets?

    A search over (word position, pattern position, at start of a component, literals
    so far). ``*``/``?`` of the word never match a leading ``.`` unless dotglob is on.
    """
    seen: set[tuple[int, int, bool, int]] = set()
    stack = [(0, 0, True, 0)]
    nw, np_ = len(word), len(pattern)
    # Bash's dot rule: a name's leading ``.`` is matched only by a ``.`` (or bracket) that
    # opens the word's own component (``*.*`` does not match ``.pgpass``).
    slash = ("lit", frozenset("/"), False)
    opens = [i == 0 or word[i - 1] == slash for i in range(nw)]
    while stack:
        state = stack.pop()
        if state in seen:
            continue
        seen.add(state)
        i, j, start, n = state
        if i == nw and j == np_ and n >= need:
            return True
        if i < nw and word[i][0] in _REPEATING:
            stack.append((i + 1, j, start, n))
        if j < np_ and pattern[j][0] in _REPEATING:
            stack.append((i, j + 1, start, n))
        if i == nw or j == np_:
            continue
        wt, pt = word[i], pattern[j]
        ni = i if wt[0] in _REPEATING else i + 1
        nj = j if pt[0] in _REPEATING else j + 1
        spelled = wt[0] in ("lit", "set") and pt[0] in ("lit", "set")
        for ch in _candidates(wt, pt):
            wild = wt[0] in ("star", "one", "visible") or not opens[i]
            if ch == "." and start and not dotglob and wt[0] != "deep" and wild:
                continue
            if ch != "/" and ch != "" and not (_accepts(wt, ch) and _accepts(pt, ch)):
                continue
            if ch == "/" and not (_accepts(wt, "/") and _accepts(pt, "/")):
                continue
            if ch == "" and not _other(wt, pt):
                continue
            count = min(need, n + 1) if spelled and ch != "/" else n
            stack.append((ni, nj, ch == "/", count))
    return False


_REPEATING = frozenset({"star", "deep", "visible"})


def _candidates(a: Token, b: Token) -> Iterator[str]:
    """Characters worth trying: a literal's own, else ``/``, ``.`` and "" (any other)."""
    for tok in (a, b):
        if tok[0] == "lit":
            yield next(iter(tok[1]))
            return
    yield from ("/", ".", "")


# -- the secret patterns ------------------------------------------------------------------

#: Dot files and directories that hold credentials in a home directory.
_HOME_SECRETS = (".ssh/", ".gnupg/", ".aws/", ".kube/", ".docker/", ".pgpass", ".netrc",
                 ".git-credentials", ".vault-token")  # fmt: skip
#: Where home directories are: ours, root's, everyone's.
_HOMES = (HOME, "/root", "/home/*")
#: Another process's view of the file system: ``/proc/1/root/etc/shadow`` is the file.
_PROC_ROOTS = ("/proc/*/root", "/proc/*/task/*/root")


def _fnmatch_to_glob(pattern: str) -> str:
    # fnmatch's ``*`` crosses ``/``; a trailing one also reaches into a directory.
    return pattern[:-1] + "**" if pattern.endswith("*") else pattern


@functools.cache
def _tables() -> tuple[tuple[str, ...], tuple[str, ...]]:
    places: list[str] = []
    named: list[str] = []
    for pattern in paths.SECRET_READ:
        if pattern.startswith("/"):
            places.append(_fnmatch_to_glob(pattern))
        elif pattern.startswith("*.") and pattern[1:].startswith(_HOME_SECRETS):
            rest = pattern[1:]
            places.extend(f"{home}/{rest}" for home in _HOMES)
            named.append("**/" + rest)
        elif pattern.startswith("*/"):
            named.append("**/" + _fnmatch_to_glob(pattern[2:]))
        else:
            named.append("**/" + pattern)
    places.extend(f"{root}{p}" for root in _PROC_ROOTS for p in list(places) if p[0] == "/")
    # A process's working directory is wherever it is: reading through it is not bounded.
    places.extend(("/proc/*/cwd/**", "/proc/*/task/*/cwd/**"))
    return tuple(dict.fromkeys(places)), tuple(dict.fromkeys(named))


@functools.cache
def _literal_regex() -> re.Pattern[str]:
    """All patterns as one regex, for the common case of a word without wildcards."""
    places, named = _tables()
    return re.compile("|".join(f"(?:{_regex(p)})" for p in (*places, *named)), re.S)


def _regex(glob: str) -> str:
    out = []
    for kind, chars, negated in tokens(glob, False):
        if kind == "lit":
            out.append(re.escape(next(iter(chars))))
        elif kind == "deep":
            out.append(".*")
        elif kind == "star":
            out.append("[^/]*")
        elif kind == "one":
            out.append(".")
        else:
            body = "".join(re.escape(c) for c in sorted(chars))
            out.append(f"[{'^' if negated else ''}{body}]" if body else ".")
    return "".join(out)


#: Longer glob paths are not searched (the caller fails closed).
MAX_GLOB = 256


def is_literal(glob: str) -> bool:
    return _literal(glob) is not None


def _literal(glob: str) -> str | None:
    """The one path a glob-syntax string names, or None if it has wildcards."""
    if re.search(r"(?<!\\)([*?\[\ue001\ue002\ue003]|[+@!]\()", glob):
        return None
    return unescape(glob)


#: Names secret files really have, for filters that only see a name (``find -name``).
SECRET_NAMES: tuple[str, ...] = (
    "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk", "id_ed25519_sk", "identity",
    "credentials", "config", "config.json", ".pgpass", ".netrc", ".git-credentials",
    ".vault-token", "shadow", "shadow-", "gshadow", "gshadow-", "sudoers", "opasswd",
    "ssh_host_rsa_key", "ssh_host_ecdsa_key", "ssh_host_ed25519_key", "environ", "mem",
    "maps", "kcore", "secring.gpg", "pubring.kbx", "trustdb.gpg", "private-keys-v1.d",
    "0123456789ABCDEF.key", "ssl-cert-snakeoil.key", "server.key", "tls.key", "key.pem",
    "privkey.pem", "private.pem", ".env", ".env.local", "cert.p12", "keystore.jks",
    "store.pfx", "db.kdbx", "credentials.json", "service-account.json", "secrets",
)  # fmt: skip


def reaches_secret(
    path: str, *, tree: bool = False, dotglob: bool = False, hidden: bool = True
) -> bool:
    """Could the absolute glob ``path`` (below it all, if ``tree``) name a secret file?

    ``hidden`` False: the tree walk skips names starting with ``.`` (``rg``, ``ag``).
    """
    if tree:
        path = path.rstrip("/") + "/" + (TREE if hidden else TREE_VISIBLE)
    else:
        literal = _literal(path)
        if literal is not None:
            return bool(_literal_regex().fullmatch(literal))
    return _reaches(path, dotglob)


@functools.lru_cache(maxsize=4096)
def _reaches(path: str, dotglob: bool) -> bool:
    places, named = _compiled()
    word = tokens(path, True)
    head, tail = _ends(word)

    def candidates(table: tuple[tuple[tuple[Token, ...], str, str], ...]) -> Iterator[Token_]:
        # A cheap necessary condition first: the literal prefixes (and suffixes) of two
        # languages that meet must extend one another.
        for pattern, p_head, p_tail in table:
            if (head.startswith(p_head) or p_head.startswith(head)) and (
                tail.endswith(p_tail) or p_tail.endswith(tail)
            ):
                yield pattern

    # Text we could not bound reaches every place; it is the caller's ``unknown``, and
    # only what the word spells itself can make it an export.
    if ANY not in path and any(_meet(word, p, 0, dotglob) for p in candidates(places)):
        return True
    return any(_meet(word, p, 2, dotglob) for p in candidates(named))


Token_ = tuple[Token, ...]


def _ends(toks: tuple[Token, ...]) -> tuple[str, str]:
    """The literal text every match starts with, and ends with."""
    head = []
    for kind, chars, _ in toks:
        if kind != "lit":
            break
        head.append(next(iter(chars)))
    tail = []
    for kind, chars, _ in reversed(toks):
        if kind != "lit":
            break
        tail.append(next(iter(chars)))
    return "".join(head), "".join(reversed(tail))


@functools.cache
def _compiled() -> tuple[tuple[tuple[Token_, str, str], ...], tuple[tuple[Token_, str, str], ...]]:
    places, named = _tables()

    def table(patterns: tuple[str, ...]) -> tuple[tuple[Token_, str, str], ...]:
        return tuple((toks, *_ends(toks)) for toks in (tokens(p, False) for p in patterns))

    return table(places), table(named)


def vague(glob: str) -> bool:
    """Does the path have a part we could not bound (an unknown expansion)?"""
    return ANY in glob


def plain(glob: str) -> str:
    """The glob for humans and for the fnmatch tables: ``~``, ``*`` for the unknown."""
    text = glob.replace(HOME, "~").replace(ANY, "*").replace(TREE, "*")
    return re.sub(r"\\(.)", r"\1", text, flags=re.S)

"""Which startup parameters a client may pass through, and what `options` says.

Startup parameters and `-c` options set server settings before the first statement, out of
the checkpoint's sight, so only a short list of harmless ones passes. Settings that change
lexing are refused (`standard_conforming_strings` off) or put to policy like the same SET
mid-session (a non-UTF-8 `client_encoding`: `tamper`), and `airlock.reason` is the agent's
stated reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocols.sql import LexingState
from protocols.sql.binding import shadows_catalog
from protocols.sql.lexing import is_utf8

#: Settings a client may set at startup. Lowercased names (the server folds them too).
PASSABLE = frozenset(
    {
        "application_name",
        "client_encoding",
        "datestyle",
        "timezone",
        "extra_float_digits",
        "intervalstyle",
        "statement_timeout",
        "lock_timeout",
        "idle_in_transaction_session_timeout",
        "idle_session_timeout",
        "client_min_messages",
        "bytea_output",
        "default_transaction_isolation",
        "default_transaction_read_only",
        "geqo",
        "jit",
        "work_mem",
        "search_path",
        "standard_conforming_strings",
        "lc_messages",
        "lc_monetary",
        "lc_numeric",
        "lc_time",
        "gssencmode",
    }
)

IGNORED = frozenset({"user", "database", "options", "replication"})
REASON_KEY = "airlock.reason"


class StartupRefused(Exception):
    def __init__(self, message: str, sqlstate: str = "42501") -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


@dataclass(frozen=True, slots=True)
class StartupSettings:
    upstream: dict[str, str]  # parameters to send upstream
    reason: str
    lexing: LexingState
    application_name: str
    #: A non-UTF-8 client_encoding the client asked for: the listener puts it to policy
    #: as ``SET client_encoding`` before the session starts ('' when none).
    encoding: str = ""


def split_options(options: str) -> list[str]:
    """Split the `options` string the way the server does: whitespace, backslash escapes."""
    words: list[str] = []
    current: list[str] = []
    escaped = False
    for ch in options:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch.isspace():
            if current:
                words.append("".join(current))
                current = []
        else:
            current.append(ch)
    if current:
        words.append("".join(current))
    return words


def parse_options(options: str) -> dict[str, str]:
    """`-c name=value`, `-cname=value` and `--name=value` into a dict; anything else refused."""
    settings: dict[str, str] = {}
    words = split_options(options)
    i = 0
    while i < len(words):
        word = words[i]
        if word == "-c" and i + 1 < len(words):
            item, i = words[i + 1], i + 2
        elif (word.startswith("-c") and len(word) > 2) or word.startswith("--"):
            item, i = word[2:], i + 1
        else:
            raise StartupRefused(
                f"startup option {word!r} is not allowed through Airlock (only -c name=value)"
            )
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise StartupRefused(f"startup option {item!r} must be name=value")
        if name.lower() == REASON_KEY:
            # README's form, PGOPTIONS='-c airlock.reason=rotate keys', works as written:
            # the reason takes the words up to the next option (it never goes upstream).
            while i < len(words) and not words[i].startswith("-"):
                value, i = f"{value} {words[i]}", i + 1
        settings[name.replace("-", "_")] = value
    return settings


def _is_on(value: str) -> bool:
    return value.strip().lower() in ("on", "true", "yes", "1")


def resolve(params: dict[str, str]) -> StartupSettings:
    if "replication" in params and params["replication"].lower() not in ("false", "off", "0", "no"):
        raise StartupRefused("replication connections are not supported through Airlock", "0A000")
    merged = {k: v for k, v in params.items() if k not in IGNORED}
    merged.update(parse_options(params.get("options", "")))
    reason = ""
    encoding = ""
    upstream: dict[str, str] = {}
    lexing = LexingState()
    for name, value in merged.items():
        key = name.lower()
        if key == REASON_KEY:
            reason = value
            continue
        if key not in PASSABLE:
            raise StartupRefused(
                f"startup parameter {name!r} is not allowed through Airlock; "
                "set it with SET after connecting, where policy sees it"
            )
        if key == "standard_conforming_strings":
            if not _is_on(value):
                raise StartupRefused(
                    "standard_conforming_strings=off is refused: Airlock cannot classify "
                    "statements lexed with non-standard strings"
                )
        elif key == "search_path" and shadows_catalog(value):
            raise StartupRefused(
                "a search_path with pg_catalog after another schema is refused: user "
                "functions and operators would shadow the built-ins; set it with SET after "
                "connecting, where policy sees it"
            )
        elif key == "client_encoding" and not is_utf8(value):
            # Decided by policy once the session exists, exactly like the same SET sent
            # mid-session (`tamper`); until then the upstream speaks UTF-8.
            encoding = value
            upstream[name] = "UTF8"
            continue
        upstream[name] = value
    return StartupSettings(upstream, reason, lexing, merged.get("application_name", ""), encoding)

"""The statement that stands in for a refused one, and how its error reaches the client.

A refused statement is replaced by a ``DO`` block that raises the refusal in the upstream
itself, so the client gets exactly a real error's effect (an explicit transaction aborts;
the rest of an extended-protocol batch is skipped to Sync) without the gateway modelling
server state. The server's error for it would tell of the block (``CONTEXT: PL/pgSQL
function inline_code_block line 1 at RAISE``, source file and line): the relay recognises
that error by a per-session secret mark in its SCHEMA field and relays it without those
fields, with a syntax error's position added.
"""

from __future__ import annotations

import re
import secrets

from protocols.pgwire import messages as m

_SQLSTATE = re.compile(r"[0-9A-Z]{5}")
#: Fields of the server's error for our own refusal statement that tell of the DO block
#: (CONTEXT "PL/pgSQL function inline_code_block", source file, line, routine) or carry
#: the relay's mark (SCHEMA): not relayed, they mean nothing to the client.
_OWN_ERROR_FIELDS = frozenset(map(ord, "WFLRs"))
_POSITION = ord("P")


def refusal_sql(
    message: str, sqlstate: str = "42501", detail: str = "", hint: str = "", mark: str = ""
) -> bytes:
    """A DO block that fails with our message: the server applies real-error semantics.

    ``mark`` goes in the error's SCHEMA field so the relay recognises the answer to its own
    statement and strips what tells of the DO block (see ``PgRelay._own_error``).
    """
    texts = [
        t.encode("ascii", "replace").decode().replace("\0", "") for t in (message, detail, hint)
    ]
    tag = "airlock_" + secrets.token_hex(4)
    while any(tag in t for t in texts):
        tag = "airlock_" + secrets.token_hex(4)
    code = sqlstate if _SQLSTATE.fullmatch(sqlstate) else "42501"
    options = [f"ERRCODE = '{code}'"]
    for name, text in zip(("MESSAGE", "DETAIL", "HINT"), texts, strict=True):
        if text or name == "MESSAGE":
            options.append(f"{name} = ${tag}m${text}${tag}m$")
    if mark:
        options.append(f"SCHEMA = '{mark}'")
    return (f"DO ${tag}$BEGIN RAISE EXCEPTION USING {', '.join(options)}; END${tag}$").encode()


def own_error(msg: bytes, mark: bytes) -> bytes:
    """The server's error for a refusal statement marked ``mark`` (followed by ``:`` and
    the position), as the client should see it: without the fields that tell of the DO
    block, with the syntax error's position. Other errors are returned unchanged."""
    try:
        fields = m.raw_fields(msg)
    except m.ProtocolError:
        return msg
    schema = next((v for c, v in fields if c == ord("s")), b"")
    if not schema.startswith(mark):
        return msg
    kept = [(c, v) for c, v in fields if c not in _OWN_ERROR_FIELDS]
    position = schema[len(mark) :]
    if position.isdigit() and int(position) > 0:
        at = next((i for i, (c, _) in enumerate(kept) if c in (ord("D"), ord("H"))), None)
        kept.insert(len(kept) if at is None else at, (_POSITION, position))
    return m.with_fields(msg, kept)

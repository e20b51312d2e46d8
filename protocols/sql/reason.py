"""``SET airlock.reason = '...'``: the agent's stated reason, taken by the gateway.

The reason is for the approvers, not the server, so the gateway keeps it (records it, puts
it on later approval requests) and does not forward it. Only a query string that is
exactly one such statement is taken: ``SET airlock.reason = 'x'; DROP TABLE t`` or
``SET LOCAL ...`` (which a transaction would undo) go the normal way, through policy. The
decision is libpg_query's parse under a modelled lexing state, so the server could not read
the same bytes as anything else.
"""

from __future__ import annotations

from typing import Any

import orjson
from pglast.parser import ParseError, parse_sql_json

from protocols.sql.lexing import LexingState

REASON_SETTING = "airlock.reason"
_MAX_REASON = 2000  # characters kept; a reason is a sentence, not a document


def stated_reason(text: str, state: LexingState) -> str | None:
    """The reason when ``text`` is exactly ``SET [SESSION] airlock.reason = 'literal'``."""
    if not state.modelable or "\x00" in text or REASON_SETTING not in text.lower():
        return None
    try:
        tree: dict[str, Any] = orjson.loads(parse_sql_json(text))
    except (ParseError, UnicodeError, orjson.JSONDecodeError):
        return None
    stmts = tree.get("stmts", [])
    if len(stmts) != 1:
        return None
    node = stmts[0].get("stmt", {}).get("VariableSetStmt")
    if not isinstance(node, dict) or node.get("kind") != "VAR_SET_VALUE" or node.get("is_local"):
        return None
    if str(node.get("name", "")).lower() != REASON_SETTING:
        return None
    args = node.get("args", [])
    if len(args) != 1:
        return None
    value = args[0].get("A_Const", {}).get("sval", {}).get("sval")
    return value[:_MAX_REASON] if isinstance(value, str) else None

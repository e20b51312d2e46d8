"""Is a query string one the server's own grammar rejects? Then it can do nothing.

libpg_query is PostgreSQL's parser; under a lexing state the gateway models (see
``protocols.sql.lexing``: ``standard_conforming_strings`` on, UTF-8) it splits and reads the
text as the server does. Text it rejects is answered by the gateway as the syntax error it is
(42601, with the position) instead of waiting for a human as ``unknown``, and it is never
sent upstream: the server parses a whole simple-query string before running any of it, so
one bad statement in ``SELEC 1; DROP TABLE t`` means nothing runs, and the gateway's answer
has the same effect. Not forwarding also makes the parser's version irrelevant to safety:
text that libpg_query (a newer grammar) rejects but an older server would accept is
refused, never run unchecked.

When the state is not modelled, or the text holds a NUL byte (the server and libpg_query
would both stop reading there), this says nothing: such text stays ``unknown``.
"""

from __future__ import annotations

from dataclasses import dataclass

from pglast.parser import ParseError, parse_sql_json

from protocols.sql.lexing import LexingState


@dataclass(frozen=True, slots=True)
class SyntaxProblem:
    """The server's words for the error and where it is (1-based, in characters)."""

    message: str
    position: int


def syntax_problem(text: str, state: LexingState) -> SyntaxProblem | None:
    """The syntax error the server would report for ``text``, or None (parses, or unsure)."""
    if not state.modelable or "\x00" in text:
        return None
    try:
        parse_sql_json(text)
    except ParseError as exc:
        message = str(exc.args[0]) if exc.args else "syntax error"
        location = exc.args[1] if len(exc.args) > 1 else None
        position = location + 1 if isinstance(location, int) else len(text) + 1
        return SyntaxProblem(message, position)
    except Exception:  # e.g. text that is not valid UTF-8: not the grammar's verdict
        return None
    return None

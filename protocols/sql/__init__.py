"""PostgreSQL statement classification (sans-IO): text -> Classification.

Decisions and tables: ``protocols.sql.tables`` (module docstring). Lexing state:
``protocols.sql.lexing``.
"""

from protocols.sql.cache import SqlClassifierCache
from protocols.sql.classify import KNOWN_STATEMENTS, analyze_sql, classify_sql, sql_effects
from protocols.sql.context import LEXING_SETTINGS, NO_EFFECTS, SqlEffects, apply_prepared
from protocols.sql.lexing import LexingState

__all__ = [
    "KNOWN_STATEMENTS",
    "LEXING_SETTINGS",
    "NO_EFFECTS",
    "LexingState",
    "SqlClassifierCache",
    "SqlEffects",
    "analyze_sql",
    "apply_prepared",
    "classify_sql",
    "sql_effects",
]

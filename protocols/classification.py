"""The value every classifier returns and every policy consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Category(StrEnum):
    """What an action does, coarse enough for humans to write policy against.

    Documented one by one in README ("Classification categories").
    """

    READ = "read"
    WRITE = "write"
    DDL = "ddl"
    TRANSACTION = "transaction"
    SESSION = "session"
    EXPORT = "export"
    PRIVILEGE = "privilege"
    DESTRUCTIVE = "destructive"
    ADMIN = "admin"
    CODE = "code"
    TAMPER = "tamper"
    FILE_TRANSFER = "file-transfer"
    FORWARDING = "forwarding"
    UNKNOWN = "unknown"


#: Categories the built-in policy lets through without a human.
BENIGN: frozenset[Category] = frozenset(
    {Category.READ, Category.WRITE, Category.TRANSACTION, Category.SESSION}
)


@dataclass(frozen=True, slots=True)
class Classification:
    """Result of classifying one submitted unit (a query string, a command line, an SFTP op).

    ``statements`` names each statement/command found, in order (``SelectStmt``, ``rm``).
    ``objects`` are ``kind:name`` strings (``table:public.users``, ``function:pg_read_file``,
    ``role:alice``, ``path:/etc/shadow``, ``host:db1:5432``) so policy can glob them.
    ``reasons`` says, for humans, why each non-benign category was given.
    ``cacheable`` is False when the result depends on session state beyond the lexing
    state (e.g. ``EXECUTE name`` depends on what the session prepared).
    """

    statements: tuple[str, ...]
    categories: frozenset[Category]
    objects: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    cacheable: bool = True
    extra: tuple[tuple[str, str], ...] = field(default=())

    @property
    def benign(self) -> bool:
        return self.categories <= BENIGN

    @classmethod
    def unknown(cls, reason: str, statements: tuple[str, ...] = ()) -> Classification:
        return cls(statements, frozenset({Category.UNKNOWN}), (), (reason,))

    def merge(self, other: Classification) -> Classification:
        """Union of two classifications, keeping order of statements and objects."""
        return Classification(
            self.statements + other.statements,
            self.categories | other.categories,
            tuple(dict.fromkeys(self.objects + other.objects)),
            tuple(dict.fromkeys(self.reasons + other.reasons)),
            self.cacheable and other.cacheable,
            self.extra + other.extra,
        )

"""The values the tree walk accumulates into, and small readers of libpg_query JSON nodes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from protocols.classification import Category, Classification
from protocols.sql import tables as T

Node = dict[str, Any]

#: Settings whose changes the relay must follow (they change the LexingState).
LEXING_SETTINGS: frozenset[str] = frozenset({"standard_conforming_strings", "client_encoding"})


@dataclass(frozen=True, slots=True)
class SqlEffects:
    """What a query string changes in session state the relay tracks.

    ``prepared``: ``PREPARE name AS stmt`` -> the classification ``EXECUTE name`` will take.
    ``deallocated`` / ``deallocate_all``: DEALLOCATE name / DEALLOCATE ALL, DISCARD ALL.
    ``settings``: (name, literal value or None when not a literal / DEFAULT / RESET) for
    each change of a ``LEXING_SETTINGS`` setting by SET, RESET, SET NAMES or set_config.
    The server's ParameterStatus stays authoritative (a statement may fail or roll back);
    these let the relay fail closed *before* the ParameterStatus arrives.
    ``ops``: the prepared-statement operations in text order, ("prepare", name, cls),
    ("deallocate", name, None), ("deallocate_all", "", None): use ``apply_prepared``.
    """

    prepared: tuple[tuple[str, Classification], ...] = ()
    deallocated: tuple[str, ...] = ()
    deallocate_all: bool = False
    settings: tuple[tuple[str, str | None], ...] = ()
    ops: tuple[tuple[str, str, Classification | None], ...] = ()


def apply_prepared(
    prepared: Mapping[str, Classification], effects: SqlEffects
) -> dict[str, Classification]:
    """The session's prepared-statement map after a query string, safe whatever failed.

    A statement of the string may fail (and abort the rest) without the relay knowing
    which, so each op is applied so that any outcome errs towards stricter: a PREPARE of a
    name already known *merges* the classifications (the PREPARE may have failed with
    "already exists", leaving the old statement in place); a DEALLOCATE drops the name (if
    it failed, a later EXECUTE is merely unknown); a stale entry whose PREPARE failed is
    harmless (the server has no such statement to run).
    """
    result = dict(prepared)
    for op, name, cls in effects.ops:
        if cls is not None:  # prepare
            old = result.get(name)
            result[name] = cls if old is None else old.merge(cls)
        elif op == "deallocate":
            result.pop(name, None)
        else:  # deallocate_all
            result.clear()
    return result


NO_EFFECTS = SqlEffects()

BINDS_LATER = "stores a flagged call that later statements run without naming it"


class Ctx:
    """Accumulates one query string's classification while the tree is walked."""

    __slots__ = (
        "binding",
        "cacheable",
        "cats",
        "deallocate_all",
        "deallocated",
        "objects",
        "ops",
        "prepared_here",
        "prepared_in",
        "prepared_out",
        "reasons",
        "settings",
        "suppress",
    )

    def __init__(self, prepared_in: Mapping[str, Classification]) -> None:
        self.cats: set[Category] = set()
        self.objects: dict[str, None] = {}
        self.reasons: dict[str, None] = {}
        self.cacheable = True
        self.suppress: frozenset[Category] = frozenset()
        self.prepared_in = prepared_in
        self.prepared_out: list[tuple[str, Classification]] = []
        self.ops: list[tuple[str, str, Classification | None]] = []
        #: PREPAREd earlier in this same text (None: DEALLOCATEd earlier in it)
        self.prepared_here: dict[str, Classification | None] = {}
        self.deallocated: list[str] = []
        self.deallocate_all = False
        self.settings: list[tuple[str, str | None]] = []
        #: The statement being walked stores its expressions to run later (a DEFAULT, a
        #: view, a policy, an index...): a flagged call inside it is also ``code``.
        self.binding = False

    def add(self, cat: Category, reason: str = "") -> None:
        if cat in self.suppress:
            return
        self.cats.add(cat)
        if reason:
            self.reasons[reason] = None

    def add_entry(self, entry: T.Entry) -> None:
        cats, reason = entry
        for cat in cats:
            self.add(cat, reason)

    def add_embedded(self, entry: T.Entry) -> None:
        """A flagged call or relation inside an expression: its categories, plus ``code``
        when the statement stores the expression for later, implicit runs."""
        self.add_entry(entry)
        if self.binding:
            self.add(Category.CODE, BINDS_LATER)

    def merge(self, cls: Classification) -> None:
        for cat in cls.categories:
            self.add(cat)
        self.objects.update(dict.fromkeys(cls.objects))
        self.reasons.update(dict.fromkeys(cls.reasons))
        self.cacheable = self.cacheable and cls.cacheable

    def result(self, statements: tuple[str, ...]) -> Classification:
        return Classification(
            statements,
            frozenset(self.cats),
            tuple(self.objects),
            tuple(self.reasons),
            self.cacheable,
        )

    def effects(self) -> SqlEffects:
        if not (self.ops or self.settings):
            return NO_EFFECTS
        return SqlEffects(
            tuple(self.prepared_out),
            tuple(self.deallocated),
            self.deallocate_all,
            tuple(self.settings),
            tuple(self.ops),
        )


def strings(items: list[Node]) -> list[str]:
    return [item["String"]["sval"] for item in items if "String" in item]


def const_text(node: Node | None) -> str | None:
    """The literal text of an A_Const (through casts), or None for anything computed."""
    while node is not None and "TypeCast" in node:
        node = node["TypeCast"].get("arg")
    if node is None or "A_Const" not in node:
        return None
    const = node["A_Const"]
    if "sval" in const:
        return str(const["sval"].get("sval", ""))
    if "ival" in const:
        return str(const["ival"].get("ival", 0))
    if "fval" in const:
        return str(const["fval"].get("fval", ""))
    if "boolval" in const:
        return "true" if const["boolval"].get("boolval") else "false"
    return None  # NULL


def defelem_text(arg: Node) -> str | None:
    """A DefElem argument (String, Integer or Float) as text; None for anything else."""
    if "String" in arg:
        return str(arg["String"].get("sval", ""))
    if "Integer" in arg:
        return str(arg["Integer"].get("ival", 0))
    if "Float" in arg:
        return str(arg["Float"].get("fval", ""))
    return None

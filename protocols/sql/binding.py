"""Statements that bind a function, and operator names: what the server runs *later*.

A function bound into an operator, cast, aggregate, conversion, transform, type, operator
class or event trigger runs whenever that object is used, and the use does not name the
function: ``SELECT ### '/etc/passwd'`` over ``CREATE OPERATOR ### (function =
pg_read_file)`` reads a file without the word ``pg_read_file`` anywhere. So the statement
that binds takes the categories of calling each function it binds, plus ``code``
(``protocols.sql.tables`` explains the rule), and the use of an operator that is not one
of PostgreSQL's built-in names is ``unknown`` (DESIGN invariant 10: without the target's
catalog, a non-built-in object could run anything).

``bound_functions`` reads which function names a statement binds from the parse tree
(libpg_query JSON); the walk handlers here (operators in expressions, ORDER BY USING,
ANY/ALL sublinks, EXCLUDE constraints; the wrapper for binding statements) add the
categories. Kept out of ``classify`` so that module stays the walk and the statements.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from protocols.classification import Category
from protocols.sql import tables as T
from protocols.sql.context import Ctx, Node
from protocols.sql.operators import BUILTIN_OPERATORS

Handler = Callable[[Node, Ctx], bool]  # as in classify: True when it walked the children

#: Statement types that always bind a function (or, for CREATE CAST WITHOUT FUNCTION /
#: WITH INOUT, change what runs implicitly): ``code`` whatever they name.
ALWAYS_BINDS: dict[str, str] = {
    "CreateCastStmt": "CREATE CAST binds a conversion that runs implicitly in later statements",
    "CreateConversionStmt": "CREATE CONVERSION binds a function that runs on encoding changes",
    "CreateTransformStmt": "CREATE TRANSFORM binds functions that run in later calls",
    "CreateEventTrigStmt": "an event trigger runs its function on later DDL",
    "CreateOpClassStmt": "an operator class binds functions that run in later index use",
    "AlterOperatorStmt": "ALTER OPERATOR binds estimator functions the planner runs later",
    "CreatePLangStmt": "a language binds handler functions that run in later calls",
    "CreateFdwStmt": "a foreign-data wrapper binds handler functions that run later",
    "AlterFdwStmt": "a foreign-data wrapper binds handler functions that run later",
    "CreateAmStmt": "an access method binds a handler function that runs later",
}

#: DefineStmt kinds that bind functions (CREATE OPERATOR / AGGREGATE / TEXT SEARCH
#: PARSER / TEMPLATE, and a base CREATE TYPE with a definition).
DEFINE_BINDS: dict[str, str] = {
    "OBJECT_OPERATOR": "an operator runs its function wherever the operator is used later",
    "OBJECT_AGGREGATE": "an aggregate runs its functions wherever it is used later",
    "OBJECT_TSPARSER": "a text search parser runs its functions in later searches",
    "OBJECT_TSTEMPLATE": "a text search template runs its functions in later searches",
    "OBJECT_TYPE": "a base type runs its I/O functions on every later value",
}

#: Options of CREATE TYPE AS RANGE / ALTER TYPE SET that do not name a function; any
#: other option (canonical, subtype_diff, receive, send, typmod_in, analyze...) binds one.
_PLAIN_TYPE_OPTIONS = frozenset(
    {"subtype", "subtype_opclass", "collation", "multirange_type_name", "storage"}
)
_TYPE_OPTION_BINDS = "binds a type support function that runs on later values"
_TRIGGER_BINDS = "a trigger runs its function on later changes to the table"
#: A_Expr kinds whose ``name`` is a keyword, not an operator (BETWEEN expands to >= / <=).
_NOT_OPERATORS = frozenset(
    {"AEXPR_BETWEEN", "AEXPR_NOT_BETWEEN", "AEXPR_BETWEEN_SYM", "AEXPR_NOT_BETWEEN_SYM"}
)


def _names(arg: Node | None) -> list[str]:
    """A qualified name from a DefElem argument: TypeName, List of String or a String
    (``defGetQualifiedName`` accepts all three); [] for numbers and the like."""
    if arg is None:
        return []
    if "TypeName" in arg:
        return _strings(arg["TypeName"].get("names", []))
    if "List" in arg:
        return _strings(arg["List"].get("items", []))
    if "String" in arg:
        return [str(arg["String"].get("sval", ""))]
    if "ObjectWithArgs" in arg:
        return _strings(arg["ObjectWithArgs"].get("objname", []))
    return []


def _strings(items: list[Node]) -> list[str]:
    return [str(item["String"]["sval"]) for item in items if "String" in item]


def _defelem_names(options: list[Node]) -> list[list[str]]:
    found = (_names(opt.get("DefElem", {}).get("arg")) for opt in options)
    return [names for names in found if names]


def _with_args(obj: Node | None) -> list[list[str]]:
    names = _strings((obj or {}).get("objname", []))
    return [names] if names else []


def _opclass_items(items: list[Node]) -> list[list[str]]:
    out: list[list[str]] = []
    for item in items:
        out.extend(_with_args(item.get("CreateOpClassItem", {}).get("name")))
    return out


def bound_functions(stmt: str, v: Node) -> tuple[list[list[str]], str, bool] | None:
    """(qualified names the statement binds, why, binds for certain) or None.

    "For certain" means the statement is ``code`` whatever it names; otherwise (a
    trigger) it is ``code`` only when a bound function is itself flagged.
    """
    reason = ALWAYS_BINDS.get(stmt)
    if stmt == "DefineStmt":
        reason = DEFINE_BINDS.get(v.get("kind", ""))
        if reason is None or (v.get("kind") == "OBJECT_TYPE" and not v.get("definition")):
            return None
        return _defelem_names(v.get("definition", [])), reason, True
    if stmt in ("CreateRangeStmt", "AlterTypeStmt"):
        options = v.get("params" if stmt == "CreateRangeStmt" else "options", [])
        binding = [
            o for o in options if o.get("DefElem", {}).get("defname") not in _PLAIN_TYPE_OPTIONS
        ]
        if not binding:
            return None
        return _defelem_names(binding), _TYPE_OPTION_BINDS, True
    if stmt == "AlterOpFamilyStmt":
        if v.get("isDrop"):
            return None
        return _opclass_items(v.get("items", [])), ALWAYS_BINDS["CreateOpClassStmt"], True
    if stmt == "AlterFunctionStmt":  # SUPPORT binds a planner support function
        support = [
            o for o in v.get("actions", []) if o.get("DefElem", {}).get("defname") == "support"
        ]
        if not support:
            return None
        return _defelem_names(support), "binds a planner support function", True
    if stmt == "CreateTrigStmt":
        names = _strings(v.get("funcname", []))
        return ([names] if names else []), _TRIGGER_BINDS, False
    if reason is None:
        return None
    if stmt == "CreateCastStmt":
        return _with_args(v.get("func")), reason, True
    if stmt == "CreateConversionStmt":
        return [_strings(v.get("func_name", []))], reason, True
    if stmt == "CreateTransformStmt":
        return _with_args(v.get("fromsql")) + _with_args(v.get("tosql")), reason, True
    if stmt == "CreateEventTrigStmt":
        return [_strings(v.get("funcname", []))], reason, True
    if stmt == "CreateOpClassStmt":
        return _opclass_items(v.get("items", [])), reason, True
    if stmt == "AlterOperatorStmt":
        return _defelem_names(v.get("options", [])), reason, True
    if stmt == "CreatePLangStmt":
        handlers = [_strings(v.get(k, [])) for k in ("plhandler", "plinline", "plvalidator")]
        return [h for h in handlers if h], reason, True
    if stmt in ("CreateFdwStmt", "AlterFdwStmt"):
        return _defelem_names(v.get("func_options", [])), reason, True
    # CreateAmStmt
    return [_strings(v.get("handler_name", []))], reason, True


def shadows_catalog(search_path: str | None) -> bool:
    """Does a search_path value name pg_catalog after another schema?

    pg_catalog is searched first unless the path names it later; then a user's
    ``public.=`` or ``public.lower`` wins over the built-in of the same name, and a use
    that looks built-in is not. Every comma splits (a quoted schema name holding a comma
    errs towards flagging)."""
    if search_path is None:
        return False
    parts = [p.strip().strip('"').lower() for p in search_path.split(",")]
    return parts[0] != "pg_catalog" and "pg_catalog" in parts[1:]


def foreign_operator(name: list[Node]) -> str | None:
    """The operator as written when ``name`` is not a built-in operator, else None.

    A qualified name is built-in only in ``pg_catalog``; an unqualified built-in name
    resolves to pg_catalog's operator unless a user overloaded that name for their own
    types (or put pg_catalog late in search_path): the catalog-aware check resolves those.
    """
    parts = _strings(name)
    if len(parts) == len(name):
        if len(parts) == 1 and parts[0] in BUILTIN_OPERATORS:
            return None
        if len(parts) == 2 and parts[0] == "pg_catalog" and parts[1] in BUILTIN_OPERATORS:
            return None
    return ".".join(parts) or "?"


def expression_operator(v: Node) -> list[Node] | None:
    """The operator name of an A_Expr, or None when its kind names no operator."""
    if v.get("kind") in _NOT_OPERATORS:
        return None
    name: list[Node] | None = v.get("name")
    return name


def exclusion_operators(constraint: Node) -> list[list[Node]]:
    """The operators of an EXCLUDE constraint (``EXCLUDE USING gist (c WITH &&)``)."""
    out: list[list[Node]] = []
    for pair in constraint.get("exclusions", []):
        items = pair["List"]["items"]
        out.append(items[1]["List"]["items"])
    return out


def function_entry(name: str) -> T.Entry | None:
    """The table entry for calling a function by its final name, if it is flagged."""
    entry = T.FUNCTIONS.get(name)
    if entry is not None:
        return entry
    for prefix, pentry in T.FUNCTION_PREFIXES:
        if name.startswith(prefix):
            return pentry
    for part, sentry in T.FUNCTION_SUBSTRINGS:
        if part in name:
            return sentry
    return None


def _operator(name: list[Node], ctx: Ctx) -> None:
    shown = foreign_operator(name)
    if shown is not None:
        ctx.add_embedded(
            (
                (Category.UNKNOWN,),
                f"operator {shown} is not a PostgreSQL built-in: it may run any function",
            )
        )


# --------------------------------------------------------------------------- walk handlers


def a_expr(v: Node, ctx: Ctx) -> bool:
    name = expression_operator(v)
    if name is not None:
        _operator(name, ctx)
    return False


def sub_link(v: Node, ctx: Ctx) -> bool:
    if "operName" in v:  # x op ANY/ALL (SELECT ...)
        _operator(v["operName"], ctx)
    return False


def sort_by(v: Node, ctx: Ctx) -> bool:
    if "useOp" in v:  # ORDER BY x USING op
        _operator(v["useOp"], ctx)
    return False


def constraint(v: Node, ctx: Ctx) -> bool:
    for ops in exclusion_operators(v):
        _operator(ops, ctx)
    return False


def binds(stmt: str, handler: Handler) -> Handler:
    """Wrap a statement's handler: add what calling each function it binds would be,
    plus ``code`` (always, or, for a trigger, when a bound function is flagged)."""

    def handler_(v: Node, ctx: Ctx) -> bool:
        walked = handler(v, ctx)
        found = bound_functions(stmt, v)
        if found is not None:
            names, reason, certain = found
            flagged = False
            for qualified in names:
                ctx.objects["function:" + ".".join(qualified)] = None
                entry = function_entry(qualified[-1])
                if qualified[-1] == "set_config":
                    entry = (
                        (Category.UNKNOWN,),
                        "binds set_config: its later arguments are unknown",
                    )
                if entry is not None:
                    ctx.add_entry(entry)
                    flagged = True
            if certain or flagged:
                ctx.add(Category.CODE, reason)
        return walked

    return handler_


# --------------------------------------------------------------------------- code bodies


def _body_calls() -> re.Pattern[str]:
    """A call of any flagged function, by the tables' exact names, prefixes and parts."""
    alts = [re.escape(n) for n in sorted(T.FUNCTIONS, key=len, reverse=True)]
    alts += [re.escape(p) + r"\w*" for p, _ in T.FUNCTION_PREFIXES]
    alts += [r"\w*" + re.escape(p) + r"\w*" for p, _ in T.FUNCTION_SUBSTRINGS]
    alts.append("set_config")
    return re.compile(r"(?<![\w$])(" + "|".join(alts) + r")\s*\(", re.IGNORECASE)


_BODY_CALLS = _body_calls()
_BODY_CATALOGS = re.compile(
    r"(?<![\w$])(" + "|".join(sorted(T.SENSITIVE_CATALOGS)) + r")(?![\w$])", re.IGNORECASE
)


def body_text(options: list[Node]) -> str:
    """The code of a CREATE FUNCTION (``AS '...'``) or DO block, '' when there is none."""
    for opt in options:
        elem = opt.get("DefElem", {})
        if elem.get("defname") == "as":
            arg = elem.get("arg", {})
            items = arg["List"].get("items", []) if "List" in arg else [arg]
            return "\n".join(str(i["String"].get("sval", "")) for i in items if "String" in i)
    return ""


def body_entries(body: str) -> list[T.Entry]:
    """What a code body's text calls or reads, matched by name anywhere in it (dynamic SQL
    strings and comments included: the body is code already, this only says what more it
    does, so that a policy that lets ``code`` through still reviews an ``export``).

    A function body runs on every later call, and ``SELECT f()`` looks like a read; a DO
    body runs now. Names built at run time are not seen: the body stays ``code``.
    """
    out: list[T.Entry] = []
    for m in _BODY_CALLS.finditer(body):
        name = m.group(1).lower()
        entry = function_entry(name)
        if name == "set_config":
            out.append(((Category.PRIVILEGE,), "the body calls set_config (it can set the role)"))
        elif entry is not None:
            out.append((entry[0], f"the body calls {name}: {entry[1]}"))
    for m in _BODY_CATALOGS.finditer(body):
        out.append(((Category.EXPORT,), f"the body reads {m.group(1).lower()} (holds secrets)"))
    return out

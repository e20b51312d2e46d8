"""PostgreSQL text -> Classification, by walking libpg_query's whole parse tree.

libpg_query (via pglast) is PostgreSQL's own grammar, so the statements we see are the
ones the server will run. We take its JSON form (``parse_sql_json`` + orjson), not pglast's
Python AST: parse + load measured 4-7 µs vs 9-66 µs for ``pglast.parse_sql`` per pgbench
statement, and a generic dict walk reaches every nested node (CTEs, subqueries,
EXPLAIN/PREPARE/COPY bodies, function arguments) without per-node-type code. Any exception
anywhere gives ``unknown`` (fail closed). The decisions are documented in
``protocols.sql.tables``; WHERE analysis in ``protocols.sql.where``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pglast.ast
from pglast.parser import parse_sql_json

try:  # orjson parses libpg_query's JSON ~2.5x faster than json (measured: 2.8 vs 6.6 µs)
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - orjson is a declared dependency
    from json import loads as _loads  # type: ignore[assignment]

from protocols.classification import Category, Classification
from protocols.sql import tables as T
from protocols.sql.binding import (
    a_expr,
    binds,
    body_entries,
    body_text,
    constraint,
    function_entry,
    shadows_catalog,
    sort_by,
    sub_link,
)
from protocols.sql.context import (
    BINDS_LATER,
    LEXING_SETTINGS,
    NO_EFFECTS,
    Ctx,
    Node,
    SqlEffects,
    const_text,
    defelem_text,
    strings,
)
from protocols.sql.functions import BUILTIN_FUNCTIONS
from protocols.sql.lexing import TRUE_WORDS, LexingState, is_utf8
from protocols.sql.where import restricts

_DEFAULT_STATE = LexingState()
_NO_PREPARED: Mapping[str, Classification] = {}

# --------------------------------------------------------------------------- the walk

Handler = Callable[[Node, Ctx], bool]  # returns True when it walked the children itself


def _walk(node: Node, ctx: Ctx) -> None:
    handlers = _HANDLERS
    for key, value in node.items():
        kind = value.__class__
        if kind is dict:
            handler = handlers.get(key, _walk_into)
            if handler is _walk_into or (handler is not None and not handler(value, ctx)):
                _walk(value, ctx)
        elif kind is list:
            for item in value:  # always node dicts; anything else raises -> unknown
                _walk(item, ctx)


def _walk_suppressed(node: Node, ctx: Ctx, cats: frozenset[Category]) -> None:
    saved = ctx.suppress
    ctx.suppress = saved | cats
    try:
        _walk(node, ctx)
    finally:
        ctx.suppress = saved


def _table_name(rv: Node) -> str:
    parts = [rv.get("catalogname"), rv.get("schemaname"), rv["relname"]]
    return ".".join(p for p in parts if p)


def _range_var(rv: Node, ctx: Ctx) -> None:
    ctx.objects["table:" + _table_name(rv)] = None
    name = rv["relname"]
    if name in T.SENSITIVE_CATALOGS:
        ctx.add_embedded(((Category.EXPORT,), f"reads {name}, a catalog holding secrets"))


def _role_spec(spec: Node, ctx: Ctx) -> None:
    name = spec.get("rolename")
    if name is None:  # CURRENT_USER, SESSION_USER, PUBLIC...
        name = str(spec.get("roletype", "")).removeprefix("ROLESPEC_").lower()
    ctx.objects["role:" + name] = None


_SYSTEM_SCHEMAS = frozenset({"pg_catalog", "information_schema"})


def _func_call(call: Node, ctx: Ctx) -> None:
    names = strings(call["funcname"])
    name = names[-1]
    ctx.objects["function:" + ".".join(names)] = None
    if name == "set_config":
        args = call.get("args", [])
        setting = const_text(args[0]) if args else None
        value = const_text(args[1]) if len(args) > 1 else None
        if setting is None:
            ctx.add(Category.UNKNOWN, "set_config with a computed setting name")
        elif setting.lower() == "search_path" and value is None:
            ctx.add(Category.UNKNOWN, "set_config of search_path to a computed value")
        else:
            _setting(setting, value, ctx)
        if ctx.binding:
            ctx.add(Category.CODE, BINDS_LATER)
        return
    entry = function_entry(name)
    if entry is not None:
        ctx.add_embedded(entry)
        if name in ("lo_import", "lo_export", "pg_read_file", "pg_read_binary_file"):
            for arg in call.get("args", []):
                path = const_text(arg)
                if path is not None and "/" in path:
                    ctx.objects["path:" + path] = None
    elif name not in BUILTIN_FUNCTIONS or (len(names) > 1 and names[-2] not in _SYSTEM_SCHEMAS):
        # Invariant 10: a function PostgreSQL does not ship runs what its owner wrote (a
        # `cleanup()` may delete every row); without the target's catalog that is unknown.
        ctx.add(
            Category.UNKNOWN,
            f"calls {'.'.join(names)}(), which is not a built-in function: what it runs "
            "cannot be known from the statement",
        )


def _column_ref(ref: Node, ctx: Ctx) -> bool:
    # Attribute notation `x.f` can call a function f(x): check qualified names too.
    fields = ref.get("fields", [])
    if len(fields) > 1 and "String" in fields[-1]:
        entry = function_entry(fields[-1]["String"]["sval"])
        if entry is not None:
            ctx.add_embedded(entry)
    return True


def _indirection(v: Node, ctx: Ctx) -> bool:
    # `(expr).f` is attribute notation too.
    for name in strings(v.get("indirection", [])):
        entry = function_entry(name)
        if entry is not None:
            ctx.add_embedded(entry)
    return False


# --------------------------------------------------------------------------- settings


def _setting(raw_name: str, value: str | None, ctx: Ctx) -> None:
    """Classify a change of setting ``raw_name`` (GUC names are case-insensitive)."""
    name = raw_name.lower()
    ctx.objects["setting:" + name] = None
    if name in LEXING_SETTINGS:
        ctx.settings.append((name, value))
        safe = (
            value is not None and value.lower() in TRUE_WORDS
            if name == "standard_conforming_strings"
            else value is not None and is_utf8(value)
        )
        if safe:
            ctx.add(Category.SESSION)
        else:
            ctx.add(Category.TAMPER, f"{name}: {T.TAMPER_SETTINGS[name]}")
    elif name == "search_path" and shadows_catalog(value):
        ctx.add(Category.UNKNOWN, "search_path puts pg_catalog late: user objects shadow built-ins")
    elif name in T.SESSION_SETTINGS or name.startswith(T.SESSION_PREFIXES):
        ctx.add(Category.SESSION)
    elif name in T.PRIVILEGE_SETTINGS:
        ctx.add(Category.PRIVILEGE, f"{name}: {T.PRIVILEGE_SETTINGS[name]}")
        if value and name in ("role", "session_authorization"):
            ctx.objects["role:" + value] = None
    elif name in T.TAMPER_SETTINGS:
        ctx.add(Category.TAMPER, f"{name}: {T.TAMPER_SETTINGS[name]}")
    elif name.startswith(T.TAMPER_PREFIXES):
        ctx.add(Category.TAMPER, f"{name}: changes server logging or auditing")
    elif "." in name:
        ctx.add(Category.PRIVILEGE, f"{name}: custom settings commonly drive row-level security")
    else:
        ctx.add(Category.UNKNOWN, f"{name}: setting is not on the session allowlist")


def _variable_set(v: Node, ctx: Ctx) -> bool:
    kind = v.get("kind")
    name = v.get("name", "")
    if kind == "VAR_SET_MULTI":
        ctx.add(Category.SESSION if name == "SESSION CHARACTERISTICS" else Category.TRANSACTION)
    elif kind == "VAR_RESET_ALL":
        ctx.add(Category.SESSION)
    else:
        args = v.get("args", [])
        value = const_text(args[0]) if len(args) == 1 else None
        if kind in ("VAR_SET_VALUE", "VAR_SET_CURRENT") and len(args) > 1:
            value = ",".join(str(const_text(a)) for a in args)
        _setting(name, value, ctx)
    return True


# --------------------------------------------------------------------------- statements


def _check_target(rv: Node, ctx: Ctx) -> None:
    """Flag writes into system catalogs (and pg_settings, which is set_config)."""
    name, schema = rv["relname"], rv.get("schemaname")
    if name == "pg_settings" and schema in (None, "pg_catalog"):
        ctx.add(Category.TAMPER, "writing pg_settings changes settings (like set_config)")
        ctx.add(Category.PRIVILEGE, "writing pg_settings can change role or auditing settings")
    elif name.startswith("pg_") or schema in ("pg_catalog", "information_schema"):
        ctx.add(Category.ADMIN, f"modifies system catalog {name}")


def _update_delete(v: Node, ctx: Ctx, verb: str) -> bool:
    ctx.add(Category.WRITE)
    rel = v["relation"]
    _check_target(rel, ctx)
    targets = frozenset(
        x for x in (rel.get("relname"), (rel.get("alias") or {}).get("aliasname")) if x
    )
    where = v.get("whereClause")
    if where is None:
        ctx.add(Category.DESTRUCTIVE, f"{verb} without WHERE touches every row")
    elif not restricts(where, targets):
        ctx.add(Category.DESTRUCTIVE, f"{verb} with a WHERE that does not restrict rows")
    return False


def _insert_merge(v: Node, ctx: Ctx) -> bool:
    ctx.add(Category.WRITE)
    _check_target(v["relation"], ctx)
    return False


def _select(v: Node, ctx: Ctx) -> bool:
    ctx.add(Category.READ)
    if "intoClause" in v:
        if not _temp_relation(v["intoClause"]["rel"]):
            ctx.add(Category.DDL, "SELECT INTO creates a table")
        ctx.add(Category.WRITE)
    return False


def _temp_relation(rv: Node) -> bool:
    """A relation created in the session's own temporary schema: it is gone when the
    session ends and no other session sees it, so creating it is ``write``, not ``ddl``.
    ``TEMP`` with no schema or ``pg_temp``, or an explicit ``pg_temp.`` (the server refuses
    TEMP in another schema; ``pg_temp_N`` may name another session's schema: not temp)."""
    if rv.get("catalogname"):
        return False
    schema = rv.get("schemaname")
    if rv.get("relpersistence") == "t":
        return schema is None or schema == "pg_temp"
    return schema == "pg_temp"


def _create_relation(statement: str, key: str) -> Handler:
    """CREATE TABLE / VIEW / SEQUENCE: ``ddl``, or ``write`` for a session-local (temp)
    relation that neither inherits from nor is a partition of another table. Either way the
    walk goes on into column defaults, the view's query, ``LIKE``: what they call or read
    is classified as usual (a temp view over ``pg_read_file`` is still ``export``)."""
    entry = T.STATEMENTS[statement]

    def handler(v: Node, ctx: Ctx) -> bool:
        session_local = _temp_relation(v[key])
        if session_local and not v.get("inhRelations") and not v.get("partbound"):
            ctx.add(Category.WRITE)
        else:
            ctx.add_entry(entry)
        return False

    return handler


def _copy(v: Node, ctx: Ctx) -> bool:
    filename, program = v.get("filename"), v.get("is_program", False)
    if filename is not None:
        ctx.objects[("program:" if program else "path:") + filename] = None
    if v.get("is_from"):
        ctx.add(Category.WRITE)
        _check_target(v["relation"], ctx)
        if program:
            ctx.add(Category.CODE, "COPY FROM PROGRAM runs a shell command on the server")
            ctx.add(Category.ADMIN, "COPY FROM PROGRAM runs a shell command on the server")
        elif filename is not None:
            ctx.add(Category.EXPORT, "COPY FROM a server file exposes the server's files")
            ctx.add(Category.ADMIN, "COPY FROM a server file reads the server's filesystem")
    else:
        ctx.add(Category.READ)
        ctx.add(Category.EXPORT, "COPY TO sends table data out in bulk")
        if program:
            ctx.add(Category.CODE, "COPY TO PROGRAM runs a shell command on the server")
            ctx.add(Category.ADMIN, "COPY TO PROGRAM runs a shell command on the server")
        elif filename is not None:
            ctx.add(Category.ADMIN, "COPY TO a server file writes the server's filesystem")
    return False


_FALSE_WORDS = frozenset({"false", "off", "0", "no", "f", "n", "of"})


def _explain(v: Node, ctx: Ctx) -> bool:
    ctx.add(Category.READ)
    analyze = False
    for opt in v.get("options", []):
        elem = opt.get("DefElem", {})
        if elem.get("defname") in ("analyze", "analyse"):
            arg = elem.get("arg")
            text = None if arg is None else defelem_text(arg)
            analyze = analyze or text is None or text.lower() not in _FALSE_WORDS
    if analyze:
        _walk(v["query"], ctx)
    else:  # planned, not run: no data changes
        _walk_suppressed(v["query"], ctx, frozenset({Category.WRITE, Category.DESTRUCTIVE}))
    return True


def _prepare(v: Node, ctx: Ctx) -> bool:
    query = v.get("query") or {}
    sub = Ctx(ctx.prepared_in)
    sub.suppress = ctx.suppress
    _walk(query, sub)
    inner = sub.result(tuple(query))
    ctx.prepared_out.append((v.get("name", ""), inner))
    ctx.prepared_here[v.get("name", "")] = inner
    ctx.ops.append(("prepare", v.get("name", ""), inner))
    ctx.merge(inner)
    return True


def _execute(v: Node, ctx: Ctx) -> bool:
    name = v.get("name", "")
    ctx.cacheable = False
    found = [c for c in (ctx.prepared_here.get(name), ctx.prepared_in.get(name)) if c is not None]
    if name in ctx.prepared_here and ctx.prepared_here[name] is None:
        found = []  # DEALLOCATEd earlier in this text
    if not found:
        ctx.add(Category.UNKNOWN, f"EXECUTE {name}: not a statement this session prepared")
    for prepared in found:  # both when a PREPARE here may clash with the session's
        ctx.merge(prepared)
    return False


def _deallocate(v: Node, ctx: Ctx) -> bool:
    ctx.add(Category.SESSION)
    if v.get("isall") or "name" not in v:
        ctx.deallocate_all = True
        ctx.prepared_here = dict.fromkeys([*ctx.prepared_here, *ctx.prepared_in])
        ctx.ops.append(("deallocate_all", "", None))
    else:
        ctx.deallocated.append(v["name"])
        ctx.prepared_here[v["name"]] = None
        ctx.ops.append(("deallocate", v["name"], None))
    return True


def _discard(v: Node, ctx: Ctx) -> bool:
    ctx.add(Category.SESSION)
    if v.get("target") == "DISCARD_ALL":
        ctx.deallocate_all = True
        ctx.prepared_here = dict.fromkeys([*ctx.prepared_here, *ctx.prepared_in])
        ctx.ops.append(("deallocate_all", "", None))
    return True


def _transaction(v: Node, ctx: Ctx) -> bool:
    if v.get("kind") in T.TWO_PHASE:
        ctx.add(Category.ADMIN, "two-phase commit keeps a transaction beyond the session")
    else:
        ctx.add(Category.TRANSACTION)
    return False


def _drop(v: Node, ctx: Ctx) -> bool:
    kind = v.get("removeType", "")
    what = kind.removeprefix("OBJECT_").lower().replace("_", " ")
    ctx.add(Category.DESTRUCTIVE, f"DROP {what} removes it and its data")
    if kind in T.ADMIN_DROPS:
        ctx.add(Category.ADMIN, f"DROP {what} is server administration")
    elif kind == "OBJECT_POLICY":
        ctx.add(Category.PRIVILEGE, "DROP POLICY changes row-level security")
    else:
        ctx.add(Category.DDL, "changes the schema")
    if kind in T.RELATION_DROPS:
        for obj in v["objects"]:
            ctx.objects["table:" + ".".join(strings(obj["List"]["items"]))] = None
    return False


def _alter_table(v: Node, ctx: Ctx) -> bool:
    ctx.add(Category.DDL, "changes the schema")
    for cmd in v.get("cmds", []):
        entry = T.ALTER_TABLE_CMDS.get(cmd.get("AlterTableCmd", {}).get("subtype", ""))
        if entry is not None:
            ctx.add_entry(entry)
    return False


def _security_definer(options: list[Node]) -> bool:
    for opt in options:
        elem = opt.get("DefElem", {})
        if elem.get("defname") == "security":
            return bool(elem.get("arg", {}).get("Boolean", {}).get("boolval"))
    return False


def _create_function(v: Node, ctx: Ctx) -> bool:
    what = "procedure" if v.get("is_procedure") else "function"
    ctx.add(Category.CODE, f"CREATE {what.upper()} defines code that runs in the server")
    options = v.get("options", [])
    if _security_definer(options):
        ctx.add(Category.PRIVILEGE, "SECURITY DEFINER runs with the owner's privileges")
    for entry in body_entries(body_text(options)):
        ctx.add_entry(entry)
    for opt in options:
        elem = opt.get("DefElem", {})
        if elem.get("defname") == "language":
            lang = elem.get("arg", {}).get("String", {}).get("sval", "")
            if lang.lower() in T.UNTRUSTED_LANGUAGES:
                ctx.add(Category.ADMIN, f"language {lang} can reach the operating system")
    return False


def _alter_function(v: Node, ctx: Ctx) -> bool:
    ctx.add(Category.DDL, "changes the schema")
    if _security_definer(v.get("actions", [])):
        ctx.add(Category.PRIVILEGE, "SECURITY DEFINER runs with the owner's privileges")
    return False


def _do(v: Node, ctx: Ctx) -> bool:
    ctx.add_entry(T.STATEMENTS["DoStmt"])
    for entry in body_entries(body_text(v.get("args", []))):
        ctx.add_entry(entry)
    return False


def _vacuum(v: Node, ctx: Ctx) -> bool:
    if v.get("is_vacuumcmd"):
        ctx.add(Category.ADMIN, "VACUUM is maintenance that can lock or rewrite tables")
    else:
        ctx.add(Category.WRITE)  # ANALYZE only updates planner statistics
    return False


def _create_table_as(v: Node, ctx: Ctx) -> bool:
    if not _temp_relation(v["into"]["rel"]) or v.get("objtype") != "OBJECT_TABLE":
        ctx.add(Category.DDL, "CREATE TABLE/MATERIALIZED VIEW AS creates a relation")
    ctx.add(Category.WRITE)
    if v.get("objtype") == "OBJECT_MATVIEW":  # REFRESH runs the query again, unreviewed
        ctx.binding = True
    return False


def _truncate(v: Node, ctx: Ctx) -> bool:
    ctx.add(Category.WRITE)
    ctx.add(Category.DESTRUCTIVE, "TRUNCATE removes every row")
    for rel in v.get("relations", []):
        _check_target(rel["RangeVar"], ctx)
    return False


def _create_schema(v: Node, ctx: Ctx) -> bool:
    ctx.add(Category.DDL, "changes the schema")
    if v.get("authrole"):
        ctx.add(Category.PRIVILEGE, "CREATE SCHEMA AUTHORIZATION gives a role ownership")
    return False


def _grant_role(v: Node, ctx: Ctx) -> bool:
    ctx.add(Category.PRIVILEGE, "changes role membership")
    for priv in v["granted_roles"]:
        ctx.objects["role:" + priv["AccessPriv"]["priv_name"]] = None
    return False


def _create_role(v: Node, ctx: Ctx) -> bool:
    ctx.add(Category.PRIVILEGE, "creates a role")
    ctx.objects["role:" + v["role"]] = None
    return False


def _simple(entry: T.Entry) -> Handler:
    def handler(v: Node, ctx: Ctx) -> bool:
        ctx.add_entry(entry)
        return False

    return handler


_STATEMENT_HANDLERS: dict[str, Handler | None] = {
    **{name: _simple(entry) for name, entry in T.STATEMENTS.items()},
    "CreateStmt": _create_relation("CreateStmt", "relation"),
    "ViewStmt": _create_relation("ViewStmt", "view"),
    "CreateSeqStmt": _create_relation("CreateSeqStmt", "sequence"),
    "SelectStmt": _select,
    "InsertStmt": _insert_merge,
    "MergeStmt": _insert_merge,
    "UpdateStmt": lambda v, ctx: _update_delete(v, ctx, "UPDATE"),
    "DeleteStmt": lambda v, ctx: _update_delete(v, ctx, "DELETE"),
    "CopyStmt": _copy,
    "VariableSetStmt": _variable_set,
    "ExplainStmt": _explain,
    "PrepareStmt": _prepare,
    "ExecuteStmt": _execute,
    "DeallocateStmt": _deallocate,
    "DiscardStmt": _discard,
    "TransactionStmt": _transaction,
    "DropStmt": _drop,
    "AlterTableStmt": _alter_table,
    "CreateFunctionStmt": _create_function,
    "DoStmt": _do,
    "AlterFunctionStmt": _alter_function,
    "VacuumStmt": _vacuum,
    "CreateTableAsStmt": _create_table_as,
    "TruncateStmt": _truncate,
    "CreateSchemaStmt": _create_schema,
    "GrantRoleStmt": _grant_role,
    "CreateRoleStmt": _create_role,
}
_STATEMENT_HANDLERS.update(
    {
        name: binds(name, handler)
        for name, handler in _STATEMENT_HANDLERS.items()
        if handler is not None and name in T.BINDING_STATEMENTS
    }
)
#: Every statement node type Airlock knows; any other top-level type is ``unknown``.
KNOWN_STATEMENTS: frozenset[str] = frozenset(_STATEMENT_HANDLERS)


def _walk_into(v: Node, ctx: Ctx) -> bool:
    return False  # pragma: no cover - a sentinel compared by identity, never called


def _wrapped_range_var(v: Node, ctx: Ctx) -> bool:
    _range_var(v, ctx)
    return True


def _wrapped_func_call(v: Node, ctx: Ctx) -> bool:
    _func_call(v, ctx)
    return False  # arguments may hold more calls


def _wrapped_role_spec(v: Node, ctx: Ctx) -> bool:
    _role_spec(v, ctx)
    return True


def _bare_struct(v: Node, ctx: Ctx) -> bool:
    """A typed field (UpdateStmt.relation, CallStmt.funccall...) holds the struct unwrapped."""
    if "relname" in v:
        _range_var(v, ctx)
    elif "funcformat" in v:
        _func_call(v, ctx)
    elif "roletype" in v:
        _role_spec(v, ctx)
    elif str(v.get("kind", "")).startswith("VAR_"):  # ALTER ROLE/DATABASE/SYSTEM ... SET
        sub = Ctx(ctx.prepared_in)  # what it sets, not a change of this session's lexing
        _variable_set(v, sub)
        ctx.merge(sub.result(()))
    return False


def _bare_struct_fields() -> frozenset[str]:
    """Field names that hold a bare RangeVar/FuncCall/RoleSpec/VariableSetStmt, read from
    pglast's AST metadata (libpg_query's own struct definitions), not listed by hand."""
    wanted = {"RangeVar*", "FuncCall*", "RoleSpec*", "VariableSetStmt*"}
    fields: set[str] = set()
    for name in dir(pglast.ast):
        slots = getattr(getattr(pglast.ast, name), "__slots__", None)
        if isinstance(slots, dict):
            fields.update(f for f, info in slots.items() if getattr(info, "c_type", "") in wanted)
    return frozenset(fields)


#: None = a leaf: constants and names have nothing below them to classify.
_LEAVES = ("A_Const", "String", "Integer", "Float", "Boolean", "ParamRef", "A_Star")


_HANDLERS: dict[str, Handler | None] = {
    **_STATEMENT_HANDLERS,
    "ColumnRef": _column_ref,
    "A_Indirection": _indirection,
    "RangeVar": _wrapped_range_var,
    "FuncCall": _wrapped_func_call,
    "RoleSpec": _wrapped_role_spec,
    "A_Expr": a_expr,
    "SubLink": sub_link,
    "SortBy": sort_by,
    "Constraint": constraint,
    **dict.fromkeys(_bare_struct_fields(), _bare_struct),
    **dict.fromkeys((*_LEAVES, "TypeName", "typeName", "returnType", "alias"), None),
}


# --------------------------------------------------------------------------- entry points


def analyze_sql(
    text: str,
    state: LexingState = _DEFAULT_STATE,
    prepared: Mapping[str, Classification] = _NO_PREPARED,
) -> tuple[Classification, SqlEffects]:
    """Classify a query string and report its session effects; never raises."""
    try:
        if not state.modelable:
            return Classification.unknown(state.problem), NO_EFFECTS
        if "\x00" in text:  # the server stops at NUL; libpg_query's C string would too
            return Classification.unknown("query text contains a NUL byte"), NO_EFFECTS
        tree = _loads(parse_sql_json(text))
        ctx = Ctx(prepared)
        names: list[str] = []
        for raw in tree.get("stmts", ()):
            stmt = raw["stmt"]
            name = next(iter(stmt))
            names.append(name)
            if name not in KNOWN_STATEMENTS:
                ctx.add(Category.UNKNOWN, f"statement type {name} is not classified")
            ctx.binding = name not in T.RUNS_NOW
            _walk(stmt, ctx)
        return ctx.result(tuple(names)), ctx.effects()
    except Exception as exc:
        reason = f"cannot parse: {exc}" if type(exc).__name__ == "ParseError" else repr(exc)
        return Classification.unknown(reason[:300]), NO_EFFECTS


def classify_sql(
    text: str,
    state: LexingState = _DEFAULT_STATE,
    prepared: Mapping[str, Classification] = _NO_PREPARED,
) -> Classification:
    """Classify every statement of ``text`` as the server would run it; never raises."""
    return analyze_sql(text, state, prepared)[0]


def sql_effects(text: str, state: LexingState = _DEFAULT_STATE) -> SqlEffects:
    """Session effects of ``text`` (see SqlEffects); NO_EFFECTS when it cannot be parsed."""
    return analyze_sql(text, state)[1]

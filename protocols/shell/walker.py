"""Walk a tree-sitter-bash tree: find every simple command, redirect and here-document."""

from __future__ import annotations

import posixpath
import re

import tree_sitter_bash
from tree_sitter import Language, Node, Parser

from protocols.classification import Category

from . import assign, globs, handlers, paths, programs, reach, toolargs, wrappers
from .assign import arith_assignments, check_variable
from .core import MAX_DEPTH, Acc, Ctx
from .state import Feed, Pin, top_level
from .words import SOURCES, Word, ascii_for_parser, heredoc_text, text_of, word

C = Category

# One parser for the process: tree-sitter parsers are not thread-safe, and the gateway
# classifies on its single asyncio thread.
_PARSER = Parser(Language(tree_sitter_bash.language()))

_OUTPUT_OPS = frozenset({">", ">>", "&>", "&>>", ">|", ">&"})
_GLOB = re.compile(r"[*?\[]|\{[^}]*(,|\.\.)[^}]*\}")
# Bash history expansion (``!!``, ``!-2``, ``!rm``) re-runs earlier lines in interactive
# shells; outside single quotes it is code we cannot see.
_HISTORY = re.compile(r"(?<![\\$])!(?=[!\-0-9A-Za-z?#^*])")
_SUBSCRIPT_CODE = re.compile(r"\$\(|`")


def parse_into(text: str, acc: Acc, ctx: Ctx) -> None:
    """Classify shell ``text`` (at ``ctx``'s depth) into ``acc``."""
    if ctx.depth > MAX_DEPTH:
        acc.add(C.UNKNOWN, "nesting too deep")
        return
    tree = _PARSER.parse(ascii_for_parser(text))
    root = tree.root_node
    if root.has_error or root.has_changes:
        acc.add(C.UNKNOWN, "the shell grammar could not parse this line")
        acc.scope.forget_everything()  # bash may be waiting for the rest of it
        return
    SOURCES.append(text)
    nested = ctx.depth > 0  # a trap, an alias, ``bash -c``: may run at any time
    acc.scope.unordered += nested
    try:
        _walk(root, acc, ctx)
    finally:
        SOURCES.pop()
        acc.scope.unordered -= nested


#: Bodies that may run again, or later than the text after them.
_UNORDERED = frozenset(
    {"for_statement", "c_style_for_statement", "while_statement", "until_statement",
     "function_definition"}
)  # fmt: skip


def _walk(node: Node, acc: Acc, ctx: Ctx) -> None:
    if node.type in _UNORDERED:
        acc.scope.unordered += 1
        try:
            _walk_node(node, acc, ctx)
        finally:
            acc.scope.unordered -= 1
    else:
        _walk_node(node, acc, ctx)


def _walk_node(node: Node, acc: Acc, ctx: Ctx) -> None:
    kind = node.type
    if node.is_error or node.is_missing:
        acc.add(C.UNKNOWN, "parse error")
        return
    if kind == "command":
        _command(node, acc, ctx)
    elif kind == "redirected_statement":
        _redirected(node, acc, ctx)
    elif kind == "declaration_command":
        _declaration(node, acc, ctx)
    elif kind == "unset_command":
        _unset(node, acc, ctx)
    elif kind == "variable_assignment":
        _assignment(node, acc, ctx, prefix=False)
    elif kind == "function_definition":
        _function(node, acc, ctx)
    elif kind in ("test_command", "arithmetic_expansion") or (
        kind == "compound_statement" and node.children and node.children[0].type == "(("
    ):
        _arith_guard(node, acc)
        if kind != "test_command":
            arith_assignments(text_of(node), acc, "arithmetic")
        _children(node, acc, ctx)
    elif kind == "c_style_for_statement":
        for field in ("initializer", "condition", "update"):
            for part in node.children_by_field_name(field):
                arith_assignments(text_of(part), acc, "arithmetic for")
        _children(node, acc, ctx)
    elif kind == "for_statement":
        # ``for PATH in /tmp/x; do ls; done`` and ``select`` assign their variable.
        var = node.child_by_field_name("variable")
        name = text_of(var) if var is not None else ""
        if var is not None:
            check_variable(name, acc)
            _loop_values(name, node, acc)
        # In the body the variable holds one of the listed values, whatever it held before.
        scope = acc.scope
        before = scope.current.get(name)
        listed = scope.effects.values.get(name)
        if name not in scope.effects.unknown_vars and listed is not None:
            scope.current[name] = frozenset(listed)
        _children(node, acc, ctx)
        scope.current.pop(name, None)
        if before is not None:
            scope.current[name] = before
    elif kind == "pipeline":
        _pipeline(node, acc, ctx)
    elif kind == "list":
        _list(node, acc, ctx)  # the pin it returns only matters inside a chain
    elif kind == "expansion":
        _expansion(node, acc)
        _children(node, acc, ctx)
    elif kind == "binary_expression" and any(
        c.type == "test_operator" and text_of(c) in _ARITH_TESTS for c in node.children
    ):
        # ``[[ 1 -eq PATH=1 ]]`` evaluates both operands arithmetically.
        for c in node.children:
            if c.is_named and c.type != "test_operator":
                arith_assignments(text_of(c), acc, "[[ arithmetic test")
        _children(node, acc, ctx)
    elif kind == "heredoc_redirect":
        _children(node, acc, ctx)
    elif kind in ("file_redirect", "herestring_redirect"):
        _redirect(node, acc, ctx)
    else:
        _children(node, acc, ctx)


_ARITH_TESTS = frozenset({"-eq", "-ne", "-lt", "-le", "-gt", "-ge"})


def _loop_values(var: str, node: Node, acc: Acc) -> None:
    """``for f in *.log``: ``$f`` is one of the words' expansions (globs stay languages)."""
    words = node.children_by_field_name("value")
    if not any(c.type == "in" for c in node.children):
        acc.scope.assign(var, None)  # ``for f; do``: the positional parameters
        return
    values: list[str] = []
    for child in words:
        fields, vague = acc.scope.fields(word(child).parts)
        if fields is None or vague:
            acc.scope.assign(var, None)
            return
        values.extend(globs.tilde(f) for f in fields)
    acc.scope.assign(var, values)


def _list(node: Node, acc: Acc, ctx: Ctx) -> Pin | None:
    """``cd X && A && B``: A and B run only if the cd succeeded, so in X (not maybe where
    the shell was). Returns the pin still in force after the list, for a longer chain."""
    named = [c for c in node.children if c.is_named or c.is_error or c.is_missing]
    op = next((c.type for c in node.children if not c.is_named), "")
    if len(named) != 2 or op != "&&":
        _children(node, acc, ctx)
        return None
    left, right = named
    scope = acc.scope
    if left.type == "list":
        pin = _list(left, acc, ctx)
    else:
        scope.last_cd = None
        _walk(left, acc, ctx.with_stdin(None))
        pin = scope.pin_for(scope.last_cd) if _simple(left) == "cd" else None
    if pin is not None:
        scope.pinned.append(pin)
    try:
        scope.last_cd = None
        _walk(right, acc, ctx.with_stdin(None))
    finally:
        if pin is not None:
            scope.pinned.pop()
    kind = _simple(right)
    if kind == "cd":
        return scope.pin_for(scope.last_cd)
    return pin if kind and kind not in ("pushd", "popd") else None


def _simple(node: Node) -> str | None:
    """The name of a simple command (None for anything else)."""
    if node.type != "command":
        return None
    name = node.child_by_field_name("name")
    if name is None or not name.children:
        return None
    return word(name.children[0]).lit


def _pipeline(node: Node, acc: Acc, ctx: Ctx) -> None:
    """Walk the stages in order, telling each what list of files the previous one
    prints (``find ... | xargs cat`` reads what find lists)."""
    saved = acc.scope.pipe
    feed = None
    for child in node.children:
        if child.is_named or child.is_error or child.is_missing:
            acc.scope.pipe = feed
            _walk(child, acc, ctx.with_stdin(None))
            feed = _stage_output(child, feed)
    acc.scope.pipe = saved


def _stage_output(node: Node, incoming: Feed | None) -> Feed | None:
    if node.type != "command":
        return None
    name = node.child_by_field_name("name")
    prog = word(name.children[0]).lit if name is not None and name.children else None
    args = [word(c) for c in node.children_by_field_name("argument")]
    return reach.pipe_output(prog, args, incoming)


def _expansion(node: Node, acc: Acc) -> None:
    """``${X:=v}`` assigns X; ``${x@P}`` runs command substitutions stored in x."""
    ops = [text_of(c) for c in node.children if not c.is_named]
    if "@" in ops and "P" in ops:
        acc.add(C.CODE, "prompt expansion ${x@P} runs the command text a variable holds")
    if not {"=", ":="} & set(ops):
        return
    target = next((c for c in node.children if c.type in ("variable_name", "subscript")), None)
    if "!" in ops or target is None:
        acc.add({C.UNKNOWN, C.CODE}, "expansion assigns a variable whose name is computed")
        return
    name = target.child_by_field_name("name") if target.type == "subscript" else target
    check_variable(text_of(name) if name is not None else "", acc)
    acc.scope.assign(text_of(name) if name is not None else "", None)
    acc.add(C.SESSION, "expansion assigns a default value")


def _children(node: Node, acc: Acc, ctx: Ctx) -> None:
    for child in node.children:
        if child.is_named or child.is_error or child.is_missing:
            _walk(child, acc, ctx.with_stdin(None))


def _arith_guard(node: Node, acc: Acc) -> None:
    """Array subscripts in arithmetic and ``[[ -v ]]`` are evaluated: ``a[$(id)]``."""
    for child in node.children:
        if child.type in ("raw_string", "string") and _SUBSCRIPT_CODE.search(text_of(child)):
            acc.add(C.CODE, "command text inside an arithmetic or test expression")
        elif child.child_count:
            _arith_guard(child, acc)


def _command(node: Node, acc: Acc, ctx: Ctx, stdin: str | None = None) -> None:
    argv: list[Word] = []
    for child in node.children:
        if child.type == "variable_assignment":
            _assignment(child, acc, ctx, prefix=True)
        elif child.type == "command_name":
            argv.insert(0, word(child.children[0]) if child.children else Word("", ""))
            _children(child, acc, ctx)
        elif child.type == "herestring_redirect":
            body = [c for c in child.children if c.is_named]
            stdin = word(body[0]).lit if len(body) == 1 else None
            _children(child, acc, ctx)
        elif child.type in ("file_redirect", "heredoc_redirect"):
            _walk(child, acc, ctx)
        elif child.is_named and child.type != "comment":
            argv.append(word(child))
            _walk(child, acc, ctx.with_stdin(None))
            _history_guard(child, acc)
    if not argv:
        return
    if len(argv) == 1 and argv[0].lit == "exec":
        _exec_redirects(node, acc)
    ctx.run(argv, acc, ctx.with_stdin(stdin))


def _history_guard(node: Node, acc: Acc) -> None:
    raw = text_of(node)
    quoted = node.type == "concatenation" and "'" in raw
    if node.type in ("word", "string", "concatenation") and _HISTORY.search(raw) and not quoted:
        acc.add(C.CODE, "history expansion re-runs earlier commands")


def _redirected(node: Node, acc: Acc, ctx: Ctx) -> None:
    body = node.child_by_field_name("body")
    stdin: str | None = None
    fed = False
    for child in node.children:
        if child.type == "heredoc_redirect":
            stdin, fed = heredoc_text(child), True
        elif child.type == "herestring_redirect":
            named = [c for c in child.children if c.is_named]
            stdin, fed = (word(named[0]).lit if len(named) == 1 else None), True
    if body is not None and body.type == "command" and _is_bare_exec(body):
        _exec_redirects(node, acc)
    for child in node.children:
        if body is not None and child.id == body.id:
            if child.type == "command":
                _command(child, acc, ctx, stdin if fed else None)
            else:
                _walk(child, acc, ctx)
        else:
            _walk(child, acc, ctx)


def _exec_redirects(node: Node, acc: Acc) -> None:
    """``exec <f`` / ``exec >f`` rewire the shell itself for every later line."""
    for child in node.children:
        if child.type in ("heredoc_redirect", "herestring_redirect"):
            acc.add(C.CODE, "exec makes the shell read its next commands from elsewhere")
        if child.type != "file_redirect":
            continue
        ops = {c.type for c in child.children if not c.is_named}
        fd_node = child.child_by_field_name("descriptor")
        fd = text_of(fd_node) if fd_node is not None else ("0" if ops & _INPUT_OPS else "1")
        dest = child.child_by_field_name("destination")
        dup = dest is not None and dest.type == "number" and text_of(dest) in ("1", "2")
        if fd == "0":
            acc.add(C.CODE, "exec makes the shell read its next commands from elsewhere")
        elif fd in ("1", "2") and not dup:
            acc.add(C.TAMPER, "exec hides the output of every later command")


_INPUT_OPS = frozenset({"<", "<&", "<>", "<&-"})


def _is_bare_exec(node: Node) -> bool:
    name = node.child_by_field_name("name")
    others = [c for c in node.children if c.is_named and c.type != "command_name"]
    return (
        name is not None
        and not others
        and bool(name.children)
        and word(name.children[0]).lit == "exec"
    )


def _redirect(node: Node, acc: Acc, ctx: Ctx) -> None:
    ops = {c.type for c in node.children if not c.is_named}
    dest = node.child_by_field_name("destination")
    _children(node, acc, ctx)
    if dest is None or node.type == "herestring_redirect":
        return
    target = word(dest)
    if ops & _OUTPUT_OPS:
        if ">&" in ops and (dest.type == "number" or target.value == "-"):
            return
        path = target.value
        cats = paths.write_categories(path)
        acc.add(cats, f"output redirected to {path}")
        if cats:
            acc.obj("path", paths.normalize(path))
        if path not in paths.HARMLESS_DEVICES:
            reach.redirect(target, acc, write=True)
    else:
        cats = paths.read_categories(target.value, tuple(acc.cwds)) | {C.READ}
        acc.add(cats, f"input read from {target.value}")
        acc.obj("path", paths.normalize(target.value))
        reach.redirect(target, acc, write=False)


def _assignment(node: Node, acc: Acc, ctx: Ctx, prefix: bool, declared: bool = False) -> None:
    name = node.child_by_field_name("name")
    var = text_of(name) if name is not None else ""
    value = node.child_by_field_name("value")
    check_variable(var.split("[")[0], acc, text_of(value) if value is not None else "")
    _remember(node, var, value, acc, ctx, prefix and not declared)
    if name is not None and name.type == "subscript":
        _arith_guard(name, acc)
        index = name.child_by_field_name("index")
        if index is not None:  # indexed arrays evaluate the subscript: ``a[PATH=1]=x``
            arith_assignments(text_of(index), acc, "array subscript")
    _children(node, acc, ctx)
    if not prefix:
        acc.add(C.SESSION, "variable assignment")


def _remember(
    node: Node, var: str, value: Node | None, acc: Acc, ctx: Ctx, temporary: bool
) -> None:
    """Keep the value a plain ``name=value`` stores, for later words that expand it."""
    name = node.child_by_field_name("name")
    appends = any(c.type == "+=" for c in node.children)
    if name is None or name.type != "variable_name" or appends:
        acc.scope.assign(var.split("[")[0], None)  # arrays, ``+=``: not followed
        return
    values = [""] if value is None else acc.scope.literal(word(value).parts)
    if value is not None and value.type == "array":
        values = None
    # A prefix (``k=v cmd``) sets only cmd's environment; still a possible value.
    top = not temporary and ctx.depth == 0 and top_level(node)
    acc.scope.assign(var, values, top=top)


def _declaration(node: Node, acc: Acc, ctx: Ctx) -> None:
    keyword = node.children[0].type if node.children else "declare"
    acc.statements.append(keyword)
    nameref = named = False
    for child in node.children[1:]:
        if child.type == "variable_assignment":
            named = True
            _assignment(child, acc, ctx, prefix=True, declared=True)
        elif child.type == "variable_name":
            named = True
            check_variable(text_of(child), acc)
        else:
            w = word(child)
            lit = w.value
            if _SUBSCRIPT_CODE.search(lit) and "[" in lit:
                acc.add(C.CODE, "array subscript evaluates command text")
            if w.lit is not None and lit.startswith(("-", "+")):
                if lit.startswith("-") and "f" in lit:
                    acc.add(C.CODE, f"{keyword} {lit} manipulates functions")
                # ``export -n`` un-exports; for the others ``-n`` makes a nameref.
                nameref = nameref or (keyword != "export" and lit[0] == "-" and "n" in lit)
            else:
                named = True
                _declared_word(keyword, w, text_of(child), acc)
            _children(child, acc, ctx)
    if nameref and named:
        # ``declare -n P=PATH``: a later ``P=/tmp`` assigns PATH, and that line cannot know.
        acc.add({C.CODE, C.TAMPER}, "nameref makes later assignments hit another variable")
        acc.scope.forget_variables()
    acc.add(C.SESSION, f"{keyword} sets shell variables")


_DECLARED = re.compile(r"([A-Za-z_]\w*)(\[[^=]*\])?\+?(=|$)", re.S)


def _declared_word(keyword: str, w: Word, source: str, acc: Acc) -> None:
    """A quoted or computed argument: ``export 'PATH=/x'`` assigns like ``PATH=/x``."""
    m = _DECLARED.match(w.value)
    if m is None:
        acc.add({C.UNKNOWN, C.CODE}, f"{keyword} of a computed variable name")
        acc.scope.forget_variables()
        return
    if m.group(3) == "=":
        acc.scope.assign(m.group(1), None)
    # Only source text with expansions can append to $PATH; a literal value replaces it.
    value = source.partition("=")[2] if w.lit is None else None
    check_variable(m.group(1), acc, value)


def _unset(node: Node, acc: Acc, ctx: Ctx) -> None:
    acc.statements.append("unset")
    for child in node.children[1:]:
        w = word(child)
        value = w.value
        if w.lit is None:
            acc.add(C.UNKNOWN, "unset of a computed name")
            acc.scope.forget_variables()
        elif not value.startswith("-"):
            check_variable(value.split("[")[0], acc)
            top = ctx.depth == 0 and top_level(node)
            acc.scope.assign(value.split("[")[0], [""] if "[" not in value else None, top=top)
            if value in programs.PROGRAMS:
                acc.add(C.TAMPER, f"unset removes a function or variable named {value}")
        _children(child, acc, ctx)
    acc.add(C.SESSION, "unset")


def _function(node: Node, acc: Acc, ctx: Ctx) -> None:
    name_node = node.child_by_field_name("name")
    name = text_of(name_node) if name_node is not None else ""
    acc.statements.append("function")
    acc.obj("function", name)
    shadows = name in programs.PROGRAMS or name in programs.SHELLS or name in _SHADOWED
    if shadows or name in _ALL_HANDLERS:
        acc.add({C.TAMPER, C.CODE}, f"function {name} shadows a program")
    ctx.functions.add(name)
    _children(node, acc, ctx)


def alias(prog: str, args: list[Word], acc: Acc, ctx: Ctx) -> None:
    """``alias``: redefining a program the tables or handlers know is tamper (this lives
    here, beside the handler table it consults)."""
    if not args or all(w.lit is not None and "=" not in w.lit for w in args):
        acc.add(C.READ, "alias lists aliases")
        return
    for w in args:
        name, eq, body = w.value.partition("=")
        if not eq:
            continue
        if w.lit is None:
            acc.add({C.UNKNOWN, C.CODE}, "alias to a computed command")
            continue
        if (
            name in programs.PROGRAMS
            or name in programs.SHELLS
            or name in ("cd", "exit", "history", "command", "builtin", "type", "alias")
            or handler_for(name) is not None
        ):
            acc.add({C.TAMPER, C.CODE}, f"alias {name} redefines a program")
        acc.add(C.SESSION, "alias")
        ctx.parse(body, acc, ctx.nested())


#: Names whose redefinition changes what later lines mean even if not in a table.
_SHADOWED = frozenset(
    {"cd", "exit", "logout", "history", "command", "builtin", "type", "command_not_found_handle"}
)


def run_argv(argv: list[Word], acc: Acc, ctx: Ctx) -> None:
    """Classify one simple command given as words (name first)."""
    if ctx.depth > MAX_DEPTH:
        acc.add(C.UNKNOWN, "nesting too deep")
        return
    head, args = argv[0], argv[1:]
    name = head.lit
    if name is None:
        acc.statements.append("?")
        acc.add({C.UNKNOWN, C.CODE}, f"command name {head.text!r} is computed at run time")
        return
    if not name or _GLOB.search(name) or "\n" in name:
        acc.statements.append(name or "?")
        acc.add(C.UNKNOWN, f"command name {name!r} is not a plain word")
        return
    prog = name
    if "/" in name:
        prog = posixpath.basename(name)
        directory = posixpath.dirname(paths.normalize(name))
        if directory not in programs.STANDARD_BIN_DIRS:
            acc.statements.append(name)
            acc.obj("program", name)
            acc.add(C.CODE, f"runs the file {name}")
            if prog not in programs.PROGRAMS and prog not in _ALL_HANDLERS:
                return
    acc.statements.append(prog)
    acc.obj("program", prog)
    if prog in ctx.functions:
        acc.scope.calls += 1  # where its body's cd leads was recorded at its definition
        return  # its body was classified where it was defined
    if prog in _SUBSCRIPT_EVALUATORS and any(
        "[" in w.value and _SUBSCRIPT_CODE.search(w.value) for w in args
    ):
        acc.add(C.CODE, f"{prog} evaluates an array subscript holding command text")
    if prog in ("cd", "pushd"):
        _cd(args, acc)
    acc.scope.run(prog, args)
    handler = _ALL_HANDLERS.get(prog)
    lits = tuple(w.lit for w in args)
    known = handler is not None or prog in programs.PROGRAMS
    if known and (
        lits in programs.VERSION_FORMS
        or (args and all(v in programs.READ_FORMS.get(prog, ()) for v in lits))
    ):
        acc.add(C.READ, f"{prog} only prints its version or checks its configuration")
        return
    if handler is not None:
        handler(prog, args, acc, ctx)
    elif prog in programs.PROGRAMS:
        acc.add(programs.PROGRAMS[prog], f"runs {prog}")
    elif prog.startswith("mkfs."):
        acc.add(C.DESTRUCTIVE, f"{prog} formats a file system")
    elif re.fullmatch(r"(python|pypy|perl|ruby|php|node|lua)[0-9.]*", prog):
        wrappers.interpreter(prog, args, acc, ctx)
    else:
        acc.add(C.UNKNOWN, f"{prog} is not a known program")
    handlers.scan_paths(prog, args, acc, guess_outputs=prog not in toolargs.HANDLERS)
    reach.scan(prog, args, acc)


def _cd(args: list[Word], acc: Acc) -> None:
    """Remember a ``cd`` target so later relative paths on this line resolve against it."""
    pos = [w for w in args if not (w.lit or "").startswith(("-", "+"))]
    target = pos[0].value if pos else "~"
    if target and target.strip("*/"):
        acc.cd(paths.normalize(target).rstrip("/") or "/")


#: Builtins that evaluate ``name[subscript]`` arguments arithmetically (``a[$(id)]`` runs).
_SUBSCRIPT_EVALUATORS = frozenset(
    {"printf", "read", "test", "[", "let", "mapfile", "readarray", "wait", "unset", "getopts"}
)

_ALL_HANDLERS = {
    **wrappers.HANDLERS,
    **handlers.HANDLERS,
    **toolargs.HANDLERS,
    **assign.HANDLERS,
    "alias": alias,
}


def is_known(prog: str) -> bool:
    """Does the classifier know ``prog`` (a table entry or a handler), or call it unknown?"""
    return (
        prog in programs.PROGRAMS
        or prog in _ALL_HANDLERS
        or prog.startswith("mkfs.")
        or re.fullmatch(r"(python|pypy|perl|ruby|php|node|lua)[0-9.]*", prog) is not None
    )


def handler_for(prog: str) -> object | None:
    """The argument-aware handler for ``prog`` (None: the tables decide alone)."""
    return _ALL_HANDLERS.get(prog)

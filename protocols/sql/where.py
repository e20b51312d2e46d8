"""Does a WHERE clause restrict which rows an UPDATE/DELETE touches?

Syntactic, deliberately simple, and conservative: a WHERE restricts when its truth depends
on a column of the target row. AND needs one such branch, OR needs all of them; ``id = id``
does not count; a subquery counts only through a column qualified with the target's name or
alias (correlation). ``WHERE true``, ``1 = 1``, ``id = 5 OR true``, ``EXISTS (SELECT 1)`` and
``UPDATE t ... FROM u WHERE u.flag`` therefore do not restrict (→ destructive).
"""

from __future__ import annotations

from typing import Any

Node = dict[str, Any]


def mentions(node: Node, targets: frozenset[str], in_sub: bool) -> bool:
    """Does an expression refer to a column of the target row?

    Unqualified columns count outside subqueries; inside a subquery only columns qualified
    with the target's name or alias count (correlation).
    """
    for key, value in node.items():
        if key == "ColumnRef":
            fields = value.get("fields", [])
            if len(fields) == 1 and not in_sub:
                return True
            if (
                len(fields) > 1
                and "String" in fields[-2]
                and fields[-2]["String"]["sval"] in targets
            ):
                return True
        elif type(value) is dict:
            if mentions(value, targets, in_sub or key == "subselect"):
                return True
        elif type(value) is list and any(mentions(item, targets, in_sub) for item in value):
            return True
    return False


def restricts(expr: Node, targets: frozenset[str]) -> bool:
    """Does a WHERE clause restrict which target rows are touched?"""
    ((kind, f),) = expr.items()
    if kind == "BoolExpr":
        args = f.get("args", [])
        if f.get("boolop") == "AND_EXPR":
            return any(restricts(a, targets) for a in args)
        if f.get("boolop") == "OR_EXPR":
            return all(restricts(a, targets) for a in args)
    elif kind == "CurrentOfExpr":
        return True
    elif kind == "A_Expr":
        left, right = f.get("lexpr"), f.get("rexpr")
        if (
            left is not None
            and right is not None
            and "ColumnRef" in left
            and "ColumnRef" in right
            and left["ColumnRef"].get("fields") == right["ColumnRef"].get("fields")
        ):
            return False  # `id = id`: true for every non-null row
        # fast path for the common `col = value`
        if left is not None and "ColumnRef" in left and _own_column(left["ColumnRef"], targets):
            return True
    return mentions(expr, targets, False)


def _own_column(ref: Node, targets: frozenset[str]) -> bool:
    fields = ref.get("fields", [])
    if len(fields) == 1:
        return True
    return len(fields) > 1 and fields[-2].get("String", {}).get("sval") in targets

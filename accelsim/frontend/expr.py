"""Block parameters in model YAML: ``$name`` and ``${expression}``, evaluated without ``eval``.

Only arithmetic, comparisons, ``a if c else b`` and the functions ``int``, ``min``, ``max``,
``round`` over numbers, booleans and strings are allowed; anything else is an error.
"""

from __future__ import annotations

import ast
import operator
import re
from typing import Any, Mapping

__all__ = ["substitute", "ExprError"]


class ExprError(ValueError):
    """A ``$`` reference or expression that cannot be evaluated."""


_BINOPS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_CMPOPS = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
}
_FUNCS = {"int": int, "min": min, "max": max, "round": round}
# Limits that keep a one-line expression from building a value that eats time or memory.
_MAX_INT_BITS = 4096
_MAX_LENGTH = 10_000
_BIG_FORMAT = re.compile(r"%[^a-zA-Z%]*\d{4,}")
_WHOLE = re.compile(r"^\$(?:([A-Za-z_]\w*)|\{(.*)\})$", re.S)
_PART = re.compile(r"\$\{([^}]*)\}|\$([A-Za-z_]\w*)")


def _bounded(value: Any) -> Any:
    """``value`` if it is of a sensible size (no huge integers, strings or lists)."""
    if isinstance(value, int) and value.bit_length() > _MAX_INT_BITS:
        raise ExprError(f"number too large (more than {_MAX_INT_BITS} bits)")
    if isinstance(value, (str, list, tuple)) and len(value) > _MAX_LENGTH:
        raise ExprError(f"value too long (more than {_MAX_LENGTH:,} items)")
    return value


def _check_binop(op: ast.operator, left: Any, right: Any) -> None:
    """Reject operations whose result would be too large before computing them."""
    if isinstance(op, ast.Mult):
        for seq, n in ((left, right), (right, left)):
            if (isinstance(seq, (str, list, tuple)) and isinstance(n, int)
                    and len(seq) * max(n, 0) > _MAX_LENGTH):
                raise ExprError(f"value too long (more than {_MAX_LENGTH:,} items)")
    if isinstance(op, ast.Mod) and isinstance(left, str) and _BIG_FORMAT.search(left):
        raise ExprError("format width or precision too large")


def _eval(node: ast.AST, env: Mapping[str, Any]) -> Any:
    return _bounded(_eval_node(node, env))


def _eval_node(node: ast.AST, env: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Expression):
        return _eval(node.body, env)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool)):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in env:
            raise ExprError(f"unknown parameter {node.id!r}; known: {', '.join(sorted(env)) or '(none)'}")
        return env[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _eval(node.left, env), _eval(node.right, env)
        if type(node.op) is ast.Pow and isinstance(right, (int, float)) and abs(right) > 64:
            raise ExprError("exponent too large")
        _check_binop(node.op, left, right)
        try:
            return _BINOPS[type(node.op)](left, right)
        except (TypeError, ZeroDivisionError, OverflowError) as exc:
            raise ExprError(str(exc)) from None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd, ast.Not)):
        value = _eval(node.operand, env)
        try:
            return (-value if isinstance(node.op, ast.USub)
                    else +value if isinstance(node.op, ast.UAdd) else not value)
        except TypeError as exc:
            raise ExprError(str(exc)) from None
    if isinstance(node, ast.Compare) and all(type(o) in _CMPOPS for o in node.ops):
        left = _eval(node.left, env)
        for op, comp in zip(node.ops, node.comparators):
            right = _eval(comp, env)
            try:
                if not _CMPOPS[type(op)](left, right):
                    return False
            except TypeError as exc:
                raise ExprError(str(exc)) from None
            left = right
        return True
    if isinstance(node, ast.BoolOp):
        values = [_eval(v, env) for v in node.values]
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.IfExp):
        return _eval(node.body, env) if _eval(node.test, env) else _eval(node.orelse, env)
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS
            and not node.keywords):
        args = [_eval(a, env) for a in node.args]
        if node.func.id == "round" and len(args) == 2 and isinstance(args[1], int) and abs(args[1]) > 1000:
            raise ExprError("round: too many digits")
        try:
            return _FUNCS[node.func.id](*args)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ExprError(str(exc)) from None
    raise ExprError(f"unsupported expression: {ast.dump(node)[:60]}")


def evaluate(text: str, env: Mapping[str, Any]) -> Any:
    if len(text) > 500:
        raise ExprError("expression too long")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        raise ExprError(f"invalid expression {text!r}") from None
    return _eval(tree, env)


def substitute(value: Any, env: Mapping[str, Any]) -> Any:
    """Replace ``$name``/``${expr}`` in ``value`` (recursing into lists).

    A string that is exactly one reference takes the referenced value's type; references
    inside a longer string are formatted into it.

    Raises:
        ExprError: unknown name or invalid expression.
    """
    if isinstance(value, list):
        return [substitute(v, env) for v in value]
    if not isinstance(value, str) or "$" not in value:
        return value
    whole = _WHOLE.match(value)
    if whole:
        name, expr = whole.groups()
        return evaluate(name if name else expr, env)

    def part(m: re.Match[str]) -> str:
        return str(evaluate(m.group(1) if m.group(1) is not None else m.group(2), env))

    return _PART.sub(part, value)

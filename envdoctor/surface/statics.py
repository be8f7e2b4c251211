"""Evaluate the constant part of Python expressions without running them.

Name tables (``__all__``, lazy-import dicts, ``__former_attrs__``-style maps) and warning
messages are usually built from literals, comprehensions over literal lists, ``str.format``
and f-strings.  :func:`evaluate` computes such values from an environment of module-level
constants; anything else raises :class:`NotStatic`.  :func:`evaluate_keys` is lenient about
a mapping's values (a value it cannot compute becomes None) but strict about its keys.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from typing import Any

MAX_ITEMS = 20_000  # a comprehension or literal bigger than this is not a name table


class NotStatic(Exception):
    """The expression depends on something only running the code would tell."""


def _format(template: str, args: list[Any], kwargs: dict[str, Any]) -> str:
    try:
        return template.format(*args, **kwargs)
    except (IndexError, KeyError, ValueError, AttributeError) as exc:
        raise NotStatic(str(exc))


def _bind(target: ast.expr, value: Any, scope: dict[str, Any]) -> None:
    if isinstance(target, ast.Name):
        scope[target.id] = value
        return
    if isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, (tuple, list)) \
            and len(value) == len(target.elts):
        for elt, item in zip(target.elts, value):
            _bind(elt, item, scope)
        return
    raise NotStatic("unpacking")


def _comprehension(node: ast.ListComp | ast.SetComp | ast.DictComp, env: Mapping[str, Any],
                   lenient: bool) -> list[tuple[Any, Any]]:
    """(key, value) per iteration (value is the element for list/set comprehensions)."""
    if len(node.generators) != 1 or node.generators[0].is_async:
        raise NotStatic("nested comprehension")
    gen = node.generators[0]
    items = evaluate(gen.iter, env)
    if isinstance(items, dict):
        items = list(items)
    if not isinstance(items, (list, tuple, set, frozenset, str)) or len(items) > MAX_ITEMS:
        raise NotStatic("comprehension over a non-literal")
    out = []
    for item in items:
        scope = dict(env)
        _bind(gen.target, item, scope)
        if not all(evaluate(cond, scope) for cond in gen.ifs):
            continue
        if isinstance(node, ast.DictComp):
            key = evaluate(node.key, scope)
            out.append((key, _lenient(node.value, scope) if lenient else evaluate(node.value, scope)))
        else:
            elt = evaluate(node.elt, scope)
            out.append((elt, elt))
    return out


def _lenient(node: ast.expr, env: Mapping[str, Any]) -> Any:
    try:
        return evaluate(node, env)
    except NotStatic:
        if isinstance(node, ast.Tuple):
            return tuple(_lenient(e, env) for e in node.elts)
        return None


_BINOPS: dict[type, Callable[[Any, Any], Any]] = {ast.Add: lambda a, b: a + b, ast.Mod: lambda a, b: a % b, ast.BitOr: lambda a, b: a | b,
           ast.Sub: lambda a, b: a - b, ast.BitAnd: lambda a, b: a & b}


def _call(node: ast.Call, env: Mapping[str, Any]) -> Any:
    func = node.func
    if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
        raise NotStatic("star arguments")
    args = [evaluate(a, env) for a in node.args]
    kwargs = {k.arg: evaluate(k.value, env) for k in node.keywords if k.arg}
    if isinstance(func, ast.Attribute):
        owner = evaluate(func.value, env)
        if isinstance(owner, str) and func.attr == "format":
            return _format(owner, args, kwargs)
        if isinstance(owner, str) and func.attr == "join" and len(args) == 1:
            return owner.join(str(a) for a in args[0])
        raise NotStatic(f"call of .{func.attr}")
    if isinstance(func, ast.Name) and func.id in ("list", "tuple", "set", "frozenset", "sorted", "dict") \
            and not kwargs and len(args) <= 1:
        builders: dict[str, Callable[..., Any]] = {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset,
                                                   "sorted": sorted, "dict": dict}
        kind = builders[func.id]
        return kind(args[0]) if args else kind()
    if isinstance(func, ast.Name) and func.id == "dict" and not args:
        return dict(kwargs)
    raise NotStatic("call")


def evaluate(node: ast.expr, env: Mapping[str, Any]) -> Any:
    """The value of ``node`` given module-level constants ``env``; raises :class:`NotStatic`."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in env:
            return env[node.id]
        raise NotStatic(node.id)
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        values: list[Any] = []
        for elt in node.elts:
            if isinstance(elt, ast.Starred):
                values.extend(evaluate(elt.value, env))
            else:
                values.append(evaluate(elt, env))
        if len(values) > MAX_ITEMS:
            raise NotStatic("too large")
        return values if isinstance(node, ast.List) else tuple(values) if isinstance(node, ast.Tuple) \
            else set(values)
    if isinstance(node, ast.Dict):
        return evaluate_keys(node, env, lenient=False)
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                spec = evaluate(value.format_spec, env) if value.format_spec else ""
                item = evaluate(value.value, env)
                conversions: dict[int, Callable[[Any], str]] = {115: str, 114: repr, 97: ascii}
                conversion = conversions.get(value.conversion, str)
                parts.append(format(conversion(item) if value.conversion != -1 else item, spec))
            else:
                parts.append(str(evaluate(value, env)))
        return "".join(parts)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        try:
            return _BINOPS[type(node.op)](evaluate(node.left, env), evaluate(node.right, env))
        except TypeError as exc:
            raise NotStatic(str(exc))
    if isinstance(node, (ast.ListComp, ast.SetComp)):
        elements = [key for key, _ in _comprehension(node, env, lenient=False)]
        return elements if isinstance(node, ast.ListComp) else set(elements)
    if isinstance(node, ast.DictComp):
        return dict(_comprehension(node, env, lenient=False))
    if isinstance(node, ast.Call):
        return _call(node, env)
    if isinstance(node, ast.Subscript) and not isinstance(node.slice, ast.Slice):
        container, key = evaluate(node.value, env), evaluate(node.slice, env)
        try:
            return container[key]
        except (KeyError, IndexError, TypeError) as exc:
            raise NotStatic(str(exc))
    raise NotStatic(type(node).__name__)


def evaluate_keys(node: ast.expr, env: Mapping[str, Any], lenient: bool = True) -> dict[Any, Any]:
    """A mapping (or set/list of names) as {key: value}; with ``lenient`` a value that is not
    static becomes None (a tuple keeps its static parts) while the keys must all be static."""
    if isinstance(node, ast.Dict):
        out: dict[Any, Any] = {}
        for key, value in zip(node.keys, node.values):
            if key is None:  # {**other}
                out.update(evaluate_keys(value, env, lenient))
                continue
            out[evaluate(key, env)] = _lenient(value, env) if lenient else evaluate(value, env)
        return out
    if isinstance(node, ast.DictComp):
        return dict(_comprehension(node, env, lenient))
    value = evaluate(node, env)
    if isinstance(value, dict):
        return value
    if isinstance(value, (list, tuple, set, frozenset)):
        return {item: None for item in value}
    raise NotStatic("not a table")

"""The keys a tool's configuration file accepts, read from the dataclasses its loader takes.

LLaMA-Factory hands a training YAML to ``HfArgumentParser`` over a list of dataclasses
(``_TRAIN_ARGS`` in ``llamafactory/hparams/parser.py``); accelerate builds ``ClusterConfig``
from its YAML.  Both reject keys that are not fields.  :func:`read_schema` reads that list (or
class) from the release's source, follows every class to its bases — into other distributions
too (LLaMA-Factory's ``TrainingArguments`` extends transformers' ``Seq2SeqTrainingArguments``)
— and collects the fields, plus the legacy keys the loader itself converts before it checks
(``del config_dict["fp16"]``, ``config_dict.pop("dynamo_backend")``).  Nothing is imported.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass

from envdoctor.surface.catalog import ReleaseSymbols
from envdoctor.surface.lookup import class_chain
from envdoctor.surface.sources import SourceError
from envdoctor.surface.symbols import dotted

MAX_CLASSES = 64


@dataclass(frozen=True)
class Head:
    """A class the loader takes, or the first class of another distribution its bases reach:
    the place to ask the release history about a key (``Query(module, name, kwarg=key)``)."""

    dist: str
    module: str
    name: str


@dataclass(frozen=True)
class ConfigSchema:
    """What one release's loader accepts: ``keys`` (every field along the classes' bases),
    ``consumed`` (legacy keys it converts first), the classes it takes (``roots``, by name), the
    ``heads`` to bisect, and ``complete`` False when some base could not be read (then a key
    missing from ``keys`` proves nothing)."""

    keys: frozenset[str]
    consumed: frozenset[str]
    roots: tuple[str, ...]
    heads: tuple[Head, ...]
    complete: bool

    def accepts(self, key: str) -> bool:
        """Whether the loader takes ``key``."""
        return key in self.keys or key in self.consumed


def _module_tree(release: ReleaseSymbols, module: str) -> ast.Module | None:
    path = (release.modules() or {}).get(module)
    if path is None or not path.endswith(".py") or release.source is None:
        return None
    try:
        source = release.source.read(path)
        return ast.parse(source) if source is not None else None
    except (SourceError, SyntaxError, ValueError, RecursionError):
        return None


def entry_names(release: ReleaseSymbols, module: str, entry: str) -> list[str] | None:
    """The class names ``entry`` stands for in ``module``: the elements of a module-level list or
    tuple of that name, else ``entry`` itself (a class)."""
    tree = _module_tree(release, module)
    if tree is None:
        return None
    for stmt in tree.body:
        if not isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            continue
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        if any(isinstance(t, ast.Name) and t.id == entry for t in targets):
            value = stmt.value
            if isinstance(value, (ast.List, ast.Tuple)):
                names = [dotted(e) for e in value.elts]
                return [n for n in names if n] if all(names) else None
            return None
    return [entry]


def consumed_keys(release: ReleaseSymbols, module: str, name: str) -> set[str]:
    """Keys a class's constructors from a mapping remove from it (``del config_dict["k"]``,
    ``config_dict.pop("k")`` in a classmethod or staticmethod, on one of its parameters): the
    legacy spellings a loader converts before it checks the rest against the fields."""
    tree = _module_tree(release, module)
    found: set[str] = set()
    classes = [n for n in (tree.body if tree is not None else []) if isinstance(n, ast.ClassDef) and n.name == name]
    for method in (m for c in classes for m in c.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))):
        if not any(dotted(d) in ("classmethod", "staticmethod") for d in method.decorator_list):
            continue
        params = {a.arg for a in (*method.args.posonlyargs, *method.args.args, *method.args.kwonlyargs)}

        def on_param(node: ast.expr) -> bool:
            return isinstance(node, ast.Name) and node.id in params

        for inner in ast.walk(method):
            if isinstance(inner, ast.Delete):
                found.update(t.slice.value for t in inner.targets if isinstance(t, ast.Subscript) and on_param(t.value)
                             and isinstance(t.slice, ast.Constant) and isinstance(t.slice.value, str))
            elif (isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute) and inner.func.attr == "pop"
                  and on_param(inner.func.value) and inner.args and isinstance(inner.args[0], ast.Constant)
                  and isinstance(inner.args[0].value, str)):
                found.add(inner.args[0].value)
    return found


def read_schema(release_of: Callable[[str], ReleaseSymbols | None], owner_of: Callable[[str], str | None],
                dist: str, module: str, entry: str) -> ConfigSchema | None:
    """The schema of ``dist``'s loader whose classes ``module.entry`` names (None when the
    release cannot be read or does not have that entry: another layout, an older release).

    ``release_of(dist)`` opens the target's release of a distribution; ``owner_of(top)`` names
    the target's distribution that provides a top-level import name."""
    release = release_of(dist)
    names = entry_names(release, module, entry) if release is not None else None
    if release is None or names is None:
        return None
    keys: set[str] = set()
    consumed: set[str] = set()
    heads: list[Head] = []
    complete = True
    todo = [(dist, module, n) for n in names]
    seen: set[tuple[str, str, str]] = set()
    while todo and len(seen) < MAX_CLASSES:
        item = todo.pop(0)
        if item in seen:
            continue
        seen.add(item)
        owner, where, name = item
        opened = release_of(owner)
        chain = class_chain(opened, where, name) if opened is not None else None
        if chain is None and opened is not None:
            origin = _reexport_origin(opened, where, name)
            other = owner_of(origin.split(".")[0]) if origin else None
            if origin and other and other != owner:
                todo.append((other, *origin.rsplit(".", 1)))  # type: ignore[arg-type]
                continue
        if chain is None or opened is None:
            complete = False
            continue
        heads.append(Head(owner, where, name))
        keys.update(chain.fields)
        for cls_module, cls_name in chain.classes:
            consumed |= consumed_keys(opened, cls_module, cls_name)
        complete = complete and chain.complete
        for origin in chain.outside:
            other = owner_of(origin.split(".")[0])
            if other is None:
                complete = False
                continue
            todo.append((other, *origin.rsplit(".", 1)))  # type: ignore[arg-type]
    if todo:
        complete = False
    return ConfigSchema(frozenset(keys), frozenset(consumed), tuple(names), tuple(heads), complete)


def _reexport_origin(release: ReleaseSymbols, module: str, name: str) -> str | None:
    """Where ``module`` imports ``name`` from, when it is bound by an import."""
    bound = (release.summary(module) or {}).get("reexports", {}).get(name)
    if bound is None:
        return None
    return f"{bound[0]}.{bound[1]}" if bound[1] else None

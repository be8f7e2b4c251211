"""One module's API surface as a JSON-ready summary, read with :mod:`ast` only.

:func:`summarize` records what ``import``/``from m import n``/``m.n`` and calls can find in a
module without running it:

- ``names``: every name bound at module level, in any branch (``if``/``try``/``TYPE_CHECKING``
  included: the question is whether a release *has* a name, not whether one branch binds it);
- ``reexports``: names bound by imports, as ``[absolute module, attribute or None]``;
- ``stars``: modules star-imported (``fallback_stars``: those only an except handler imports);
  ``all``/``all_from``: a static ``__all__`` and the modules
  whose ``__all__`` it adds (``__all__ += core.__all__``); ``all_dynamic`` when neither says,
  with ``all_known``: the names a partly dynamic ``__all__`` is known to hold;
- ``lazy``: names a lazy-import table exports (transformers' ``_import_structure`` passed to
  ``_LazyModule``, huggingface_hub's ``_SUBMOD_ATTRS`` passed to ``_attach``: any module-level
  dict of module → list of names handed to a call), mapped to the module holding them;
  ``submodule_exports`` when ``define_import_structure(__file__)`` exports every submodule's ``__all__``;
- ``getattr``: what a module ``__getattr__`` does per name or per table it consults: ``present``,
  ``deprecated`` (returns after a warning) or ``removed`` (raises AttributeError), and whether it
  ends in ``raise AttributeError`` (``closed``: every other name is absent);
- ``tables``: the static name tables those refer to, with their messages;
- ``functions`` and ``classes``: signatures (parameter names and kinds, ``**kwargs``), class
  bases, class-level members (methods, class attributes), dataclass fields, the attributes its
  methods set on instances (``instance``; ``instance_dynamic`` when some names are not spelled);
- ``renames``: ``{old: new}`` read from deprecation messages in the source.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from typing import Any

from envdoctor.surface.statics import MAX_ITEMS, NotStatic, evaluate, evaluate_keys
from envdoctor.surface.versions import SUMMARY_VERSION

MAX_HANDLED_NAMES = 40  # strings a decorator spells that are kept (the keywords it may handle)
MAX_HANDLED_NAME = 40
MAX_MESSAGE = 600
SAFE_DECORATORS = frozenset({"staticmethod", "classmethod", "property", "abstractmethod", "overload",
                             "cached_property", "wraps", "final", "override", "setter", "getter",
                             "no_type_check", "lru_cache", "cache", "no_grad", "inference_mode"})
CONSTRUCTORS = frozenset({"__init__", "__post_init__", "__new__"})
DEPRECATION_WORDS = (b"deprecat", b"renamed", b"removed", b"alias")
WARN_CALLS = frozenset({"warn", "warning", "warning_once", "warn_once", "deprecated", "info", "error"})
_Q = r"[`'\"]"
RENAME_PATTERNS = (
    re.compile(rf"{_Q}?(?:\w+\.)*(?P<old>\w+){_Q}?(?:\s+(?:argument|parameter|keyword|attribute|option|"
               rf"function|class))?\s+(?:is|has been|was|will be|are)\s+(?:now\s+)?(?:deprecated|renamed|"
               rf"removed)\b.{{0,200}}?\b(?:[Uu]se|to|in favou?r of|replaced by)\s+"
               rf"{_Q}?(?:np\.|\w+\.)*(?P<new>\w+){_Q}?"),
    re.compile(rf"{_Q}(?:\w+\.)*(?P<old>\w+){_Q}\s+(?:was|is)\s+(?:a\s+)?deprecated alias for\s+"
               rf"(?P<builtin>the builtin\s+)?{_Q}(?P<new>[\w.]+){_Q}"),
)


PROSE_WORDS = frozenset({"the", "a", "an", "this", "that", "these", "it", "its", "be", "which", "your", "their",
                         "any", "all", "some", "another", "other", "one", "instead", "now", "them"})


def renames_in(message: str) -> dict[str, str]:
    """``{old: new}`` pairs a deprecation message states ("'x' has been renamed to 'y'")."""
    found: dict[str, str] = {}
    for pattern in RENAME_PATTERNS:
        for m in pattern.finditer(message):
            if m.group("new").lower() in PROSE_WORDS:  # "... removed in 0.24. Please pass the ..."
                continue
            if m.group("old") != m.group("new") or m.groupdict().get("builtin"):
                found.setdefault(m.group("old"), m.group("new"))
    return found


def dotted(node: ast.expr) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _replaces_module(target: ast.expr) -> bool:
    """``sys.modules[__name__] = ...``: the module puts another object in its own place."""
    return (isinstance(target, ast.Subscript) and dotted(target.value) == "sys.modules"
            and isinstance(target.slice, ast.Name) and target.slice.id == "__name__")


def _lazy_module_call(value: ast.expr) -> bool:
    """A lazy module built from a table of names the summary reads (transformers' ``_LazyModule(__name__,
    __file__, _import_structure)``, ``define_import_structure(...)``): its exports are known."""
    if not isinstance(value, ast.Call):
        return False
    args = [*value.args, *(k.value for k in value.keywords)]
    return any(isinstance(a, ast.Name) and "import_structure" in a.id for a in args) or any(
        isinstance(a, ast.Call) and (dotted(a.func) or "").endswith("define_import_structure") for a in args)


def _writes_all(func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether a function's body adds to its module's ``__all__`` (``__all__.append(a)``, ``+=``)."""
    for node in ast.walk(func):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "__all__" \
                and node.func.attr in ("append", "extend", "insert"):
            return True
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name) and node.target.id == "__all__":
            return True
    return False


def _own_module(node: ast.expr, aliases: set[str]) -> bool:
    """``sys.modules[__name__]``, or a module-level name bound to it: the module object itself."""
    if isinstance(node, ast.Name):
        return node.id in aliases
    return (isinstance(node, ast.Subscript) and dotted(node.value) == "sys.modules"
            and isinstance(node.slice, ast.Name) and node.slice.id == "__name__")


def _run_at_import(stmt: ast.stmt) -> Iterator[ast.AST]:
    """The nodes of a module-level statement that run when it does: not the bodies of the functions,
    lambdas and classes it defines (transformers 5's `else:` block defines a helper whose
    ``setattr(sys.modules[__name__], computed, ...)`` runs only for two aliases)."""
    todo: list[ast.AST] = [stmt]
    while todo:
        node = todo.pop()
        yield node
        todo.extend(child for child in ast.iter_child_nodes(node)
                    if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)))


def _writes_globals(func: ast.expr) -> bool:
    """``globals().update`` / ``globals().setdefault`` / ``vars().update`` (a call's callee)."""
    return (isinstance(func, ast.Attribute) and func.attr in ("update", "setdefault")
            and isinstance(func.value, ast.Call) and isinstance(func.value.func, ast.Name)
            and func.value.func.id in ("globals", "vars"))


def resolve_relative(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute module a ``from <dots><target> import`` in ``module`` names."""
    if level == 0:
        return target or ""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    base = parts[:len(parts) - (level - 1)] if level > 1 else parts
    return ".".join([*base, target] if target else base)


def signature(args: ast.arguments, decorators: list[ast.expr], method: bool) -> dict[str, Any]:
    """Parameter names and kinds, ``**kwargs``/``*args``, and whether decorators may change them."""
    params: list[list[str]] = []
    positional = [*args.posonlyargs, *args.args]
    for i, arg in enumerate(positional):
        if method and i == 0:
            continue
        params.append([arg.arg, "positional-only" if i < len(args.posonlyargs) else "positional"])
    params += [[arg.arg, "keyword-only"] for arg in args.kwonlyargs]
    opaque, accepted, named = False, [], []
    for deco in decorators:
        name = dotted(deco.func if isinstance(deco, ast.Call) else deco)
        last = (name or "").rsplit(".", 1)[-1]
        if isinstance(deco, ast.Call):
            accepted += [a.value for a in deco.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        if last not in SAFE_DECORATORS and not (name or "").endswith((".setter", ".getter", ".deleter")):
            opaque = True
            named.append(name or "?")
    sig: dict[str, Any] = {"params": params, "var_kw": args.kwarg is not None, "var_pos": args.vararg is not None}
    if any((dotted(d) or "").rsplit(".", 1)[-1] == "overload" for d in decorators):
        sig["overload"] = True
    if opaque:
        sig["opaque"] = True  # a decorator may accept other keywords
        sig["decorators"] = named  # lookup reads the ones this release defines (wrapper_profile)
    if accepted:
        sig["decorator_names"] = sorted(set(accepted))
    return sig


def with_overloads(previous: dict[str, Any] | None, sig: dict[str, Any]) -> dict[str, Any]:
    """A function declared with ``@overload`` (torch's ``.pyi`` stubs: one declaration per call
    form) accepts what any of its declarations accepts, the implementation after them included;
    a plain ``def`` that follows a plain ``def`` replaces it."""
    if previous is None or not previous.get("overload"):
        return sig
    names = {p[0] for p in sig["params"]}
    return {**sig, "params": [*sig["params"], *(p for p in previous["params"] if p[0] not in names)],
            "var_kw": sig["var_kw"] or previous["var_kw"], "var_pos": sig["var_pos"] or previous["var_pos"],
            "overload": True}


def wrapper_profile(node: ast.FunctionDef | ast.AsyncFunctionDef) -> dict[str, Any] | None:
    """What a decorator does to the keywords of what it wraps, when ``node`` is one: the
    signature of the function it returns (``def inner(*args, **kwargs)``, also one level down
    for a decorator factory), whether that function passes its ``**kwargs`` on, and the
    identifier-like strings the decorator spells (the keywords it handles itself, such as
    ``"use_auth_token"``).  None when ``node`` does not return a function it defines."""
    current: ast.FunctionDef | ast.AsyncFunctionDef = node
    inner = None
    for _ in range(2):  # decorator, or decorator factory: the function it returns is defined in its body
        defs = {s.name: s for s in current.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))}
        if not defs:
            break
        returned = [r.value.id for r in current.body if isinstance(r, ast.Return)
                    and isinstance(r.value, ast.Name) and r.value.id in defs]
        if not returned:
            break
        inner = defs[returned[-1]]
        current = inner
    if inner is None:
        return None
    kwargs = inner.args.kwarg.arg if inner.args.kwarg else None
    forwards = kwargs is not None and any(
        isinstance(n, ast.Call) and any(k.arg is None and isinstance(k.value, ast.Name) and k.value.id == kwargs
                                        for k in n.keywords) for n in ast.walk(inner))
    names = sorted({c.value for c in ast.walk(node) if isinstance(c, ast.Constant) and isinstance(c.value, str)
                    and c.value.isidentifier() and len(c.value) <= MAX_HANDLED_NAME})[:MAX_HANDLED_NAMES]
    sig = signature(inner.args, [d for d in inner.decorator_list if (dotted(
        d.func if isinstance(d, ast.Call) else d) or "").rsplit(".", 1)[-1] in SAFE_DECORATORS], method=False)
    return {"params": sig["params"], "var_kw": sig["var_kw"], "forwards": forwards, "names": names}


def _message_of(call: ast.Call, env: dict[str, Any]) -> str | None:
    """The (partly static) text of a warning/log call's first argument."""
    if not call.args:
        return None
    node = call.args[0]
    try:
        value = evaluate(node, env)
        return value if isinstance(value, str) else None
    except NotStatic:
        pass
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else "{}"
                       for v in node.values)
    if isinstance(node, ast.BinOp):
        parts = [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
        return "".join(parts) or None
    return None


def call_renames(node: ast.Call, env: dict[str, Any], found: dict[str, str]) -> None:
    """Add the renames a warning/logging call states to ``found``."""
    name = dotted(node.func) or ""
    if name.rsplit(".", 1)[-1] in WARN_CALLS:
        text = _message_of(node, env)
        if text:
            for old, new in renames_in(text).items():
                found.setdefault(old, new)


def body_renames(body: list[ast.stmt], env: dict[str, Any], deep: bool) -> dict[str, str]:
    """Renames stated by warning/logging calls in ``body``: anywhere when ``deep`` (constructors,
    where renamed keywords are handled), else in its statements and their ``if`` branches (a
    deprecated function warns first thing)."""
    found: dict[str, str] = {}
    if deep:
        nodes: Iterable[ast.AST] = (n for stmt in body for n in ast.walk(stmt))
    else:
        nodes = _shallow(body)
    for node in nodes:
        if isinstance(node, ast.Call):
            call_renames(node, env, found)
    return found


def _shallow(body: list[ast.stmt]) -> Iterator[ast.AST]:
    for stmt in body:
        if isinstance(stmt, ast.Expr):
            yield stmt.value
        elif isinstance(stmt, ast.If):
            yield from _shallow(stmt.body)
            yield from _shallow(stmt.orelse)


def _is_dataclass(node: ast.ClassDef) -> bool:
    for deco in node.decorator_list:
        name = dotted(deco.func if isinstance(deco, ast.Call) else deco) or ""
        if name.rsplit(".", 1)[-1] in ("dataclass", "define", "attrs", "frozen", "mutable"):
            return True
    return False


def _field_in_init(value: ast.expr | None) -> bool:
    if isinstance(value, ast.Call) and (dotted(value.func) or "").rsplit(".", 1)[-1] == "field":
        return not any(k.arg == "init" and isinstance(k.value, ast.Constant) and k.value.value is False
                       for k in value.keywords)
    return True


REGISTERING_CALLS = frozenset({"register_buffer", "register_parameter", "add_module", "register_module"})


def instance_attributes(func: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[set[str], bool]:
    """The attributes a method sets on its instance (``self.x = ...``, ``setattr(self, "x", ...)``,
    ``self.register_buffer("x", ...)``) and whether it sets some whose names the source does not
    spell (``setattr(self, name, ...)``, ``self.__dict__.update(...)``)."""
    if not func.args.args:
        return set(), False
    me = func.args.args[0].arg
    found: set[str] = set()
    dynamic = False

    def on_me(node: ast.expr) -> bool:
        return isinstance(node, ast.Name) and node.id == me

    def unpacked(target: ast.expr) -> Iterator[ast.expr]:  # a, (self.b, *self.c) = ...
        if isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                yield from unpacked(element)
        elif isinstance(target, ast.Starred):
            yield from unpacked(target.value)
        else:
            yield target

    for node in ast.walk(func):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = [t for target in node.targets for t in unpacked(target)]
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.With, ast.AsyncWith, ast.NamedExpr)):
            bound = [node.target] if isinstance(node, (ast.For, ast.AsyncFor, ast.NamedExpr)) else \
                [i.optional_vars for i in node.items if i.optional_vars is not None]
            targets = [t for target in bound for t in unpacked(target)]
        found.update(t.attr for t in targets if isinstance(t, ast.Attribute) and on_me(t.value))
        if not isinstance(node, ast.Call):
            continue
        call, args = node.func, node.args
        if isinstance(call, ast.Name) and call.id == "setattr" and args and on_me(args[0]):
            named: ast.expr | None = args[1] if len(args) > 1 else None
        elif isinstance(call, ast.Attribute) and on_me(call.value) and call.attr in REGISTERING_CALLS:
            named = args[0] if args else None
        else:
            dynamic = dynamic or (isinstance(call, ast.Attribute) and call.attr == "update"
                                  and isinstance(call.value, ast.Attribute) and call.value.attr == "__dict__"
                                  and on_me(call.value.value))
            continue
        if isinstance(named, ast.Constant) and isinstance(named.value, str):
            found.add(named.value)
        else:
            dynamic = True
    return found, dynamic


def summarize_class(node: ast.ClassDef, env: dict[str, Any], deprecations: bool = True) -> dict[str, Any]:
    """Bases, members, method signatures, dataclass fields and renames of one class (renames
    only when ``deprecations``: the module's text mentions them)."""
    members: set[str] = set()
    instance: set[str] = set()
    instance_dynamic = False
    methods: dict[str, Any] = {}
    fields: list[str] = []
    renames: dict[str, str] = {}
    dynamic = any(k.arg == "metaclass" for k in node.keywords)
    for stmt in node.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            # instance attributes (self.x = ...) are not class members: C.x fails for them, C().x does not
            members.add(stmt.name)
            static = any(dotted(d) in ("staticmethod", "classmethod") for d in stmt.decorator_list)
            if not static:
                sets, unspelled = instance_attributes(stmt)
                instance |= sets
                instance_dynamic = instance_dynamic or unspelled
            static = any(dotted(d) == "staticmethod" for d in stmt.decorator_list)
            methods[stmt.name] = with_overloads(methods.get(stmt.name),
                                                signature(stmt.args, stmt.decorator_list, method=not static))
            if stmt.name in ("__getattr__", "__getattribute__"):
                dynamic = True
            if deprecations:
                for old, new in body_renames(stmt.body, env, deep=stmt.name in CONSTRUCTORS).items():
                    renames.setdefault(old, new)
        elif isinstance(stmt, ast.ClassDef):
            members.add(stmt.name)
        elif isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                members.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            members.add(stmt.target.id)
            annotation = dotted(stmt.annotation.value if isinstance(stmt.annotation, ast.Subscript)
                                else stmt.annotation) or ""
            if not annotation.endswith("ClassVar") and _field_in_init(stmt.value):
                fields.append(stmt.target.id)
    bases = [dotted(b.value if isinstance(b, ast.Subscript) else b) for b in node.bases]
    summary: dict[str, Any] = {"bases": [d for d in bases if d],
                               "members": sorted(members), "methods": methods}
    if len(summary["bases"]) != len(node.bases):
        summary["opaque_bases"] = True
    if _is_dataclass(node):
        summary["dataclass"] = True
        summary["fields"] = fields
    elif fields and node.decorator_list:  # a decorator that may make it a dataclass (huggingface_hub's @strict)
        summary["annotated"] = fields
    if dynamic:
        summary["dynamic"] = True
    if instance - members:
        summary["instance"] = sorted(instance - members)
    if instance_dynamic:
        summary["instance_dynamic"] = True
    if renames:
        summary["renames"] = renames
    return summary


class _Walker:
    """Collects a module's summary statement by statement (module level only)."""

    def __init__(self, module: str, is_package: bool, deprecations: bool = True) -> None:
        self.module, self.is_package, self.deprecations = module, is_package, deprecations
        self.env: dict[str, Any] = {}
        self.names: dict[str, str] = {}
        self.reexports: dict[str, list[str | None]] = {}
        self.aliases: dict[str, str] = {}  # name -> a class of this module it is bound to
        self.stars: list[str] = []
        self.fallback_stars: list[str] = []
        self.all: list[str] | None = None
        self.all_from: list[str] = []
        self.all_dynamic = False
        self.tables: dict[str, dict[str, Any]] = {}
        self.incomplete: set[str] = set()
        self.call_args: set[str] = set()
        self.functions: dict[str, Any] = {}
        self.classes: dict[str, Any] = {}
        self.renames: dict[str, str] = {}
        self.getattr: dict[str, Any] | None = None
        self.all_writers: set[str] = set()  # functions of this module that add to its __all__
        self.global_writers: set[str] = set()  # functions of this module that reach its globals()
        self.dynamic = False
        self.module_aliases: set[str] = set()  # module-level names bound to sys.modules[__name__]
        self.import_hook = False
        self.submodule_exports = False

    # --- statements ------------------------------------------------------------------------

    def walk(self, body: list[ast.stmt], fallback: bool = False) -> None:
        for stmt in body:
            self.statement(stmt, fallback)

    def statement(self, stmt: ast.stmt, fallback: bool) -> None:
        if isinstance(stmt, ast.If):
            self.walk(stmt.body, fallback)
            self.walk(stmt.orelse, fallback)
        elif isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
            self.walk(stmt.body, fallback)  # type: ignore[attr-defined]
            for handler in stmt.handlers:  # type: ignore[attr-defined]
                self.walk(handler.body, True)
            self.walk(stmt.orelse, fallback)  # type: ignore[attr-defined]
            self.walk(stmt.finalbody, fallback)  # type: ignore[attr-defined]
        elif isinstance(stmt, (ast.With, ast.For, ast.While)):
            self.walk(stmt.body, fallback)
            if not isinstance(stmt, ast.With):
                self.walk(stmt.orelse, fallback)
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self.names[stmt.name] = "def"
            sig = signature(stmt.args, stmt.decorator_list, method=False)
            renames = body_renames(stmt.body, self.env, deep=False) if self.deprecations else {}
            if renames:
                sig["renames"] = renames
                self.renames.update(renames)
            profile = wrapper_profile(stmt)
            if profile is not None:
                sig["wrapper"] = profile
            self.functions[stmt.name] = sig = with_overloads(self.functions.get(stmt.name), sig)
            if _writes_all(stmt):
                self.all_writers.add(stmt.name)
            if any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in ("globals", "vars")
                   for n in ast.walk(stmt)):
                self.global_writers.add(stmt.name)
            if stmt.name == "__getattr__":
                self.getattr = _module_getattr(stmt)
        elif isinstance(stmt, ast.ClassDef):
            self.names[stmt.name] = "class"
            self.classes[stmt.name] = summarize_class(stmt, self.env, self.deprecations)
            self.renames.update(self.classes[stmt.name].get("renames", {}))
            if stmt.name == "__getattr__":  # a class as the module's __getattr__ (matplotlib's __version__)
                self.getattr = _class_getattr(stmt)
        elif isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname:
                    self._bind_import(alias.asname, alias.name, None)
                else:
                    top = alias.name.split(".")[0]
                    self._bind_import(top, top, None)
        elif isinstance(stmt, ast.ImportFrom):
            self._import_from(stmt, fallback)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            self._assign(stmt, fallback)
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            self._call_statement(stmt.value, fallback)
        elif isinstance(stmt, ast.Delete):
            for target in stmt.targets:
                if isinstance(target, ast.Name) and not fallback:
                    self.names.pop(target.id, None)
                    self.reexports.pop(target.id, None)
        self._note_calls(stmt)

    def _bind_import(self, name: str, module: str, attr: str | None) -> None:
        self.names[name] = "import"
        self.reexports[name] = [module, attr]

    def _import_from(self, stmt: ast.ImportFrom, fallback: bool = False) -> None:
        if stmt.module == "__future__":
            return
        base = resolve_relative(self.module, self.is_package, stmt.level, stmt.module)
        for alias in stmt.names:
            if alias.name == "*":
                self.stars.append(base)
                if fallback:  # only when the try above it failed (transformers' dummy objects)
                    self.fallback_stars.append(base)
            else:
                self._bind_import(alias.asname or alias.name, base, alias.name)

    def _note_calls(self, stmt: ast.stmt) -> None:
        """Names handed to module-level calls (lazy tables) and ``globals()`` writes."""
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return
        for node in _run_at_import(stmt):
            if isinstance(node, ast.Call):
                for arg in [*node.args, *(k.value for k in node.keywords)]:
                    if isinstance(arg, ast.Name):
                        self.call_args.add(arg.id)
                if (dotted(node.func) or "").rsplit(".", 1)[-1] == "define_import_structure":
                    self.submodule_exports = True  # exports what each submodule's __all__ lists
                if _writes_globals(node.func):  # globals().update(...): names the source does not spell
                    self.dynamic = True
                if isinstance(node.func, ast.Name) and node.func.id == "setattr" and len(node.args) >= 2 \
                        and _own_module(node.args[0], self.module_aliases):
                    named = node.args[1]
                    if isinstance(named, ast.Constant) and isinstance(named.value, str):
                        self.names.setdefault(named.value, "var")
                    else:
                        self.dynamic = True  # setattr(sys.modules[__name__], item.name, ...) (Pillow's constants)
            elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store) \
                    and isinstance(node.value, ast.Call) and dotted(node.value.func) == "globals":
                self.dynamic = True
        if isinstance(stmt, ast.Assign) and _own_module(stmt.value, set()):
            self.module_aliases.update(t.id for t in stmt.targets if isinstance(t, ast.Name))
        if isinstance(stmt, ast.Assign) and any(_replaces_module(t) for t in stmt.targets) \
                and not _lazy_module_call(stmt.value):
            self.dynamic = True  # sys.modules[__name__] = an object: its attributes answer at run time
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and \
                (dotted(stmt.value.func) or "") in ("sys.meta_path.append", "sys.meta_path.insert"):
            self.import_hook = True  # modules below this package may be made at run time (six.moves)

    def _assign(self, stmt: ast.Assign | ast.AnnAssign | ast.AugAssign, fallback: bool) -> None:
        value = stmt.value
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        if value is None:
            return
        for target in targets:
            if isinstance(target, ast.Name):
                if isinstance(stmt, ast.AugAssign):
                    self._augment(target.id, value, fallback)
                    continue
                self.names[target.id] = "var"
                self._set_constant(target.id, value, fallback)
                if isinstance(stmt, ast.Assign) and isinstance(value, (ast.Name, ast.Attribute)):
                    self._alias(target.id, dotted(value))
            elif isinstance(target, (ast.Tuple, ast.List)):
                for elt in ast.walk(target):
                    if isinstance(elt, ast.Name):
                        self.names[elt.id] = "var"
            elif isinstance(target, ast.Subscript):
                self._set_item(target, value, isinstance(stmt, ast.AugAssign), fallback)

    def _alias(self, name: str, ref: str | None) -> None:
        """``name = ref``: an imported object (``Base = Seq2SeqTrainingArguments``) or a class of
        this module under another name, followed as the original."""
        if not ref:
            return
        first, _, rest = ref.partition(".")
        if first in self.reexports:
            module, attr = self.reexports[first]
            full = ".".join(p for p in (str(module), attr, rest) if p)
            owner, _, leaf = full.rpartition(".")
            self.reexports[name] = [owner, leaf] if owner else [full, None]
            self.names[name] = "import"
        elif first in self.classes and not rest:
            self.aliases[name] = first
        else:
            self.reexports.pop(name, None)
            self.aliases.pop(name, None)

    def _set_constant(self, name: str, value: ast.expr, fallback: bool) -> None:
        try:
            result = evaluate(value, self.env)
        except NotStatic:
            result = None
            if isinstance(value, (ast.Dict, ast.DictComp)):
                try:
                    result = evaluate_keys(value, self.env)
                except NotStatic:
                    pass
        if name == "__all__":
            if isinstance(result, (list, tuple)) and all(isinstance(n, str) for n in result):
                self.all, self.all_dynamic = list(result), False
            elif not fallback:
                self.all_dynamic = True
            return
        if result is None:
            self.env.pop(name, None)
            self.tables.pop(name, None)
            return
        self.env[name] = result
        if isinstance(result, (dict, set, frozenset)) and len(result) <= MAX_ITEMS:
            self.tables[name] = {str(k): _short(v) for k, v in (result.items() if isinstance(result, dict)
                                                                 else ((k, None) for k in result))}

    def _static_list(self, value: ast.expr) -> list[str] | None:
        try:
            result = evaluate(value, self.env)
        except NotStatic:
            return None
        if isinstance(result, (list, tuple, set)) and all(isinstance(n, str) for n in result):
            return list(result)
        return None

    def _augment(self, name: str, value: ast.expr, fallback: bool) -> None:
        if name == "__all__":
            self._extend_all(value, fallback)
            return
        items = self._static_list(value)
        if name in self.tables and items is not None:
            self.tables[name].update({n: None for n in items})
        elif name in self.tables and not fallback:
            self.incomplete.add(name)

    def _extend_all(self, value: ast.expr, fallback: bool) -> None:
        items = self._static_list(value)
        if items is not None:
            self.all = [*(self.all or []), *items]
            return
        ref = dotted(value)
        if ref and ref.endswith(".__all__") and ref.count(".") == 1 and ref.split(".")[0] in self.reexports:
            module, attr = self.reexports[ref.split(".")[0]]
            self.all_from.append(f"{module}.{attr}" if attr else str(module))
        elif not fallback:
            self.all_dynamic = True

    def _writer_call(self, call: ast.Call, fallback: bool) -> None:
        """``extend_all(numerictypes)`` (numpy 1.x): a function of this module that adds to ``__all__``
        called on imported modules exports their ``__all__``; on anything else, ``__all__`` is dynamic."""
        for arg in call.args:
            ref = self.reexports.get(arg.id) if isinstance(arg, ast.Name) else None
            if ref is not None:
                module, attr = ref
                self.all_from.append(f"{module}.{attr}" if attr else str(module))
            elif not fallback:
                self.all_dynamic = True
        if not call.args and not fallback:
            self.all_dynamic = True

    def _set_item(self, target: ast.Subscript, value: ast.expr, augmented: bool, fallback: bool) -> None:
        table = target.value.id if isinstance(target.value, ast.Name) else None
        if table is None or table not in self.tables:
            return
        try:
            key = evaluate(target.slice, self.env)
        except NotStatic:
            if not fallback:
                self.incomplete.add(table)
            return
        items = self._static_list(value)
        if items is not None and augmented:
            previous = self.tables[table].get(str(key))
            self.tables[table][str(key)] = [*(previous if isinstance(previous, list) else []), *items]
        elif items is not None or not augmented:
            try:
                self.tables[table][str(key)] = _short(evaluate(value, self.env))
            except NotStatic:
                self.tables[table][str(key)] = None
                if not fallback and not isinstance(value, ast.Tuple):
                    self.incomplete.add(table)

    def _call_statement(self, call: ast.Call, fallback: bool) -> None:
        func = call.func
        if isinstance(func, ast.Name) and func.id in self.all_writers:
            self._writer_call(call, fallback)
        if isinstance(func, ast.Name) and func.id in self.global_writers:
            self.dynamic = True  # pyarrow.compute's _make_global_functions(): names from a registry
        if not isinstance(func, ast.Attribute):
            return
        owner, method = func.value, func.attr
        if isinstance(owner, ast.Name) and owner.id == "__all__":
            if method in ("extend", "append") and call.args:
                arg = call.args[0]
                if method == "append":
                    arg = ast.List(elts=[arg], ctx=ast.Load())
                self._extend_all(arg, fallback)
            elif method == "remove" and self.all is not None and call.args:
                try:
                    self.all = [n for n in self.all if n != evaluate(call.args[0], self.env)]
                except NotStatic:
                    pass
            return
        if isinstance(owner, ast.Name) and owner.id in self.tables:
            table = self.tables[owner.id]
            try:
                if method == "update" and call.args:
                    table.update({str(k): _short(v) for k, v in evaluate_keys(call.args[0], self.env).items()})
                elif method == "setdefault" and call.args:
                    table.setdefault(str(evaluate(call.args[0], self.env)), [])
                elif method in ("add", "append") and call.args:
                    table[str(evaluate(call.args[0], self.env))] = None
            except NotStatic:
                if not fallback:
                    self.incomplete.add(owner.id)
            return
        if isinstance(owner, ast.Subscript) and isinstance(owner.value, ast.Name) \
                and owner.value.id in self.tables and method in ("extend", "append") and call.args:
            table = self.tables[owner.value.id]
            try:
                key = str(evaluate(owner.slice, self.env))
                items = evaluate(call.args[0], self.env)
                items = [items] if method == "append" else list(items)
                previous = table.get(key)
                table[key] = [*(previous if isinstance(previous, list) else []), *items]
            except (NotStatic, TypeError):
                if not fallback:
                    self.incomplete.add(owner.value.id)

    # --- result ----------------------------------------------------------------------------

    def lazy_names(self) -> tuple[dict[str, str], bool]:
        """Names exported by lazy tables (dicts of module -> names handed to a call)."""
        lazy: dict[str, str] = {}
        incomplete = False
        for name in self.call_args:
            table = self.tables.get(name)
            if not table or not all(isinstance(v, list) or v is None for v in table.values()):
                continue
            if not any(isinstance(v, list) for v in table.values()):
                continue
            incomplete = incomplete or name in self.incomplete
            for key, values in table.items():
                target = resolve_relative(self.module, True, 1, key) if self.is_package else key
                lazy.setdefault(key.split(".")[0], resolve_relative(self.module, True, 1, key.split(".")[0]))
                for value in values or []:
                    if isinstance(value, str):
                        lazy.setdefault(value, target)
        return lazy, incomplete

    def result(self) -> dict[str, Any]:
        lazy, lazy_incomplete = self.lazy_names()
        kept_tables = set()
        if self.getattr:
            kept_tables = {ref for _, kind, ref in self.getattr["entries"] if kind == "table"}
        tables = {name: table for name, table in self.tables.items()
                  if name in kept_tables or (name.startswith("__") and name.endswith("__"))}
        summary: dict[str, Any] = {
            "version": SUMMARY_VERSION, "names": self.names, "reexports": self.reexports,
            "stars": self.stars, "functions": self.functions, "classes": self.classes,
        }
        if self.all is not None and not self.all_dynamic:
            summary["all"] = self.all
        if self.all_from:
            summary["all_from"] = self.all_from
        if self.all_dynamic:
            summary["all_dynamic"] = True
            if self.all:
                summary["all_known"] = self.all
        if lazy:
            summary["lazy"] = lazy
        if self.getattr is not None:
            summary["getattr"] = self.getattr
        if self.aliases:
            summary["aliases"] = self.aliases
        if tables:
            summary["tables"] = tables
        if self.renames:
            summary["renames"] = self.renames
        if self.submodule_exports:
            summary["submodule_exports"] = True
        if self.fallback_stars:
            summary["fallback_stars"] = self.fallback_stars
        if self.import_hook:
            summary["import_hook"] = True
        if self.dynamic or lazy_incomplete:
            summary["dynamic"] = True
        return summary


def _short(value: Any) -> Any:
    """A table value kept: a list of names as is, else a message (a tuple's string part), trimmed."""
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    if isinstance(value, tuple):
        value = next((v for v in value if isinstance(v, str)), None)
    return value[:MAX_MESSAGE] if isinstance(value, str) else None


def _tested(test: ast.expr, param: str) -> tuple[str, str] | None:
    """What an ``if`` inside ``__getattr__`` tests: ("table", T) for ``name in T``, ("name", n) for ``name == n``."""
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.left, ast.Name) \
            and test.left.id == param:
        right, op = test.comparators[0], test.ops[0]
        if isinstance(op, ast.In) and isinstance(right, ast.Name):
            return ("table", right.id)
        if isinstance(op, ast.Eq) and isinstance(right, ast.Constant) and isinstance(right.value, str):
            return ("name", right.value)
        if isinstance(op, ast.In) and isinstance(right, (ast.Tuple, ast.List, ast.Set)):
            values = [e.value for e in right.elts if isinstance(e, ast.Constant)]
            return ("names", ",".join(str(v) for v in values))
    return None


def _outcome(body: list[ast.stmt]) -> str | None:
    """"removed" when a block raises AttributeError, "deprecated"/"present" when it returns."""
    warned = False
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Call) and (dotted(node.func) or "").rsplit(".", 1)[-1] in ("warn", "warning"):
                warned = True
        if isinstance(stmt, ast.Raise):
            name = dotted(stmt.exc.func if isinstance(stmt.exc, ast.Call) else stmt.exc) if stmt.exc else ""
            return "removed" if name == "AttributeError" else None
        if isinstance(stmt, ast.Return):
            return "deprecated" if warned else "present"
        if isinstance(stmt, ast.If):
            inner = _outcome(stmt.body)
            if inner:
                return inner
    return None


def _subscripted_tables(body: list[ast.stmt], param: str) -> list[str]:
    found = []
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) \
                    and isinstance(node.slice, ast.Name) and node.slice.id == param:
                found.append(node.value.id)
    return found


def _module_getattr(func: ast.FunctionDef | ast.AsyncFunctionDef) -> dict[str, Any]:
    """What a module-level ``__getattr__`` does: entries (outcome, "table"|"name", ref) and ``closed``."""
    if not func.args.args:
        return {"entries": [], "closed": False}
    param = func.args.args[0].arg
    entries: list[list[str]] = []

    def visit(body: list[ast.stmt]) -> None:
        for stmt in body:
            if isinstance(stmt, ast.If):
                tested = _tested(stmt.test, param)
                outcome = _outcome(stmt.body)
                if tested and outcome:
                    kind, ref = tested
                    if kind == "names":
                        entries.extend([outcome, "name", n] for n in ref.split(",") if n)
                    else:
                        entries.append([outcome, kind, ref])
                visit(stmt.body)
                visit(stmt.orelse)
            elif isinstance(stmt, ast.Try):
                outcome = _outcome(stmt.orelse) or _outcome(stmt.body)
                if outcome and any(dotted(h.type) == "KeyError" for h in stmt.handlers if h.type is not None):
                    entries.extend([outcome, "table", t] for t in _subscripted_tables(stmt.body, param))
                visit(stmt.body)
                visit(stmt.orelse)

    visit(func.body)
    last = func.body[-1] if func.body else None
    closed = isinstance(last, ast.Raise) and last.exc is not None and dotted(
        last.exc.func if isinstance(last.exc, ast.Call) else last.exc) == "AttributeError"
    return {"entries": entries, "closed": closed}


def _class_getattr(cls: ast.ClassDef) -> dict[str, Any]:
    """A class bound to a module's ``__getattr__`` (matplotlib's ``@_api.caching_module_getattr``):
    its members (properties, methods, attributes) are the names it answers; others stay open."""
    members: list[str] = []
    for stmt in cls.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            special = stmt.name.startswith("__") and stmt.name.endswith("__")
            if not special or any(dotted(d) == "property" for d in stmt.decorator_list):
                members.append(stmt.name)  # not the class's own protocol (__init__), unless a property
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            members += [t.id for t in targets if isinstance(t, ast.Name)]  # __version__ = property(...)
    return {"entries": [["present", "name", name] for name in members], "closed": False}


def summarize(source: bytes | str, module: str, is_package: bool) -> dict[str, Any]:
    """The summary of one module's source (see the module docstring); raises SyntaxError/ValueError."""
    tree = ast.parse(source)
    raw = source.encode("utf-8", "replace") if isinstance(source, str) else source
    lowered = raw.lower()
    walker = _Walker(module, is_package, deprecations=any(w in lowered for w in DEPRECATION_WORDS))
    walker.walk(tree.body)
    return walker.result()

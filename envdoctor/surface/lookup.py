"""Answer one symbol query against one release's symbol index, without importing anything.

A :class:`Query` asks whether ``module`` exists, whether it has ``name``, whether that object
has attribute ``attr``, or whether calling it accepts keyword ``kwarg``.  :func:`answer`
follows what Python would: re-exports and lazy tables to the defining module, star imports
through ``__all__``, a module ``__getattr__``'s tables, classes' bases inside the release,
dataclass fields and ``**kwargs``.  The status is True, False, or None when the source does
not decide it (an extension module, a base class from another distribution, a decorator that
may change a signature, a ``__getattr__`` that answers any name).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from envdoctor.surface.catalog import ReleaseSymbols
from envdoctor.surface.query import Answer, Query
from envdoctor.surface.symbols import renames_in

MAX_DEPTH = 24
MAX_OUTSIDE_BASES = 3  # bases from other distributions a keyword answer follows
MAX_PARSES = 200  # modules one answer may parse (a cache miss each); past it the answer is None
FIRST_STARS = 6  # star sources (likeliest first) read one by one before the rest may come in one download
WHOLE_ARCHIVE_AFTER = 24  # star sources left to read past which the release's whole wheel is fetched once
# constructs through which a module can bind a name its source text never spells
UNSPELLED_BINDINGS = (b"import *", b"define_import_structure", b"__getattr__", b"globals()", b"vars()",
                      b"setattr(", b"sys.modules", b"exec(", b"import_structure", b"__all__ +")
MODULE_ATTRIBUTES = frozenset({"__file__", "__name__", "__path__", "__spec__", "__loader__", "__package__",
                               "__doc__", "__dict__", "__builtins__", "__cached__", "__all__"})
OUTSIDE_BASE = "base class"  # how mro() starts the reason a base could not be followed
HARMLESS_BASES = frozenset({"object", "ABC", "abc.ABC", "Generic", "typing.Generic", "Protocol",
                            "typing.Protocol", "typing_extensions.Protocol"})


@dataclass(frozen=True)
class _Obj:
    kind: str  # "module", "class", "function"
    module: str
    name: str = ""


class _OverBudget(Exception):
    """The answer needs more modules parsed than :data:`MAX_PARSES`."""


class _Resolver:
    def __init__(self, release: ReleaseSymbols, explicit: bool = False) -> None:
        self.release = release
        self.explicit = explicit  # keywords must be named parameters (Query.explicit)
        self.renames: dict[str, str] = {}
        self.parse_limit = release.parsed + MAX_PARSES
        self.where: dict[int, str] = {}  # id(class summary) -> its module (mro), for its methods' decorators

    def summary(self, module: str) -> dict[str, Any] | None:
        summary = self.release.summary(module)
        if self.release.parsed > self.parse_limit:
            raise _OverBudget()
        if summary:
            self.renames.update({k: v for k, v in summary.get("renames", {}).items() if k not in self.renames})
        return summary

    def native(self, module: str) -> bool:
        return str((self.release.modules() or {}).get(module, "")).startswith("native:")

    # --- module namespaces -----------------------------------------------------------------

    def star_sources(self, module: str, summary: dict[str, Any], name: str) -> list[str]:
        """Modules whose exports ``module`` takes: its star imports, and every direct submodule
        when it builds its namespace with ``define_import_structure``; those whose name shares
        the longest word with ``name`` first (``llama`` for ``LlamaForCausalLM``), so a hit
        rarely needs the others read."""
        stars = list(summary["stars"])
        if summary.get("submodule_exports"):
            prefix = module + "."
            stars += [m for m in sorted(self.release.modules() or {})
                      if m.startswith(prefix) and "." not in m[len(prefix):]]
        wanted = name.lower()

        def relevance(star: str) -> int:
            words = star.rsplit(".", 1)[-1].split("_")
            return -max((len(w) for w in words if len(w) > 2 and w in wanted), default=0)

        return sorted(stars, key=relevance)

    def table(self, module: str, name: str, depth: int) -> dict[str, Any] | None:
        summary = self.summary(module) or {}
        if name in summary.get("tables", {}):
            return summary["tables"][name]
        ref = summary.get("reexports", {}).get(name)
        if ref and ref[1] and depth < MAX_DEPTH:
            return self.table(ref[0], ref[1], depth + 1)
        return None

    def find_name(self, module: str, name: str, depth: int = 0) -> Answer:
        if depth > MAX_DEPTH:
            return Answer(None, "re-export chain too deep")
        summary = self.summary(module)
        if summary is None:
            if self.native(module):
                if self.release.native_mentions(module, name) is False:
                    return Answer(False, f"{module} is an extension module whose binary never spells it")
                return Answer(None, f"{module} is an extension module")
            present = self.release.has_module(module)
            return Answer(None if present is None or present else False,
                          "module unreadable" if present else f"no module {module}")
        if name in summary["names"] or name in MODULE_ATTRIBUTES:
            return Answer(True, "defined")
        if name in summary.get("lazy", {}):
            return Answer(True, "lazy export")
        if self.release.has_module(f"{module}.{name}"):
            return Answer(True, "submodule")
        hook = summary.get("getattr")
        if hook:
            for outcome, kind, ref in hook["entries"]:
                message = None
                if kind == "name" and ref != name:
                    continue
                if kind == "table":
                    table = self.table(module, ref, depth)
                    if table is None or name not in table:
                        continue
                    message = table[name] if isinstance(table[name], str) else None
                return Answer(outcome != "removed", f"module __getattr__ ({ref})", message=message,
                              deprecated=outcome == "deprecated")
        unknown = None
        stars = self.star_sources(module, summary, name)
        words = (name.encode(), *UNSPELLED_BINDINGS)
        below = module + "." if summary.get("submodule_exports") else None
        self.release.warm(stars[:FIRST_STARS])
        for tried, star in enumerate(stars):
            if tried == FIRST_STARS:  # the likeliest sources did not have it: the rest in one go
                if sum(s not in self.release.data["summaries"] for s in stars[tried:]) > WHOLE_ARCHIVE_AFTER:
                    self.release.read_whole()
                else:
                    self.release.warm(stars[tried:])
            if below and star.startswith(below) and self.release.subtree_mentions(star, words[0]) is False:
                continue  # a submodule's exports are spelled in its own files: none spells the name
            if self.release.mentions(star, words) is False:
                continue  # never spells the name and binds nothing it does not spell
            if star in summary.get("fallback_stars", ()) and self.release.has_module(star) is False:
                continue  # an except handler's import of a module the release does not ship
            exported = self.exports(star, name, depth + 1)
            if exported.status:
                return exported
            if exported.status is None:
                unknown = unknown or exported.reason
        if hook and not hook.get("closed"):
            unknown = unknown or "module __getattr__ may answer any name"
        if summary.get("dynamic"):
            unknown = unknown or "module namespace is built at run time"
        return Answer(None, unknown) if unknown else Answer(False, "not defined")

    def all_names(self, module: str, depth: int) -> set[str] | None:
        summary = self.summary(module)
        if summary is None or summary.get("all_dynamic") or depth > MAX_DEPTH:
            return None
        if "all" not in summary and not summary.get("all_from"):
            return None
        names = set(summary.get("all", []))
        for other in summary.get("all_from", []):
            extra = self.all_names(other, depth + 1)
            if extra is None:
                return None
            names |= extra
        return names

    def exports(self, module: str, name: str, depth: int) -> Answer:
        """Whether ``from module import *`` binds ``name``."""
        if self.release.has_module(module) is False:
            return Answer(None, f"star import from {module}, outside this distribution")
        listed = self.all_names(module, depth)
        if listed is not None:
            return Answer(name in listed, f"__all__ of {module}")
        if name.startswith("_"):
            return Answer(False, "private names are not star-exported")
        summary = self.summary(module) or {}
        if summary.get("all_dynamic") and name in summary.get("all_known", ()):
            return Answer(True, f"__all__ of {module}")
        imported = self.imported_from_outside(summary, name)
        if summary.get("all_dynamic") and imported:
            # ``from builtins import float`` next to ``for k in table: __all__.append(k)`` (numpy 1.24's
            # numerictypes): what run time adds is what it binds at run time, not a name it imports
            return Answer(False, f"{module} imports {name} from {imported} but its __all__ does not list it")
        return self.find_name(module, name, depth)

    def imported_from_outside(self, summary: dict[str, Any], name: str) -> str | None:
        """The module outside this distribution that ``name`` is imported from, when that is all that binds it."""
        ref = summary.get("reexports", {}).get(name)
        if ref is None or name in summary.get("classes", {}) or name in summary.get("functions", {}):
            return None
        target = str(ref[0])
        return target if self.release.has_module(target) is False else None

    # --- objects ---------------------------------------------------------------------------

    def resolve(self, module: str, name: str, depth: int = 0) -> _Obj | None:
        """The class, function or module ``module.name`` is, inside this release."""
        summary = self.summary(module)
        if summary is None or depth > MAX_DEPTH:
            return None
        if name in summary["classes"]:
            return _Obj("class", module, name)
        if name in summary["functions"]:
            return _Obj("function", module, name)
        if name in summary.get("aliases", {}):
            return _Obj("class", module, summary["aliases"][name])
        ref = summary["reexports"].get(name)
        if ref is not None:
            target, attr = ref[0], ref[1]
            if attr is None:
                return _Obj("module", str(target)) if self.release.has_module(str(target)) else None
            if self.release.has_module(f"{target}.{attr}"):
                defined = self.summary(str(target)) or {}
                if attr not in defined.get("classes", {}) and attr not in defined.get("functions", {}):
                    return _Obj("module", f"{target}.{attr}")  # from pkg import sub (a submodule)
            return self.resolve(str(target), attr, depth + 1)
        if name in summary.get("lazy", {}):
            return self.resolve(summary["lazy"][name], name, depth + 1)
        stars = self.star_sources(module, summary, name)
        for star in stars:
            found = self.resolve(star, name, depth + 1)
            if found is not None:
                return found
        if self.release.has_module(f"{module}.{name}"):
            return _Obj("module", f"{module}.{name}")
        return None

    def resolve_dotted(self, module: str, ref: str) -> _Obj | None:
        first, *rest = ref.split(".")
        obj = self.resolve(module, first)
        for part in rest:
            if obj is None or obj.kind != "module":
                return None
            obj = self.resolve(obj.module, part)
        return obj

    def mro(self, obj: _Obj, depth: int = 0) -> tuple[list[dict[str, Any]], str | None]:
        """The class and its in-release bases (depth first), and the first base it cannot follow."""
        summary = (self.summary(obj.module) or {}).get("classes", {}).get(obj.name)
        if summary is None or depth > MAX_DEPTH:
            return [], f"class {obj.module}.{obj.name} unreadable"
        self.where[id(summary)] = obj.module
        chain, unknown = [summary], "opaque base class" if summary.get("opaque_bases") else None
        for base in summary["bases"]:
            if base in HARMLESS_BASES:
                continue
            target = self.resolve_dotted(obj.module, base)
            if target is None or target.kind != "class":
                unknown = unknown or f"{OUTSIDE_BASE} {base} is outside this distribution"
                continue
            more, problem = self.mro(target, depth + 1)
            chain += [c for c in more if all(c is not seen for seen in chain)]
            unknown = unknown or problem
        return chain, unknown

    def has_attr(self, obj: _Obj, attr: str, instance: bool = False) -> Answer:
        """Whether ``obj`` has ``attr``; ``instance``: on an instance, where what its methods set
        on ``self`` counts and a base from another distribution does not keep the answer open
        (the error read an instance that lacked it: what changes between releases is this code)."""
        if obj.kind == "module":
            return self.find_name(obj.module, attr)
        if obj.kind == "function":
            return Answer(None, "attributes of functions are not indexed")
        chain, unknown = self.mro(obj)
        for cls in chain:
            if attr in cls["members"]:
                return Answer(True, "class member")
            if instance and attr in cls.get("instance", ()):
                return Answer(True, "set on instances by its methods")
        if instance and unknown and unknown.startswith(OUTSIDE_BASE):
            unknown = None
        if any(cls.get("dynamic") for cls in chain):
            unknown = unknown or "the class answers attributes at run time"
        if instance and any(cls.get("instance_dynamic") for cls in chain):
            unknown = unknown or "its methods set attributes whose names the source does not spell"
        return Answer(None, unknown) if unknown else Answer(False, f"not a member of {obj.name} or its bases")

    def method_accepts(self, obj: _Obj, method: str, kwarg: str) -> Answer:
        """Whether ``obj.method`` (the first class of its bases that defines it) takes ``kwarg``."""
        chain, unknown = self.mro(obj)
        for cls in chain:
            signature = cls["methods"].get(method)
            if signature is not None:
                return self.check(signature, kwarg, self.where.get(id(cls)))
        return Answer(None, unknown or f"{obj.name}.{method} is not defined in its class or bases")

    def check(self, sig: dict[str, Any], kwarg: str, module: str | None) -> Answer:
        """:func:`_check_signature`, seeing through decorators this release defines: one that
        spells the keyword handles it; one whose returned function names its own parameters
        decides by those; one that passes ``**kwargs`` on leaves the decision to ``sig``."""
        found = _check_signature(sig, kwarg, self.explicit)
        if found.status is not None or not sig.get("decorators") or module is None:
            return found
        for name in sig["decorators"]:
            target = self.resolve_dotted(module, name)
            if target is None or target.kind != "function":
                return found
            profile = ((self.summary(target.module) or {}).get("functions", {}).get(target.name) or {}).get("wrapper")
            if profile is None:
                return found
            if kwarg in profile["names"]:
                return Answer(True, f"handled by the decorator {name}")
            if not profile["forwards"]:
                inner = _check_signature({"params": profile["params"], "var_kw": profile["var_kw"]}, kwarg,
                                         self.explicit)
                return Answer(inner.status, f"{inner.reason} of the function the decorator {name} returns",
                              absorbed=inner.absorbed)
        plain = {k: v for k, v in sig.items() if k not in ("opaque", "decorators")}
        return _check_signature(plain, kwarg, self.explicit)

    def accepts(self, obj: _Obj, kwarg: str) -> Answer:
        if obj.kind == "module":
            return Answer(None, "a module is not callable")
        summary = self.summary(obj.module) or {}
        if obj.kind == "function":
            return self.check(summary["functions"][obj.name], kwarg, obj.module)
        chain, unknown = self.mro(obj)
        fields: list[str] = []
        for cls in chain:
            self.renames.update({k: v for k, v in cls.get("renames", {}).items() if k not in self.renames})
            init = cls["methods"].get("__init__")
            if init is not None and not fields:
                return self.check(init, kwarg, self.where.get(id(cls)))
            if cls.get("dataclass"):
                fields += cls.get("fields", [])
            elif cls.get("annotated"):  # a decorator may have made its annotations fields (huggingface_hub's @strict)
                if kwarg in cls["annotated"]:
                    return Answer(True, "an annotated field of a decorated class")
                unknown = unknown or "a class decorator may make its annotations parameters"
            elif init is not None:
                break
        if kwarg in fields:
            return Answer(True, "dataclass field")
        if fields and not unknown:
            return Answer(False, f"not a field of dataclass {obj.name} or its bases")
        return Answer(None, unknown or f"no __init__ found for {obj.name}")


def _check_signature(sig: dict[str, Any], kwarg: str, explicit: bool = False) -> Answer:
    for name, kind in sig["params"]:
        if name == kwarg and (kind != "positional-only" or explicit):
            return Answer(True, "parameter")
    if explicit:
        return Answer(None, "a decorator may change the signature") if sig.get("opaque") else \
            Answer(False, "not a named parameter")
    if sig.get("var_kw"):
        return Answer(True, "absorbed by **kwargs", absorbed=True)
    if kwarg in sig.get("decorator_names", []):
        return Answer(True, "accepted by a decorator", deprecated=True)
    if sig.get("opaque") and not sig.get("decorator_names"):
        return Answer(None, "a decorator may change the signature")
    return Answer(False, "not a parameter")  # a decorator that names keywords (deprecate_kwarg) acts on those


def defines(release: ReleaseSymbols, module: str, name: str) -> bool:
    """Whether ``module.name`` is a class or function of ``release`` itself (followed through its
    re-exports), not a name it imports from another distribution."""
    try:
        found = _Resolver(release).resolve(module, name)
    except _OverBudget:
        return False
    return found is not None and found.kind in ("class", "function")


def successor(release: ReleaseSymbols, query: Query) -> str | None:
    """The name ``release``'s own deprecation messages give as replacing the query's last part."""
    try:
        return _successor(release, query)
    except _OverBudget:
        return None


def _successor(release: ReleaseSymbols, query: Query) -> str | None:
    resolver = _Resolver(release)
    if query.name is not None:
        resolver.find_name(query.module, query.name)
        obj = resolver.resolve(query.module, query.name)
        if obj is not None and obj.kind == "class" and query.kwarg:
            resolver.accepts(obj, query.kwarg)
        elif obj is not None and obj.kind == "function":
            resolver.renames.update(
                (resolver.summary(obj.module) or {}).get("functions", {}).get(obj.name, {}).get("renames", {}))
    else:
        resolver.summary(query.module)
    return resolver.renames.get(query.kwarg or query.attr or query.name or query.module.rsplit(".", 1)[-1])


def answer_through_bases(release: ReleaseSymbols, query: Query,
                         open_other: Callable[[str], ReleaseSymbols | None]) -> Answer:
    """:func:`answer`, and for a keyword of a class whose bases come from another distribution
    (trl's ``SFTConfig(TrainingArguments)``) the bases' answer from ``open_other(distribution)``
    (the release the caller has of it: the target's, else the newest on the index): a keyword
    no class of the chain names is not accepted.  ``open_other`` gets the import name's
    distribution spelled as the import name (``transformers``)."""
    found = answer(release, query)
    if found.status is not None or not query.kwarg or query.attr or query.name is None:
        return found
    chain = class_chain(release, query.module, query.name)
    if chain is None or not chain.outside:
        return found
    verdicts: list[Answer] = []
    for origin in chain.outside[:MAX_OUTSIDE_BASES]:
        module, _, name = origin.rpartition(".")
        other = open_other(module.split(".")[0]) if module else None
        if other is None or other.name == release.name:
            return found
        verdict = answer(other, Query(module, name, kwarg=query.kwarg, explicit=query.explicit))
        if verdict.status is None and chain.fields:
            verdict = _generated_init_part(other, module, name, query.kwarg)
        verdicts.append(verdict)
        other.save()
    if any(v.status for v in verdicts):
        return Answer(True, f"accepted by a base class from another distribution ({verdicts[0].reason})")
    if verdicts and chain.complete and all(v.status is False for v in verdicts):
        return Answer(False, "not a parameter of the class or of its bases in other distributions")
    return found


def _generated_init_part(other: ReleaseSymbols, module: str, name: str, kwarg: str) -> Answer:
    """What a base from ``other`` adds to the ``__init__`` that ``@dataclass`` generates for a
    class below it: its dataclass fields, nothing else (the generated ``__init__`` replaces any
    base's own, so a plain mixin such as transformers' ``PushToHubMixin`` takes no keyword)."""
    chain = class_chain(other, module, name)
    if chain is None:
        return Answer(None, f"{module}.{name} is not a class of {other.name}")
    if kwarg in chain.fields:
        return Answer(True, f"a dataclass field of the base {name}")
    if chain.complete and not chain.outside:
        return Answer(False, f"not a dataclass field of the base {name}")
    return Answer(None, f"the base {name} has bases that were not read")


def answer(release: ReleaseSymbols, query: Query) -> Answer:
    """The status of ``query`` in ``release``, with the source's removal message and successor
    (None when deciding it would take more than :data:`MAX_PARSES` modules parsed)."""
    try:
        return _answer(release, query)
    except _OverBudget:
        return Answer(None, f"deciding it needs more than {MAX_PARSES} modules read", settled=False)


def _answer(release: ReleaseSymbols, query: Query) -> Answer:
    resolver = _Resolver(release, query.explicit)
    present = release.has_module(query.module)
    if present is None:
        return Answer(None, release.problem or "the release's files are unknown", settled=False)
    result: Answer
    if not present:
        parent, _, leaf = query.module.rpartition(".")
        if (resolver.summary(query.module.split(".")[0]) or {}).get("import_hook"):
            return Answer(None, f"{query.module.split('.')[0]} installs an import hook: it makes modules at run time")
        if parent and release.has_module(parent) and resolver.find_name(parent, leaf).status:
            present = True  # an attribute reached as a module path (os.path-style)
        else:
            return Answer(False, f"no module {query.module}")
    if query.name is None:
        return Answer(True, "module")
    result = resolver.find_name(query.module, query.name)
    if result.status and (query.attr or query.kwarg):
        obj = resolver.resolve(query.module, query.name)
        if obj is None:
            result = Answer(None, f"{query.name} is not a class or function of this distribution")
        elif query.attr:
            result = resolver.has_attr(obj, query.attr, query.instance)
            if result.status and query.kwarg:
                if obj.kind == "class":
                    result = resolver.method_accepts(obj, query.attr, query.kwarg)
                else:
                    inner = resolver.resolve(obj.module, query.attr) if obj.kind == "module" else None
                    result = resolver.accepts(inner, query.kwarg) if inner else Answer(None, "not a callable")
        else:
            result = resolver.accepts(obj, query.kwarg or "")
    missing = query.kwarg or query.attr or query.name or ""
    successor = resolver.renames.get(missing)
    if successor is None and result.message:
        successor = renames_in(result.message).get(missing)
    if successor is not None and successor != result.successor:
        result = Answer(result.status, result.reason, result.message, successor, result.absorbed, result.deprecated)
    return result


@dataclass(frozen=True)
class ClassChain:
    """A class of a release and its bases as the source defines them: ``classes`` (module, name)
    with the class first, the dataclass ``fields`` along the chain (``init=False`` ones left out),
    ``outside`` the bases defined in other distributions (absolute dotted names, to be read from
    those), and ``complete`` False when a base could be placed nowhere."""

    classes: tuple[tuple[str, str], ...]
    fields: tuple[str, ...]
    outside: tuple[str, ...]
    complete: bool


def _origin(resolver: _Resolver, module: str, ref: str) -> str | None:
    """The absolute dotted name ``ref`` (a name or attribute chain used in ``module``) stands for,
    through the module's imports (``Seq2SeqTrainingArguments`` -> ``transformers.Seq2SeqTrainingArguments``)."""
    first, _, rest = ref.partition(".")
    bound = (resolver.summary(module) or {}).get("reexports", {}).get(first)
    if bound is None:
        return None
    target = f"{bound[0]}.{bound[1]}" if bound[1] else str(bound[0])
    return f"{target}.{rest}" if rest else target


def class_chain(release: ReleaseSymbols, module: str, name: str) -> ClassChain | None:
    """The class ``module.name`` of ``release`` with its bases (None when it is not a class there)."""
    resolver = _Resolver(release)
    try:
        obj = resolver.resolve(module, name)
        if obj is None or obj.kind != "class":
            return None
        classes: list[tuple[str, str]] = []
        fields: list[str] = []
        outside: list[str] = []
        complete = True
        todo = [obj]
        while todo:
            current = todo.pop(0)
            if (current.module, current.name) in classes or len(classes) > MAX_DEPTH:
                continue
            summary = (resolver.summary(current.module) or {}).get("classes", {}).get(current.name)
            if summary is None:
                complete = False
                continue
            classes.append((current.module, current.name))
            fields += [f for f in (*summary.get("fields", []), *summary.get("annotated", [])) if f not in fields]
            complete = complete and not summary.get("opaque_bases") and not summary.get("annotated")
            for base in summary["bases"]:
                if base in HARMLESS_BASES:
                    continue
                target = resolver.resolve_dotted(current.module, base)
                if target is not None and target.kind == "class":
                    todo.append(target)
                    continue
                origin = _origin(resolver, current.module, base)
                if origin is not None and origin.split(".")[0] not in release.top_level():
                    outside.append(origin)
                else:
                    complete = False
        return ClassChain(tuple(classes), tuple(fields), tuple(outside), complete)
    except _OverBudget:
        return None

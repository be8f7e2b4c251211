"""Which of a release's modules its public API loads.

A reference that breaks in a module nothing imports on the way to the package's names only
breaks code that imports that module itself (an ``experimental`` or optional corner), so
ED150 reports it as a warning instead of an error.  The *public* modules are found by walking
the release's own imports from each top-level package:

- every ``import``/``from … import`` that runs when a module is imported (module level, also
  under ``if``/``try``/``with``, never under ``if TYPE_CHECKING``) into the release's own
  modules, and the parent packages of each module reached;
- a package's lazy exports: the modules its lazy tables name (``_import_structure``,
  ``_LazyModule``), and all its direct submodules when it exports them through
  ``define_import_structure``, a module ``__getattr__`` or ``globals()`` writes.  Only the
  top-level package's names count: a subpackage's lazy table is followed for the names a
  parent's table routes into it (``transformers.LlamaForCausalLM`` → ``models.llama`` →
  ``modeling_llama``), not for every corner it names (``from . import nlp`` in a model zoo
  loads ``nlp``, not its hundred lazily exported models).

The walk errs towards *public*: an import it cannot place counts, and a walk cut off by its
budget answers "unknown" (the finding then stays an error).  The result is cached with the
release.
"""

from __future__ import annotations

import ast
import time

from envdoctor.surface.catalog import ReleaseSymbols
from envdoctor.surface.sources import SourceError, is_package_file
from envdoctor.surface.symbols import dotted, resolve_relative

REACH_BUDGET_S = 10.0
CACHE_KEY = "public_modules"
STRICT_CACHE_KEY = "import_time_modules"
EDGES_KEY = "import_edges"  # module -> [what importing it imports, what it always imports]


def _type_checking(test: ast.expr) -> bool:
    return (dotted(test) or "").rsplit(".", 1)[-1] == "TYPE_CHECKING"


def _import_statements(body: list[ast.stmt], strict: bool = False) -> list[ast.Import | ast.ImportFrom]:
    """The import statements that run when the module runs (not in functions, classes or
    ``if TYPE_CHECKING`` blocks); ``strict``: only those that always run (none under ``if``,
    ``try``, ``with`` or a loop: a platform test or an ``except ImportError`` may skip them)."""
    found: list[ast.Import | ast.ImportFrom] = []
    for stmt in body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            found.append(stmt)
        elif strict:
            continue
        elif isinstance(stmt, ast.If):
            if not _type_checking(stmt.test):
                found += _import_statements(stmt.body)
            found += _import_statements(stmt.orelse)
        elif isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
            for block in (stmt.body, *(h.body for h in stmt.handlers), stmt.orelse,  # type: ignore[attr-defined]
                          stmt.finalbody):  # type: ignore[attr-defined]
                found += _import_statements(block)
        elif isinstance(stmt, (ast.With, ast.For, ast.While)):
            found += _import_statements(stmt.body)
    return found


def own_imports(module: str, tree: ast.Module, is_package: bool, modules: dict[str, str],
                strict: bool = False) -> set[str]:
    """The release's modules that importing ``module`` (parsed: ``tree``) imports directly
    (``strict``: those it always imports)."""
    found: set[str] = set()
    for stmt in _import_statements(tree.body, strict):
        if isinstance(stmt, ast.Import):
            found.update(alias.name for alias in stmt.names if alias.name in modules)
            continue
        base = resolve_relative(module, is_package, stmt.level, stmt.module)
        if base in modules:
            found.add(base)
        found.update(f"{base}.{alias.name}" for alias in stmt.names if f"{base}.{alias.name}" in modules)
    return found


def lazy_exports(release: ReleaseSymbols, package: str, modules: dict[str, str],
                 names: frozenset[str] | None = None) -> dict[str, frozenset[str] | None]:
    """The submodules a package loads on attribute access (its lazy tables or dynamic exports),
    each with the names that route into it (None: any).  ``names``: the names asked of the
    package (None: any, a top-level package; empty: none, a package only imported), so that a
    model zoo's subpackage loads only what the names routed into it need."""
    if names is not None and not names:
        return {}
    summary = release.summary(package) or {}
    found: dict[str, frozenset[str] | None] = {}
    for name, target in summary.get("lazy", {}).items():
        if target in modules and (names is None or name in names):
            found[target] = frozenset({name, *(found.get(target) or ())})
    if summary.get("submodule_exports") or summary.get("getattr") is not None or summary.get("dynamic"):
        depth = package.count(".") + 1
        found.update({m: names for m in modules if m.startswith(package + ".") and m.count(".") == depth})
    return found


def public_modules(release: ReleaseSymbols, budget_s: float = REACH_BUDGET_S, strict: bool = False) -> set[str] | None:
    """The modules ``import <top>`` and the top-level names load (``strict``: that ``import <top>``
    always loads, lazy exports and guarded imports left out; None when the files cannot be read or
    the walk ran out of ``budget_s``); cached with the release."""
    extra = release.data["extra"]
    key = STRICT_CACHE_KEY if strict else CACHE_KEY
    if isinstance(extra.get(key), list):
        return set(extra[key])
    found = loaded_by(release, sorted(m for m in release.modules() or {} if "." not in m), budget_s, strict)
    if found is not None:
        extra[key] = sorted(found)
        release.dirty = True
    return found


def loaded_by(release: ReleaseSymbols, roots: list[str], budget_s: float = REACH_BUDGET_S,
              strict: bool = False) -> set[str] | None:
    """The modules importing ``roots`` loads (with their parents and lazy exports; ``strict``: only
    those it always loads); None when the files cannot be read or the walk ran out of ``budget_s``."""
    modules = release.modules()
    if modules is None or release.source is None:
        return None
    deadline = time.monotonic() + budget_s
    try:
        release.source.prefetch()  # one download, not a request per file
    except SourceError:
        pass
    asked: dict[str, frozenset[str] | None] = {}  # module -> the names asked of it (None: any); done
    todo: list[tuple[str, frozenset[str] | None]] = [(m, None) for m in roots if m in modules]
    while todo:
        if time.monotonic() > deadline:
            return None
        module, names = todo.pop()
        before = asked.get(module, frozenset())
        if module in asked and (before is None or (names is not None and names <= before)):
            continue
        first = module not in asked
        asked[module] = None if names is None or before is None else names | before
        parts = module.split(".")
        path = modules[module]
        if first:
            todo += [(".".join(parts[:i]), frozenset()) for i in range(1, len(parts)) if ".".join(parts[:i]) in modules]
        if not path.endswith(".py"):
            continue
        package = is_package_file(path)
        if first:
            edges = imports_of(release, module, path, strict)
            if edges is None:
                return None
            todo += [(m, frozenset()) for m in edges if m not in asked]
        if package and not strict:
            todo += sorted(lazy_exports(release, module, modules, asked[module]).items(),
                           key=lambda item: item[0])
    return set(asked)


def imports_of(release: ReleaseSymbols, module: str, path: str, strict: bool = False) -> list[str] | None:
    """:func:`own_imports` of one of the release's modules (None: its file could not be read),
    both kinds kept with the release at the first parse: a walk cut off by its budget goes on
    from there at the next run instead of parsing every file again."""
    memo = release.data["extra"].setdefault(EDGES_KEY, {})
    if module not in memo:
        assert release.source is not None
        try:
            source = release.source.read(path)
        except SourceError:
            return None
        try:
            tree = ast.parse(source or b"")
        except (SyntaxError, ValueError, RecursionError):
            tree = ast.Module(body=[], type_ignores=[])
        modules, package = release.modules() or {}, is_package_file(path)
        memo[module] = [sorted(own_imports(module, tree, package, modules)),
                        sorted(own_imports(module, tree, package, modules, strict=True))]
        release.dirty = True
    return memo[module][1 if strict else 0]


def module_of(release: ReleaseSymbols, path: str) -> str | None:
    """The module name of one of the release's files."""
    for module, file in (release.modules() or {}).items():
        if file == path:
            return module
    return None


def loaded_publicly(release: ReleaseSymbols, paths: list[str], strict: bool = False) -> bool | None:
    """Whether any of ``paths`` (files of the release) is loaded by its public API (``strict``: by
    ``import <top>`` always, whatever the platform or what else is installed); None when that
    cannot be told."""
    public = public_modules(release, strict=strict)
    if public is None:
        return None
    return any(module_of(release, path) in public for path in paths)

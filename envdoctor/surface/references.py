"""What code uses of other distributions: imports, attribute chains and keyword arguments.

Two readers share one collector (:class:`Collector`):

- :func:`release_references` reads a whole release fast: only *module-level* statements run
  when a module is imported, and in Python those are exactly the statements that start in
  column 0 (anything under ``if``/``try``/``def`` is indented).  A regular-expression pass
  finds them (skipping triple-quoted strings), and only those snippets are parsed with
  :mod:`ast`, so a release's thousands of modules cost a fraction of parsing them whole.
  Every reference found this way is unconditional; guarded ones are never seen.
- :func:`tree_references` walks a whole parsed file (the user's scripts), function bodies
  included, and marks references under ``try/except ImportError``, version checks
  (``is_*_available()``, ``version.parse``, ``sys.version_info``, ``hasattr``) or
  ``TYPE_CHECKING`` as guarded.
- :func:`body_references` reads the files of a release that import one other distribution
  whole, for what their function bodies use of it: those run only when called, so each is
  marked with :data:`IN_BODY` (a note, not an error).

A reference is a :class:`~envdoctor.surface.lookup.Query` into another top-level package.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterable

from envdoctor.env import stdlib
from envdoctor.surface.catalog import ReleaseSymbols
from envdoctor.surface.sources import SourceError
from envdoctor.surface.query import IN_BODY, Query, Reference
from envdoctor.surface.symbols import dotted

# the standard library of every Python: a module some release removed (``imp``, ``imghdr``) is kept as
# a reference, so a target on that release can be checked whichever Python reads the source
STDLIB = (frozenset(sys.stdlib_module_names) - frozenset(stdlib.REMOVED)) | {"__future__"}
SKIP_PARTS = frozenset({"tests", "test", "testing", "examples", "benchmarks", "docs", "_vendor", "vendor"})
GUARD_HANDLERS = frozenset({"ImportError", "ModuleNotFoundError", "AttributeError", "Exception",
                            "BaseException", "TypeError", "OptionalDependencyNotAvailable", "NameError"})
GUARD_CALL = re.compile(r"(?:^|\.)(?:is_\w+_available|\w*version\w*|Version|parse|hasattr|find_spec|"
                        r"getattr|check_\w+|require\w*)$")
COMPOUND = ("if ", "if(", "elif", "else", "try", "except", "finally", "for ", "while ", "with ", "async ",
            "match ", "case ", "#", "@")
MAX_BODY_FILES = 24  # files of one release read whole per distribution they import
_TRIPLE = re.compile(r'"""|' + r"'''")
_STATEMENT_START = re.compile(r"(?m)^(?=[A-Za-z_@])")


class Collector(ast.NodeVisitor):
    """Collects references into packages other than ``own`` (a release's top-level names)."""

    def __init__(self, path: str, own: frozenset[str] = frozenset(), module: str = "",
                 full: bool = False) -> None:
        self.path, self.own, self.module, self.full = path, own, module, full
        self.bindings: dict[str, tuple[str, str | None]] = {}  # local name -> (module, name or None)
        self.found: list[Reference] = []
        self.guards: list[str] = []
        self.line_offset = 0

    def _external(self, module: str) -> bool:
        top = module.split(".")[0]
        return bool(top) and top not in self.own and top not in STDLIB

    def _add(self, query: Query, node: ast.AST) -> None:
        line = getattr(node, "lineno", 1) + self.line_offset
        self.found.append(Reference(query, self.path, line, self.guards[-1] if self.guards else None))

    # --- bindings --------------------------------------------------------------------------

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if not self._external(alias.name):
                continue
            self._add(Query(alias.name), node)
            if alias.asname:
                self.bindings[alias.asname] = (alias.name, None)
            else:
                top = alias.name.split(".")[0]
                self.bindings[top] = (top, None)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level or not node.module or not self._external(node.module):
            return
        for alias in node.names:
            if alias.name == "*":
                self._add(Query(node.module), node)
                continue
            self._add(Query(node.module, alias.name), node)
            self.bindings[alias.asname or alias.name] = (node.module, alias.name)

    # --- uses ------------------------------------------------------------------------------

    def _chain(self, node: ast.expr) -> tuple[Query, int] | None:
        """The query an attribute chain on a bound name makes, and how many parts it used."""
        text = dotted(node)
        if text is None:
            return None
        first, *rest = text.split(".")
        bound = self.bindings.get(first)
        if bound is None or not rest:
            return None
        module, name = bound
        if name is not None:  # from B.m import C; C.attr
            return Query(module, name, rest[0]), 1
        # import B.m as x; x.a.b -> the longest prefix of module parts we cannot tell from names
        return Query(module, rest[0], rest[1] if len(rest) > 1 else None), min(len(rest), 2)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if isinstance(node.ctx, ast.Load):
            chain = self._chain(node)
            if chain is not None:
                query, _ = chain
                if self.bindings.get((dotted(node) or "").split(".")[0], ("", None))[1] is None:
                    # import numpy as np; np.float -> numpy has float (deeper parts are attributes)
                    self._add(Query(query.module, query.name), node)
                else:
                    self._add(query, node)
                return
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        target: Query | None = None
        if isinstance(node.func, ast.Name) and node.func.id in self.bindings:
            module, name = self.bindings[node.func.id]
            if name is not None:
                target = Query(module, name)
        elif isinstance(node.func, ast.Attribute):
            chain = self._chain(node.func)
            if chain is not None and chain[0].attr is None and self.bindings.get(
                    (dotted(node.func) or "").split(".")[0], ("", None))[1] is None:
                target = chain[0]
        if target is not None:
            for keyword in node.keywords:
                if keyword.arg:
                    self._add(Query(target.module, target.name, kwarg=keyword.arg), keyword.value)
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            for name in ast.walk(target):
                if isinstance(name, ast.Name):
                    self.bindings.pop(name.id, None)  # rebinding shadows an import

    # --- guards (whole files only) ---------------------------------------------------------

    def _guarded(self, body: Iterable[ast.AST], why: str) -> None:
        self.guards.append(why)
        for stmt in body:
            self.visit(stmt)
        self.guards.pop()

    def visit_Try(self, node: ast.Try) -> None:
        caught = {dotted(t) or "" for h in node.handlers
                  for t in ((h.type.elts if isinstance(h.type, ast.Tuple) else [h.type]) if h.type else [None])
                  if t is not None} | ({"BaseException"} if any(h.type is None for h in node.handlers) else set())
        names = {c.rsplit(".", 1)[-1] for c in caught}
        if names & GUARD_HANDLERS:
            self._guarded(node.body, f"try/except {', '.join(sorted(names & GUARD_HANDLERS))}")
        else:
            for stmt in node.body:
                self.visit(stmt)
        for handler in node.handlers:
            self._guarded(handler.body, "except branch")
        for stmt in [*node.orelse, *node.finalbody]:
            self.visit(stmt)

    def visit_If(self, node: ast.If) -> None:
        why = _guard_test(node.test)
        self.visit(node.test)
        if why:
            self._guarded([*node.body, *node.orelse], why)
        else:
            for stmt in [*node.body, *node.orelse]:
                self.visit(stmt)

    def visit_IfExp(self, node: ast.IfExp) -> None:
        why = _guard_test(node.test)
        self.visit(node.test)
        if why:
            self._guarded([node.body, node.orelse], why)
        else:
            self.visit(node.body)
            self.visit(node.orelse)

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        for index, value in enumerate(node.values):
            why = next((w for w in (_guard_test(v) for v in node.values[:index]) if w), None)
            if why:
                self._guarded([value], why)
            else:
                self.visit(value)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for deco in node.decorator_list:
            self.visit(deco)
        for default in [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]:
            self.visit(default)
        if self.full:
            for stmt in node.body:
                self.visit(stmt)

    visit_AsyncFunctionDef = visit_FunctionDef


def _guard_test(test: ast.expr) -> str | None:
    """Why an ``if`` test makes its branches conditional on the installed versions, or None."""
    for node in ast.walk(test):
        name = dotted(node.func) if isinstance(node, ast.Call) else dotted(node) if isinstance(
            node, (ast.Name, ast.Attribute)) else None
        if not name:
            continue
        if name.endswith("TYPE_CHECKING"):
            return "TYPE_CHECKING"
        if name in ("sys.version_info", "sys.version") or name.endswith("__version__"):
            return "version check"
        if isinstance(node, ast.Call) and GUARD_CALL.search(name):
            return f"{name}() check"
    return None


def _string_spans(text: str) -> list[tuple[int, int]]:
    """Spans of triple-quoted strings: their delimiters paired in order (a C-speed scan)."""
    spans: list[tuple[int, int]] = []
    opened: tuple[int, str] | None = None
    for match in _TRIPLE.finditer(text):
        quote = match.group()
        if opened is None:
            opened = (match.start(), quote)
        elif quote == opened[1] and text[match.start() - 1] != "\\":
            spans.append((opened[0], match.end()))
            opened = None
    if opened is not None:
        spans.append((opened[0], len(text)))
    return spans


def _statements(text: str) -> list[tuple[int, int]]:
    """(start, end of region) of each statement that starts in column 0 outside a string,
    ``if``/``try``/loops excluded (their bodies are indented, so conditional); the region runs
    to the next such statement."""
    strings = _string_spans(text) if ('"""' in text or "\'\'\'" in text) else []
    starts = [m.start() for m in _STATEMENT_START.finditer(text)]
    found = []
    si = 0
    for index, start in enumerate(starts):
        while si < len(strings) and strings[si][1] <= start:
            si += 1
        if si < len(strings) and strings[si][0] < start < strings[si][1]:
            continue
        if text.startswith(COMPOUND[:-1], start):
            continue
        found.append((start, starts[index + 1] if index + 1 < len(starts) else len(text)))
    return found


def _snippet(text: str, start: int) -> str:
    """The statement at ``start``: a decorator as an expression, a class/def header with ``...``."""
    snippet = text[start:_statement_end(text, start)]
    if snippet.startswith("@"):
        return snippet[1:]
    if snippet.startswith(("class ", "def ", "async def ")):
        return snippet.rstrip().rstrip(":") + ":\n    ..."
    return snippet


def _batch(text: str, starts: list[int]) -> str:
    """The statements at ``starts`` in one parseable text, each on its original line."""
    parts, line, pos, current = [], 1, 0, 1
    for start in starts:
        line_of = line + text.count("\n", pos, start)
        snippet = _snippet(text, start)
        part = "\n" * max(0, line_of - current) + snippet + "\n"
        parts.append(part)
        current += part.count("\n")
        line, pos = line_of, start
    return "".join(parts)


def _parse(text: str, starts: list[int]) -> list[ast.stmt]:
    """Parse the statements at ``starts`` at once; one by one when the batch does not parse."""
    if not starts:
        return []
    try:
        return ast.parse(_batch(text, starts)).body
    except (SyntaxError, ValueError):
        body: list[ast.stmt] = []
        for start in starts:
            try:
                body += ast.parse(_batch(text, [start])).body
            except (SyntaxError, ValueError):
                continue
        return body


_BRACKETS = re.compile(r'"""|' + r"'''|" + r"[()\[\]{}]|\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'|#[^\n]*|\\\n|\n")


def _statement_end(text: str, start: int) -> int:
    """Where the logical line that begins at ``start`` ends (brackets, backslashes, strings)."""
    depth = 0
    pos = start
    for token in _BRACKETS.finditer(text, start):
        value = token.group()
        if value in ('"""', "'''"):
            close = text.find(value, token.end())
            if close < 0:
                return len(text)
            pos = close + 3
            continue
        if token.start() < pos:
            continue
        if value == "\n":
            if depth <= 0:
                return token.start()
        elif value in "([{":
            depth += 1
        elif value in ")]}":
            depth -= 1
        if token.end() - start > 20_000:
            return token.end()
    return len(text)


def snippet_references(text: str, path: str, own: frozenset[str], module: str) -> list[Reference]:
    """The unconditional references of one module's source, read from its column-0 statements.

    Imports are parsed first; of the other statements only those whose text mentions a name
    bound to another package are parsed (only they can reference one)."""
    collector = Collector(path, own, module)
    statements = _statements(text)
    imports = [start for start, _ in statements if text.startswith(("from ", "import "), start)]
    for stmt in _parse(text, imports):
        collector.visit(stmt)
    names = tuple(collector.bindings)
    if names:
        uses = [start for start, end in statements if not text.startswith(("from ", "import "), start)
                and any(name in text[start:end] for name in names)]
        for stmt in _parse(text, uses):
            collector.visit(stmt)
    return collector.found


def tree_references(tree: ast.Module, path: str, own: frozenset[str] = frozenset()) -> list[Reference]:
    """Every reference of a whole parsed file (function bodies included), guards marked."""
    collector = Collector(path, own, full=True)
    for stmt in tree.body:
        collector.visit(stmt)
    return collector.found


def skipped(path: str) -> bool:
    """Files a distribution ships that its users never import (tests, examples, vendored code)."""
    parts = path.split("/")
    return any(p in SKIP_PARTS for p in parts[:-1]) or parts[-1].startswith(("test_", "conftest"))


def module_references(release: ReleaseSymbols, path: str, module: str, own: frozenset[str]) -> list[Reference]:
    """The unconditional module-level references of one module of a release (none for tests)."""
    if not path.endswith(".py") or skipped(path) or release.source is None:
        return []
    data = release.source.read(path)
    if not data or b"import" not in data:
        return []
    return [r for r in snippet_references(data.decode("utf-8", errors="replace"), path, own, module)
            if r.guard is None]


def body_references(release: ReleaseSymbols, tops: frozenset[str], own: frozenset[str],
                    module_level: Iterable[Reference]) -> list[Reference]:
    """Unguarded references into ``tops`` that the release's files make only inside function
    bodies (marked :data:`IN_BODY`): its files that spell ``import T`` or ``from T`` for one of
    ``tops``, at most :data:`MAX_BODY_FILES`, parsed whole (none for a release too large to be
    read whole from the index)."""
    if release.source is None:
        return []
    try:
        release.source.prefetch()  # every file is searched: one download, or none when it is too large
    except (SourceError, OSError):
        return []
    spelled = [word for top in sorted(tops) for word in (f"import {top}".encode(), f"from {top}".encode())]
    seen = {(r.query, r.path, r.line) for r in module_level}
    found: list[Reference] = []
    read = 0
    for path in sorted((release.modules() or {}).values()):
        if read >= MAX_BODY_FILES or not path.endswith(".py") or skipped(path):
            continue
        try:
            data = release.source.read(path)
        except SourceError:
            continue
        if not data or not any(word in data for word in spelled):
            continue
        read += 1
        try:
            tree = ast.parse(data)
        except (SyntaxError, ValueError):
            continue
        for ref in tree_references(tree, path, own):
            if ref.guard is None and ref.query.module.split(".")[0] in tops and \
                    (ref.query, ref.path, ref.line) not in seen:
                found.append(Reference(ref.query, ref.path, ref.line, IN_BODY))
    return found

"""The knowledge base: validated TOML rule entries and fact tables from ``checks/``.

Every rule, whether its logic is declarative (``check = "declarative"``, a list
of cases with conditions), Python (``check = "python"``, implemented in the
``envdoctor.rules`` module its ``module`` key names, imported only when the rule runs) or log-only (``check = "log"``, a cause only an error log
shows, reported by `envdoctor explain`), has exactly one entry here holding its code, name,
severity, documentation, evidence and error signatures.  Loading validates
everything and names the file and entry of the first problem.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet

import envdoctor.checks as checks_package
from envdoctor.env.cache import cache_root
from envdoctor.env.probe import canonical_name
from envdoctor.errors import InputError
from envdoctor.findings import Applicability, Finding, Fix, Location, Severity, pip_install_fix

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

RULE_KEYS = {"code", "name", "severity", "summary", "what", "why", "example", "fix_safety",
             "evidence", "signatures", "check", "module", "needs", "case", "fix"}
CASE_KEYS = {"when", "message", "covers", "fix"}
FIX_KEYS = {"title", "applicability", "pins", "uninstall", "env"}
WHEN_KEYS = {"packages", "absent", "python", "system", "gpu", "gpu_capability", "torch_build",
             "torch_cuda", "runtime"}
# declarative: cases in the entry; python: envdoctor.rules; log: only `envdoctor explain` reports it.
CHECK_KINDS = ("declarative", "python", "log")
# What a rule reads beyond an installed environment; the engine skips it when the context lacks it:
# "project" the project's files, data and configs; "lockfile" a lock-file target (--env FILE).
NEEDS = ("project", "lockfile")
MODULE_RE = re.compile(r"[a-z_][a-z0-9_]*")
CODE_RE = re.compile(r"ED\d{3}")
NAME_RE = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


@dataclass(frozen=True)
class Condition:
    """When a declarative case applies; every given key must hold."""

    packages: dict[str, SpecifierSet] = field(default_factory=dict)
    absent: tuple[str, ...] = ()
    python: SpecifierSet | None = None
    system: tuple[str, ...] = ()
    gpu: bool | None = None
    gpu_capability: SpecifierSet | None = None
    torch_build: tuple[str, ...] = ()
    torch_cuda: SpecifierSet | None = None
    runtime: tuple[str, ...] = ()


@dataclass(frozen=True)
class Case:
    """One condition of a declarative rule with its message template and fixes."""

    when: Condition
    message: str
    covers: tuple[tuple[str, str], ...] = ()
    fixes: tuple[Fix, ...] = ()


@dataclass(frozen=True)
class RuleEntry:
    """A rule's knowledge-base entry: identity, docs, evidence and (if declarative) cases."""

    code: str
    name: str
    severity: Severity
    summary: str
    what: str
    why: str
    example: str
    fix_safety: str
    evidence: tuple[str, ...]
    patterns: tuple[str, ...]
    check: str
    cases: tuple[Case, ...]
    source: str
    module: str | None = None
    needs: tuple[str, ...] = ()

    @cached_property
    def signatures(self) -> tuple[re.Pattern[str], ...]:
        """The error-log signatures, compiled on first use (only `explain` reads them)."""
        return tuple(re.compile(p) for p in self.patterns)

    def docs(self) -> str:
        """The text `envdoctor rules CODE` prints."""
        parts = [f"{self.code} {self.name} ({self.severity.value})", "", self.summary, "",
                 "## What it checks", self.what.strip(), "", "## Why it matters", self.why.strip()]
        if self.example.strip():
            parts += ["", "## Example", self.example.strip()]
        parts += ["", "## Fix safety", self.fix_safety.strip(), "", "## Evidence"]
        parts += [f"- {url}" for url in self.evidence]
        return "\n".join(parts) + "\n"

    def finding(self, message: str, *, severity: Severity | None = None, packages: tuple[str, ...] = (),
                locations: tuple[Location, ...] = (), fixes: tuple[Fix, ...] = (),
                covers: tuple[tuple[str, str], ...] = (), confidence: str | None = None,
                quotes: tuple[str, ...] = (), evidence: tuple[str, ...] | None = None) -> Finding:
        """The one way to make a finding of this rule: its code, name, severity and evidence filled in."""
        return Finding(code=self.code, name=self.name, severity=severity or self.severity, message=message,
                       packages=packages, locations=locations,
                       evidence=self.evidence if evidence is None else evidence,
                       fixes=fixes, covers=covers, confidence=confidence, quotes=quotes)


@dataclass(frozen=True)
class KnowledgeBase:
    """All rule entries (by code) and fact tables (by name)."""

    rules: dict[str, RuleEntry]
    tables: dict[str, Any]

    def by_name_or_code(self, key: str) -> RuleEntry | None:
        """Look a rule up by its code (any case) or its kebab-case name."""
        if key.upper() in self.rules:
            return self.rules[key.upper()]
        return next((r for r in self.rules.values() if r.name == key), None)


class _Bad(Exception):
    """A validation problem inside one entry; turned into an InputError with the location."""


def _spec(value: Any, what: str) -> SpecifierSet:
    if not isinstance(value, str):
        raise _Bad(f"{what}: expected a version specifier string, got {value!r}")
    try:
        return SpecifierSet(value)
    except InvalidSpecifier:
        raise _Bad(f"{what}: invalid version specifier {value!r}")


def _keys(table: Any, allowed: set[str], what: str) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise _Bad(f"{what}: expected a table")
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise _Bad(f"{what}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")
    return table


def _strs(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Bad(f"{what}: expected a list of strings")
    return tuple(value)


def _condition(raw: Any) -> Condition:
    raw = _keys(raw, WHEN_KEYS, "when")
    pkgs = _keys(raw.get("packages", {}), set(raw.get("packages", {})), "when.packages")
    if not isinstance(raw.get("gpu", False), bool):
        raise _Bad("when.gpu: expected true or false")
    return Condition(
        packages={canonical_name(k): _spec(v, f"when.packages.{k}") for k, v in pkgs.items()},
        absent=tuple(canonical_name(n) for n in _strs(raw.get("absent", []), "when.absent")),
        python=_spec(raw["python"], "when.python") if "python" in raw else None,
        system=_strs(raw.get("system", []), "when.system"),
        gpu=raw.get("gpu"),
        gpu_capability=_spec(raw["gpu_capability"], "when.gpu_capability") if "gpu_capability" in raw else None,
        torch_build=_strs(raw.get("torch_build", []), "when.torch_build"),
        torch_cuda=_spec(raw["torch_cuda"], "when.torch_cuda") if "torch_cuda" in raw else None,
        runtime=_strs(raw.get("runtime", []), "when.runtime"),
    )


def parse_fix(raw: Any) -> Fix:
    """A fix table (title, applicability, pins, uninstall, env) → :class:`Fix`."""
    raw = _keys(raw, FIX_KEYS, "fix")
    try:
        applicability = Applicability(raw.get("applicability", ""))
    except ValueError:
        raise _Bad(f"fix.applicability: must be one of {[a.value for a in Applicability]}")
    pins = {canonical_name(k): str(_spec(v, f"fix.pins.{k}")) for k, v in raw.get("pins", {}).items()}
    uninstall = tuple(canonical_name(n) for n in _strs(raw.get("uninstall", []), "fix.uninstall"))
    if "title" not in raw:
        raise _Bad("fix: missing 'title'")
    fix = pip_install_fix(raw["title"], pins, applicability, uninstall)
    env = raw.get("env", {})
    if env:
        fix = Fix(title=fix.title, applicability=fix.applicability, pins=fix.pins,
                  uninstall=fix.uninstall, commands=fix.commands,
                  env={str(k): str(v) for k, v in env.items()})
    return fix


def _case(raw: Any) -> Case:
    raw = _keys(raw, CASE_KEYS, "case")
    if "message" not in raw:
        raise _Bad("case: missing 'message'")
    covers = tuple((canonical_name(a), canonical_name(b)) for a, b in raw.get("covers", []))
    return Case(when=_condition(raw.get("when", {})), message=raw["message"], covers=covers,
                fixes=tuple(parse_fix(f) for f in raw.get("fix", [])))


def _entry(raw: Any, source: str, validated: bool = False) -> RuleEntry:
    raw = _keys(raw, RULE_KEYS, "rule")
    for key in ("code", "name", "severity", "summary", "what", "why", "fix_safety", "check"):
        if not isinstance(raw.get(key), str):
            raise _Bad(f"missing or non-string {key!r}")
    if not CODE_RE.fullmatch(raw["code"]):
        raise _Bad(f"code {raw['code']!r} is not of the form ED123")
    if not NAME_RE.fullmatch(raw["name"]):
        raise _Bad(f"name {raw['name']!r} is not kebab-case")
    try:
        severity = Severity(raw["severity"])
    except ValueError:
        raise _Bad(f"severity {raw['severity']!r} is not error, warning or info")
    if raw["check"] not in CHECK_KINDS:
        raise _Bad(f"check must be one of {', '.join(CHECK_KINDS)}")
    module = raw.get("module")
    if (raw["check"] == "python") != (module is not None):
        raise _Bad("module names the envdoctor.rules module of a check = 'python' rule (and only of one)")
    if module is not None and not (isinstance(module, str) and MODULE_RE.fullmatch(module)):
        raise _Bad(f"module {module!r} is not a module name")
    needs = _strs(raw.get("needs", []), "needs")
    if set(needs) - set(NEEDS):
        raise _Bad(f"needs: unknown {sorted(set(needs) - set(NEEDS))[0]!r} (allowed: {', '.join(NEEDS)})")
    cases = tuple(_case(c) for c in raw.get("case", []))
    if raw["check"] == "declarative" and not cases:
        raise _Bad("a declarative rule needs at least one [[rule.case]]")
    evidence = _strs(raw.get("evidence", []), "evidence")
    if not evidence:
        raise _Bad("every rule cites its evidence (evidence = [urls])")
    patterns = _strs(raw.get("signatures", []), "signatures")
    for pattern in () if validated else patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise _Bad(f"signature {pattern!r} is not a valid regular expression ({exc})")
    return RuleEntry(code=raw["code"], name=raw["name"], severity=severity, summary=raw["summary"],
                     what=raw["what"], why=raw["why"], example=raw.get("example", ""),
                     fix_safety=raw["fix_safety"], evidence=evidence, patterns=patterns,
                     check=raw["check"], cases=cases, source=source, module=module, needs=needs)


def _parsed_path(texts: dict[str, str]) -> Path:
    """Where the parsed form of exactly these texts is kept (named by their hash)."""
    digest = hashlib.sha256(json.dumps(sorted(texts.items())).encode("utf-8")).hexdigest()[:32]
    return cache_root() / "knowledge" / f"{digest}.json"


def _read_parsed(path: Path) -> dict[str, Any] | None:
    try:
        docs = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return docs if isinstance(docs, dict) else None


def _write_parsed(path: Path, docs: dict[str, Any]) -> None:
    """Keep texts' parsed documents once they validated (best effort: a read-only cache is fine)."""
    try:
        data = json.dumps(docs)
    except (TypeError, ValueError):  # a TOML date has no JSON form: parse such texts each time
        return
    temp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp.write_text(data, encoding="utf-8")
        os.replace(temp, path)
    except OSError:
        with contextlib.suppress(OSError):  # the cache root may be a file: nothing was written
            temp.unlink()


def load_texts(texts: dict[str, str]) -> KnowledgeBase:
    """Parse and validate knowledge-base TOML texts keyed by file name.

    Texts that validated before are read back from their parsed JSON form in the cache (a TOML
    parse and the signatures' compilation cost ~40 ms a check); any change to a text is a miss.
    """
    cached = _parsed_path(texts)
    docs = _read_parsed(cached)
    if docs is not None and set(docs) == set(texts):
        return _validate(docs, validated=True)
    docs = {}
    for source, text in sorted(texts.items()):
        try:
            docs[source] = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{source}: invalid TOML ({exc})")
    kb = _validate(docs, validated=False)
    _write_parsed(cached, docs)
    return kb


def _validate(docs: dict[str, Any], validated: bool) -> KnowledgeBase:
    rules: dict[str, RuleEntry] = {}
    names: set[str] = set()
    tables: dict[str, Any] = {}
    for source, doc in sorted(docs.items()):
        unknown = sorted(set(doc) - {"rule", "table"})
        if unknown:
            raise InputError(f"{source}: unknown top-level key {unknown[0]!r} (allowed: rule, table)")
        for index, raw in enumerate(doc.get("rule", [])):
            ident = raw.get("code", f"#{index + 1}") if isinstance(raw, dict) else f"#{index + 1}"
            try:
                entry = _entry(raw, source, validated)
            except _Bad as exc:
                raise InputError(f"{source}: rule {ident}: {exc}")
            if entry.code in rules or entry.name in names:
                raise InputError(f"{source}: rule {ident}: duplicate code or name {entry.name!r}")
            rules[entry.code] = entry
            names.add(entry.name)
        for name, table in doc.get("table", {}).items():
            if name in tables:
                raise InputError(f"{source}: table {name!r} defined twice")
            tables[name] = table
    return KnowledgeBase(rules=rules, tables=tables)


def load(extra_dirs: tuple[Path, ...] = ()) -> KnowledgeBase:
    """Load the bundled ``checks/*.toml`` plus any extra directories of TOML files."""
    folder = Path(checks_package.__file__).parent  # files, not importlib.resources: ~10 ms less per check
    texts = {f"checks/{path.name}": path.read_text(encoding="utf-8") for path in sorted(folder.glob("*.toml"))}
    for directory in extra_dirs:
        for path in sorted(directory.glob("*.toml")):
            texts[str(path)] = path.read_text(encoding="utf-8")
    return load_texts(texts)

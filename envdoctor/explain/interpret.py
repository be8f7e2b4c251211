"""Turn matched log lines into findings: the rule, the cause, the fix, and how sure we are.

Each :class:`~envdoctor.explain.extractors.HitGroup` (one error, all its occurrences)
becomes one :class:`~envdoctor.findings.Finding` that quotes the log lines and
points at them.  When a target environment is available (a live snapshot, a
``--python`` interpreter or a ``--env`` lock) the cause is checked against it:
confirmed → confidence "high"; contradicted (the log is stale or from another
machine) → "low" and severity "info"; not checkable → "medium".  Rules that have
their own check (declarative cases or a Python implementation) are evaluated by
the same code `envdoctor check` runs.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePath

import ftfy
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from envdoctor.engine.core import implementation
from envdoctor.env import owners
from envdoctor.env.probe import canonical_name
from envdoctor.env.requirements import is_kept, parse_requirement, parse_version
from envdoctor.env.torch_build import built_for_torch, table_lookup
from envdoctor.explain.extractors import LLAMAFACTORY, HitGroup, LogFacts
from envdoctor.findings import (
    Applicability,
    Finding,
    Fix,
    Location,
    Severity,
    pip_install_fix,
)
from envdoctor.knowledge.base import KnowledgeBase, RuleEntry
from envdoctor.project import database, locate
from envdoctor.rules.base import Context

HIGH, MEDIUM, LOW = "high", "medium", "low"
QUOTE_CHARS = 300
GIB = 2**30
ESTIMATE_HINT = "estimate peak GPU memory and host RAM first: `envdoctor estimate --config envdoctor.yaml`"
_SITE_DIRS = ("site-packages", "dist-packages")
_TRACEBACK_FILE = re.compile(r'File "(?P<path>[^"]+)"')
_SO_PATH = re.compile(r"(?P<path>[^\s'\"`:]+\.(?:so|pyd))\b")
_SYMBOL = re.compile(r"undefined symbol:? (?P<symbol>\S+)")
_TORCH_SYMBOL = re.compile(r"_ZN(?:3c10|2at|5torch|K3c10|K2at)")
_SIZE = r"(\d+(?:\.\d+)?) ?([KMGT]i?B)"
_TRIED = re.compile(r"Tried to allocate " + _SIZE)
_CAPACITY = re.compile(_SIZE + r" total capacity|total capacity of " + _SIZE)
_UTF16_AS_BYTES = re.compile(r"(?:[^\s\ufffd] ){4,}")
_UTF8_DECODE = re.compile(r"'utf-8' codec can't decode byte 0x(?P<byte>[0-9a-f]{2}) in position (?P<position>\d+)")


@dataclass
class Evidence:
    """What a log is compared with: the target's context (None with --no-env) and local files."""

    kb: KnowledgeBase
    facts: LogFacts
    ctx: Context | None = None
    python: str | None = None
    local: bool = True
    db: Path | None = None
    _owners: dict[str, list[str]] | None = field(default=None, repr=False)

    def installed(self, name: str) -> str | None:
        """The target's version of distribution ``name`` (None without a target)."""
        return self.ctx.snapshot.version_of(name) if self.ctx else None

    def distribution_of(self, module: str) -> str:
        """The distribution providing import name ``module`` (the target's own map when it can answer)."""
        if self._owners is None:
            source = self.ctx.snapshot.source if self.ctx else ""
            asks_interpreter = source == "live" or source.startswith("python:")
            self._owners = owners.module_owners(self.python) if asks_interpreter else {}
        return owners.distribution_for_module(module, self._owners, self.kb.tables.get("module_distributions", {}))


@dataclass(frozen=True)
class Diagnosis:
    """The explanation of one hit group before it becomes a finding."""

    message: str
    confidence: str
    fixes: tuple[Fix, ...] = ()
    packages: tuple[str, ...] = ()
    severity: Severity | None = None
    rule: str | None = None  # report under another rule than the one whose signature matched


Explainer = Callable[[HitGroup, RuleEntry, Evidence], Diagnosis]
_EXPLAINERS: dict[str, Explainer] = {}


def explains(*codes: str) -> Callable[[Explainer], Explainer]:
    """Register the explanation of the log rules ``codes``."""

    def register(func: Explainer) -> Explainer:
        for code in codes:
            _EXPLAINERS[code] = func
        return func

    return register


def explain_groups(groups: Iterable[HitGroup], ev: Evidence) -> list[Finding]:
    """One finding per hit group, sorted like `envdoctor check` sorts them."""
    findings = []
    for group in groups:
        entry = ev.kb.rules[group.code]
        try:
            verdict = _EXPLAINERS.get(group.code, by_rule)(group, entry, ev)
            entry = ev.kb.rules[verdict.rule] if verdict.rule else entry
        except Exception as exc:  # a broken explanation must be visible, never a traceback
            verdict = Diagnosis(
                message=f"explaining this line crashed ({type(exc).__name__}: {exc}); "
                "please report it with the log line",
                confidence=LOW,
                severity=Severity.ERROR,
            )
            entry = replace(entry, code="ED000", name="internal-error")
        findings.append(to_finding(group, entry, verdict))
    return sorted(findings, key=Finding.sort_key)


def to_finding(group: HitGroup, entry: RuleEntry, verdict: Diagnosis) -> Finding:
    """The finding for ``group``: quotes and locations of its first occurrences, and the verdict."""
    message = verdict.message
    if group.count > len(group.occurrences):
        message += f" ({group.count} times in the log)"
    severity = verdict.severity or (Severity.INFO if verdict.confidence == LOW else entry.severity)
    return entry.finding(
        message,
        severity=severity,
        packages=verdict.packages,
        locations=tuple(Location(o.where, o.number) for o in group.occurrences),
        fixes=verdict.fixes,
        confidence=verdict.confidence,
        quotes=tuple(_quote(o.text) for o in group.occurrences),
    )


def _quote(text: str) -> str:
    text = text.strip()
    return text if len(text) <= QUOTE_CHARS else text[:QUOTE_CHARS] + "…"


def _stale(what: str) -> str:
    return (
        f"{what}: the log is stale (it predates a change) or comes from another environment; "
        "re-run to see the current error"
    )


def _say(*options: str) -> Fix:
    """A display-only fix: what to change, in words."""
    return Fix(title="; ".join(options), applicability=Applicability.DISPLAY_ONLY)


# ---------------------------------------------------------------------------------------------
# Rules with their own check: evaluate the rule on the target, like `envdoctor check` does.


def by_rule(group: HitGroup, entry: RuleEntry, ev: Evidence) -> Diagnosis:
    """Confirm a rule's cause with its own check on the target, or say it is ruled out."""
    case_fixes = tuple(dict.fromkeys(fix for case in entry.cases for fix in case.fixes))
    if ev.ctx is None:
        return Diagnosis(
            f"{entry.summary} (from the log text alone; `envdoctor rules {entry.code}` explains it)", MEDIUM, case_fixes
        )
    found = list(implementation(entry)(ev.ctx, entry))
    if found:
        return Diagnosis(found[0].message, HIGH, found[0].fixes, found[0].packages)
    names = list(dict.fromkeys(n for case in entry.cases for n in case.when.packages))
    names += [canonical_name(group.groups["package"])] if "package" in group.groups else []
    if not names:  # nothing to compare: the rule's own check did not see the cause in the target
        return Diagnosis(
            f"{entry.summary} (`envdoctor check` does not see it in this project and environment now)",
            MEDIUM,
            case_fixes,
        )
    state = ", ".join(f"{n} {ev.installed(n) or 'not installed'}" for n in names)
    return Diagnosis(_stale(f"{entry.summary} Ruled out for the target ({state})"), LOW)


# ---------------------------------------------------------------------------------------------
# Imports and versions.


def _importer(context: Sequence[str], ev: Evidence) -> str | None:
    """The distribution whose code raised the import error: the last site-packages frame before it."""
    for line in reversed(context):
        if (m := _TRACEBACK_FILE.search(line)) and (module := _module_in_site(m.group("path"))):
            return ev.distribution_of(module)
    return None


def _module_in_site(path: str) -> str | None:
    parts = PurePath(path.replace("\\", "/")).parts
    for index, part in enumerate(parts[:-1]):
        if part in _SITE_DIRS:
            return parts[index + 1].split(".")[0]
    return None


def _module_present(location: str | None, module: str) -> bool | None:
    """Whether ``module`` (a dotted name) exists below ``location``; None when it cannot be told."""
    if not location or not Path(location).is_dir():
        return None
    base = Path(location, *module.split("."))
    return base.is_dir() or base.with_suffix(".py").is_file() or any(base.parent.glob(base.name + ".*.so"))


@explains("ED601")
def missing_module(group: HitGroup, entry: RuleEntry, ev: Evidence) -> Diagnosis:
    """No module named X / cannot import name N from M: who owns M, which version, who imported it."""
    module, name = group.groups["module"], group.groups.get("name")
    dist = ev.distribution_of(module)
    importer = _importer(group.context, ev)
    importer_version = ev.installed(importer) if importer else None
    by = f" (imported by {importer}{' ' + importer_version if importer_version else ''})" if importer else ""
    install = pip_install_fix(
        f"install {dist} (the distribution that provides `{module.split('.')[0]}`)", {dist: ""}, Applicability.UNSAFE
    )
    if ev.ctx is None:
        if name:
            return Diagnosis(
                f"`{module}` has no `{name}`: the importing code expects another release of {dist}{by}",
                MEDIUM,
                (
                    _say(
                        f"install the {dist} release the importer supports",
                        "`envdoctor check` shows which pins conflict",
                    ),
                ),
                (dist,),
            )
        return Diagnosis(
            f"`{module}` is not importable: {dist} is missing or is a release without it{by}",
            MEDIUM,
            (install,),
            (dist,),
        )
    version = ev.installed(dist)
    if version is None:
        return Diagnosis(
            f"`{module}` comes from {dist}, which is not installed in the target{by}", HIGH, (install,), (dist,)
        )
    if name:
        return Diagnosis(
            f"`{module}` comes from {dist} {version}, which has no `{name}`: the importing code "
            f"was written for another {dist} release{by}",
            MEDIUM,
            (
                _say(
                    f"install the {dist} release the importer supports (or upgrade the importer)",
                    "`envdoctor check` shows which pins conflict",
                ),
            ),
            (dist,),
        )
    present = _module_present(ev.ctx.snapshot.distributions[dist].location, module) if "." in module else True
    if present:
        return Diagnosis(_stale(f"`{module}` is importable from {dist} {version} now"), LOW, (), (dist,))
    if present is None:
        return Diagnosis(f"`{module}` is missing although {dist} {version} is installed{by}", MEDIUM, (), (dist,))
    return Diagnosis(
        f"{dist} {version} has no module `{module}` (removed or renamed in this release): "
        f"the importing code{by or ''} expects another {dist} release",
        HIGH,
        (_say(f"install the {dist} release the importer supports, or upgrade the importer"),),
        (dist,),
    )


def _extension_module(text: str, kb: KnowledgeBase) -> tuple[str | None, str | None]:
    """(import name of the compiled module, its .so path) named in an `undefined symbol` line."""
    if m := _SO_PATH.search(text):
        path = m.group("path")
        module = _module_in_site(path)
        if module is None:
            parent = PurePath(path.replace("\\", "/")).parent.name
            module = parent or PurePath(path).name.split(".")[0]
        return module, path
    for name in (*kb.tables["torch_extensions"]["packages"], "flash_attn"):
        if re.search(rf"\b{re.escape(name.replace('-', '_'))}\b", text):
            return name.replace("-", "_"), None
    return None, None


@explains("ED120")
def undefined_symbol(group: HitGroup, entry: RuleEntry, ev: Evidence) -> Diagnosis:
    """`undefined symbol` in a compiled module: which distribution owns it and the torch it was built for."""
    text = group.occurrences[0].text
    module, path = _extension_module(text, ev.kb)
    dist = ev.distribution_of(module) if module else None
    symbol = m.group("symbol") if (m := _SYMBOL.search(text)) else ""
    against = "torch (the symbol is from c10/ATen)" if _TORCH_SYMBOL.match(symbol) else "torch"
    what = f"{dist}'s compiled module{f' ({path})' if path else ''}" if dist else "a compiled extension"
    uninstall = (
        (
            pip_install_fix(
                f"uninstall {dist} if this run does not use it (training does not need vllm)",
                {},
                Applicability.UNSAFE,
                uninstall=(dist,),
            ),
        )
        if dist
        else ()
    )
    if ev.ctx is None:
        return Diagnosis(
            f"{what} was built against another {against} than the one installed: install the "
            f"{dist or 'extension'} build for your torch, or uninstall it",
            MEDIUM,
            (_say("install the build made for the installed torch (same torch major.minor)"), *uninstall),
            (dist,) if dist else (),
        )
    if dist is None:
        return Diagnosis(f"{what} was built against another {against}; the log does not name which one", MEDIUM)
    found = [f for f in implementation(entry)(ev.ctx, entry) if dist in f.packages]
    if found:
        return Diagnosis(found[0].message, HIGH, found[0].fixes, found[0].packages)
    snap = ev.ctx.snapshot
    version, torch = ev.installed(dist), ev.installed("torch")
    if version is None:
        return Diagnosis(
            _stale(f"{dist} is not installed in the target (uninstalling it is the usual fix)"), LOW, (), (dist,)
        )
    spec, origin = built_for_torch(snap.distributions[dist], snap, ev.kb.tables["torch_extensions"].get(dist, []))
    torch_version = parse_version(torch.split("+")[0]) if torch else None
    if spec and torch_version and SpecifierSet(spec).contains(torch_version, prereleases=True):
        return Diagnosis(
            _stale(f"{dist} {version} is built for torch{spec} ({origin}) and torch {torch} is installed"),
            LOW,
            (),
            (dist, "torch"),
        )
    return Diagnosis(
        f"{dist} {version}'s compiled module was built against another {against} than torch "
        f"{torch or '(not installed)'}: importing it fails with `undefined symbol`",
        MEDIUM,
        (
            _say(
                f"reinstall {dist} built for torch {torch} (`pip install --force-reinstall "
                f"--no-cache-dir {dist}` builds or fetches one); keep torch"
            ),
            *uninstall,
        ),
        (dist, "torch"),
    )


def _llamafactory_involved(group: HitGroup, ev: Evidence) -> bool:
    return (
        ev.facts.llamafactory
        or any(LLAMAFACTORY.search(line) for line in group.context)
        or ev.installed("llamafactory") is not None
    )


def _requirement_text(text: str | None) -> str:
    """A requirement as the log wrote it, without surrounding quotes or a trailing ellipsis."""
    return (text or "").strip("`'\" ").rstrip(".…")


def _requirement(text: str | None) -> Requirement | None:
    return parse_requirement(_requirement_text(text)) if text else None


@explains("ED110")
def runtime_version_check(group: HitGroup, entry: RuleEntry, ev: Evidence) -> Diagnosis:
    """`X is required for a normal functioning of this module, but found P==V`: requirement vs installed."""
    package = canonical_name(group.groups["package"])
    said_req = _requirement_text(group.groups.get("requirement"))
    req = _requirement(said_req)
    logged = group.groups.get("installed")
    lf = _llamafactory_involved(group, ev)
    who = "LLaMA-Factory checks" if lf else "a runtime version check (transformers' require_version) needs"
    bypass = (
        (
            Fix(
                title="or skip LLaMA-Factory's check (untested combination)",
                applicability=Applicability.UNSAFE,
                env={"DISABLE_VERSION_CHECK": "1"},
            ),
        )
        if lf
        else ()
    )
    pin = (
        (pip_install_fix(f"pin {package} into the checked range", {package: str(req.specifier)}, Applicability.UNSAFE),)
        if req is not None and req.specifier
        else ()
    )
    if "requirement" not in group.groups:
        chain = (
            f"{who} transformers, datasets, accelerate, peft and trl at import; this one is {package}. "
            "Fixing them one at a time pulls the next out of range"
        )
        rebuild = _say(
            "install the set its release pins in a fresh environment (its requirements file), "
            "then run `envdoctor check`"
        )
        if ev.ctx is None or not lf:
            return Diagnosis(chain, MEDIUM, (rebuild, *bypass), (package,))
        return _llamafactory_state(group, entry, ev, package, chain, (rebuild, *bypass))
    rule = None if lf else "ED001"  # transformers' own dependency check: a declared requirement
    if ev.ctx is None or req is None:
        found = f"{package} {logged} was installed" if logged else f"another {package} was installed"
        return Diagnosis(f"{who} {said_req} at import, but {found}", MEDIUM, (*pin, *bypass), (package,), rule=rule)
    if lf:
        return _llamafactory_state(group, entry, ev, package, f"{who} {said_req} at import", (*pin, *bypass))
    return replace(_requirement_state(ev, req, f"{who} {said_req}", pin), rule=rule)


def _llamafactory_state(
    group: HitGroup, entry: RuleEntry, ev: Evidence, package: str, said: str, fixes: tuple[Fix, ...]
) -> Diagnosis:
    """ED110's own check on the target for ``package``: confirmed, or ruled out."""
    assert ev.ctx is not None
    lf = ev.installed("llamafactory")
    if lf is None:
        return Diagnosis(_stale(f"{said}, but llamafactory is not installed in the target"), LOW, (), (package,))
    found = [f for f in implementation(entry)(ev.ctx, entry) if package in f.packages]
    if found:
        return Diagnosis(found[0].message, HIGH, found[0].fixes, found[0].packages)
    return Diagnosis(
        _stale(
            f"{said}; llamafactory {lf}'s import-time check passes for {package} "
            f"{ev.installed(package) or '(not installed)'} now"
        ),
        LOW,
        (),
        ("llamafactory", package),
    )


def _requirement_state(ev: Evidence, req: Requirement, said: str, fixes: tuple[Fix, ...]) -> Diagnosis:
    """Compare a requirement quoted by the log with the target's installed version."""
    package = canonical_name(req.name)
    now = ev.installed(package)
    if now is None:
        return Diagnosis(
            f"{said}, and {package} is not installed in the target",
            HIGH,
            (pip_install_fix(f"install {req}", {package: str(req.specifier)}, Applicability.SAFE),),
            (package,),
        )
    version = parse_version(now)
    if version is not None and req.specifier.contains(version, prereleases=True):
        return Diagnosis(_stale(f"{said}; {package} {now} is installed now and satisfies it"), LOW, (), (package,))
    if ev.ctx is not None and is_kept(package, ev.ctx.keep):
        fixes = (
            _say(
                f"keep {package} {now} (the platform owns it) and move the package that requires "
                f"{req.specifier} instead"
            ),
        )
    return Diagnosis(f"{said}, but {package} {now} is installed", HIGH, fixes, (package,))


@explains("ED001")
def pip_requirement_line(group: HitGroup, entry: RuleEntry, ev: Evidence) -> Diagnosis:
    """pip's resolver lines (`X requires R, but you have P V which is incompatible`): requirement vs installed."""
    requirer = canonical_name(group.groups["requirer"])
    req = _requirement(group.groups["requirement"])
    if req is None:
        return Diagnosis(f"{requirer}'s requirement `{group.groups['requirement']}` is not met", MEDIUM)
    package = canonical_name(req.name)
    pin = pip_install_fix(
        f"move {package} into {requirer}'s range {req.specifier}" if req.specifier else f"install {package}",
        {package: str(req.specifier)},
        Applicability.UNSAFE,
    )
    said = f"{requirer} requires {req}"
    if ev.ctx is None:
        return Diagnosis(
            f"{said}, which pip could not satisfy (from the log text alone)", MEDIUM, (pin,), (requirer, package)
        )
    if ev.installed(requirer) is None:
        return Diagnosis(_stale(f"{said}, but {requirer} is not installed in the target"), LOW, (), (requirer,))
    found = [f for f in implementation(entry)(ev.ctx, entry) if (requirer, package) in f.covers]
    if found:
        return Diagnosis(found[0].message, HIGH, found[0].fixes, found[0].packages)
    verdict = _requirement_state(ev, req, said, (pin,))
    return Diagnosis(verdict.message, verdict.confidence, verdict.fixes, (requirer, package))


@explains("ED609")
def no_distribution(group: HitGroup, entry: RuleEntry, ev: Evidence) -> Diagnosis:
    """`Could not find a version that satisfies the requirement X`: no release for this Python/platform."""
    text = group.groups["requirement"]
    req = _requirement(text)
    package = canonical_name(req.name) if req else text
    versions = group.groups.get("versions")
    where = (
        f"Python {ev.ctx.snapshot.python_version} on {ev.ctx.snapshot.system} {ev.ctx.snapshot.machine}"
        if ev.ctx
        else "the Python and platform that ran pip"
    )
    listed = (
        " (none at all: this project has no wheels for it)"
        if versions == "none"
        else f" (it offers {versions})"
        if versions
        else ""
    )
    message = f"pip has no release matching `{text}` for {where}{listed}"
    fixes: list[Fix] = [
        _say(
            f"pick a {package} release that has a wheel for this Python and platform",
            "or remove the pin and let pip choose",
        )
    ]
    torch = ev.installed("torch")
    if package == "triton":
        pin = (
            table_lookup(ev.kb.tables["torch_triton"]["rows"], "torch", torch.split("+")[0], "triton")
            if torch
            else None
        )
        message += "; for triton never pin an older release: torch pins its own triton (ED102)" + (
            f", triton{pin} for torch {torch}" if pin else ""
        )
        if pin:
            fixes = [pip_install_fix(f"install the triton torch {torch} pins", {"triton": pin}, Applicability.SAFE)]
    return Diagnosis(message, MEDIUM, tuple(fixes), (package,))


# ---------------------------------------------------------------------------------------------
# Files, data and memory.


@explains("ED221")
def sqlite_schema(group: HitGroup, entry: RuleEntry, ev: Evidence) -> Diagnosis:
    """`no such column/table`: the closest names in the database, opened read-only."""
    column, table = group.groups.get("column"), group.groups.get("table")
    kind = "column" if column else "table"
    missing = column or table or "?"
    bare = missing.split(".")[-1]
    ask = _say(
        "list the real names (`sqlite3 DB '.schema'`, or `PRAGMA table_info(TABLE)`) and fix the query",
        "name the database in envdoctor.yaml (data.db) or pass --db so explain can suggest names",
    )
    if ev.db is None or not ev.local:
        return Diagnosis(f"the query names {kind} `{missing}`, which the database does not have", MEDIUM, (ask,))
    try:
        with database.connect_read_only(ev.db) as conn:
            tables, _ = database.read_schema(conn)
    except (sqlite3.Error, OSError) as exc:
        return Diagnosis(
            f"the query names {kind} `{missing}`, which the database does not have ({ev.db} could not be read: {exc})",
            MEDIUM,
            (ask,),
        )
    owner = (
        {name: name for name in tables}
        if kind == "table"
        else {col: name for name, cols in tables.items() for col in cols}
    )
    if bare.lower() in {name.lower() for name in owner}:
        return Diagnosis(_stale(f"{ev.db} has {kind} `{bare}` now"), LOW)
    close = database.closest_names(bare, list(owner))
    if not close:
        return Diagnosis(f"{ev.db} has no {kind} `{bare}` and nothing close to it", HIGH, (ask,))
    shown = [f"{owner[c]}.{c}" if kind == "column" else c for c in close]
    return Diagnosis(
        f"{ev.db} has no {kind} `{bare}`; the closest: {', '.join(shown)}",
        HIGH,
        (_say(f"use `{missing[: -len(bare)]}{close[0]}` instead of `{missing}` in the query"),),
    )


@explains("ED210", "ED603")
def missing_file(group: HitGroup, entry: RuleEntry, ev: Evidence) -> Diagnosis:
    """A path that did not exist: does it now, and where is a file with its name (envdoctor.project.locate)?"""
    if "path" not in group.groups:
        return Diagnosis(
            "a file the command opens does not exist (SQLite says so when its folder is missing)",
            MEDIUM,
            (_say("check the path in the command or in envdoctor.yaml (data.db)"),),
        )
    path = Path(group.groups["path"])
    drive = (
        " (is Google Drive mounted? `from google.colab import drive; drive.mount('/content/drive')`)"
        if str(path).startswith("/content/drive")
        else ""
    )
    if not ev.local:
        return Diagnosis(
            f"`{path}` did not exist when the command ran{drive}",
            MEDIUM,
            (_say("check the path: the folder layout, 'MyDrive' vs 'My Drive', the working folder"),),
        )
    if path.exists():
        return Diagnosis(_stale(f"`{path}` exists now"), LOW)
    anchor = locate.nearest_existing(path.parent)
    if anchor is None or anchor == Path(path.anchor):
        return Diagnosis(
            f"`{path}` does not exist, nor do its folders on this machine: the log comes from another machine{drive}",
            MEDIUM,
            (_say("check the path on the machine that ran the command"),),
        )
    try:
        found, bound = locate.find_nearby(path)
    except OSError as exc:  # a folder the search may not read (e.g. under /proc)
        found, bound = (), f"stopped at {exc.filename or 'an unreadable folder'} ({exc.strerror})"
    if found:
        listed = ", ".join(f"`{p}`" for p in found)
        return Diagnosis(
            f"`{path}` does not exist; a file with that name is at {listed}",
            HIGH,
            (_say(f"use `{found[0]}` (or copy it to `{path}`)"),),
        )
    searched = f"; the search {bound}" if bound else ""
    return Diagnosis(
        f"`{path}` does not exist and no `{path.name}` is near `{anchor}`{searched}{drive}",
        MEDIUM,
        (_say(f"put `{path.name}` at that path or fix the path"),),
    )


def _gib(number: str, unit: str) -> float:
    scale = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}[unit[0]]
    return float(number) * scale / GIB


@explains("ED604")
def cuda_out_of_memory(group: HitGroup, entry: RuleEntry, ev: Evidence) -> Diagnosis:
    """CUDA OOM: the sizes from the message, the GPU in the snapshot, and the levers."""
    text = " ".join(o.text for o in group.occurrences)
    parts = ["the GPU ran out of memory"]
    if m := _TRIED.search(text):
        parts.append(f"while allocating {m.group(1)} {m.group(2)}")
    if m := _CAPACITY.search(text):
        number, unit = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        parts.append(f"of {number} {unit} total")
    if ev.ctx is not None and ev.ctx.snapshot.hardware.gpus:
        gpu = ev.ctx.snapshot.hardware.gpus[0]
        parts.append(f"(this machine: {gpu.name}, {gpu.memory_total_mib / 1024:.1f} GiB)")
    fixes = (
        _say(ESTIMATE_HINT),
        _say(
            "halve train.batch_size and double gradient_accumulation (same effective batch)",
            "lower max_length (512 → 256)",
        ),
        _say("enable gradient checkpointing (train.gradient_checkpointing: true)"),
        _say("use a paged 8-bit optimizer (train.optimizer: paged_adamw_8bit)"),
        Fix(
            title="if the message says reserved-but-unallocated memory is large, reduce fragmentation",
            applicability=Applicability.DISPLAY_ONLY,
            env={"PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True"},
        ),
    )
    return Diagnosis(" ".join(parts), MEDIUM, fixes)


@explains("ED605")
def host_ram(group: HitGroup, entry: RuleEntry, ev: Evidence) -> Diagnosis:
    """SIGKILL while loading: ranks × model bytes against the host RAM."""
    exit_code = group.groups.get("exit")
    killed = f"the process was killed by SIGKILL{f' (exit code {exit_code})' if exit_code else ''}"
    facts = ev.facts
    ram_mib = ev.ctx.snapshot.hardware.ram_total_mib if ev.ctx else None
    # The RAM the log states is the crashed machine's; else the target's (the snapshot's).
    ram_gb, ram_from = (
        (facts.ram_gb, "the log")
        if facts.ram_gb
        else (ram_mib * 2**20 / 1e9, "this machine")
        if ram_mib
        else (None, "")
    )
    fixes = (
        _say(ESTIMATE_HINT),
        _say(
            "load the model once: one process with 4-bit QLoRA (bitsandbytes NF4) instead of several ranks "
            "each loading 16-bit weights"
        ),
        _say("fewer ranks (--nproc_per_node / --num_gpus), low_cpu_mem_usage=True, or more RAM / swap"),
    )
    if facts.params_billion is None or ram_gb is None:
        known = f"{ram_gb:.0f} GB RAM ({ram_from})" if ram_gb else "the model size and RAM are not in the log"
        return Diagnosis(
            f"{killed}: the kernel's OOM killer ends a process that exhausts host RAM, usually while "
            f"loading the model ({known})",
            MEDIUM,
            fixes,
        )
    ranks = facts.ranks or 1
    model_gb = facts.params_billion * 2
    need = ranks * model_gb
    arithmetic = (
        f"{ranks} process{'es' if ranks > 1 else ''} × {model_gb:.1f} GB "
        f"({facts.params_billion:g}B parameters × 2 bytes in 16-bit) = {need:.1f} GB"
    )
    if need > ram_gb * 0.9:
        return Diagnosis(
            f"{killed}: host RAM ran out while loading: {arithmetic} > {ram_gb:.0f} GB RAM ({ram_from})", HIGH, fixes
        )
    return Diagnosis(
        f"{killed}: {arithmetic} fits in {ram_gb:.0f} GB RAM ({ram_from}), so the load alone does not "
        "explain it; watch RAM (`free -h`) while it runs",
        MEDIUM,
        fixes,
    )


@explains("ED201", "ED203", "ED204", "ED606")
def text_encoding(group: HitGroup, entry: RuleEntry, ev: Evidence) -> Diagnosis:
    """Which encoding mix-up the line shows: locale codec, UTF-16 file, legacy file, or mojibake."""
    text = group.occurrences[0].text
    resave = _say(
        "re-save the file as UTF-8 (`envdoctor check` finds such files in the project; in PowerShell "
        "write files with `-Encoding utf8`)"
    )
    if codec := group.groups.get("codec"):
        utf8_default = Fix(
            title="make UTF-8 Python's default text encoding (PEP 540), or pass encoding='utf-8' to open()",
            applicability=Applicability.SAFE,
            env={"PYTHONUTF8": "1"},
        )
        if ev.ctx is not None and ev.ctx.snapshot.environ.get("PYTHONUTF8") == "1":
            return Diagnosis(
                _stale(
                    f"Python read a UTF-8 file with the locale codec {codec}; PYTHONUTF8=1 is set in the target now"
                ),
                LOW,
            )
        windows = ev.ctx is not None and ev.ctx.snapshot.system == "Windows"
        return Diagnosis(
            f"Python read a UTF-8 file with the locale's '{codec}' codec (the default of open() on a "
            "Chinese-locale Windows)",
            HIGH if windows else MEDIUM,
            (utf8_default,),
        )
    if entry.code == "ED204":
        reading = ftfy.fix_encoding(text)
        return Diagnosis(
            "this text is mojibake: UTF-8 that was decoded as cp1252/latin-1 and saved again "
            f"(line {group.occurrences[0].number} reads “{reading[:60]}”); read the original as UTF-8",
            MEDIUM,
            (_say("re-export the document as UTF-8 from its source"),),
            severity=Severity.WARNING,
        )
    if m := _UTF8_DECODE.search(text):
        if m.group("byte") in ("ff", "fe") and m.group("position") == "0":
            return Diagnosis(
                f"the file starts with a UTF-16 byte-order mark (0x{m.group('byte')}): it is UTF-16, "
                "not UTF-8 (PowerShell's `>` writes UTF-16)",
                HIGH,
                (resave,),
                rule="ED201",
            )
        return Diagnosis(
            f"the file is not UTF-8 (byte 0x{m.group('byte')}): it was saved in a legacy encoding such as GBK",
            MEDIUM,
            (resave,),
        )
    if entry.code == "ED201":
        shown = " shown as 8-bit text (letters separated by spaces)" if _UTF16_AS_BYTES.search(text) else ""
        return Diagnosis(
            f"a UTF-16 file{shown}: pip and Python read UTF-8, so a UTF-16 requirements file or script fails",
            HIGH,
            (resave,),
        )
    return Diagnosis("a file is in a legacy encoding where UTF-8 is expected", MEDIUM, (resave,))


@explains("ED240", "ED607")
def invalid_choice(group: HitGroup, entry: RuleEntry, ev: Evidence) -> Diagnosis:
    """argparse `invalid choice`; for flash_attn a bool maps to disabled/fa2 (sdpa on pre-Ampere GPUs)."""
    option = group.groups.get("option", "--flash_attn")
    value = group.groups.get("value", "")
    choices = group.groups.get("choices")
    flash = "flash_attn" in option or "attention" in group.occurrences[0].text
    if not flash:
        return Diagnosis(
            f"{option} does not accept '{value}'" + (f"; it takes one of {choices}" if choices else ""),
            HIGH,
            (_say(f"pass one of {choices} to {option}" if choices else f"fix the value of {option}"),),
        )
    old_gpu = ev.ctx is not None and any(
        g.capability and parse_version(g.capability) is not None and parse_version(g.capability) < parse_version("8.0")
        for g in ev.ctx.snapshot.hardware.gpus
    )
    if value.lower() == "true":
        name = "sdpa" if old_gpu else "fa2"
        why = (
            " (FlashAttention-2 needs an Ampere or newer GPU; this one is older, so sdpa)"
            if old_gpu
            else " (FlashAttention-2; needs an Ampere or newer GPU, else use sdpa)"
        )
    else:
        name, why = "disabled", ""
    lf = ev.installed("llamafactory")
    takes = f"llamafactory {lf} takes" if lf else "LLaMA-Factory (0.8.3+) takes"
    return Diagnosis(
        f"flash_attn takes a name, not a bool: {takes} auto, disabled, sdpa or fa2 (fa3 from 0.9.4); "
        f"'{value}' means `{name}`{why}",
        HIGH,
        (_say(f"pass `--flash_attn {name}` (YAML: `flash_attn: {name}`)"),),
    )


@explains("ED230")
def trust_remote_code(group: HitGroup, entry: RuleEntry, ev: Evidence) -> Diagnosis:
    """The model repository ships its own modeling code; loading it needs trust_remote_code=True."""
    return Diagnosis(
        "the model's repository ships custom modeling code and the run did not allow it (trust_remote_code=True)",
        HIGH,
        (
            _say(
                "LLaMA-Factory: `--trust_remote_code true`; transformers: "
                "`from_pretrained(..., trust_remote_code=True)`; envdoctor.yaml: "
                "`model.trust_remote_code: true`",
                "it runs the repository's Python code: read it and pin `model.revision` first",
            ),
        ),
    )

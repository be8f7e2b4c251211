"""Turn matched log lines into findings: the rule, the cause, the fix, and how sure we are.

Each :class:`~envdoctor.explain.extractors.HitGroup` (one error, all its occurrences)
becomes one :class:`~envdoctor.findings.Finding` that quotes the log lines and
points at them.  When a target environment is available (a live snapshot, a
``--python`` interpreter or a ``--env`` lock) the cause is checked against it:
confirmed → confidence "high"; contradicted (the log is stale or from another
machine) → "low" and severity "info"; not checkable → "medium".  Rules that have
their own check (declarative cases or a Python implementation) are evaluated by
the same code `envdoctor check` runs.  The error families (envdoctor.explain.families)
explain the generic log rules; what stays here is specific to one rule (LLaMA-Factory's
runtime bounds, pip's resolver lines, SQLite names, missing files, argparse choices).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

from envdoctor.engine.core import implementation
from envdoctor.env.probe import canonical_name
from envdoctor.env.requirements import is_kept, parse_requirement, parse_version
from envdoctor.explain import families, releases
from envdoctor.explain.blame import checker_relaxed
from envdoctor.explain.diagnosis import (
    EXPLAINERS,
    HIGH,
    LOW,
    MEDIUM,
    Diagnosis,
    Evidence,
    explains,
)
from envdoctor.explain.diagnosis import say as _say
from envdoctor.explain.diagnosis import stale as _stale
from envdoctor.explain.extractors import LLAMAFACTORY, HitGroup
from envdoctor.findings import (
    Applicability,
    Finding,
    Fix,
    Location,
    Severity,
    pip_install_fix,
)
from envdoctor.knowledge.base import RuleEntry
from envdoctor.project import database, locate

QUOTE_CHARS = 300
FAMILIES = families.MODULES  # the error families register their explainers on import


def explain_groups(groups: Iterable[HitGroup], ev: Evidence) -> list[Finding]:
    """One finding per hit group, sorted like `envdoctor check` sorts them."""
    findings = []
    for group in groups:
        entry = ev.kb.rules[group.code]
        try:
            found = EXPLAINERS.get(group.code, by_rule)(group, entry, ev)
            if found is None:
                continue
            verdict = found
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


# ---------------------------------------------------------------------------------------------
# Rules with their own check: evaluate the rule on the target, like `envdoctor check` does.


def by_rule(group: HitGroup, entry: RuleEntry, ev: Evidence) -> Diagnosis:
    """Confirm a rule's cause with its own check on the target, or say it is ruled out."""
    case_fixes = tuple(dict.fromkeys(fix for case in entry.cases for fix in case.fixes))
    if ev.ctx is None:  # the rule's cases say which distributions its cause is about
        involved = tuple(dict.fromkeys(n for case in entry.cases for n in case.when.packages))
        return Diagnosis(
            f"{entry.summary} (from the log text alone; `envdoctor rules {entry.code}` explains it)", MEDIUM,
            case_fixes, involved,
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
    absent = [n for n in names if ev.installed(n) is None]
    if absent and len(absent) < len(names):  # a partial target (a freeze of a few pins) cannot judge the rule
        return Diagnosis(f"{entry.summary} (the target lists no {', '.join(absent)}, so its check cannot run; "
                         f"`envdoctor rules {entry.code}` explains it)", MEDIUM, case_fixes,
                         tuple(n for n in names if n not in absent))
    state = ", ".join(f"{n} {ev.installed(n) or 'not installed'}" for n in names)
    return Diagnosis(_stale(f"{entry.summary} Ruled out for the target ({state})"), LOW)


# ---------------------------------------------------------------------------------------------
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
    relaxed = checker_relaxed("llamafactory", said_req, ev) if lf and said_req else None
    bypass = (relaxed, *bypass) if relaxed else bypass
    rule = None if lf else "ED001"  # transformers' own dependency check: a declared requirement
    if ev.ctx is None or req is None:
        found = f"{package} {logged} was installed" if logged else f"another {package} was installed"
        return Diagnosis(f"{who} {said_req} at import, but {found}", MEDIUM, (*pin, *bypass),
                         (package, "llamafactory") if lf else (package,), rule=rule)
    if lf:
        return _llamafactory_state(group, entry, ev, package, f"{who} {said_req} at import", (*pin, *bypass))
    return replace(_requirement_state(ev, req, f"{who} {said_req}", pin), rule=rule)


def _llamafactory_state(
    group: HitGroup, entry: RuleEntry, ev: Evidence, package: str, said: str, fixes: tuple[Fix, ...]
) -> Diagnosis:
    """ED110's own check on the target for ``package``: confirmed, or ruled out."""
    assert ev.ctx is not None
    lf = ev.installed("llamafactory")
    if lf is None and ev.unlisted("llamafactory"):
        return Diagnosis(f"{said} (the file does not list llamafactory; the log's run had it)", MEDIUM, fixes,
                         (package, "llamafactory"))
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
        fixes = [pin, *_requirer_side(group, requirer, package, ev)]
        return Diagnosis(
            f"{said}, which pip could not satisfy (from the log text alone)", MEDIUM, tuple(fixes),
            (requirer, package)
        )
    if ev.installed(requirer) is None:
        return Diagnosis(_stale(f"{said}, but {requirer} is not installed in the target"), LOW, (), (requirer,))
    found = [f for f in implementation(entry)(ev.ctx, entry) if (requirer, package) in f.covers]
    if found:
        return Diagnosis(found[0].message, HIGH, found[0].fixes, found[0].packages)
    verdict = _requirement_state(ev, req, said, (pin,))
    return Diagnosis(verdict.message, verdict.confidence, verdict.fixes, (requirer, package))


def _requirer_side(group: HitGroup, requirer: str, package: str, ev: Evidence) -> list[Fix]:
    """The requirer's release nearest the logged one that accepts the installed ``package`` (index; not offline)."""
    installed = group.groups.get("installed", "").split(" ")[-1]
    logged = re.search(rf"{re.escape(group.groups['requirer'])} (\S{{1,40}}) (?:requires|has requirement)",
                       group.occurrences[0].text)
    if ev.offline or not installed:
        return []
    version = releases.accepting(requirer, logged.group(1) if logged else None, package, installed)
    if version is None:
        return []
    return [pip_install_fix(f"or move {requirer} to {version}, whose requirement on {package} admits {installed} "
                            "(its metadata on the index)", {requirer: f"=={version}"}, Applicability.UNSAFE)]


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
        (cap := parse_version(g.capability)) is not None and cap < Version("8.0")
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
        f"flash_attn takes a name, not a bool: {takes} auto, disabled, sdpa or fa2 (0.9.4 and 0.9.5 also "
        "parse fa3, which fails to load except for gpt_oss); "
        f"'{value}' means `{name}`{why}",
        HIGH,
        (_say(f"pass `--flash_attn {name}` (YAML: `flash_attn: {name}`)"),),
    )

"""The rule engine: run every selected rule over a context and collect findings.

A rule is a pure function of a :class:`Context` (snapshot, knowledge base and
optional project facts) to findings.  Declarative rules are evaluated here from
their knowledge-base cases; Python rules register an implementation with
:func:`implements`.  A rule that raises becomes an internal-error finding
(ED000), never a silent pass.
"""

from __future__ import annotations

import difflib
import importlib
import traceback
from collections.abc import Iterable
from dataclasses import replace

from envdoctor.env.implied import describe, describe_range
from envdoctor.env.snapshot import Snapshot, torch_build
from envdoctor.errors import InputError
from envdoctor.findings import Finding, Severity
from envdoctor.knowledge.base import Case, KnowledgeBase, RuleEntry
from envdoctor.rules.base import IMPLEMENTATIONS, Context, RuleImpl, condition_holds, pin_locations

INTERNAL_ERROR_CODE = "ED000"
GENERIC_REQUIREMENT_CODE = "ED001"


def implementation(entry: RuleEntry) -> RuleImpl:
    """The function that evaluates ``entry``."""
    if entry.check == "declarative":
        return evaluate_declarative
    if entry.check == "log":
        return no_findings
    importlib.import_module(f"envdoctor.rules.{entry.module}")  # registers the module's rules
    try:
        return IMPLEMENTATIONS[entry.code]
    except KeyError:
        raise RuntimeError(f"{entry.code} ({entry.source}): envdoctor.rules.{entry.module} does not implement it")


def no_findings(ctx: Context, entry: RuleEntry) -> Iterable[Finding]:
    """A log rule (``check = "log"``) needs an error log: only `envdoctor explain` reports it."""
    return ()


def _fill(template: str, case: Case, ctx: Context) -> str:
    """Replace ``{package}`` placeholders with installed versions (and {python}, {cuda})."""
    ranges = {r.name: r.spec for r in ctx.snapshot.implied_ranges}
    values = {
        name: ctx.snapshot.version_of(name) or ranges.get(name, "?")
        for name in (*case.when.packages, *(p for pair in case.covers for p in pair))
    }
    values["python"] = ctx.snapshot.python_version
    values["torch_cuda"] = torch_build(ctx.snapshot)[1] or "none"
    values["gpu"] = (
        ", ".join(f"{g.name} (sm_{(g.capability or '?').replace('.', '')})" for g in ctx.snapshot.hardware.gpus)
        or "no GPU"
    )
    for key, value in values.items():
        template = template.replace("{" + key + "}", value)
    return template


def evaluate_declarative(ctx: Context, entry: RuleEntry) -> Iterable[Finding]:
    """Findings for each case of ``entry`` whose condition holds."""
    for case in entry.cases:
        if condition_holds(case.when, ctx):
            packages = tuple(sorted({*case.when.packages, *(p for pair in case.covers for p in pair)}))
            yield entry.finding(
                _fill(case.message, case, ctx),
                packages=packages,
                locations=pin_locations(ctx.snapshot, packages),
                fixes=case.fixes,
                covers=case.covers,
            )


def _selectors(kb: KnowledgeBase, values: Iterable[str], flag: str) -> set[str]:
    """``values`` split at commas (``ED2,ED7``), each a code, a code prefix or a rule name;
    InputError (with the closest matches) for one that selects no rule."""
    keys = {part.strip() for value in values for part in value.split(",") if part.strip()}
    codes = sorted(kb.rules)
    names = sorted(entry.name for entry in kb.rules.values())
    for key in sorted(keys):
        if key in names or any(code.startswith(key.upper()) for code in codes):
            continue
        close = difflib.get_close_matches(key.upper() if key[:2].upper() == "ED" else key,
                                          codes if key[:2].upper() == "ED" else names, n=3)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise InputError(f"{flag} {key!r}: no rule has this code or name; {hint}`envdoctor rules` lists them")
    return keys


def select_rules(kb: KnowledgeBase, select: Iterable[str] = (), ignore: Iterable[str] = ()) -> list[RuleEntry]:
    """Rules chosen by code or name (prefixes like ``ED1`` select a family; ``ED2,ED7`` lists two);
    InputError for a value that matches no rule."""

    def matches(entry: RuleEntry, keys: set[str]) -> bool:
        return entry.name in keys or any(entry.code.startswith(k.upper()) for k in keys)

    chosen = _selectors(kb, select, "--select")
    dropped = _selectors(kb, ignore, "--ignore")
    return [e for code, e in sorted(kb.rules.items()) if (not chosen or matches(e, chosen)) and not matches(e, dropped)]


def _drop_covered(findings: list[Finding]) -> list[Finding]:
    """Remove generic unmet-requirement findings that a specific rule already explains."""
    covered = {pair for f in findings if f.code != GENERIC_REQUIREMENT_CODE for pair in f.covers}
    return [f for f in findings if f.code != GENERIC_REQUIREMENT_CODE or not set(f.covers) <= covered or not f.covers]


def needs_met(entry: RuleEntry, ctx: Context) -> bool:
    """Whether the context has what ``entry`` reads: project facts, or a lock-file target."""
    if "project" in entry.needs and ctx.project is None:
        return False
    return not ("lockfile" in entry.needs and not ctx.snapshot.source.startswith("file:"))


def run(ctx: Context, rules: Iterable[RuleEntry]) -> list[Finding]:
    """Run ``rules`` with crash isolation; return sorted, de-duplicated findings."""
    findings: list[Finding] = []
    for entry in rules:
        if not needs_met(entry, ctx):
            continue
        try:
            findings.extend(implementation(entry)(ctx, entry))
        except Exception as exc:  # a broken rule must never pass silently
            where = traceback.extract_tb(exc.__traceback__)[-1]
            findings.append(
                Finding(
                    code=INTERNAL_ERROR_CODE,
                    name="internal-error",
                    severity=Severity.ERROR,
                    message=(
                        f"rule {entry.code} {entry.name} crashed: {type(exc).__name__}: {exc} "
                        f"(at {where.filename.rsplit('/', 1)[-1]}:{where.lineno}); "
                        "please report it with `envdoctor snapshot` output"
                    ),
                    evidence=entry.evidence,
                )
            )
    unique = list(dict.fromkeys(_drop_covered(findings)))
    return sorted(unique, key=Finding.sort_key)


def mark_inferred(findings: Iterable[Finding], snap: Snapshot) -> list[Finding]:
    """Findings that involve implied packages name them with their chains (``inferred``) and
    point at the listed pin that starts each chain."""
    marked = []
    for finding in findings:
        implied = [snap.distributions[n] for n in finding.packages
                   if n in snap.distributions and snap.distributions[n].implied_by]
        ranges = [r for r in snap.implied_ranges if r.name in finding.packages and r.name not in snap.distributions]
        if not implied and not ranges:
            marked.append(finding)
            continue
        roots = [chain[-1].partition("==")[0] for chain in (*(d.implied_by for d in implied),
                                                             *(r.implied_by for r in ranges))]
        locations = tuple(dict.fromkeys((*finding.locations, *pin_locations(snap, roots))))
        inferred = (*(describe(d) for d in implied), *(describe_range(r) for r in ranges))
        marked.append(replace(finding, inferred=inferred, locations=locations))
    return marked

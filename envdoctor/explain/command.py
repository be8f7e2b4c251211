"""`envdoctor explain [FILE|-]`: from an error log to the rule, the cause and the fix.

The log is read as a stream (envdoctor.explain.logscan), matched against the knowledge
base's error signatures (envdoctor.explain.extractors) and each match is explained and
checked against a target environment (envdoctor.explain.interpret): the live
interpreter by default, ``--python PATH``, a freeze/lock with ``--env FILE``, or
nothing with ``--no-env``.  Output, formats and exit codes are `envdoctor
check`'s: 0 nothing known (or only causes the target rules out), 1 known errors,
2 bad input.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from envdoctor.engine import check as checking
from envdoctor.engine import report, search
from envdoctor.explain.diagnosis import Evidence
from envdoctor.explain.extractors import Scanner
from envdoctor.explain.interpret import explain_groups
from envdoctor.explain.logscan import LogInfo, read_log
from envdoctor.findings import Finding
from envdoctor.knowledge import base as knowledge

LOOKUP_BUDGET_S = 60.0  # index look-ups (release lists, bisection) of one explain run; then the cache only


@dataclass(frozen=True)
class ExplainResult:
    """Findings of one log, what they were compared with, and notes for the reader."""

    findings: list[Finding]
    log: LogInfo
    evidence: Evidence
    notes: list[str]


def explain_log(path: Path | None, stdin: BinaryIO, request: checking.CheckRequest | None,
                db: Path | None, offline: bool = False) -> ExplainResult:
    """Scan the log, then compare each cause with the requested target (None: the text alone).

    The target's project facts (envdoctor.yaml, its database and paths, the files of the
    current folder) come from the same collector `envdoctor check` uses; ``db`` overrides
    the config's data.db.  ``offline`` (or the request's) keeps the families' release
    look-ups to the cache.  Against a target, every fix that moves a package names the release,
    as `check`'s do (:func:`search.concretize`: the nearest in its range that fits the target's
    Python and the pins that stay); offline the ranges stay.
    """
    kb = knowledge.load()
    log, lines = read_log(path, stdin)
    scan = Scanner(kb).scan(lines)
    notebook = log.kind == "notebook"
    notes = [f"read {log.name}: {log.lines} lines, {log.encoding}"
             + (" (notebook cell outputs)" if log.kind == "notebook" else "")]
    if request is None:
        evidence = Evidence(kb=kb, facts=scan.facts, local=False, cache_only=offline, notebook=notebook,
                            deadline=time.monotonic() + LOOKUP_BUDGET_S)
        notes.append("explained from the log text alone (--no-env): versions, files and databases were not checked")
    else:
        ctx = checking.build_context(request, kb)
        config = getattr(ctx.project, "config", None)
        evidence = Evidence(kb=kb, facts=scan.facts, ctx=ctx, python=request.python,
                            db=db or (config.data.db if config else None), cache_only=offline or request.offline,
                            notebook=notebook, deadline=time.monotonic() + LOOKUP_BUDGET_S)
        notes.append(f"compared with {ctx.snapshot.source}: Python {ctx.snapshot.python_version}, "
                     f"{len(ctx.snapshot.distributions)} packages")
        notes.extend([*ctx.snapshot.notes, *getattr(ctx.project, "notes", ())])
    if scan.dropped_groups:
        notes.append(f"{scan.dropped_groups} further distinct error lines were not explained (too many kinds)")
    findings = explain_groups(scan.groups, evidence)
    if request is not None and evidence.ctx is not None and not evidence.offline:
        findings = search.concretize(findings, evidence.ctx, quiet=request.quiet)  # ranges -> the nearest release
    if evidence.budget_spent:
        notes.append(f"index look-ups stopped after {LOOKUP_BUDGET_S:.0f} s; the rest was answered from the cache "
                     "(run `envdoctor explain` again to go on: what was read is cached)")
    if not findings:
        notes.append("nothing known in this log: no line matches a rule (`envdoctor rules` lists them); "
                     "pass the full output, traceback included (`cmd 2>&1 | tee run.log`)")
    return ExplainResult(findings=findings, log=log, evidence=evidence, notes=notes)


def render(result: ExplainResult, fmt: str, color: bool) -> str:
    """Text, JSON or SARIF, with `envdoctor check`'s renderers."""
    ctx = result.evidence.ctx
    target = checking.describe_target(ctx.snapshot) if ctx else {"source": "none (--no-env)"}
    target = {**target, "log": {"path": result.log.name, "lines": result.log.lines,
                                "encoding": result.log.encoding, "kind": result.log.kind}}
    if fmt == "json":
        return report.render_json(result.findings, target, result.notes)
    if fmt == "sarif":
        return report.render_sarif(result.findings, list(result.evidence.kb.rules.values()), result.log.name)
    against = f"{ctx.snapshot.source}" if ctx else "text only"
    header = f"envdoctor explain · {result.log.name} · {result.log.lines} lines · against {against}"
    python = (ctx.snapshot.executable if ctx else None) or "python"
    return report.render_text(result.findings, header, python, result.notes, color)

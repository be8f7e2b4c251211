"""`envdoctor check` as a function: target → snapshot → facts → rules → findings.

The CLI, `explain`, `fix` and `run` all call :func:`run_check`, so every
command sees the same findings for the same input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import envdoctor.checks as checks_package
from envdoctor.engine import core as engine
from envdoctor.engine import report
from envdoctor.env import ownership
from envdoctor.env.snapshot import Snapshot, torch_build
from envdoctor.env.target import resolve
from envdoctor.findings import Finding
from envdoctor.knowledge import base as knowledge
from envdoctor.knowledge.base import KnowledgeBase, RuleEntry
from envdoctor.rules.base import Context


@dataclass(frozen=True)
class CheckRequest:
    """Everything `envdoctor check` can be asked."""

    python: str | None = None
    env_file: Path | None = None
    python_version: str | None = None
    platform: str | None = None
    cuda: str | None = None
    offline: bool = False
    project_path: Path | None = None
    config_file: Path | None = None
    llamafactory_file: Path | None = None
    gpu_target: str | None = None
    include_project: bool = True
    keep: Sequence[str] = ()
    provided: Sequence[str] = ()
    infer: bool = True
    select: Sequence[str] = ()
    ignore: Sequence[str] = ()
    quiet: bool = False
    lock_header: object | None = None  # an env.lock_header.LockHeader for a lock envdoctor did not write


@dataclass(frozen=True)
class CheckResult:
    """Findings plus what they were computed from."""

    findings: list[Finding]
    snapshot: Snapshot
    rules: list[RuleEntry]
    notes: list[str] = field(default_factory=list)
    complete: bool = True  # False: the cross-package check left work for the next run (its notes say what)
    learned: int = 0  # what the cross-package check read or kept this run (0: a run again changes nothing)


def collect_project(request: CheckRequest, snap: Snapshot) -> object | None:
    """Facts about the project's files, data and configs (see envdoctor.project.facts)."""
    if not request.include_project:
        return None
    from envdoctor.project import facts as project

    return project.collect(project.ProjectRequest(project_path=request.project_path, config_file=request.config_file,
                                                  llamafactory_file=request.llamafactory_file), snap)


def build_keep(request: CheckRequest, snap: Snapshot, kb: KnowledgeBase | None = None) -> frozenset[str]:
    """Packages fixes must not move: ``--keep`` plus what the platform owns (Colab's torch stack)."""
    kb = kb or knowledge.load()
    return ownership.kept(snap, kb.tables.get("platform_owned", {}), request.keep, ownership.image_pins(snap))


def build_context(request: CheckRequest, kb: KnowledgeBase | None = None,
                  snap: Snapshot | None = None) -> Context:
    """Resolve the target and gather every fact the rules read."""
    kb = kb or knowledge.load()
    if snap is None:
        snap = resolve(request.python, request.env_file, request.python_version, request.platform, request.cuda)
    if request.env_file is not None and any(not d.metadata_known for d in snap.distributions.values()):
        from envdoctor.env import index

        snap = index.fill_metadata(snap, offline=request.offline, quiet=request.quiet)
        if request.infer:
            from envdoctor.env import implied

            snap = implied.infer(snap, lambda s, names: index.fill_metadata(
                s, offline=request.offline, quiet=request.quiet, names=names))
            note = implied.implied_note(snap)
            if note:
                snap = snap.with_changes(notes=(*snap.notes, note))
    pinned_by_image = ownership.image_pins(snap)
    if pinned_by_image and "image-pins" not in snap.runtime:
        snap = snap.with_changes(runtime=(*snap.runtime, "image-pins"))
    shipped, shipped_by = ownership.published_image(snap, kb.tables.get("platform_images", {}),
                                                    Path(checks_package.__file__).parent)
    return Context(snapshot=snap, kb=kb, project=collect_project(request, snap), keep=build_keep(request, snap, kb),
                   shipped=shipped, shipped_by=shipped_by, provided=frozenset(request.provided),
                   offline=request.offline, extras={"gpu_target": request.gpu_target,
                                                    "lock_header": request.lock_header})


def run_check(request: CheckRequest) -> CheckResult:
    """Run the selected rules on the requested target."""
    kb = knowledge.load()
    selected = engine.select_rules(kb, request.select, request.ignore)  # bad --select fails before any work
    ctx = build_context(request, kb)
    findings = engine.mark_inferred(engine.run(ctx, selected), ctx.snapshot)
    if any(fix.pins for f in findings for fix in f.fixes):
        from envdoctor.engine import search

        findings = search.concretize(findings, ctx, quiet=request.quiet)
    notes = list(ctx.snapshot.notes) + list(getattr(ctx.project, "notes", ())) + ctx.notes
    if request.offline:
        notes.append("offline: used the metadata cache and the knowledge base only")
    cross = ctx.extras.get("crosscheck")
    return CheckResult(findings=findings, snapshot=ctx.snapshot, rules=selected, notes=notes,
                       complete=getattr(cross, "complete", True), learned=getattr(cross, "learned", 0))


def describe_target(snap: Snapshot) -> dict[str, object]:
    """The `target` object of the JSON output."""
    kind, cuda = torch_build(snap)
    return {"source": snap.source, "interpreter": snap.executable, "python": snap.python_version,
            "platform": f"{snap.system} {snap.machine}",
            "packages": len(snap.distributions), "torch_build": kind, "torch_cuda": cuda,
            "gpus": [g.name for g in snap.hardware.gpus], "nvml": snap.hardware.nvml,
            "runtime": list(snap.runtime), "owner": snap.platform,
            "implied": [{"name": d.name, "version": d.version, "implied_by": list(d.implied_by)}
                        for d in sorted(snap.distributions.values(), key=lambda d: d.name) if d.implied_by],
            "implied_ranges": [{"name": r.name, "spec": r.spec, "implied_by": list(r.implied_by)}
                               for r in snap.implied_ranges]}


def render(result: CheckResult, fmt: str, strict: bool, color: bool = False, fixable: int = 0) -> str:
    """Text, JSON or SARIF for a check result; ``fixable`` is how many findings `envdoctor fix` would act on
    (the text's closing line points to `fix` only then)."""
    snap = result.snapshot
    if fmt == "json":
        return report.render_json(result.findings, describe_target(snap), result.notes, strict)
    if fmt == "sarif":
        artifact = snap.source.split(":", 1)[1] if snap.source.startswith("file:") else "pyproject.toml"
        return report.render_sarif(result.findings, result.rules, artifact, describe_target(snap))
    kind, cuda = torch_build(snap)
    gpus = ", ".join(g.name for g in snap.hardware.gpus) or f"no GPU ({snap.hardware.nvml})"
    implied = sum(bool(d.implied_by) for d in snap.distributions.values())
    count = f"{len(snap.distributions) - implied} packages" + (f" (+{implied} implied)" if implied else "")
    where = f"{snap.source} ({snap.executable})" if snap.executable and snap.source == "live" else snap.source
    header = (f"envdoctor check · {where} · Python {snap.python_version} · "
              f"{count} · torch {kind}{' ' + cuda if cuda else ''} · {gpus}")
    python = snap.executable or "python"
    return report.render_text(result.findings, header, python, result.notes, color, fixable)


exit_code = report.exit_code

"""`envdoctor reproduce RECORD` as a function: the steps in order, then the verdict.

The environment step diffs the target against the record.  With ``--apply`` it first moves the
target to the recorded pins (``envdoctor fix --to RECORD``: the same plan, transaction, backup
and rollback); with ``--venv DIR`` it creates a new venv with this interpreter (the recorded
Python is checked first) and installs exactly the recorded pins into it the same way, from the
configured indexes and find-links plus those the record names (``pip install``, which resolves
nothing new because every dependency is pinned).  Then data, model, and (unless
``check_only``) a re-train with the recorded config and seeds in ``workdir``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envdoctor.env import record as record_mod
from envdoctor.env import snapshot as snapshot_mod
from envdoctor.env.hardware import probe_hardware
from envdoctor.env.snapshot import Snapshot
from envdoctor.errors import InputError
from envdoctor.fix.plan import from_lock
from envdoctor.fix.transaction import APPLIED, apply
from envdoctor.reproduce import steps as steps_mod
from envdoctor.reproduce.steps import DRIFT, Step


@dataclass(frozen=True)
class ReproduceRequest:
    """What `envdoctor reproduce` was asked to do."""

    record: Path
    python: str | None = None
    venv: Path | None = None
    apply: bool = False
    check_only: bool = False
    workdir: Path | None = None


@dataclass(frozen=True)
class ReproduceReport:
    """The steps, the verdict and its cause (None when it reproduced or nothing drifted)."""

    target: str
    steps: list[Step] = field(default_factory=list)
    verdict: str = ""
    cause: str | None = None

    @property
    def exit_code(self) -> int:
        """0 reproduced (or nothing drifted with --check-only), 1 otherwise."""
        return 1 if self.cause or any(s.status == DRIFT for s in self.steps) else 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"target": self.target, "steps": [s.to_dict() for s in self.steps], "verdict": self.verdict,
                "cause": self.cause, "exit_code": self.exit_code}


def _snapshot(python: str | None) -> Snapshot:
    hardware = probe_hardware()
    return snapshot_mod.from_interpreter(python, hardware) if python else snapshot_mod.live(hardware)


def _move_to_record(recorded: record_mod.RecordedEnvironment, target: Snapshot, progress: Callable[[str], None]) -> str:
    """Apply `fix --to RECORD` to ``target`` as a transaction; a line saying what happened."""
    plan = from_lock(recorded.path, target, [], unsafe=False)
    if plan.empty:
        return "already at the recorded pins"
    outcome = apply(plan, target, [], lambda: [], progress)
    if outcome.status != APPLIED:
        raise InputError(f"installing the recorded pins failed and was rolled back: {outcome.reason} "
                         f"(state: {outcome.folder})")
    return f"installed {len(outcome.changes)} change(s) (undo: `envdoctor rollback --python {plan.python}`)"


def reproduce(request: ReproduceRequest, progress: Callable[[str], None]) -> ReproduceReport:
    """Run the steps in order; see the module docstring."""
    recorded = record_mod.load(request.record)
    record = steps_mod.load(request.record, recorded)
    if request.venv is not None and request.python is not None:
        raise InputError("--venv and --python name two targets; pass one of them")
    python = request.python
    notes: list[str] = []
    if request.venv is not None:
        recorded.check_interpreter(_snapshot(None))
        progress(f"creating the venv {request.venv}")
        python = steps_mod.build_venv(request.venv)
    target = _snapshot(python)
    recorded.check_interpreter(target)
    if request.venv is not None or request.apply:
        notes.append(_move_to_record(recorded, target, progress))
        target = _snapshot(python)
    fix = ["envdoctor", "fix", "--to", str(request.record), "--apply", "--yes",
           *(["--python", python] if python else [])]
    env_step = steps_mod.environment(record, target, fix)
    env_step = Step(env_step.name, env_step.status, (*notes, *env_step.lines), env_step.fix)
    workdir = request.workdir or request.record.parent / "reproduce"
    workdir.mkdir(parents=True, exist_ok=True)
    config = steps_mod.recorded_config(record)
    progress("hashing the data")
    data_step, config = steps_mod.data_step(record, config, workdir)
    found = [env_step, data_step, steps_mod.model_step(record)]
    if not request.check_only:
        progress(f"re-training in {workdir} with {target.executable or sys.executable}")
        found.append(steps_mod.train_step(record, config, target.executable or sys.executable, workdir))
    determinism = record.reproduce.get("determinism", {})
    verdict, cause = steps_mod.verdict(found, bool(determinism.get("deterministic_algorithms")))
    return ReproduceReport(target=target.executable or target.source, steps=found, verdict=verdict, cause=cause)


def render(report: ReproduceReport) -> str:
    """The report for people: one block per step, then the verdict."""
    marks = {"ok": "✓", "drift": "✗", "skipped": "-"}
    lines = [f"envdoctor reproduce · {report.target}"]
    for step in report.steps:
        lines.append(f"{marks[step.status]} {step.name}")
        lines += [f"    {line}" for line in step.lines]
        if step.fix and step.status == DRIFT:
            lines.append(f"    fix: {step.fix}")
    lines.append(report.verdict)
    return "\n".join(lines)

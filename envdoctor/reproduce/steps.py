"""The steps of `envdoctor reproduce`, in order: environment, data, model, training.

Each step compares what is here now with what the run record (``training_info.json``, schema 2,
see :mod:`envdoctor.pipeline.export`) says, and returns a :class:`Step`.  :func:`verdict` names
the cause of a mismatch in that order of precedence: environment drift (with the command that
fixes it), data drift, model drift, and, when nothing drifted yet the losses differ,
nondeterminism.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envdoctor.env.diff import diff
from envdoctor.env.record import RecordedEnvironment
from envdoctor.env.snapshot import Snapshot
from envdoctor.errors import InputError
from envdoctor.fix.plan import TOOLING
from envdoctor.pipeline import data, launch, provenance
from envdoctor.pipeline import plan as plan_mod
from envdoctor.project.config import TrainingConfig, parse_config

OK, DRIFT, SKIPPED = "ok", "drift", "skipped"


@dataclass(frozen=True)
class Step:
    """One step's result: ``ok``, ``drift`` (a mismatch) or ``skipped``, with what it found."""

    name: str
    status: str
    lines: tuple[str, ...] = ()
    fix: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"step": self.name, "status": self.status, "details": list(self.lines), "fix": self.fix}


@dataclass(frozen=True)
class Record:
    """A run record read for reproduction."""

    path: Path
    data: dict[str, Any]
    environment: RecordedEnvironment

    @property
    def reproduce(self) -> dict[str, Any]:
        """The schema-2 ``reproduce`` section."""
        section: dict[str, Any] = self.data["reproduce"]
        return section


def load(path: Path, environment: RecordedEnvironment) -> Record:
    """Read a run record; schema 1 records (no ``reproduce`` section) are refused in one line."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: unreadable run record ({exc})")
    if environment.kind != "run record":
        raise InputError(f"{path}: a snapshot, not a run record; `envdoctor reproduce` needs the "
                         "training_info.json of a run (`envdoctor fix --to` takes snapshots)")
    if not isinstance(data.get("reproduce"), dict):
        raise InputError(f"{path}: schema {data.get('schema_version', 1)} record without a `reproduce` section; "
                         "re-run the training with this envdoctor (`envdoctor run`) to record one")
    return Record(path=path, data=data, environment=environment)


def environment(record: Record, target: Snapshot, fix_argv: list[str]) -> Step:
    """Packages, Python, platform and torch build of ``target`` against the record."""
    found = diff(record.environment.snapshot, target)
    tooling = {n for n in [*found.added, *found.removed, *found.changed] if n in TOOLING}
    lines = [f"{key}: recorded {a}, here {b}" for key, (a, b) in sorted(found.system.items())]
    lines += [f"{n}: recorded {a}, here {b}" for n, (a, b) in sorted(found.changed.items()) if n not in tooling]
    lines += [f"{n}: recorded {v}, here absent" for n, v in sorted(found.removed.items()) if n not in tooling]
    lines += [f"{n}: not recorded, here {v}" for n, v in sorted(found.added.items()) if n not in tooling]
    where = target.executable or target.source
    if not lines:
        note = f" (pip tooling differs: {', '.join(sorted(tooling))})" if tooling else ""
        return Step("environment", OK, (f"{where}: the recorded packages, Python and platform{note}",))
    return Step("environment", DRIFT, tuple(lines), fix=shlex.join(fix_argv))


def data_step(record: Record, config: TrainingConfig, workdir: Path) -> tuple[Step, TrainingConfig]:
    """Hash the database against the record, rebuild the JSONL from it, and hash that too."""
    recorded = record.reproduce["data"]
    lines: list[str] = []
    db = config.data.db
    if db is not None and recorded.get("db_sha256"):
        now = provenance.file_sha256(db) if db.is_file() else None
        if now != recorded["db_sha256"]:
            lines.append(f"{db}: " + (f"sha256 {now[:12]}… but the run used {recorded['db_sha256'][:12]}…"
                                      if now else "missing"))
    rebuilt = dataclasses.replace(config, data=dataclasses.replace(config.data, output=workdir / "instructions.jsonl"))
    if db is None or db.is_file():
        data.run(rebuilt.data)
        built = provenance.file_sha256(rebuilt.data.output)
        if built != recorded.get("jsonl_sha256"):
            lines.append(f"{rebuilt.data.output}: the rebuilt data set has sha256 {built[:12]}…, the run's had "
                         f"{str(recorded.get('jsonl_sha256'))[:12]}…")
    if lines:
        return Step("data", DRIFT, tuple(lines), fix="restore the database the run used (its sha256 is in the "
                                                     "record), or train anew: `envdoctor run`"), rebuilt
    return Step("data", OK, (f"database and built data set match the record ({recorded['jsonl_sha256'][:12]}…)",)), \
        rebuilt


def model_step(record: Record) -> Step:
    """The model's identity now (builtin config, hub commit, local file hashes) against the record."""
    recorded = record.reproduce["model"]
    now = provenance.model_identity(recorded["name_or_path"], recorded.get("revision"))
    if now == recorded:
        what = {"builtin": "builtin config", "hub": f"hub commit {recorded.get('commit') or recorded.get('revision')}",
                "local": f"{len(recorded.get('files', {}))} file hashes"}[recorded["kind"]]
        return Step("model", OK, (f"{recorded['name_or_path']}: same {what}",))
    if recorded["kind"] == "local":
        old, new = recorded.get("files", {}), now.get("files", {})
        lines = [f"{name}: changed" for name in sorted(set(old) | set(new)) if old.get(name) != new.get(name)]
    else:
        lines = [f"{key}: recorded {recorded.get(key)}, here {now.get(key)}" for key in sorted(set(recorded) | set(now))
                 if recorded.get(key) != now.get(key)]
    fix = (f"pin model.revision: {recorded['commit']}" if recorded.get("commit") else
           "restore the model files the run used")
    return Step("model", DRIFT, tuple(lines), fix=fix)


def recorded_config(record: Record) -> TrainingConfig:
    """The run's config from its recorded bytes (paths resolved as then), else from the recorded values."""
    source = record.reproduce.get("config_file")
    if source and source.get("text") is not None:
        return parse_config(source["text"], Path(source["path"]))
    return plan_mod.config_from_dict(record.data["config"])


def train_step(record: Record, config: TrainingConfig, python: str, workdir: Path) -> Step:
    """Re-train (and evaluate) with the recorded config and seeds; compare losses and eval metrics."""
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, output_dir=workdir / "adapter"))
    determinism = record.reproduce.get("determinism", {})
    tolerance = float(determinism.get("loss_tolerance", 0.0))
    plan = plan_mod.RunPlan(config=config, run_dir=workdir / "adapter" / "run", checkpoint_every=10**9,
                            resume=False, device=str(determinism.get("device", "auto")))
    path = plan_mod.write(plan)
    tty = sys.stderr.isatty()
    for stage in ("train", "eval"):
        launch.run_stage(launch.worker_argv(python, stage, path, 1), tty)
    result = json.loads((workdir / "adapter" / "train_result.json").read_text(encoding="utf-8"))
    evaluation = json.loads((workdir / "adapter" / "eval.json").read_text(encoding="utf-8"))
    metrics = record.data["metrics"]
    ours, theirs = [float(x) for x in result["losses"]], [float(x) for x in metrics["losses"]]
    lines = [f"final loss {ours[-1]:.6f} after {len(ours)} steps; the run: {theirs[-1]:.6f} after {len(theirs)}"]
    bad = [i for i, (a, b) in enumerate(zip(ours, theirs)) if abs(a - b) > tolerance * max(abs(b), 1e-12)]
    if len(ours) != len(theirs):
        bad.append(min(len(ours), len(theirs)))
    recorded_eval = (metrics.get("eval") or {}).get("adapter", {}).get("loss")
    eval_loss = evaluation["adapter"]["loss"]
    eval_bad = recorded_eval is not None and abs(eval_loss - recorded_eval) > tolerance * max(abs(recorded_eval), 1e-12)
    lines.append(f"eval loss {eval_loss:.6f}; the run: {recorded_eval if recorded_eval is None else f'{recorded_eval:.6f}'}")
    rule = "exact (CPU)" if tolerance == 0 else f"within {tolerance:g} relative ({determinism.get('device')})"
    lines.append(f"compared {rule}")
    if bad or eval_bad:
        first = bad[0] if bad else None
        if first is not None:
            lines.insert(1, f"the loss curve first differs at step {first + 1}")
        return Step("training", DRIFT, tuple(lines))
    return Step("training", OK, tuple(lines))


def verdict(steps: list[Step], deterministic: bool) -> tuple[str, str | None]:
    """The one-line verdict and the cause of a mismatch (None when it reproduced)."""
    by_name = {s.name: s for s in steps}
    causes = [("environment", "environment drift"), ("data", "data drift"), ("model", "model drift")]
    drifted = [(label, by_name[name]) for name, label in causes if by_name.get(name, Step(name, OK)).status == DRIFT]
    training = by_name.get("training")
    if training is None:
        if drifted:
            label, step = drifted[0]
            return (f"will not reproduce: {label}" + (f"; fix: {step.fix}" if step.fix else ""), label)
        return ("environment, data and model match the record (--check-only: not re-trained)", None)
    if training.status == OK:
        note = f" despite {', '.join(label for label, _ in drifted)}" if drifted else ""
        return (f"reproduced: identical losses and eval metrics{note}", None)
    if drifted:
        label, step = drifted[0]
        return (f"did not reproduce: {label}" + (f"; fix: {step.fix}" if step.fix else ""), label)
    why = ("the record says deterministic algorithms were on, so suspect a kernel without a deterministic "
           "variant" if deterministic else "set torch.use_deterministic_algorithms(True) and CUBLAS_WORKSPACE_CONFIG")
    return (f"did not reproduce: nondeterminism (environment, data and model match); {why}", "nondeterminism")


def build_venv(folder: Path) -> str:
    """Create an empty venv at ``folder`` with this interpreter; returns its python."""
    if folder.exists() and any(folder.iterdir()):
        raise InputError(f"{folder}: exists and is not empty; --venv builds a new venv, pass a new folder")
    proc = subprocess.run([sys.executable, "-m", "venv", str(folder)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise InputError(f"{folder}: `python -m venv` failed ({(proc.stderr.strip().splitlines() or ['?'])[-1]})")
    return str(folder / "bin" / "python")

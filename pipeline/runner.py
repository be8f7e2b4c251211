"""`envdoctor run` as a function: check the target, then data → train → eval → export.

This process stays light (no torch): it validates, checks, builds the data set (stdlib), and
starts the train and eval stages as child processes of the target interpreter.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from envdoctor.engine.report import use_color
from envdoctor.engine import check as checking
from envdoctor.env.snapshot import Snapshot
from envdoctor.env.target import resolve
from envdoctor import userfiles
from envdoctor.errors import ExitCode, InputError
from envdoctor.findings import Severity
from envdoctor.pipeline import data, export, launch, sample_db
from envdoctor.pipeline import plan as plan_mod
from envdoctor.project.config import (
    DEFAULT_FILE,
    DataConfig,
    TrainConfig,
    TrainingConfig,
    load_config,
)

STAGES = ("data", "train", "eval", "export")
TRAIN_PACKAGES = ("envdoctor", "torch", "transformers", "peft", "bitsandbytes", "accelerate", "matplotlib")
RECORD_FILE = "run_record.json"


@dataclass(frozen=True)
class RunOptions:
    """What `envdoctor run` was asked to do."""

    config_file: Path | None = None
    stage: str | None = None
    force: bool = False
    resume: bool = False
    processes: int | None = None
    python: str | None = None
    checkpoint_every: int = 50
    device: str = "auto"
    check: checking.CheckRequest = field(default_factory=checking.CheckRequest)


def default_config(root: Path) -> TrainingConfig:
    """The built-in run: bundled sample DB and ``builtin:tiny-llama``, sized for a few CPU minutes."""
    out = root / "out"
    return TrainingConfig(
        data=DataConfig(db=out / "finance_analysis.db", output=out / "instructions.jsonl", samples=200),
        train=TrainConfig(output_dir=out / "adapter", epochs=1, learning_rate=1e-3))


def _say(message: str) -> None:
    click.echo(message, err=True)


def check_target(options: RunOptions, quiet: bool) -> tuple[checking.CheckResult, dict[str, Any]]:
    """Run `envdoctor check`; refuse (exit 1) on errors unless ``--force``; returns the check record."""
    result = checking.run_check(options.check)
    errors = [f for f in result.findings if f.severity is Severity.ERROR]
    error_codes = sorted({f.code for f in errors})
    record = {"errors": error_codes,
              "warnings": sorted({f.code for f in result.findings if f.severity is Severity.WARNING}),
              "forced": bool(errors) and options.force}
    if errors and not options.force:
        from envdoctor.fix.plan import fixable_count

        fixable = fixable_count(result.findings, result.snapshot,
                                sorted(checking.build_keep(options.check, result.snapshot)))
        click.echo(checking.render(result, "text", strict=False, color=use_color(sys.stdout), fixable=fixable))
        same = [*(["--config", str(options.check.config_file)] if options.check.config_file else []),
                *(["--python", options.check.python] if options.check.python else [])]
        how = (f"(`{shlex.join(['envdoctor', 'fix', *same])}` plans the safe ones)" if fixable
               else "(each finding says how)")
        _say(f"envdoctor run: refused: `envdoctor check` found {len(errors)} error(s); fix them "
             f"{how}, or pass --force to train anyway (recorded in training_info.json)")
        raise ExitCode(1)
    if errors:
        _say(f"envdoctor run: --force: training despite {', '.join(error_codes)} (recorded)")
    elif not quiet:
        _say(f"check: no errors ({len(result.findings)} finding(s)) on {result.snapshot.source}")
    return result, record


def require_training_stack(snap: Snapshot, python: str) -> None:
    """The target interpreter must hold envdoctor and the training packages."""
    missing = [name for name in TRAIN_PACKAGES if name not in snap.distributions]
    if missing:
        raise InputError(f"{python}: lacks {', '.join(missing)}; install them there with "
                         f"`{python} -m pip install 'envdoctor[train]'`")


def _record(plan: plan_mod.RunPlan) -> dict[str, Any]:
    path = plan.run_dir / RECORD_FILE
    record = userfiles.load_json(path, "json", "delete it to start the run over") if path.is_file() else {}
    if not isinstance(record, dict):
        raise InputError(f"{path}: not a run record; delete it to start the run over")
    return record


def _save_record(plan: plan_mod.RunPlan, record: dict[str, Any]) -> None:
    path = plan.run_dir / RECORD_FILE
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False), encoding="utf-8")


def _trained(plan: plan_mod.RunPlan, data_sha256: str) -> bool:
    result = plan.config.train.output_dir / "train_result.json"
    if not result.is_file() or not (plan.adapter_dir / "adapter_config.json").is_file():
        return False
    saved = userfiles.load_json(result, "json", "delete it to train again")
    expected = plan_mod.training_hash(plan.config, data_sha256)
    return isinstance(saved, dict) and saved.get("config_hash") == expected and \
        saved.get("step") == saved.get("total_steps")


def _data_stage(config: TrainingConfig, built_in: bool) -> dict[str, Any]:
    if built_in and config.data.db is not None and not config.data.db.exists():
        sample_db.build(config.data.db)
        _say(f"data: built the sample database {config.data.db}")
    record = data.run(config.data).to_dict()
    if built_in:
        record["notes"].append("built-in default config: bundled sample database")
    counts = ", ".join(f"{k} {v}" for k, v in record["counts"].items())
    _say(f"data: {record['train'] + record['eval']} samples ({counts}; {record['eval']} held out, "
         f"{record['duplicates_removed']} duplicates dropped) from {record['db'] or 'templates'} "
         f"→ {record['path']}")
    for note in record["notes"]:
        _say(f"  note: {note}")
    return record


def run(options: RunOptions) -> Path | None:
    """Run the requested stages; returns training_info.json's path when the export stage ran."""
    started = time.perf_counter()
    tty = sys.stderr.isatty()
    config_file = options.config_file
    if config_file is None and Path(DEFAULT_FILE).is_file():
        config_file = Path(DEFAULT_FILE)
    built_in = config_file is None
    config = default_config(Path.cwd()) if config_file is None else load_config(config_file)
    processes = options.processes or config.launch.processes
    if processes > 1 and config.launch.strategy not in ("none", "ddp"):
        raise InputError(f"launch.strategy: {config.launch.strategy} is not run by `envdoctor run` yet; "
                         "use ddp (a full 4-bit model per GPU)")
    # check the interpreter that trains (the one running envdoctor unless --python), not the active one
    trains = options.python or options.check.python or (None if options.check.env_file else sys.executable)
    request = dataclasses.replace(options.check, python=trains,
                                  config_file=config_file, quiet=not tty,
                                  project_path=options.check.project_path or
                                  (config_file.parent if config_file else Path.cwd()))
    if config.train.style == "seed":
        _say("note: train.style: seed describes the seeds' recipe for `envdoctor estimate`; "
             "`envdoctor run` trains the pipeline way (packing, no fp32 upcast, chunked loss)")
    check_result, check_record = check_target(dataclasses.replace(options, check=request), quiet=not tty)
    python = options.python or sys.executable
    run_dir = config.train.output_dir / "run"
    plan = plan_mod.RunPlan(config=config, run_dir=run_dir, checkpoint_every=options.checkpoint_every,
                         resume=options.resume, device=options.device)
    try:
        plan_path = plan_mod.write(plan)
    except OSError as exc:
        raise InputError(f"{run_dir}: cannot write the run plan ({exc.strerror}); check train.output_dir") from None
    record = _record(plan)
    record["check"] = check_record
    stages = [options.stage] if options.stage else list(STAGES)
    if "data" in stages:
        record["data"] = _data_stage(config, built_in)
    elif "data" not in record or not Path(record["data"]["path"]).is_file():
        raise InputError(f"{config.data.output}: no data set yet; run `envdoctor run --stage data` first")
    _save_record(plan, record)
    if "train" in stages or "eval" in stages:
        snap = check_result.snapshot if options.check.env_file is None else resolve(python, None, None, None, None)
        require_training_stack(snap, python)
    if "train" in stages:
        if _trained(plan, record["data"]["sha256"]) and not options.stage:
            _say(f"train: already trained with this config and data ({plan.adapter_dir}); "
                 "remove it or change train.output_dir to train again")
        else:
            _say(f"train: {config.model.name_or_path} on {processes} process(es); checkpoints every "
                 f"{options.checkpoint_every} steps in {plan.checkpoints}")
            launch.run_stage(launch.worker_argv(python, "train", plan_path, processes), tty)
            result = json.loads((config.train.output_dir / "train_result.json").read_text(encoding="utf-8"))
            resumed = f", resumed from {result['resumed_from']}" if result["resumed_from"] else ""
            _say(f"train: {result['step']} steps, final loss {result['final_loss']:.4f}, "
                 f"{result['tokens_per_s']:,.0f} tokens/s ({result['precision']} on {result['device']}{resumed})")
            record["train_settings"] = result["settings"]  # what auto knobs chose, and why
            if result["settings"]["checkpointing"]["gradient_checkpointing"] == "auto":
                _say(f"  {result['settings']['checkpointing']['reason']}")
    if "eval" in stages:
        launch.run_stage(launch.worker_argv(python, "eval", plan_path, 1), tty)
        evaluation = json.loads((config.train.output_dir / "eval.json").read_text(encoding="utf-8"))
        _say(f"eval: held-out loss base {evaluation['base']['loss']:.4f} → adapter "
             f"{evaluation['adapter']['loss']:.4f} (perplexity {evaluation['base']['perplexity']:.1f} → "
             f"{evaluation['adapter']['perplexity']:.1f}); see {config.train.output_dir / 'eval.md'}")
    record["wall_seconds"] = record.get("wall_seconds", 0.0) + time.perf_counter() - started
    _save_record(plan, record)
    if "export" not in stages:
        return None
    environment = resolve(options.python, None, None, None, None)
    info = export.export(plan, environment, record, request.project_path or Path.cwd())
    _say(f"export: {config.train.output_dir} (adapter_model.safetensors, adapter_config.json, {info.name}); "
         f"later, `envdoctor diff {info} live` shows what changed in the environment")
    return info

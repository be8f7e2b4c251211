"""The export stage: the adapter files and ``training_info.json``, the run record.

``training_info.json`` holds the config, the data set's hash and counts, the training metrics
(loss curve, tokens/s, peak memory, wall time), the evaluation, the seeds, the check result,
the lockfile hash, and a snapshot of the environment under ``environment``, so that
``envdoctor diff training_info.json live`` tells whether the environment has drifted since.

Schema (``schema_version``): 1 had no version field; 2 adds ``reproduce``, what `envdoctor
reproduce` needs to rebuild and re-run the run (see :mod:`envdoctor.pipeline.provenance`):
``config_file`` (path, sha256 and exact text; null for the built-in default), ``data`` (sha256 of
the database and of the built JSONL), ``model`` (builtin config hash, hub revision and cached
commit, or a local folder's file hashes), ``seeds``, ``determinism`` (the device, torch's
deterministic-algorithm and cuDNN flags, and the loss tolerance they imply), and ``pip_sources``
(the indexes and find-links pip was configured with: pins came from there, or from the
``direct_url`` each distribution of ``environment`` carries).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from envdoctor import __version__
from envdoctor.env.record import pip_sources
from envdoctor.env.snapshot import Snapshot, utc_now
from envdoctor.errors import InputError
from envdoctor import userfiles
from envdoctor.pipeline import provenance
from envdoctor.pipeline.plan import RunPlan, config_to_dict

ADAPTER_FILES = ("adapter_model.safetensors", "adapter_config.json")
INFO_FILE = "training_info.json"
SCHEMA_VERSION = 2
LOCKFILE_NAMES = ("envdoctor.lock", "requirements.lock", "requirements-lock.txt", "requirements.txt")


def _read_json(path: Path, what: str) -> dict[str, Any]:
    data = userfiles.load_json(path, "json", f"no {what}; run the earlier stages first (`envdoctor run`)")
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a {what}; run the earlier stages again (`envdoctor run`)")
    return data


def find_lockfile(folder: Path) -> dict[str, str] | None:
    """The project's lockfile (first of :data:`LOCKFILE_NAMES` in ``folder``) and its SHA-256."""
    for name in LOCKFILE_NAMES:
        path = folder / name
        if path.is_file():
            return {"path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    return None


def reproduce_section(plan: RunPlan, train: dict[str, Any]) -> dict[str, Any]:
    """The record's ``reproduce`` part (schema 2): config bytes, data and model hashes, seeds, determinism."""
    config = plan.config
    flags = dict(train.get("determinism") or {})
    device = str(train["device"])
    return {
        "config_file": provenance.config_source(config.source),
        "data": provenance.data_hashes(config.data.db, config.data.output),
        "model": provenance.model_identity(config.model.name_or_path, config.model.revision),
        "seeds": {"data": config.data.seed, "train": config.train.seed},
        "determinism": {"device": device, **flags,
                        "loss_tolerance": provenance.loss_tolerance(
                            device, bool(flags.get("deterministic_algorithms")))},
        "pip_sources": pip_sources(),
    }


def export(plan: RunPlan, environment: Snapshot, run_record: dict[str, Any], project: Path) -> Path:
    """Copy the adapter next to the run record and write ``training_info.json``; returns its path."""
    out = plan.config.train.output_dir
    train = _read_json(out / "train_result.json", "training result")
    evaluation = _read_json(out / "eval.json", "evaluation") if (out / "eval.json").is_file() else None
    info = {
        "schema_version": SCHEMA_VERSION, "envdoctor": __version__, "created": utc_now(), "config": config_to_dict(plan.config),
        "config_file": str(plan.config.source) if plan.config.source else None,
        **run_record,
        "seeds": {"data": plan.config.data.seed, "train": plan.config.train.seed},
        "metrics": {"final_train_loss": train["final_loss"], "steps": train["step"],
                    "losses": train["losses"], "tokens_per_s": train["tokens_per_s"],
                    "train_seconds": train["train_seconds"], "seconds_per_step": train["seconds_per_step"],
                    "real_tokens": train["real_tokens"], "peak_memory_mib": train["peak_memory"],
                    "eval": evaluation and {k: evaluation[k] for k in ("base", "adapter", "eval_samples")}},
        "hardware": {"device": train["device"], "gpu": train["gpu"], "processes": train["world_size"],
                     "precision": train["precision"], "precision_reason": train["precision_reason"]},
        "resumed_from": train["resumed_from"], "training_hash": train["config_hash"],
        "lockfile": find_lockfile(project),
        "reproduce": reproduce_section(plan, train),
        "environment": environment.to_dict(),
    }
    target = out / INFO_FILE
    partial = out / (INFO_FILE + ".partial")
    try:
        for name in ADAPTER_FILES:
            shutil.copy2(plan.adapter_dir / name, out / name)
        userfiles.write_private(partial, (json.dumps(info, indent=2, ensure_ascii=False, default=str) + "\n").encode("utf-8"))
        os.replace(partial, target)
    except FileNotFoundError as exc:
        raise InputError(f"{exc.filename}: missing; run `envdoctor run --stage train` first") from None
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise InputError(f"{out}: cannot write the export ({exc.strerror}); the adapter in "
                         f"{plan.adapter_dir} is intact; free space, then `envdoctor run --stage export`") from None
    return target

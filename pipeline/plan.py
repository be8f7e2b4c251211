"""The run plan: what the parent hands the training child process, as one JSON file.

The child re-reads the config from the plan (not from the user's YAML) so the parent's
validated, path-resolved view is exactly what trains.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envdoctor.project.config import (
    DataConfig,
    LaunchConfig,
    LoraConfig,
    ModelConfig,
    TrainConfig,
    TrainingConfig,
)

PLAN_FILE = "plan.json"


@dataclass(frozen=True)
class RunPlan:
    """The config plus the run's own knobs and paths."""

    config: TrainingConfig
    run_dir: Path
    checkpoint_every: int
    resume: bool
    device: str  # "auto" | "cpu" | "cuda"

    @property
    def checkpoints(self) -> Path:
        """Folder of resumable checkpoints."""
        return self.config.train.output_dir / "checkpoints"

    @property
    def adapter_dir(self) -> Path:
        """Where the final adapter is saved by the train stage."""
        return self.config.train.output_dir / "final"

    @property
    def model_cache(self) -> Path:
        """Where builtin random-init models are materialised."""
        return self.run_dir / "models"


def config_to_dict(config: TrainingConfig) -> dict[str, Any]:
    """JSON-ready config (paths as strings); the inverse is :func:`config_from_dict`."""
    out: dict[str, Any] = {}
    for section in ("model", "data", "lora", "train", "launch"):
        values = dataclasses.asdict(getattr(config, section))
        out[section] = {k: (str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v)
                        for k, v in values.items()}
    return out


def config_from_dict(data: dict[str, Any]) -> TrainingConfig:
    """Rebuild the frozen config from :func:`config_to_dict` output."""
    lora = dict(data["lora"])
    if isinstance(lora["target_modules"], list):
        lora["target_modules"] = tuple(lora["target_modules"])
    paths = {"data": ("db", "output"), "train": ("output_dir",)}
    sections: dict[str, dict[str, Any]] = {"model": dict(data["model"]), "data": dict(data["data"]),
                                           "lora": lora, "train": dict(data["train"]),
                                           "launch": dict(data["launch"])}
    for section, keys in paths.items():
        for key in keys:
            if sections[section][key] is not None:
                sections[section][key] = Path(sections[section][key])
    return TrainingConfig(model=ModelConfig(**sections["model"]), data=DataConfig(**sections["data"]),
                          lora=LoraConfig(**sections["lora"]), train=TrainConfig(**sections["train"]),
                          launch=LaunchConfig(**sections["launch"]))


def training_hash(config: TrainingConfig, data_sha256: str) -> str:
    """Identity of a training run: everything that changes its result (not launch or paths)."""
    relevant = config_to_dict(config)
    relevant.pop("launch")
    relevant["train"].pop("output_dir")
    relevant["data"] = {"sha256": data_sha256}
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]


def write(plan: RunPlan) -> Path:
    """Save the plan under its run folder; returns the file."""
    plan.run_dir.mkdir(parents=True, exist_ok=True)
    path = plan.run_dir / PLAN_FILE
    payload = {"config": config_to_dict(plan.config), "run_dir": str(plan.run_dir),
               "checkpoint_every": plan.checkpoint_every, "resume": plan.resume, "device": plan.device}
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def read(path: Path) -> RunPlan:
    """Load a plan written by :func:`write`."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return RunPlan(config=config_from_dict(data["config"]), run_dir=Path(data["run_dir"]),
                checkpoint_every=data["checkpoint_every"], resume=data["resume"], device=data["device"])

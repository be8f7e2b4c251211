"""Resumable training checkpoints: adapter, optimizer, scheduler, RNG states and data position.

A checkpoint is written to ``step-NNNNNNN.partial`` and renamed into place only when complete;
``latest`` names the newest complete one.  A failed write (a full disk) removes its partial
folder and leaves every earlier checkpoint as it was.
"""

from __future__ import annotations

import errno
import json
import os
import random
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from envdoctor.errors import InputError

KEEP = 2
LATEST = "latest"


@dataclass
class TrainerState:
    """Where a run is: optimizer steps done, the loss per step, tokens seen, and the config hash."""

    step: int = 0
    total_steps: int = 0
    losses: list[float] = field(default_factory=list)
    real_tokens: int = 0
    train_seconds: float = 0.0
    config_hash: str = ""


def latest(folder: Path) -> Path | None:
    """The newest complete checkpoint under ``folder``, or None."""
    pointer = folder / LATEST
    if not pointer.is_file():
        return None
    name = pointer.read_text(encoding="utf-8", errors="replace").strip()
    if not re.fullmatch(r"step-[0-9]{7,}", name):
        return None  # a damaged pointer: start over rather than follow it out of the folder
    path = folder / name
    return path if (path / "trainer_state.json").is_file() else None


def rng_states() -> dict[str, Any]:
    """Python, NumPy and torch (CPU and CUDA) generator states, as tensors and plain lists.

    That form loads with ``torch.load(weights_only=True)``, which unpickles no code.
    """
    import numpy as np
    import torch

    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    states: dict[str, Any] = {"python": [version, list(internal), gauss],
                              "numpy": [str(kind), torch.from_numpy(np.asarray(keys, dtype=np.int64)), int(pos),
                                        int(has_gauss), float(cached)],
                              "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng(states: dict[str, Any]) -> None:
    """Inverse of :func:`rng_states`."""
    import numpy as np
    import torch

    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def load_training_state(path: Path) -> dict[str, Any]:
    """``training_state.pt`` of a checkpoint, unpickling no code (``weights_only=True``).

    A damaged or foreign file (a planted pickle included) is an InputError saying how to go on.
    """
    import pickle

    import torch

    file = path / "training_state.pt"
    try:
        saved = torch.load(file, weights_only=True, map_location="cpu")
        if not isinstance(saved, dict) or not {"optimizer", "scheduler", "rng"} <= set(saved):
            raise ValueError("missing optimizer, scheduler or rng")
    except (OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError, AttributeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise InputError(f"{file}: not a checkpoint envdoctor can load safely ({first}); remove the folder "
                         f"{path.parent} to start the run over") from None
    return saved


def save(folder: Path, state: TrainerState, model: Any, optimizer: Any, scheduler: Any) -> Path:
    """Write a complete checkpoint for ``state.step``; prune all but the newest :data:`KEEP`."""
    import torch

    name = f"step-{state.step:07d}"
    final = folder / name
    partial = folder / (name + ".partial")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(partial, ignore_errors=True)
        model.save_pretrained(partial, safe_serialization=True)
        torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "rng": rng_states()}, partial / "training_state.pt")
        (partial / "trainer_state.json").write_text(json.dumps(asdict(state)), encoding="utf-8")
        shutil.rmtree(final, ignore_errors=True)
        partial.rename(final)
        pointer = folder / (LATEST + ".tmp")
        pointer.write_text(name, encoding="utf-8")
        os.replace(pointer, folder / LATEST)
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        previous = latest(folder)
        kept = f"the earlier checkpoint {previous} is intact" if previous else "no earlier checkpoint exists"
        hint = "free some space" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "fix the folder"
        raise InputError(f"{final}: cannot write the checkpoint ({exc.strerror or exc}); {kept}; "
                         f"{hint}, then `envdoctor run --resume`") from None
    for old in sorted(folder.glob("step-*"))[:-KEEP]:
        if not old.name.endswith(".partial"):
            shutil.rmtree(old, ignore_errors=True)
    return final


def load(path: Path, model: Any, optimizer: Any, scheduler: Any) -> TrainerState:
    """Load adapter weights, optimizer, scheduler and RNG from ``path``; returns its trainer state."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    saved = load_training_state(path)
    try:
        record = TrainerState(**json.loads((path / "trainer_state.json").read_text(encoding="utf-8")))
        set_peft_model_state_dict(model, load_file(str(path / "adapter_model.safetensors")))
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        restore_rng(saved["rng"])
    except (OSError, ValueError, TypeError, KeyError, RuntimeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise InputError(f"{path}: damaged checkpoint ({first}); remove the folder {path.parent} "
                         "to start the run over") from None
    return record

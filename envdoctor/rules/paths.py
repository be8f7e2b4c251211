"""Paths the training config names: ED210 missing, ED211 unusable, ED212 disk space for checkpoints."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from envdoctor.findings import Applicability, FileEdit, Finding, Fix, Location, hint
from envdoctor.knowledge.base import RuleEntry
from envdoctor.project.config import TrainingConfig
from envdoctor.project.facts import ProjectFacts, display_path
from envdoctor.project.locate import PathFacts
from envdoctor.rules.base import Context, implements

MiB = 1 << 20
GiB = 1 << 30
# A 7B LLaMA-class shape, used when the model's config.json is not at hand (a hub id).
FALLBACK_SHAPE = {
    "hidden_size": 4096,
    "intermediate_size": 11008,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 32,
}
ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
# Per checkpoint: fp32 adapter weights (4 bytes) plus Adam's two fp32 moments (8 bytes) per parameter.
BYTES_PER_ADAPTER_PARAM = 12
CHECKPOINT_OVERHEAD = 16 * MiB  # tokenizer files, trainer state, RNG state
PLAIN_YAML = re.compile(r"[\w./~-]+")


def _config_location(config: TrainingConfig | None, facts: PathFacts) -> tuple[Location, ...]:
    if config is None or config.source is None:
        return ()
    return (Location(display_path(config.source), facts.line),)


def _yaml_scalar(text: str) -> str:
    return text if PLAIN_YAML.fullmatch(text) else json.dumps(text, ensure_ascii=False)


def _path_as_written(found: Path, config: TrainingConfig, written: str | None) -> str:
    """``found`` written like the old value: relative to the config's folder when that was relative."""
    if config.source is not None and not (written or "").startswith(("/", "~")):
        try:
            return found.relative_to(config.source.parent).as_posix()
        except ValueError:
            pass
    return found.as_posix()


def _use_found_fix(facts: PathFacts, found: Path, config: TrainingConfig) -> Fix:
    new_value = _yaml_scalar(_path_as_written(found, config, facts.written))
    title = f"set {facts.key}: {new_value} (a file of the same name found there; check it is the right one)"
    if config.source is None or facts.line_text is None or not facts.written or facts.written not in facts.line_text:
        return hint(title)
    edit = FileEdit(
        path=str(config.source),
        action="replace",
        old=facts.line_text,
        new=facts.line_text.replace(facts.written, new_value, 1),
    )
    return Fix(title=title, applicability=Applicability.UNSAFE, edits=(edit,))


@implements("ED210")
def config_path_missing(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """A file or folder the config reads does not exist; suggest a same-named file nearby."""
    project: ProjectFacts | None = ctx.project
    if project is None or project.config is None:
        return
    for facts in project.paths:
        if facts.exists or facts.expect == "output":
            continue
        what = "file" if facts.expect == "file" else "folder"
        message = f"{facts.key}: the {what} {facts.path} does not exist"
        fixes: list[Fix] = []
        if facts.nearby:
            message += "; a file of the same name is at " + ", ".join(str(p) for p in facts.nearby)
            fixes.append(_use_found_fix(facts, facts.nearby[0], project.config))
        elif facts.expect == "file":
            message += " and no file of that name is nearby"
        if facts.search_note:
            message += f" (search {facts.search_note})"
        fixes.append(hint(f"copy the {what} to {facts.path}, or point {facts.key} at where it is"))
        yield entry.finding(message, locations=_config_location(project.config, facts), fixes=tuple(fixes))


def _unusable(facts: PathFacts) -> str | None:
    """Why an existing path cannot be used as the config needs, or None."""
    if facts.expect == "file":
        if facts.is_dir:
            return "is a folder, but a file is expected"
        if not facts.is_file:
            return "is not a regular file"
        return None if facts.readable else "cannot be read (permission denied)"
    if facts.expect == "dir":
        if not facts.is_dir:
            return "is a file, but a folder is expected"
        return None if facts.readable else "cannot be listed (permission denied)"
    if facts.exists and not facts.is_dir:
        return "is a file, but the run writes a folder there"
    return None if facts.writable else "cannot be written (no write permission on it or its nearest existing parent)"


@implements("ED211")
def config_path_unusable(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """A path the config names exists but is the wrong kind or lacks the access the run needs."""
    project: ProjectFacts | None = ctx.project
    if project is None or project.config is None:
        return
    for facts in project.paths:
        if not facts.exists and facts.expect != "output":
            continue
        problem = _unusable(facts)
        if problem is None:
            continue
        yield entry.finding(
            f"{facts.key}: {facts.path} {problem}",
            locations=_config_location(project.config, facts),
            fixes=(hint(f"point {facts.key} at a path the run can use, or fix its permissions"),),
        )


def _dimension(shape: Mapping[str, Any], key: str) -> int:
    value = shape.get(key, FALLBACK_SHAPE.get(key))
    return int(value) if isinstance(value, (int, float)) else int(FALLBACK_SHAPE[key])


def adapter_parameters(shape: Mapping[str, Any], r: int, target_modules: tuple[str, ...] | str) -> int:
    """LoRA parameters: r × (in + out) for each targeted projection of each layer."""
    hidden = _dimension(shape, "hidden_size")
    inner = _dimension(shape, "intermediate_size")
    heads = _dimension(shape, "num_attention_heads")
    kv = int(shape.get("num_key_value_heads") or heads)
    kv_width = hidden // heads * kv
    sizes = {
        "q_proj": (hidden, hidden),
        "k_proj": (hidden, kv_width),
        "v_proj": (hidden, kv_width),
        "o_proj": (hidden, hidden),
        "gate_proj": (hidden, inner),
        "up_proj": (hidden, inner),
        "down_proj": (inner, hidden),
    }
    modules = ALL_LINEAR if target_modules == "all-linear" else tuple(target_modules)
    per_layer = sum(r * sum(sizes.get(m, (hidden, hidden))) for m in modules)
    return per_layer * _dimension(shape, "num_hidden_layers")


def checkpoint_bytes(config: TrainingConfig, shape: Mapping[str, Any] | None) -> int:
    """Disk the run writes under output_dir: one checkpoint per epoch plus the final adapter."""
    params = adapter_parameters(shape or FALLBACK_SHAPE, config.lora.r, config.lora.target_modules)
    per_checkpoint = params * BYTES_PER_ADAPTER_PARAM + CHECKPOINT_OVERHEAD
    return per_checkpoint * (config.train.epochs + 1)


def _size(value: int) -> str:
    return f"{value / GiB:.1f} GiB" if value >= GiB else f"{math.ceil(value / MiB)} MiB"


@implements("ED212")
def output_disk_space(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """The output folder's file system has less free space than the checkpoints need."""
    project: ProjectFacts | None = ctx.project
    if project is None or project.config is None:
        return
    facts = next((p for p in project.paths if p.key == "train.output_dir"), None)
    if facts is None or facts.free_bytes is None:
        return
    need = checkpoint_bytes(project.config, project.model_shape)
    if facts.free_bytes >= need:
        return
    assumed = "" if project.model_shape else " (assuming a 7B LLaMA-class shape: the model's config.json is not local)"
    yield entry.finding(
        f"train.output_dir: {facts.path} has {_size(facts.free_bytes)} free, but "
        f"{project.config.train.epochs + 1} checkpoints of the LoRA adapter with its optimizer "
        f"state need about {_size(need)}{assumed}: saving fails part-way through training",
        locations=_config_location(project.config, facts),
        fixes=(hint("free disk space, or point train.output_dir at a larger disk (e.g. Google Drive on Colab)"),),
    )


__all__ = ["adapter_parameters", "checkpoint_bytes"]

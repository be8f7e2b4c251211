"""ED700 gpu-memory-headroom and ED701 host-ram-headroom: will the training config fit?

Both read the project's ``envdoctor.yaml`` and the model's config.json values
(``ctx.project``), the GPU named by ``--gpu`` (``ctx.extras["gpu_target"]``) or the
live GPUs' free memory and available RAM (``ctx.snapshot.hardware``), and predict
with :mod:`envdoctor.memory.estimate` (arithmetic, no torch).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from envdoctor.errors import InputError
from envdoctor.findings import (
    Applicability,
    FileEdit,
    Finding,
    Fix,
    Location,
    Severity,
    hint,
)
from envdoctor.knowledge.base import RuleEntry
from envdoctor.memory.estimate import TrainingPlan, host_ram
from envdoctor.memory.headroom import (
    WARN_SHARE,
    budget_for,
    config_changes,
    judge,
    plan_from_config,
    yaml_scalar,
)
from envdoctor.memory.shapes import ModelShape, shape_from_config
from envdoctor.rules.base import Context, implements

SAFE_KEYS = {"train.gradient_checkpointing"}  # same result, only slower


def _inputs(ctx: Context) -> tuple[Any, ModelShape] | None:
    """The config and the model's shape, when both are known and modelled."""
    facts = ctx.project
    config = getattr(facts, "config", None)
    shape_values = getattr(facts, "model_shape", None)
    if config is None or not shape_values:
        return None
    try:
        return config, shape_from_config(dict(shape_values), config.model.name_or_path)
    except InputError:  # e.g. a mixture-of-experts config: not modelled, say nothing rather than guess
        return None


def _weights_format(facts: Any) -> str:
    files: frozenset[str] = getattr(getattr(facts, "model", None), "files", frozenset())
    has_bin = any(name.endswith(".bin") and name.startswith("pytorch_model") for name in files)
    return "bin" if has_bin and not any(name.endswith(".safetensors") for name in files) else "safetensors"


def _location(config: Any, key: str) -> tuple[Location, ...]:
    if config.source is None:
        return ()
    return (Location(str(config.source), config.line_of(key)),)


def _edits(config: Any, changes: dict[str, Any]) -> tuple[FileEdit, ...]:
    """Exact line replacements in envdoctor.yaml for ``changes``.

    A key the file does not set is written on a new line after a sibling key of the same
    section that it does set (``train.gradient_accumulation`` after ``train.batch_size``).
    """
    if config.source is None:
        return ()
    lines: dict[str, str] = {}  # original line -> new text
    for key, value in changes.items():
        line, written = config.line_text(key), config.written.get(key)
        if line is not None and written is not None:
            head, _, tail = line.partition(written)
            lines[line] = lines.get(line, line).replace(line, f"{head}{yaml_scalar(value)}{tail}")
            continue
        section, leaf = key.rsplit(".", 1)
        sibling = next((k for k in changes if k.startswith(section + ".") and config.line_text(k)), None)
        if sibling is None:
            continue
        anchor = config.line_text(sibling)
        indent = anchor[: len(anchor) - len(anchor.lstrip())]
        lines[anchor] = lines.get(anchor, anchor) + f"\n{indent}{leaf}: {yaml_scalar(value)}"
    return tuple(
        FileEdit(path=str(config.source), action="replace", old=old, new=new)
        for old, new in lines.items()
        if old != new
    )


def _fix(config: Any, title: str, old: TrainingPlan, new: TrainingPlan) -> Fix:
    changes = config_changes(old, new)
    keys = ", ".join(f"{key}: {yaml_scalar(value)}" for key, value in changes.items())
    safe = set(changes) <= SAFE_KEYS
    return Fix(
        title=f"{title} [{keys}]",
        applicability=Applicability.SAFE if safe else Applicability.UNSAFE,
        edits=_edits(config, changes),
    )


@implements("ED700")
def gpu_memory_headroom(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """The predicted peak GPU memory of the config's training run fits the GPU."""
    found = _inputs(ctx)
    if found is None:
        return
    config, shape = found
    budget = budget_for(ctx.extras.get("gpu_target"), ctx.snapshot.hardware.gpus, config.launch.processes)
    if budget is None:
        return
    plan = plan_from_config(config, budget.gpu.capability, _weights_format(ctx.project))
    verdict = judge(shape, plan, budget)
    if verdict.fits and not verdict.tight:
        return
    parts = ", ".join(f"{c.name} {c.mib / 1024:.1f}" for c in verdict.estimate.components if c.mib >= 51.2)
    fixes = tuple(
        _fix(config, f"{o.title}: predicted peak {o.peak_mib / 1024:.1f} GiB", plan, o.plan) for o in verdict.options
    )
    if not fixes:
        fixes = (hint(f"no single change fits {budget.label}: use a GPU with more memory"),)
    yield entry.finding(
        f"{config.model.name_or_path} with batch_size {plan.batch_size} x max_length {plan.max_length}, "
        f"LoRA r={plan.lora_r}, {plan.optimizer}, {plan.style} style {verdict.summary()} "
        f"(GiB: {parts})",
        severity=Severity.ERROR if not verdict.fits else Severity.WARNING,
        locations=_location(config, "train.batch_size"),
        fixes=fixes,
        confidence="approximate" if not shape.exact else None,
    )


@implements("ED701")
def host_ram_headroom(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """Loading the base model in every process fits the host's available RAM."""
    found = _inputs(ctx)
    available = ctx.snapshot.hardware.ram_available_mib
    if found is None or available is None or ctx.extras.get("gpu_target"):
        return  # planning for another machine: this host's RAM says nothing about it
    config, shape = found
    plan = plan_from_config(config, None, _weights_format(ctx.project))
    need = host_ram(shape, plan)
    if need.peak_mib <= WARN_SHARE * available:
        return
    fixes = []
    if plan.processes > 1:
        single = replace(plan, processes=1, strategy="none")
        fixes.append(
            Fix(
                title=(
                    f"train single-process QLoRA (launch.processes: 1, strategy: none): predicted host RAM "
                    f"{host_ram(shape, single).peak_mib / 1024:.1f} GiB"
                ),
                applicability=Applicability.UNSAFE,
                edits=_edits(config, {"launch.processes": 1, "launch.strategy": "none"}),
            )
        )
    fits = need.peak_mib <= available
    yield entry.finding(
        f"loading {config.model.name_or_path} needs about {need.peak_mib / 1024:.1f} GiB of host RAM "
        f"({need.detail}); {available / 1024:.1f} GiB is available"
        + ("" if fits else ": the kernel will kill the process (exit code -9/247, often no log)"),
        severity=Severity.WARNING if fits else Severity.ERROR,
        locations=_location(config, "launch.processes"),
        fixes=tuple(fixes),
    )

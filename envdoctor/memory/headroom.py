"""Does a training config fit the GPU (and host RAM)?  Shared by `envdoctor estimate` and rule ED700/ED701.

Turns an ``envdoctor.yaml`` into a :class:`~envdoctor.memory.estimate.TrainingPlan`, picks the
memory budget (a named GPU from the table, or the live GPU's free memory from NVML),
and gives a verdict with the changes that would fit.  Pure arithmetic: no torch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from envdoctor.memory.estimate import (
    Estimate,
    Option,
    TrainingPlan,
    estimate,
    fitting_options,
)
from envdoctor.memory.gpus import GpuSpec, find_gpu, spec_for_live, supports_bf16
from envdoctor.memory.shapes import resolve_targets

# Warn when the predicted peak uses more than this share of the budget: the estimator's
# measured errors reach about +-8%, and other processes or a longer batch can add more.
WARN_SHARE = 0.90


@dataclass(frozen=True)
class Budget:
    """GPU memory the run may use: ``free_mib`` of ``gpu``; ``live`` when read from NVML."""

    gpu: GpuSpec
    free_mib: float
    live: bool

    @property
    def label(self) -> str:
        """Human-readable name of the budget."""
        if self.live:
            return f"{self.gpu.name} ({self.free_mib / 1024:.1f} GiB free now)"
        return self.gpu.name


@dataclass(frozen=True)
class Verdict:
    """An estimate against a budget, with the fitting alternatives when it does not fit comfortably."""

    estimate: Estimate
    budget: Budget
    options: tuple[Option, ...]

    @property
    def fits(self) -> bool:
        """Whether the predicted peak is within the budget."""
        return self.estimate.peak_mib <= self.budget.free_mib

    @property
    def tight(self) -> bool:
        """Fits, but above :data:`WARN_SHARE` of the budget."""
        return self.fits and self.estimate.peak_mib > WARN_SHARE * self.budget.free_mib

    def summary(self) -> str:
        """One sentence: predicted peak vs budget."""
        peak, free = self.estimate.peak_mib / 1024, self.budget.free_mib / 1024
        if not self.fits:
            return f"does NOT fit: predicted peak {peak:.1f} GiB > {free:.1f} GiB on {self.budget.label}"
        if self.tight:
            return (f"fits with little headroom: predicted peak {peak:.1f} GiB is {peak / free:.0%} of "
                    f"{self.budget.label}")
        return f"fits: predicted peak {peak:.1f} GiB of {self.budget.label}"


def budget_for(gpu_target: str | None, live_gpus: tuple[Any, ...], processes: int = 1) -> Budget | None:
    """The named GPU (``--gpu T4``), else the live GPU with the least free memory among those used."""
    if gpu_target:
        spec = find_gpu(gpu_target)
        return Budget(spec, spec.memory_mib, live=False)
    if not live_gpus:
        return None
    used = sorted(live_gpus, key=lambda g: g.index)[:max(1, processes)]
    gpu = min(used, key=lambda g: g.memory_free_mib)
    return Budget(spec_for_live(gpu.name, gpu.capability, gpu.memory_total_mib), gpu.memory_free_mib, live=True)


def precision_for(requested: str, capability: str | None) -> str:
    """The config's precision, with ``auto`` resolved as the pipeline does (bf16 if supported, else fp16)."""
    if requested != "auto":
        return requested
    return "bf16" if capability is None or supports_bf16(capability) else "fp16"


def plan_from_config(config: Any, capability: str | None = None, weights_format: str = "safetensors") -> TrainingPlan:
    """The memory-relevant knobs of an ``envdoctor.project.config.TrainingConfig``."""
    train, launch = config.train, config.launch
    return TrainingPlan(batch_size=train.batch_size, max_length=train.max_length, lora_r=config.lora.r,
                        targets=resolve_targets(config.lora.target_modules), optimizer=train.optimizer,
                        gradient_checkpointing=train.gradient_checkpointing is not False,  # auto fits iff on fits
                        attn=config.model.attn_implementation, style=train.style,
                        precision=precision_for(train.precision, capability), processes=launch.processes,
                        strategy=launch.strategy, weights_format=weights_format, packing=train.packing)


@dataclass(frozen=True)
class CheckpointChoice:
    """What ``train.gradient_checkpointing: auto`` picked: ``layers`` of ``of`` decoder layers checkpointed."""

    layers: int
    of: int
    predicted_mib: float
    budget_mib: float
    reason: str
    whole_batch_loss: bool = False  # one loss chunk for the whole micro-batch, its logits kept (no recompute)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for the run record."""
        return {"checkpointed_layers": self.layers, "layers": self.of, "whole_batch_loss": self.whole_batch_loss,
                "predicted_peak_mib": round(self.predicted_mib), "budget_mib": round(self.budget_mib),
                "reason": self.reason}


def choose_checkpointing(shape: Any, plan: TrainingPlan, budget_mib: float) -> CheckpointChoice:
    """The fewest checkpointed layers (fastest) whose predicted peak is within WARN_SHARE of ``budget_mib``.

    Each checkpointed layer recomputes its forward in the backward pass; its memory falls
    monotonically with their number, so the first count that fits is the fastest that fits.  With
    no layer checkpointed, the loss is also taken in one chunk (logits kept, not recomputed) when
    that fits too.
    """
    limit = WARN_SHARE * budget_mib
    whole = replace(plan, gradient_checkpointing=False, checkpoint_layers=0, loss_chunk_tokens=plan.tokens)
    peak = estimate(shape, whole).peak_mib
    if peak <= limit:
        return CheckpointChoice(0, shape.layers, peak, budget_mib,
                                f"auto: checkpointing off and the loss in one chunk per micro-batch, the fastest "
                                f"setting; its estimated peak {peak / 1024:.1f} GiB is within {WARN_SHARE:.0%} of "
                                f"{budget_mib / 1024:.1f} GiB", whole_batch_loss=True)
    for layers in range(shape.layers + 1):
        candidate = replace(plan, gradient_checkpointing=layers > 0, checkpoint_layers=layers)
        peak = estimate(shape, candidate).peak_mib
        if peak <= limit:
            what = "off" if layers == 0 else ("on" if layers == shape.layers else f"on for {layers} of {shape.layers} layers")
            return CheckpointChoice(layers, shape.layers, peak, budget_mib,
                                    f"auto: checkpointing {what}, the fastest setting whose estimated peak "
                                    f"{peak / 1024:.1f} GiB is within {WARN_SHARE:.0%} of {budget_mib / 1024:.1f} GiB")
    peak = estimate(shape, replace(plan, gradient_checkpointing=True, checkpoint_layers=None)).peak_mib
    return CheckpointChoice(shape.layers, shape.layers, peak, budget_mib,
                            f"auto: checkpointing on: even then the estimated peak {peak / 1024:.1f} GiB exceeds "
                            f"{WARN_SHARE:.0%} of {budget_mib / 1024:.1f} GiB")


def judge(shape: Any, plan: TrainingPlan, budget: Budget) -> Verdict:
    """Estimate ``plan`` and, unless it fits comfortably, list the changes that fit."""
    result = estimate(shape, plan)
    options: tuple[Option, ...] = ()
    if result.peak_mib > WARN_SHARE * budget.free_mib:
        options = tuple(fitting_options(shape, plan, WARN_SHARE * budget.free_mib))
    return Verdict(result, budget, options)


# The envdoctor.yaml key and YAML value each plan field is written as.
CONFIG_KEYS = {"batch_size": "train.batch_size", "max_length": "train.max_length",
               "gradient_checkpointing": "train.gradient_checkpointing", "optimizer": "train.optimizer",
               "style": "train.style", "attn": "model.attn_implementation"}


def config_changes(old: TrainingPlan, new: TrainingPlan) -> dict[str, Any]:
    """Dotted config key → new value for every field that differs between two plans."""
    changes = {}
    for field_name, key in CONFIG_KEYS.items():
        if getattr(old, field_name) != getattr(new, field_name):
            changes[key] = getattr(new, field_name)
    if new.batch_size < old.batch_size:
        changes["train.gradient_accumulation"] = old.batch_size // new.batch_size
    return changes


def yaml_scalar(value: Any) -> str:
    """``value`` as it is written in envdoctor.yaml."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

"""Family: CUDA out of memory — the log's numbers handed to the memory estimator.

``Tried to allocate X (GPU 0; Y total capacity; Z reserved ...)`` and the newer
``GPU 0 has a total capacity of Y of which F is free`` give the GPU's size and what the
process held.  When the model size is known (the log or envdoctor.yaml), the estimator
(envdoctor.memory) predicts the run's peak and lists the cheapest configuration changes
that fit the logged capacity; otherwise the usual levers are listed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from envdoctor.errors import InputError
from envdoctor.explain.diagnosis import HIGH, MEDIUM, Diagnosis, Evidence, explains, say
from envdoctor.explain.extractors import HitGroup
from envdoctor.findings import Applicability, Fix
from envdoctor.knowledge.base import RuleEntry
from envdoctor.memory.estimate import TrainingPlan, estimate, fitting_options
from envdoctor.memory.headroom import WARN_SHARE, plan_from_config
from envdoctor.memory.shapes import shape_from_params

ESTIMATE_HINT = "estimate peak GPU memory and host RAM first: `envdoctor estimate --config envdoctor.yaml`"
MAX_OOM_TEXT = 4000
_SIZE = r"(\d+(?:\.\d+)?) ?([KMGT]i?B)"
_TRIED = re.compile(r"Tried to allocate " + _SIZE)
_CAPACITY = re.compile(_SIZE + r" total capacity|total capacity of " + _SIZE)
_RESERVED = re.compile(_SIZE + r" reserved in total by PyTorch|" + _SIZE + r" is reserved by PyTorch")
_FREE = re.compile(r"of which " + _SIZE + r" is free|" + _SIZE + r" free;")


@dataclass(frozen=True)
class Size:
    """A size as the log wrote it, and in MiB."""

    text: str
    mib: float


@dataclass(frozen=True)
class OomNumbers:
    """Sizes an OOM message states (None where it does not state one)."""

    tried: Size | None
    capacity: Size | None
    reserved: Size | None
    free: Size | None


def _size(match: re.Match[str] | None) -> Size | None:
    if match is None:
        return None
    number, unit = [g for g in match.groups() if g is not None][:2]
    return Size(f"{number} {unit}", float(number) * {"K": 2**-10, "M": 1, "G": 2**10, "T": 2**20}[unit[0]])


def read_numbers(text: str) -> OomNumbers:
    """The sizes in an OOM message (bounded text)."""
    text = text[:MAX_OOM_TEXT]
    return OomNumbers(_size(_TRIED.search(text)), _size(_CAPACITY.search(text)), _size(_RESERVED.search(text)),
                      _size(_FREE.search(text)))


def _gib(mib: float) -> str:
    return f"{mib / 1024:.2f} GiB"


def _plan(ev: Evidence) -> TrainingPlan:
    config = getattr(ev.ctx.project, "config", None) if ev.ctx is not None else None
    if config is not None:
        return plan_from_config(config)
    facts = ev.facts
    plan = TrainingPlan()
    return TrainingPlan(batch_size=facts.batch_size or plan.batch_size, max_length=facts.max_length or plan.max_length)


def _estimated(ev: Evidence, capacity: float) -> tuple[str, list[Fix]] | None:
    """The estimator's peak for the logged run and the changes that fit ``capacity`` MiB."""
    if ev.facts.params_billion is None:
        return None
    try:
        shape = shape_from_params(f"{ev.facts.params_billion:g}B")
    except InputError:
        return None
    plan = _plan(ev)
    peak = estimate(shape, plan).peak_mib
    options = fitting_options(shape, plan, WARN_SHARE * capacity)
    said = (f"the estimator predicts {_gib(peak)} for a {ev.facts.params_billion:g}B model at batch "
            f"{plan.batch_size} × {plan.max_length} tokens against {_gib(capacity)}")
    fixes = [say(f"{o.title} (predicted peak {_gib(o.peak_mib)})") for o in options[:3]]
    return said, fixes


@explains("ED604")
def cuda_out_of_memory(group: HitGroup, entry: RuleEntry, ev: Evidence) -> Diagnosis:
    """CUDA OOM: the sizes from the message, the estimator's configuration that fits, and the levers."""
    numbers = read_numbers(" ".join(o.text for o in group.occurrences))
    parts = ["the GPU ran out of memory"]
    if numbers.tried is not None:
        parts.append(f"while allocating {numbers.tried.text}")
    capacity = numbers.capacity.mib if numbers.capacity else None
    if numbers.capacity is not None:
        parts.append(f"of {numbers.capacity.text} total")
    if numbers.free is not None:
        parts.append(f"({numbers.free.text} free)")
    if numbers.reserved is not None:
        parts.append(f"({numbers.reserved.text} reserved by PyTorch)")
    if ev.ctx is not None and ev.ctx.snapshot.hardware.gpus:
        gpu = ev.ctx.snapshot.hardware.gpus[0]
        parts.append(f"(this machine: {gpu.name}, {gpu.memory_total_mib / 1024:.1f} GiB)")
        capacity = capacity or float(gpu.memory_total_mib)
    levers = [say(ESTIMATE_HINT),
              say("halve train.batch_size and double gradient_accumulation (same effective batch)",
                  "lower max_length (512 → 256)"),
              say("enable gradient checkpointing (train.gradient_checkpointing: true)"),
              say("use a paged 8-bit optimizer (train.optimizer: paged_adamw_8bit)")]
    tried, total, held = (n.mib if n else None for n in (numbers.tried, numbers.capacity, numbers.reserved))
    if held is not None and tried is not None and total is not None and total - held < tried < total * 0.25:
        levers.append(Fix(title="much memory is reserved but unallocated: reduce fragmentation",
                          applicability=Applicability.DISPLAY_ONLY,
                          env={"PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True"}))
    else:
        levers.append(Fix(title="if the message says reserved-but-unallocated memory is large, reduce fragmentation",
                          applicability=Applicability.DISPLAY_ONLY,
                          env={"PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True"}))
    fitted = _estimated(ev, capacity) if capacity else None
    if fitted is None:
        return Diagnosis(" ".join(parts), MEDIUM, tuple(levers))
    said, fixes = fitted
    return Diagnosis(" ".join(parts) + f"; {said}", HIGH if fixes else MEDIUM, (*fixes, *levers))

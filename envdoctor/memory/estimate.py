"""Peak GPU memory and host RAM of a QLoRA run, by arithmetic (no torch).

``pipeline`` style (what `envdoctor run` trains) is modelled term by term from the code it
runs, each term checked on its own on an H200 (bench/calibrate_memory.py,
bench/results/memory_h200.json):

    peak = NF4 weights + 16-bit embeddings/lm_head/norms          (what ``load_quantized`` keeps)
         + LoRA weights + their grads + optimizer state          (dtype as ``attach_lora`` leaves it)
         + activations kept for backward                         (per layer, see ``layer_bytes``)
         + the largest transient                                 (a loss chunk, or one layer's recompute)
         + cuBLAS workspaces + allocator slack
         + memory outside torch's allocator                      (CUDA context, kernels' modules)

Per layer and token a 16-bit decoder layer under peft LoRA and bitsandbytes 4-bit keeps: two
fp32 RMSNorm inputs (8H); for sdpa under the packed block-diagonal mask the rotated q and k/v
repeated to all heads, and the output (8 x heads x head_dim) plus the fp32 logsumexp (4 x heads);
SiLU's input, its output and up_proj's output (6I); each LoRA input's dropout output and mask
(3 B per input feature; 5 B when LoRA is fp32, as under fp16, since peft casts the
input to the adapter's dtype).  bitsandbytes' 4-bit matmul saves no input.  The packed mask is
tokens^2 bools, and sdpa keeps a 16-bit copy of it per layer (padded to 16 columns).  The
loss projects ``LOSS_CHUNK_TOKENS`` tokens at a time: 12 B per logit at the peak of a chunk's
backward.  ``seed`` style (``prepare_model_for_kbit_training``: fp32 embeddings and residual
stream, full fp32 logits) keeps the coefficients fitted on an H100 (memory_calibration.json).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from envdoctor.memory.recipe import LOSS_CHUNK_TOKENS

MIB = 2**20
# NF4 codes (0.5 B) + an 8-bit absmax per 64 weights + an fp32 absmax per 256 of those (double quantization).
NF4_BYTES_PER_PARAM = 0.5 + 1 / 64 + 4 / (64 * 256)
NF4_ACCELERATE_BYTES_PER_PARAM = 0.5  # accelerate's `estimate-memory` int4 column: weights only
# Measured on an H200 (CUDA 13.0, torch 2.11, driver 580): NVML's used memory minus torch's reserved
# memory of a training process (CUDA context, the loaded kernels of torch, bitsandbytes and triton).
OUTSIDE_TORCH_MIB = 1462
# torch's cuBLAS/cuBLASLt workspaces, one per thread that runs matmuls (forward and autograd's): 2 x 32 MiB.
CUBLAS_WORKSPACES_MIB = 64
# The seeds' recipe was calibrated on an H100 with one overhead term for context and workspaces.
SEED_CUDA_OVERHEAD_MIB = 1450
# Host: a process that imported torch with CUDA holds about 1 GiB before loading anything (measured).
PROCESS_BASE_RAM_MIB = 1024
SEED_LOSS_CHUNK = 1024
# Bytes per logit at the peak of a loss chunk: fp32 logits and log-softmax recomputed, their grad (12 B).
LOSS_BYTES_PER_LOGIT = 12
# Allocator slack (reserved - allocated) with expandable segments, as a share of the step's dynamic memory.
SLACK_SHARE = 0.02
SLACK_FIXED_MIB = 32
OPTIMIZERS = ("adamw_torch", "adamw_8bit", "paged_adamw_8bit", "paged_adamw_32bit")
STYLES = ("pipeline", "seed")
ATTENTIONS = ("sdpa", "flash_attention_2", "eager")
PRECISIONS = ("bf16", "fp16", "fp32")
STRATEGIES = ("none", "ddp", "deepspeed-zero3", "fsdp")
WEIGHT_FORMATS = ("safetensors", "bin")


@dataclass(frozen=True)
class StyleCoefficients:
    """Bytes per unit of the seeds' recipe (fitted); activation terms are per token (and per layer)."""

    layer_hidden: float
    layer_intermediate: float
    layer_lora_input: float
    saved_hidden: float
    loss_vocab: float
    head_hidden: float
    eager_scores: float
    slack_checkpointed: float
    slack_plain: float


# seed: fp32 residual stream and fp32 projection outputs; the model's own fp32 logits, ~13 B per logit.
SEED = StyleCoefficients(layer_hidden=36, layer_intermediate=12, layer_lora_input=2, saved_hidden=4,
                         loss_vocab=13, head_hidden=16, eager_scores=8, slack_checkpointed=0.25, slack_plain=0.12)


@dataclass(frozen=True)
class TrainingPlan:
    """The knobs of a QLoRA run that decide its memory (see envdoctor.yaml).

    ``checkpoint_layers`` is how many decoder layers are checkpointed when
    ``gradient_checkpointing`` is on (None: all).  ``block_mask`` is whether packed rows hold
    several samples, so that attention needs the block-diagonal mask (real data: yes).
    """

    batch_size: int = 4
    max_length: int = 512
    lora_r: int = 8
    targets: tuple[str, ...] = ("q_proj", "v_proj")
    optimizer: str = "adamw_torch"
    gradient_checkpointing: bool = True
    attn: str = "sdpa"
    style: str = "pipeline"
    precision: str = "bf16"
    processes: int = 1
    strategy: str = "none"
    weights_format: str = "safetensors"
    loss_chunk_tokens: int = LOSS_CHUNK_TOKENS
    packing: bool = True
    checkpoint_layers: int | None = None
    block_mask: bool = True

    @property
    def tokens(self) -> int:
        """Tokens per step: both styles fill every row to max_length (packing, or padding)."""
        return self.batch_size * self.max_length


@dataclass(frozen=True)
class Component:
    """One line of the breakdown."""

    name: str
    mib: float
    detail: str


@dataclass(frozen=True)
class Estimate:
    """Predicted peak GPU memory of one process (what NVML will show) and its parts."""

    shape: Any
    plan: TrainingPlan
    components: tuple[Component, ...]
    weights_only_mib: float
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def peak_mib(self) -> float:
        """The predicted peak: the sum of the components."""
        return sum(c.mib for c in self.components)

    def part(self, name: str) -> float:
        """MiB of the component called ``name`` (0 when absent)."""
        return sum(c.mib for c in self.components if c.name == name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"peak_mib": round(self.peak_mib), "weights_only_mib": round(self.weights_only_mib),
                "components": [{"name": c.name, "mib": round(c.mib), "detail": c.detail} for c in self.components],
                "notes": list(self.notes)}


def optimizer_bytes(optimizer: str, param_bytes: int) -> float:
    """Optimizer state bytes per trainable parameter.

    torch AdamW keeps two states in the parameter's dtype; bitsandbytes 8-bit keeps two 1-byte
    states plus an fp32 absmax per 256-value block each; paged 32-bit keeps two fp32 states (in
    managed memory that can spill to the host).
    """
    eight_bit = 2 + 2 * 4 / 256
    return {"adamw_torch": 2 * param_bytes, "adamw_8bit": eight_bit, "paged_adamw_8bit": eight_bit,
            "paged_adamw_32bit": 8}[optimizer]


def _gib(mib: float) -> str:
    return f"{mib / 1024:.2f} GiB"


def loss_tokens(plan: TrainingPlan) -> int:
    """Tokens whose logits exist at once: one chunk (pipeline) or the whole batch (seed)."""
    return min(plan.tokens, plan.loss_chunk_tokens) if plan.style == "pipeline" else plan.tokens


@dataclass(frozen=True)
class Activations:
    """Activation bytes of one step of the pipeline's loop."""

    kept: float          # held from the forward to the backward
    loss: float          # peak of one loss chunk's backward
    layer: float         # one checkpointed layer recomputed and differentiated (0 without checkpointing)
    mask: float          # the packed block-diagonal mask (part of ``kept``)


def attention_rows(plan: TrainingPlan) -> tuple[int, int]:
    """(rows, sequence length) attention sees: one packed row of batch x max_length, or padded rows."""
    return (1, plan.tokens) if plan.packing else (plan.batch_size, plan.max_length)


def layer_bytes(shape: Any, plan: TrainingPlan) -> tuple[float, float]:
    """(bytes one decoder layer keeps for backward, the part that is attention scores or mask copies)."""
    rows, seq = attention_rows(plan)
    tokens = rows * seq
    q = shape.heads * shape.head_dim
    kv = q if plan.block_mask or plan.attn == "eager" else shape.kv_heads * shape.head_dim  # repeat_kv under a mask
    lora_input = 3 if plan.precision == "bf16" else 5  # dropout output (16-bit, or fp32 under fp32 LoRA) + mask
    per_token = (8 * shape.hidden + 4 * q + 4 * kv + 4 * shape.heads + 6 * shape.intermediate
                 + lora_input * shape.lora_input_width(plan.targets))
    if shape.qk_norm:  # q/k RMSNorms' fp32 inputs (fitted: 3 B per q and kv feature)
        per_token += 3 * (q + shape.kv_heads * shape.head_dim)
    if plan.attn == "eager":  # fp32 softmax output + its 16-bit copy, per head
        scores = 6.0 * shape.heads * rows * seq * seq
    elif plan.block_mask:  # sdpa's 16-bit copy of the boolean mask, columns padded to 16
        scores = 2.0 * rows * seq * (-(-seq // 16) * 16)
    else:
        scores = 0.0
    return per_token * tokens + scores, scores


def activation_parts(shape: Any, plan: TrainingPlan) -> Activations:
    """Kept activations and the two candidate transients of the pipeline's step (16-bit compute)."""
    scale = 2 if plan.precision == "fp32" else 1
    rows, seq = attention_rows(plan)
    tokens = plan.tokens
    hidden = shape.hidden
    mask = float(rows * seq * seq) if plan.block_mask else 0.0
    layer, _ = layer_bytes(shape, plan)
    checkpointed = 0
    if plan.gradient_checkpointing:
        checkpointed = shape.layers if plan.checkpoint_layers is None else min(plan.checkpoint_layers, shape.layers)
    head = 6 * hidden * tokens  # the final norm's fp32 input and the gathered loss inputs
    kept = (checkpointed * 2 * hidden * tokens + (shape.layers - checkpointed) * layer + mask + head) * scale
    loss = (LOSS_BYTES_PER_LOGIT * loss_tokens(plan) * shape.vocab + 4 * hidden * tokens) * scale
    recompute = 0.0
    if checkpointed:  # a recomputed layer while its MLP backward holds three I-wide grads
        down_lora = 3 * shape.intermediate * tokens if "down_proj" in plan.targets else 0
        recompute = (layer - down_lora + 6 * shape.intermediate * tokens) * scale
    return Activations(kept=kept, loss=loss, layer=recompute, mask=mask * scale)


def _pipeline_estimate(shape: Any, plan: TrainingPlan) -> tuple[Component, ...]:
    frozen_bytes = 4 if plan.precision == "fp32" else 2
    lora_bytes = 2 if plan.precision == "bf16" else 4  # fp16 training keeps LoRA fp32 for the scaler
    lora = shape.lora_params(plan.lora_r, plan.targets)
    opt = lora * optimizer_bytes(plan.optimizer, lora_bytes)
    act = activation_parts(shape, plan)
    transient = max(act.loss, act.layer)
    dynamic = 2 * lora * lora_bytes + opt + act.kept + transient
    slack = SLACK_SHARE * dynamic / MIB + SLACK_FIXED_MIB
    tokens = f"{plan.batch_size}x{plan.max_length} tokens"
    checkpointed = 0
    if plan.gradient_checkpointing:
        checkpointed = shape.layers if plan.checkpoint_layers is None else min(plan.checkpoint_layers, shape.layers)
    if checkpointed == shape.layers:
        kept_detail = f"checkpointed inputs of {shape.layers} layers, {tokens}"
    elif checkpointed:
        kept_detail = f"{checkpointed} layers checkpointed, {shape.layers - checkpointed} keep all, {tokens}"
    else:
        kept_detail = f"all {shape.layers} layers' activations, {tokens}, {plan.attn} attention"
    if act.mask >= 10 * MIB:
        kept_detail += f" (block-diagonal mask {_gib(act.mask / MIB)})"
    if act.layer > act.loss:
        transient_name, transient_detail = "one layer recomputed in backward", f"{plan.attn} attention, {tokens}"
    else:
        transient_name = "logits + loss"
        transient_detail = f"chunks of {plan.loss_chunk_tokens} tokens x vocab {shape.vocab}, {LOSS_BYTES_PER_LOGIT} B/logit"
    paged = " (paged: can spill to host RAM)" if plan.optimizer.startswith("paged") else ""
    return (
        Component("4-bit weights", shape.quantized_params * NF4_BYTES_PER_PARAM / MIB,
                  f"{shape.quantized_params / 1e9:.2f}B params x {NF4_BYTES_PER_PARAM:.4f} B (NF4 + double-quant absmax)"),
        Component("unquantized weights", (shape.embedding_params + shape.other_params) * frozen_bytes / MIB,
                  f"embeddings/lm_head/norms {(shape.embedding_params + shape.other_params) / 1e6:.0f}M params, "
                  f"{frozen_bytes * 8}-bit"),
        Component("LoRA weights + grads", 2 * lora * lora_bytes / MIB,
                  f"{lora / 1e6:.1f}M params (r={plan.lora_r}, {len(plan.targets)} projections), {lora_bytes} B each"),
        Component(f"optimizer ({plan.optimizer})", opt / MIB,
                  f"{optimizer_bytes(plan.optimizer, lora_bytes):.2f} B per LoRA param{paged}"),
        Component("activations kept", act.kept / MIB, kept_detail),
        Component(transient_name, transient / MIB, transient_detail),
        Component("cuBLAS workspaces", CUBLAS_WORKSPACES_MIB, "2 x 32 MiB, allocated by torch"),
        Component("allocator slack", slack, f"{SLACK_SHARE:.0%} of the step's memory + {SLACK_FIXED_MIB} MiB "
                                             "(expandable segments)"),
        Component("outside torch's allocator", OUTSIDE_TORCH_MIB, "CUDA context and loaded kernels (measured)"),
    )


def _seed_estimate(shape: Any, plan: TrainingPlan) -> tuple[Component, ...]:
    k = SEED
    frozen_bytes = 4
    lora_bytes = 4
    scale = 2 if plan.precision == "fp32" else 1
    tokens = plan.tokens
    lora = shape.lora_params(plan.lora_r, plan.targets)
    opt = lora * optimizer_bytes(plan.optimizer, lora_bytes)
    layer = (k.layer_hidden * shape.hidden + k.layer_intermediate * shape.intermediate
             + k.layer_lora_input * shape.lora_input_width(plan.targets)) * scale * tokens
    if plan.attn == "eager":
        layer += k.eager_scores * plan.batch_size * shape.heads * plan.max_length ** 2
    loss = k.loss_vocab * tokens * shape.vocab + k.head_hidden * tokens * shape.hidden * scale
    if plan.gradient_checkpointing:
        kept, recompute = k.saved_hidden * scale * shape.layers * tokens * shape.hidden, layer + 4 * tokens * shape.hidden * scale
    else:
        kept, recompute = shape.layers * layer, 0.0
    transient = max(loss, recompute)
    dynamic = 2 * lora * lora_bytes + opt + kept + transient
    slack = dynamic * (k.slack_checkpointed if plan.gradient_checkpointing else k.slack_plain)
    slack += shape.embedding_params * 2 / 2  # the upcast frees the 16-bit embeddings into the cache
    name = "one layer recomputed in backward" if plan.gradient_checkpointing and recompute > loss else "logits + loss"
    return (
        Component("4-bit weights", shape.quantized_params * NF4_BYTES_PER_PARAM / MIB,
                  f"{shape.quantized_params / 1e9:.2f}B params x {NF4_BYTES_PER_PARAM:.4f} B (NF4 + double-quant absmax)"),
        Component("unquantized weights", (shape.embedding_params + shape.other_params) * frozen_bytes / MIB,
                  "embeddings/lm_head/norms, fp32 after prepare_model_for_kbit_training"),
        Component("LoRA weights + grads", 2 * lora * lora_bytes / MIB, f"{lora / 1e6:.1f}M params, fp32"),
        Component(f"optimizer ({plan.optimizer})", opt / MIB, f"{optimizer_bytes(plan.optimizer, lora_bytes):.2f} B per LoRA param"),
        Component("activations kept", kept / MIB, f"fp32 residual stream, {plan.batch_size}x{plan.max_length} tokens"),
        Component(name, transient / MIB, f"full fp32 logits, vocab {shape.vocab}"),
        Component("allocator slack", slack / MIB, "fragmentation of torch's caching allocator (fitted, H100)"),
        Component("CUDA context + workspaces", SEED_CUDA_OVERHEAD_MIB, "context, cuBLAS/cuDNN, kernels (H100)"),
    )


def estimate(shape: Any, plan: TrainingPlan) -> Estimate:
    """Predict the peak GPU memory of one training process for ``shape`` under ``plan``."""
    components = _seed_estimate(shape, plan) if plan.style == "seed" else _pipeline_estimate(shape, plan)
    notes = []
    if not shape.exact:
        notes.append(f"shape guessed from a parameter count ({shape.name}): approximate")
    if plan.processes > 1 and plan.strategy in ("none", "ddp"):
        notes.append(f"{plan.processes} processes: each GPU holds all of the above")
    return Estimate(shape=shape, plan=plan, components=components,
                    weights_only_mib=shape.total_params * NF4_ACCELERATE_BYTES_PER_PARAM / MIB, notes=tuple(notes))


@dataclass(frozen=True)
class HostRam:
    """Predicted host RAM peak while loading, for all processes together."""

    peak_mib: float
    detail: str


def host_ram(shape: Any, plan: TrainingPlan) -> HostRam:
    """Host RAM peak of loading the base model in every process (memory the kernel cannot reclaim).

    safetensors are memory-mapped: a 4-bit load reads each tensor through clean, shared page
    cache that the kernel can drop (RSS peaked at 0.8-1.0 x the checkpoint in the calibration,
    but little of it is the process's own), so a process needs its base plus about one tensor's
    16-bit copy.  A ``.bin`` checkpoint is unpickled into each process's own memory.  DeepSpeed
    ZeRO-3 and FSDP materialise the full 16-bit state dict in every rank before sharding it.
    """
    ckpt = shape.total_params * 2 / MIB  # the 16-bit checkpoint
    procs = plan.processes
    base = procs * PROCESS_BASE_RAM_MIB
    per_process = f"{procs} x {_gib(PROCESS_BASE_RAM_MIB)} per process"
    if plan.strategy in ("deepspeed-zero3", "fsdp") and procs > 1:
        return HostRam(base + procs * ckpt, f"{procs} ranks x full 16-bit copy ({_gib(ckpt)}) for {plan.strategy} "
                                            f"initialisation + {per_process}")
    if plan.weights_format == "bin":
        return HostRam(base + procs * ckpt, f"{procs} process(es) x .bin checkpoint unpickled ({_gib(ckpt)}) "
                                            f"+ {per_process}")
    largest = shape.vocab * shape.hidden * 2 / MIB  # the embedding, the largest tensor, in 16-bit
    return HostRam(base + procs * largest, f"safetensors mmap: {per_process} + {_gib(largest)} largest tensor each; "
                                           f"the {_gib(ckpt)} checkpoint passes through reclaimable page cache")


@dataclass(frozen=True)
class Option:
    """A change to the plan that fits, with its predicted peak."""

    title: str
    plan: TrainingPlan
    peak_mib: float


def _largest(shape: Any, plan: TrainingPlan, budget_mib: float, attr: str, values: list[int]) -> int | None:
    """The largest of ``values`` for ``attr`` whose predicted peak fits ``budget_mib`` (peaks grow with both)."""
    fitting = []
    for value in values:
        changes: dict[str, Any] = {attr: value}
        if estimate(shape, replace(plan, **changes)).peak_mib <= budget_mib:
            fitting.append(value)
    return max(fitting) if fitting else None


def _divisors(n: int) -> list[int]:
    """Batch sizes that keep the effective batch exactly with gradient accumulation."""
    return [d for d in range(1, n) if n % d == 0]


def fitting_options(shape: Any, plan: TrainingPlan, budget_mib: float) -> list[Option]:
    """Changes to ``plan`` that bring the predicted peak under ``budget_mib``, cheapest first."""
    candidates: list[tuple[str, TrainingPlan]] = []
    if not plan.gradient_checkpointing:
        candidates.append(("turn gradient checkpointing on", replace(plan, gradient_checkpointing=True)))
    if plan.style == "seed":
        candidates.append(("train with envdoctor's pipeline (no fp32 upcast, chunked loss)",
                           replace(plan, style="pipeline")))
    if plan.optimizer == "adamw_torch":
        candidates.append(("use the paged 8-bit optimizer (paged_adamw_8bit)", replace(plan, optimizer="paged_adamw_8bit")))
    if plan.attn == "eager":
        candidates.append(("use sdpa attention", replace(plan, attn="sdpa")))
    options = [Option(t, p, estimate(shape, p).peak_mib) for t, p in candidates]
    options = [o for o in options if o.peak_mib <= budget_mib]
    batch = _largest(shape, plan, budget_mib, "batch_size", _divisors(plan.batch_size))
    if batch is not None:
        smaller = replace(plan, batch_size=batch)
        options.append(Option(f"batch_size {batch} with gradient_accumulation x{plan.batch_size // batch} "
                              "(same effective batch)", smaller, estimate(shape, smaller).peak_mib))
    length = _largest(shape, plan, budget_mib, "max_length", list(range(64, plan.max_length, 64)))
    if length is not None and length < plan.max_length:
        shorter = replace(plan, max_length=length)
        options.append(Option(f"max_length {length} (longer samples are truncated)", shorter,
                               estimate(shape, shorter).peak_mib))
    if not options:  # combine the levers before giving up
        combined = replace(plan, gradient_checkpointing=True, style="pipeline",
                           optimizer="paged_adamw_8bit" if plan.optimizer == "adamw_torch" else plan.optimizer,
                           attn="sdpa" if plan.attn == "eager" else plan.attn)
        batch = _largest(shape, combined, budget_mib, "batch_size", [*_divisors(plan.batch_size), plan.batch_size])
        if batch is not None:
            combined = replace(combined, batch_size=batch)
            options.append(Option(f"all of: checkpointing, pipeline style, 8-bit paged optimizer, sdpa, batch_size {batch}",
                                  combined, estimate(shape, combined).peak_mib))
    return sorted(options, key=lambda o: -o.peak_mib)


# ---------------------------------------------------------------------------------------------
# `envdoctor estimate`


def _plan_from_flags(base: TrainingPlan, flags: dict[str, Any]) -> TrainingPlan:
    """``base`` with every flag the user gave (None means not given)."""
    from envdoctor.memory.shapes import resolve_targets

    changes = {k: v for k, v in flags.items() if v is not None}
    if "targets" in changes:
        text = changes["targets"]
        changes["targets"] = resolve_targets(text if text == "all-linear" else tuple(t.strip() for t in text.split(",")))
    return replace(base, **changes)


def render_text(result: Estimate, verdict: Any, ram: HostRam, ram_available_mib: int | None,
                ram_where: str = "available here") -> str:
    """The breakdown, the verdict and what fits, as `envdoctor estimate` prints them."""
    shape, plan = result.shape, result.plan
    lines = [f"envdoctor estimate · {shape.name} · {shape.total_params / 1e9:.2f}B params "
             f"({shape.quantized_params / 1e9:.2f}B in 4-bit) · {plan.style} style · {plan.precision}",
             f"plan: batch {plan.batch_size} x max_length {plan.max_length}, LoRA r={plan.lora_r} on "
             f"{','.join(plan.targets)}, {plan.optimizer}, gradient checkpointing "
             f"{'on' if plan.gradient_checkpointing else 'off'}, {plan.attn} attention", ""]
    width = max(len("predicted peak (as NVML shows)"), *(len(c.name) for c in result.components))
    for c in result.components:
        lines.append(f"  {c.name:<{width}}  {c.mib / 1024:6.2f} GiB  {c.detail}")
    lines.append(f"  {'predicted peak (as NVML shows)':<{width}}  {result.peak_mib / 1024:6.2f} GiB")
    lines.append(f"  {'weights-only arithmetic':<{width}}  {result.weights_only_mib / 1024:6.2f} GiB  "
                 "(accelerate's int4 estimate: 0.5 B/param, no training state)")
    lines += [f"  note: {n}" for n in result.notes]
    lines.append("")
    if verdict is None:
        lines.append("verdict: no GPU to compare with; pass --gpu T4 (or another GPU) to judge the fit")
    else:
        lines.append(f"verdict: {verdict.summary()}")
        if verdict.options:
            lines.append("what fits (each with its predicted peak):")
            lines += [f"  - {o.title}: {o.peak_mib / 1024:.1f} GiB" for o in verdict.options]
        elif not verdict.fits or verdict.tight:
            lines.append("no single change fits: use a GPU with more memory")
    lines.append(f"host RAM while loading: {ram.peak_mib / 1024:.1f} GiB ({ram.detail})")
    if ram_available_mib is not None:
        fits = ram.peak_mib <= ram_available_mib
        lines.append(f"host RAM verdict: {'fits' if fits else 'does NOT fit'}: {ram_available_mib / 1024:.1f} GiB "
                     f"{ram_where}")
        if not fits and plan.processes > 1:
            single = host_ram(shape, replace(plan, processes=1, strategy="none"))
            lines.append(f"  - single-process QLoRA (processes 1, strategy none): {single.peak_mib / 1024:.1f} GiB")
    lines.append("measured term by term on an H200 (bench/results/memory_h200.json); `python bench/memory_report.py` "
                 "prints its error per configuration")
    return "\n".join(lines)

"""Peak GPU memory and host RAM of a QLoRA run, by arithmetic (no torch), and `envdoctor estimate`.

The model (calibrated on an H100, see bench/calibrate_memory.py and
bench/results/memory_calibration.json):

    peak = 4-bit weights + 16-bit (or fp32) embeddings/norms + LoRA weights, grads, optimizer
         + activations kept for backward   (all L layers, or only the layer inputs with checkpointing)
         + the largest transient           (logits + loss, or one layer recomputed in backward)
         + allocator slack                 (a fraction of what the step allocates)
         + CUDA context and library workspaces

Activation bytes per token and layer are linear in hidden, kv width, intermediate
width and the LoRA inputs; eager attention adds batch x heads x seq^2 per layer.
Two training styles are modelled: ``pipeline`` (envdoctor's loop: no fp32 upcast,
bf16 LoRA, chunked loss) and ``seed`` (``prepare_model_for_kbit_training``: fp32
embeddings and residual stream, full fp32 logits).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

MIB = 2**20
# NF4 codes (0.5 B) + an 8-bit absmax per 64 weights + an fp32 absmax per 256 of those (double quantization).
NF4_BYTES_PER_PARAM = 0.5 + 1 / 64 + 4 / (64 * 256)
NF4_ACCELERATE_BYTES_PER_PARAM = 0.5  # accelerate's `estimate-memory` int4 column: weights only
# CUDA context, cuBLAS/cuDNN workspaces and the 4-bit kernels' buffers: 1.22-1.48 GiB measured next to
# torch's reserved memory on an H100 (CUDA 13, torch 2.11); older GPUs and CUDA 12 need somewhat less.
CUDA_OVERHEAD_MIB = 1450
# Host: a process that imported torch with CUDA holds about 1 GiB before loading anything (measured).
PROCESS_BASE_RAM_MIB = 1024
LOSS_CHUNK_TOKENS = 1024
OPTIMIZERS = ("adamw_torch", "adamw_8bit", "paged_adamw_8bit", "paged_adamw_32bit")
STYLES = ("pipeline", "seed")
ATTENTIONS = ("sdpa", "flash_attention_2", "eager")
PRECISIONS = ("bf16", "fp16", "fp32")
STRATEGIES = ("none", "ddp", "deepspeed-zero3", "fsdp")
WEIGHT_FORMATS = ("safetensors", "bin")


@dataclass(frozen=True)
class StyleCoefficients:
    """Bytes per unit for one training style; activation terms are per token (and per layer).

    ``layer_*`` multiply hidden, kv width, intermediate width and the summed LoRA input
    widths; ``saved_hidden`` is a checkpointed layer input; ``loss_vocab`` multiplies
    loss tokens x vocab; ``head_hidden`` the final norm and loss input copies.
    """

    frozen_16bit_bytes: int
    lora_bytes: int
    layer_hidden: float
    layer_kv: float
    layer_intermediate: float
    layer_lora_input: float
    saved_hidden: float
    loss_vocab: float
    head_hidden: float
    eager_scores: float
    slack_checkpointed: float
    slack_plain: float
    slack_loss_blocks: float


# pipeline: no fp32 upcast; per layer a bf16 Llama layer saves 2 fp32 norm inputs (8H), q/k/v/out for
# sdpa (4H + 4kv), gate/act/up (6I) and LoRA dropout copies + masks (3 per input).  seed: fp32
# residual stream and fp32 projection outputs roughly double that.  Loss: chunked (pipeline) or the
# model's own fp32 logits (seed); ~12-14 bytes per logit at the peak of the loss backward.
COEFFICIENTS = {
    "pipeline": StyleCoefficients(frozen_16bit_bytes=2, lora_bytes=2, layer_hidden=12, layer_kv=4,
                                  layer_intermediate=6, layer_lora_input=3, saved_hidden=2, loss_vocab=12,
                                  head_hidden=16, eager_scores=7, slack_checkpointed=0.30, slack_plain=0.15,
                                  slack_loss_blocks=1.5),
    "seed": StyleCoefficients(frozen_16bit_bytes=4, lora_bytes=4, layer_hidden=36, layer_kv=0,
                              layer_intermediate=12, layer_lora_input=2, saved_hidden=4, loss_vocab=13,
                              head_hidden=16, eager_scores=8, slack_checkpointed=0.25, slack_plain=0.12,
                              slack_loss_blocks=0.0),
}


@dataclass(frozen=True)
class TrainingPlan:
    """The knobs of a QLoRA run that decide its memory (see envdoctor.yaml)."""

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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"peak_mib": round(self.peak_mib), "weights_only_mib": round(self.weights_only_mib),
                "components": [{"name": c.name, "mib": round(c.mib), "detail": c.detail} for c in self.components],
                "notes": list(self.notes)}


def optimizer_bytes(optimizer: str, param_bytes: int) -> int:
    """Optimizer state bytes per trainable parameter.

    torch AdamW keeps two states in the parameter's dtype; bitsandbytes 8-bit keeps two 1-byte
    states; paged 32-bit keeps two fp32 states (in managed memory that can spill to the host).
    """
    return {"adamw_torch": 2 * param_bytes, "adamw_8bit": 2, "paged_adamw_8bit": 2,
            "paged_adamw_32bit": 8}[optimizer]


def _gib(mib: float) -> str:
    return f"{mib / 1024:.2f} GiB"


def loss_tokens(plan: TrainingPlan) -> int:
    """Tokens whose logits exist at once: one chunk (pipeline) or the whole batch (seed)."""
    return min(plan.tokens, plan.loss_chunk_tokens) if plan.style == "pipeline" else plan.tokens


def activation_parts(shape: Any, plan: TrainingPlan) -> tuple[float, float, float]:
    """(kept, loss transient, layer-recompute transient) activation bytes for one step."""
    k = COEFFICIENTS[plan.style]
    scale = 2 if plan.precision == "fp32" else 1
    tokens = plan.tokens
    kv = shape.kv_heads * shape.head_dim
    per_token_layer = (k.layer_hidden * shape.hidden + k.layer_kv * kv + k.layer_intermediate * shape.intermediate
                       + k.layer_lora_input * shape.lora_input_width(plan.targets)) * scale
    layer = per_token_layer * tokens
    if plan.attn == "eager":
        layer += k.eager_scores * plan.batch_size * shape.heads * plan.max_length ** 2
    loss = k.loss_vocab * loss_tokens(plan) * shape.vocab + k.head_hidden * tokens * shape.hidden * scale
    if plan.gradient_checkpointing:
        kept = k.saved_hidden * scale * shape.layers * tokens * shape.hidden
        return kept, loss, layer + 4 * tokens * shape.hidden * scale
    return shape.layers * layer, loss, 0.0


def estimate(shape: Any, plan: TrainingPlan) -> Estimate:
    """Predict the peak GPU memory of one training process for ``shape`` under ``plan``."""
    k = COEFFICIENTS[plan.style]
    upcast = "fp32 after prepare_model_for_kbit_training" if plan.style == "seed" else "16-bit"
    frozen_bytes = 4 if plan.precision == "fp32" else k.frozen_16bit_bytes
    lora_bytes = k.lora_bytes if plan.precision == "bf16" else 4  # fp16 training keeps LoRA fp32 for the scaler
    lora = shape.lora_params(plan.lora_r, plan.targets)
    quantized = shape.quantized_params * NF4_BYTES_PER_PARAM
    unquantized = (shape.embedding_params + shape.other_params) * frozen_bytes
    opt = lora * optimizer_bytes(plan.optimizer, lora_bytes)
    kept, loss, recompute = activation_parts(shape, plan)
    transient = max(loss, recompute)
    dynamic = 2 * lora * lora_bytes + opt + kept + transient
    slack = dynamic * (k.slack_checkpointed if plan.gradient_checkpointing else k.slack_plain)
    if plan.gradient_checkpointing:  # recomputed logit chunks leave cached fp32 blocks behind
        slack += k.slack_loss_blocks * 4 * loss_tokens(plan) * shape.vocab
    if plan.style == "seed":  # the upcast frees the 16-bit embeddings into the cache; about half stays unused
        slack += shape.embedding_params * 2 / 2
    tokens = f"{plan.batch_size}x{plan.max_length} tokens"
    if plan.gradient_checkpointing:
        kept_detail = f"checkpointed inputs of {shape.layers} layers, {tokens}"
    else:
        kept_detail = f"all {shape.layers} layers' activations, {tokens}, {plan.attn} attention"
    loss_detail = (f"logits+loss in chunks of {plan.loss_chunk_tokens} tokens" if plan.style == "pipeline"
                   else f"full fp32 logits, {tokens} x vocab {shape.vocab}")
    if plan.gradient_checkpointing and recompute > loss:
        transient_name, transient_detail = "one layer recomputed in backward", f"{plan.attn} attention, {tokens}"
    else:
        transient_name, transient_detail = "logits + loss", loss_detail
    paged = " (paged: can spill to host RAM)" if plan.optimizer.startswith("paged") else ""
    components = (
        Component("4-bit weights", quantized / MIB,
                  f"{shape.quantized_params / 1e9:.2f}B params x {NF4_BYTES_PER_PARAM:.4f} B (NF4 + double-quant absmax)"),
        Component("unquantized weights", unquantized / MIB,
                  f"embeddings/lm_head/norms {(shape.embedding_params + shape.other_params) / 1e6:.0f}M params, {upcast}"),
        Component("LoRA weights + grads", 2 * lora * lora_bytes / MIB,
                  f"{lora / 1e6:.1f}M params (r={plan.lora_r}, {len(plan.targets)} projections), {lora_bytes} B each"),
        Component(f"optimizer ({plan.optimizer})", opt / MIB,
                  f"{optimizer_bytes(plan.optimizer, lora_bytes)} B per LoRA param{paged}"),
        Component("activations kept", kept / MIB, kept_detail),
        Component(transient_name, transient / MIB, transient_detail),
        Component("allocator slack", slack / MIB, "fragmentation of torch's caching allocator"),
        Component("CUDA context + workspaces", CUDA_OVERHEAD_MIB, "context, cuBLAS/cuDNN, kernels"),
    )
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


def render_text(result: Estimate, verdict: Any, ram: HostRam, ram_available_mib: int | None) -> str:
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
                     "available here")
        if not fits and plan.processes > 1:
            single = host_ram(shape, replace(plan, processes=1, strategy="none"))
            lines.append(f"  - single-process QLoRA (processes 1, strategy none): {single.peak_mib / 1024:.1f} GiB")
    lines.append("calibrated on an H100 (bench/results/memory_calibration.json); `python bench/memory_report.py` "
                 "prints its measured error per configuration")
    return "\n".join(lines)

"""The train stage, run inside the child process: QLoRA on packed batches, resumable.

One optimizer step = ``gradient_accumulation`` micro-batches; each micro-batch holds up to
``batch_size × max_length`` real tokens (packed) or ``batch_size`` samples (grouped).  The
data order is a pure function of (seed, epoch), so a resumed run continues at the exact
micro-batch where its checkpoint stopped and, with the RNG states restored, reproduces an
uninterrupted run.  SIGINT/SIGTERM finish the current step, write a checkpoint and exit with
:data:`EXIT_INTERRUPTED`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import resource
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from envdoctor.errors import InputError
from envdoctor import userfiles
from envdoctor.pipeline import batching, checkpoint, data, graphs, modeling, recompute
from envdoctor.pipeline.loss import CHUNK_TOKENS, ChunkedCausalLMLoss
from envdoctor.pipeline.plan import RunPlan, training_hash

EXIT_INTERRUPTED = 3
RESULT_FILE = "train_result.json"


class Interrupted(Exception):
    """Training stopped on a signal after writing a checkpoint."""


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_optimizer(name: str, params: list[Any], lr: float) -> Any:
    """The optimizer the config names (the 8-bit and paged ones come from bitsandbytes)."""
    import torch

    if name == "adamw_torch":
        return torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    import bitsandbytes.optim as bnb_optim

    factory = {"adamw_8bit": bnb_optim.AdamW8bit, "paged_adamw_8bit": bnb_optim.PagedAdamW8bit,
               "paged_adamw_32bit": bnb_optim.PagedAdamW32bit}[name]
    return factory(params, lr=lr, weight_decay=0.0)


def peak_memory_mib(device: str) -> dict[str, float]:
    """Peak GPU memory (allocated and reserved) or, on CPU, the process's peak RSS."""
    if device == "cuda":
        import torch

        return {"gpu_allocated_mib": torch.cuda.max_memory_allocated() / 2**20,
                "gpu_reserved_mib": torch.cuda.max_memory_reserved() / 2**20}
    return {"host_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def all_batches(examples: list[batching.Example], plan: RunPlan, pad_id: int, rank: int,
                world: int) -> list[batching.Batch]:
    """Every micro-batch of every epoch for this rank (each epoch cut to a multiple of ``world``)."""
    train = plan.config.train
    out: list[batching.Batch] = []
    for epoch in range(train.epochs):
        epoch_list = batching.epoch_batches(examples, train.batch_size, train.max_length, train.packing,
                                            pad_id, train.seed, epoch)
        usable = len(epoch_list) - len(epoch_list) % world
        out += epoch_list[rank:usable:world]
    return out


def plot_losses(losses: list[float], path: Path) -> None:
    """Write the loss curve as a PNG (matplotlib, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 3.5), dpi=100)
    axes.plot(range(1, len(losses) + 1), losses)
    axes.set_xlabel("optimizer step")
    axes.set_ylabel("training loss")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def optimizer_step(wrapped: Any, micro: list[batching.Batch], optimizer: Any, scheduler: Any, scaler: Any,
                   params: list[Any], accelerator: Any) -> float:
    """One optimizer update over the micro-batches ``micro``; returns the mean loss per target token.

    Each micro-batch's summed loss is divided by the target tokens of the whole update, so the
    gradient is the per-token mean however the tokens are spread over micro-batches.
    """
    import torch

    targets = sum(b.target_tokens for b in micro)
    loss_sum = 0.0
    for i, batch in enumerate(micro):
        sync = contextlib.nullcontext() if i == len(micro) - 1 else accelerator.no_sync(wrapped)
        with sync:
            summed, _ = wrapped(**batch.tensors(accelerator.device))
            scaler.scale(summed / targets).backward()
        loss_sum += summed.item()
    scaler.unscale_(optimizer)
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    scaler.step(optimizer)
    scaler.update()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return loss_sum / targets


def eager_step(wrapped: Any, optimizer: Any, scheduler: Any, scaler: Any, params: list[Any],
               accelerator: Any) -> Any:
    """:func:`optimizer_step` bound to one run's parts: ``step(micro_batches) -> loss``."""
    def step(micro: list[batching.Batch]) -> float:
        return optimizer_step(wrapped, micro, optimizer, scheduler, scaler, params, accelerator)
    return step


def build_step(model: Any, chunk: int | None, choice: graphs.GraphsChoice, optimizer: Any, scheduler: Any,
               scaler: Any, params: list[Any], accelerator: Any, capacity: int, pad_id: int,
               seed: int) -> tuple[Any, Any]:
    """The loss module and the step function of a run: CUDA graphs when ``choice.on``, else eager.

    With graphs, ``optimizer`` must come from :func:`graphs.capturable_adamw` and every packed row
    holds at most ``capacity`` tokens.
    """
    wrapped = accelerator.prepare_model(ChunkedCausalLMLoss(model, chunk, static=choice.on), device_placement=False)
    if not choice.on:
        return wrapped, eager_step(wrapped, optimizer, scheduler, scaler, params, accelerator)
    states = [state for layer in recompute.install(modeling.decoder_layers(model), seed, accelerator.device)
              for state in layer.states]
    return wrapped, graphs.GraphedStep(wrapped, optimizer, scheduler, scaler, params, capacity, pad_id,
                                       accelerator.device, states)


def _progress(total: int, initial: int, enabled: bool) -> Any:
    if not enabled:
        return contextlib.nullcontext(None)
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc="train", unit="step", dynamic_ncols=True)


@dataclass
class Session:
    """Everything :func:`setup` builds for the loop and :func:`save` reports."""

    plan: RunPlan
    accelerator: Any
    precision: modeling.Precision
    model_path: str
    model: Any
    examples: list[batching.Example]
    batches: list[batching.Batch]
    params: list[Any]
    optimizer: Any
    scheduler: Any
    scaler: Any
    wrapped: Any
    step: Any  # (micro-batches) -> mean loss per target token: eager_step or graphs.GraphedStep
    state: checkpoint.TrainerState
    resumed_from: str | None
    settings: dict[str, Any] = field(default_factory=dict)  # what auto knobs chose, and why

    @property
    def device(self) -> str:
        """cuda or cpu."""
        return str(self.accelerator.device.type)


def _checkpointing(model: Any, plan: RunPlan, precision: modeling.Precision,
                   device: str) -> tuple[bool, int | None, int | None, dict[str, Any]]:
    """(checkpointing on, layers to checkpoint or None for all, loss chunk or None for one, the record of it)."""
    cfg = plan.config
    choice = modeling.memory_plan(model, cfg, precision, device)
    if choice is None:
        on = bool(cfg.train.gradient_checkpointing)
        return on, None, CHUNK_TOKENS, {"gradient_checkpointing": on, "reason": "set in the config"}
    chunk = None if choice.whole_batch_loss else CHUNK_TOKENS
    return choice.layers > 0, choice.layers, chunk, {"gradient_checkpointing": "auto", **choice.to_dict()}


def setup(plan: RunPlan) -> Session:
    """Load the 4-bit base, attach LoRA, batch the data, build the optimizer and resume a checkpoint."""
    import torch
    from accelerate import Accelerator
    from transformers import get_linear_schedule_with_warmup, set_seed

    cfg = plan.config
    accelerator = Accelerator(cpu=plan.device == "cpu")
    device = accelerator.device.type
    set_seed(cfg.train.seed)
    precision = modeling.choose_precision(cfg.train.precision, device)
    with accelerator.main_process_first():
        path = modeling.resolve_model_path(cfg.model.name_or_path, plan.model_cache, cfg.train.seed)
    tokenizer = modeling.load_tokenizer(path, cfg.model.revision, cfg.model.trust_remote_code)
    model = modeling.load_quantized(path, precision, device, cfg.model.attn_implementation,
                                    cfg.model.revision, cfg.model.trust_remote_code)
    settings: dict[str, Any] = {"kernels": modeling.apply_kernels(model, cfg.train.kernels, device)}
    checkpointing, layers, chunk, settings["checkpointing"] = _checkpointing(model, plan, precision, device)
    model = modeling.attach_lora(model, cfg.lora.r, int(cfg.lora.alpha), cfg.lora.dropout,
                                 cfg.lora.target_modules, checkpointing, layers)
    examples = batching.tokenize(data.load_split(cfg.data.output, "train"), tokenizer, cfg.train.max_length)
    batches = all_batches(examples, plan, tokenizer.pad_token_id, accelerator.process_index,
                          accelerator.num_processes)
    total_steps = math.ceil(len(batches) / cfg.train.gradient_accumulation)
    if cfg.train.max_steps:
        total_steps = min(total_steps, cfg.train.max_steps)
    if total_steps == 0:
        raise InputError(f"{cfg.data.output}: no training batches; add samples or lower launch.processes")
    params = [p for p in model.parameters() if p.requires_grad]
    choice = graphs.choose(cfg.train.cuda_graphs, device, precision.name, cfg.train.packing,
                           accelerator.num_processes, cfg.train.optimizer, cfg.model.attn_implementation)
    settings["cuda_graphs"] = choice.to_dict()
    optimizer = (graphs.capturable_adamw(params, cfg.train.learning_rate) if choice.on
                 else make_optimizer(cfg.train.optimizer, params, cfg.train.learning_rate))
    scheduler = get_linear_schedule_with_warmup(optimizer, 0, total_steps)
    state = checkpoint.TrainerState(total_steps=total_steps,
                                    config_hash=training_hash(cfg, file_sha256(cfg.data.output)))
    resumed_from = None
    previous = checkpoint.latest(plan.checkpoints)
    if previous is not None:
        saved = userfiles.load_json(previous / "trainer_state.json", "json",
                                    f"remove the folder {plan.checkpoints} to start the run over")
        if not isinstance(saved, dict) or "config_hash" not in saved:
            raise InputError(f"{previous}: damaged checkpoint (trainer_state.json); remove the folder "
                             f"{plan.checkpoints} to start the run over")
        if saved["config_hash"] != state.config_hash:
            raise InputError(f"{plan.checkpoints}: holds checkpoints of a different config or data set; "
                             "set another train.output_dir (nothing was deleted)")
        state = checkpoint.load(previous, model, optimizer, scheduler)
        resumed_from = previous.name
    elif plan.resume:
        raise InputError(f"{plan.checkpoints}: no checkpoint to resume from; run without --resume")
    scaler = torch.amp.GradScaler(device, enabled=precision.name == "fp16" and device == "cuda")
    wrapped, step = build_step(model, chunk, choice, optimizer, scheduler, scaler, params, accelerator,
                               batching.round_up(cfg.train.batch_size * cfg.train.max_length),
                               tokenizer.pad_token_id, cfg.train.seed)
    return Session(plan, accelerator, precision, path, model, examples, batches, params, optimizer, scheduler,
                   scaler, wrapped, step, state, resumed_from, settings)


def run_steps(session: Session) -> None:
    """Optimizer steps until the plan's last; SIGINT/SIGTERM finish the step, checkpoint and raise Interrupted."""
    import torch

    plan, state, accumulation = session.plan, session.state, session.plan.config.train.gradient_accumulation
    stop: dict[str, int | None] = {"signal": None}

    def request_stop(signum: int, _frame: Any) -> None:
        stop["signal"] = signum

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, request_stop)
    if session.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    main = session.accelerator.is_main_process
    with _progress(state.total_steps, state.step, main and sys.stderr.isatty()) as bar:
        while state.step < state.total_steps:
            started = time.perf_counter()
            micro = session.batches[state.step * accumulation:(state.step + 1) * accumulation]
            loss = session.step(micro)
            state.step += 1
            state.losses.append(loss)
            state.real_tokens += sum(b.real_tokens for b in micro)
            state.train_seconds += time.perf_counter() - started
            if bar is not None:
                bar.set_postfix(loss=f"{state.losses[-1]:.3f}",
                                tok_s=f"{state.real_tokens / state.train_seconds:,.0f}")
                bar.update(1)
            done = state.step == state.total_steps
            if main and (stop["signal"] or done or state.step % plan.checkpoint_every == 0):
                checkpoint.save(plan.checkpoints, state, session.model, session.optimizer, session.scheduler)
            if stop["signal"] and not done:
                session.accelerator.wait_for_everyone()
                raise Interrupted(f"stopped at step {state.step}/{state.total_steps}; checkpoint written")


def save(session: Session) -> dict[str, Any]:
    """Write the adapter, the loss curve and train_result.json (main process); returns the result."""
    import torch

    plan, state, cfg, device = session.plan, session.state, session.plan.config, session.device
    result: dict[str, Any] = {}
    if isinstance(session.step, graphs.GraphedStep) and not session.step.captured:
        session.settings["cuda_graphs"] = {"cuda_graphs": False, "reason": "capture failed, the run stayed eager: "
                                           f"{session.step.failure or 'too few steps to capture'}"}
    if session.accelerator.is_main_process:
        try:
            session.model.save_pretrained(plan.adapter_dir, safe_serialization=True)
            plot_losses(state.losses, cfg.train.output_dir / "loss_curve.png")
        except OSError as exc:
            raise InputError(f"{plan.adapter_dir}: cannot write the adapter ({exc.strerror}); the "
                             f"checkpoints in {plan.checkpoints} are intact; free space, then "
                             "`envdoctor run --resume`") from None
        gpu = torch.cuda.get_device_name() if device == "cuda" else None
        world = session.accelerator.num_processes
        result = {**asdict(state), "final_loss": state.losses[-1], "device": device, "gpu": gpu,
                  "world_size": world, "precision": session.precision.name,
                  "precision_reason": session.precision.reason, "resumed_from": session.resumed_from,
                  "tokens_per_s": state.real_tokens * world / state.train_seconds,
                  "seconds_per_step": state.train_seconds / state.step,
                  "peak_memory": peak_memory_mib(device), "train_samples": len(session.examples),
                  "micro_batches": len(session.batches), "packing": cfg.train.packing,
                  "settings": session.settings, "model_path": session.model_path, "seed": cfg.train.seed,
                  "determinism": {"deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
                                  "cudnn_deterministic": bool(torch.backends.cudnn.deterministic),
                                  "cudnn_benchmark": bool(torch.backends.cudnn.benchmark),
                                  "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG")}}
        (cfg.train.output_dir / RESULT_FILE).write_text(json.dumps(result, indent=2), encoding="utf-8")
    session.accelerator.wait_for_everyone()
    session.accelerator.end_training()  # tears the process group down (NCCL warns when it is leaked)
    return result


def train(plan: RunPlan) -> dict[str, Any]:
    """Run (or resume) the train stage: setup, the optimizer steps, save; returns train_result.json's content."""
    session = setup(plan)
    run_steps(session)
    return save(session)

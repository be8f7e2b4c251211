"""An optimizer update replayed from CUDA graphs: a few launches per step instead of thousands.

A QLoRA step on a 7B model is thousands of small kernels (4-bit dequantisation, LoRA's two thin
matrix products, norms, rotary embeddings, the adapter's optimizer update); the host's Python and
launch overhead, not the GPU, sets the pace (the same model ran 0.20 s and 0.30 s per step on two
H200 hosts that differ only in their CPUs).  Here one micro-batch's forward and backward are
captured once as a graph, and the clip + AdamW update + gradient zeroing as a second, then both
are replayed every step on fixed buffers:

* every packed row is padded to ``batch_size × max_length`` tokens (the padding is its own short
  sequence with ignored labels, as :mod:`batching` already pads to a multiple of 64), and the loss
  and attention mask are computed without host round trips (``ChunkedCausalLMLoss(static=True)``);
* AdamW is torch's fused one with ``capturable=True`` and the learning rate in a device tensor,
  which the scheduler fills between replays; under fp16 the gradient scaler's overflow check stays
  on the device too (the fused step skips an overflowed update itself, as ``GradScaler.step`` would);
* checkpointed layers recompute with their own generator states (:mod:`recompute`).

The first updates run eagerly on the same buffers (they allocate gradients and optimizer state),
then the graphs are captured; a capture that fails leaves the run eager, with the reason recorded.
Numerics are the eager loop's: the same kernels on the same values, the same per-token mean loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from envdoctor.pipeline.batching import IGNORE, Batch

EAGER_UPDATES = 2  # updates run eagerly before the capture (gradients, optimizer state, cuBLAS workspaces)


@dataclass(frozen=True)
class GraphsChoice:
    """Whether ``train.cuda_graphs`` replays steps from CUDA graphs here, and why."""

    on: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """The record written to train_result.json."""
        return {"cuda_graphs": self.on, "reason": self.reason}


def choose(requested: bool | str, device: str, precision: str, packing: bool, world: int, optimizer: str,
           attn_implementation: str) -> GraphsChoice:
    """Resolve ``train.cuda_graphs`` (true/false/auto): on only where every part of the step can be captured."""
    if requested is False:
        return GraphsChoice(False, "off in the config")
    blockers = [why for bad, why in (
        (device != "cuda", "no CUDA device"),
        (not packing, "grouped batches vary in shape (set train.packing: true)"),
        (world > 1, "several processes (DDP's gradient hooks are not captured)"),
        (optimizer != "adamw_torch", f"{optimizer} is not capturable (use adamw_torch)"),
        (attn_implementation != "sdpa", f"{attn_implementation} attention reads sequence lengths on the host "
                                        "(use sdpa)")) if bad]
    if blockers:
        prefix = "requested, but " if requested is True else ""
        return GraphsChoice(False, prefix + "; ".join(blockers))
    return GraphsChoice(True, "auto: CUDA, packed rows, one process, sdpa, adamw_torch"
                        if requested == "auto" else "on in the config")


def capturable_adamw(params: list[Any], lr: float) -> Any:
    """Fused AdamW (weight decay 0) whose step counters and learning rate live on the device."""
    import torch

    return torch.optim.AdamW(params, lr=torch.tensor(lr, device=params[0].device), weight_decay=0.0,
                             fused=True, capturable=True)


def static_row(batch: Batch, capacity: int, pad_id: int) -> tuple[list[int], list[int], list[int]]:
    """The packed row of ``batch`` padded to ``capacity`` tokens; the padding is its own sequence."""
    if len(batch.input_ids) != 1 or batch.attention_mask is not None or len(batch.input_ids[0]) > capacity:
        raise ValueError(f"a CUDA-graph step takes one packed row of at most {capacity} tokens")
    pad = capacity - len(batch.input_ids[0])
    return (batch.input_ids[0] + [pad_id] * pad, batch.labels[0] + [IGNORE] * pad,
            batch.position_ids[0] + list(range(pad)))


class GraphedStep:
    """``step(micro_batches) -> mean loss per target token``, like :func:`training.optimizer_step`."""

    def __init__(self, wrapped: Any, optimizer: Any, scheduler: Any, scaler: Any, params: list[Any], capacity: int,
                 pad_id: int, device: Any, generator_states: list[Any]) -> None:
        import torch

        self.wrapped, self.optimizer, self.scheduler, self.params = wrapped, optimizer, scheduler, params
        self.scaler = scaler
        self.capacity, self.pad_id, self.device = capacity, pad_id, device
        self.generator_states = generator_states
        for group in optimizer.param_groups:  # a resumed state dict may have put a float back
            if not torch.is_tensor(group["lr"]):
                group["lr"] = torch.tensor(group["lr"], device=device)
        shape = (1, capacity)
        self.input_ids = torch.full(shape, pad_id, dtype=torch.long, device=device)
        self.labels = torch.full(shape, IGNORE, dtype=torch.long, device=device)
        self.position_ids = torch.zeros(shape, dtype=torch.long, device=device)
        self.inv_targets = torch.ones((), dtype=torch.float32, device=device)
        self.stream = torch.cuda.Stream(device=device)
        self.updates = 0
        self.micro_graph: Any = None
        self.update_graph: Any = None
        self.summed: Any = None
        self.failure: str | None = None

    @property
    def captured(self) -> bool:
        """True once the graphs replay the steps."""
        return self.update_graph is not None

    def _load(self, batch: Batch) -> None:
        import torch

        ids, labels, positions = static_row(batch, self.capacity, self.pad_id)
        for buffer, values in ((self.input_ids, ids), (self.labels, labels), (self.position_ids, positions)):
            buffer.copy_(torch.tensor([values], dtype=torch.long).pin_memory(), non_blocking=True)

    def _micro(self) -> Any:
        summed, _ = self.wrapped(input_ids=self.input_ids, labels=self.labels, position_ids=self.position_ids)
        self.scaler.scale(summed * self.inv_targets).backward()
        return summed.detach()

    def _update(self) -> None:
        import torch

        self.scaler.unscale_(self.optimizer)
        torch.nn.utils.clip_grad_norm_(self.params, 1.0, foreach=True)
        self.scaler.step(self.optimizer)  # fused AdamW: no host-side overflow check
        self.scaler.update()
        torch._foreach_zero_([p.grad for p in self.params])

    def _eagerly(self, work: Any) -> Any:
        """``work()`` on the capture stream (as the graphs will run it), ordered after the current stream."""
        import torch

        current = torch.cuda.current_stream(self.device)
        self.stream.wait_stream(current)
        with torch.cuda.stream(self.stream):
            out = work()
        current.wait_stream(self.stream)
        return out

    def _capture(self) -> None:
        import torch

        micro, update = torch.cuda.CUDAGraph(), torch.cuda.CUDAGraph()
        for state in self.generator_states:
            micro.register_generator_state(state)
        torch.cuda.synchronize(self.device)
        torch.cuda.empty_cache()  # the eager updates' cached blocks go back before the graph pools fill
        with torch.cuda.graph(micro, stream=self.stream):
            summed = self._micro()
        with torch.cuda.graph(update, stream=self.stream):
            self._update()
        self.micro_graph, self.update_graph, self.summed = micro, update, summed

    def __call__(self, micro: list[Batch]) -> float:
        import torch

        targets = sum(b.target_tokens for b in micro)
        self.inv_targets.fill_(1.0 / max(targets, 1))
        if not self.captured and self.failure is None and self.updates >= EAGER_UPDATES:
            self._load(micro[0])
            try:
                self._capture()
            except RuntimeError as exc:  # something in the step cannot be captured: stay eager
                self.failure = str(exc).splitlines()[0][:300]
                torch.cuda.synchronize(self.device)
        loss_sum = 0.0
        for batch in micro:
            self._load(batch)
            if self.captured:
                self.micro_graph.replay()
                loss_sum += float(self.summed.item())
            else:
                loss_sum += float(self._eagerly(self._micro).item())
        if self.captured:
            self.update_graph.replay()
        else:
            self._eagerly(self._update)
        self.scheduler.step()
        self.updates += 1
        return loss_sum / max(targets, 1)

"""Activation checkpointing whose recompute draws the same dropout masks, also inside a CUDA graph.

``torch.utils.checkpoint`` keeps dropout reproducible by saving and restoring the CUDA RNG state
(``preserve_rng_state=True``), which cannot be done while a CUDA graph is being captured (pytorch
issue #162504).  Here each checkpointed decoder layer owns two cloned generator states made from one
seed: the forward draws from the first, the recompute in the backward from the second.  Both start
equal and advance by the same draws every step, so the recompute sees the forward's masks; both are
registered with the graph (``CUDAGraph.register_generator_state``), so every replay advances them.
"""

from __future__ import annotations

import functools
from typing import Any


class LayerRecompute:
    """A decoder layer's ``_gradient_checkpointing_func``: non-reentrant checkpoint, graph-safe RNG."""

    def __init__(self, seed: int, device: Any) -> None:
        import torch

        generator = torch.Generator(device=device)
        generator.manual_seed(seed)
        self.forward_state = generator.clone_state()
        self.backward_state = generator.clone_state()
        self.device = device

    @property
    def states(self) -> tuple[Any, Any]:
        """The two generator states a CUDA graph must register."""
        return self.forward_state, self.backward_state

    def _run(self, function: Any, *args: Any) -> Any:
        import torch

        default = torch.cuda.default_generators[torch.device(self.device).index or 0]
        in_backward = torch._C._current_graph_task_id() != -1
        previous = default.graphsafe_get_state()
        default.graphsafe_set_state(self.backward_state if in_backward else self.forward_state)
        try:
            return function(*args)
        finally:
            default.graphsafe_set_state(previous)

    def __call__(self, function: Any, *args: Any) -> Any:
        from torch.utils.checkpoint import checkpoint

        return checkpoint(functools.partial(self._run, function), *args, use_reentrant=False,
                          preserve_rng_state=False)


def install(layers: list[Any], seed: int, device: Any) -> list[LayerRecompute]:
    """Give every checkpointed layer of ``layers`` its own :class:`LayerRecompute`; returns them in order."""
    out = []
    for index, layer in enumerate(layers):
        if getattr(layer, "gradient_checkpointing", False):
            recompute = LayerRecompute(seed * 1_000_003 + index, device)
            layer._gradient_checkpointing_func = recompute
            out.append(recompute)
    return out

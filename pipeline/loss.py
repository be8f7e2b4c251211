"""Causal-LM loss through the lm_head in chunks, so tokens × vocab fp32 logits never exist at once.

Only positions that have a target are projected at all (the prompt tokens of an instruction
sample train nothing), and each chunk's logits are recomputed in the backward pass instead
of being stored.  The module wraps the whole model so DDP sees one forward per step.

In ``static`` mode (for CUDA graphs) nothing depends on the data's values on the host: every
position goes through the lm_head (ignored targets add 0 to the sum) and the packed rows'
block-diagonal causal mask is built on the device from ``position_ids``, where transformers
would ask the device whether the row is packed at all.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from envdoctor.memory.recipe import LOSS_CHUNK_TOKENS as CHUNK_TOKENS
from envdoctor.pipeline.batching import IGNORE


def packed_causal_mask(position_ids: torch.Tensor) -> torch.Tensor:
    """(batch, 1, T, T) bool: a token sees earlier tokens of its own sample (positions restart at 0 per sample).

    The same mask transformers builds for packed rows (``find_packed_sequence_indices``), without
    a host round trip.
    """
    first = position_ids[:, :1] - 1
    sample = (torch.diff(position_ids, prepend=first, dim=-1) != 1).cumsum(-1)
    length = position_ids.shape[-1]
    causal = torch.ones(length, length, dtype=torch.bool, device=position_ids.device).tril()
    return ((sample[:, :, None] == sample[:, None, :]) & causal)[:, None]


def _chunk_loss(lm_head: nn.Module, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    logits = lm_head(hidden).float()
    return nn.functional.cross_entropy(logits, targets, reduction="sum")


class ChunkedCausalLMLoss(nn.Module):
    """``forward(input_ids, labels, position_ids, attention_mask=None)`` → (summed loss, target count).

    ``chunk_tokens=None``: one chunk for all targets, its logits kept for the backward (no recompute).
    ``static``: see the module's docstring (packed rows only: ``attention_mask`` must be None).
    """

    def __init__(self, causal_lm: nn.Module, chunk_tokens: int | None = CHUNK_TOKENS, static: bool = False) -> None:
        super().__init__()
        self.causal_lm = causal_lm
        self.chunk_tokens = chunk_tokens
        self.static = static

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor, position_ids: torch.Tensor,
                attention_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        causal_lm: Any = self.causal_lm
        decoder = causal_lm.get_decoder()
        lm_head = causal_lm.get_output_embeddings()
        if self.static:
            attention_mask = packed_causal_mask(position_ids)
        hidden = decoder(input_ids=input_ids, position_ids=position_ids, attention_mask=attention_mask,
                         use_cache=False).last_hidden_state
        shifted = labels[:, 1:]
        keep = shifted != IGNORE
        if self.static:
            hidden = hidden[:, :-1].reshape(-1, hidden.shape[-1])
            targets = shifted.reshape(-1)
        else:
            hidden = hidden[:, :-1][keep]
            targets = shifted[keep]
        if self.chunk_tokens is None:
            return _chunk_loss(lm_head, hidden, targets), keep.sum()
        total = hidden.new_zeros((), dtype=torch.float32)
        for start in range(0, targets.numel(), self.chunk_tokens):
            h = hidden[start:start + self.chunk_tokens]
            t = targets[start:start + self.chunk_tokens]
            if torch.is_grad_enabled():
                total = total + checkpoint(_chunk_loss, lm_head, h, t, use_reentrant=False,
                                           preserve_rng_state=False)  # no randomness
            else:
                total = total + _chunk_loss(lm_head, h, t)
        return total, keep.sum()

"""Tokenise instruction samples and group them into batches without padding to max_length.

Two layouts:

* packed (``train.packing: true``): the samples of a step are concatenated into one row,
  padding-free, with ``position_ids`` restarting at 0 for each sample.  transformers builds
  a block-diagonal causal mask from the restarts (as TRL's ``padding_free`` does), so no sample
  attends to another.  The first label of each sample is masked so no token predicts across
  a boundary.  Bins are filled best-fit-decreasing up to ``batch_size × max_length`` tokens.
* grouped (``packing: false``): samples of similar length share a batch, right-padded.

Both pad the row length up to a multiple of :data:`PAD_MULTIPLE`, so a run sees few distinct
shapes (each new shape costs seconds of kernel planning on a GPU).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

IGNORE = -100
PAD_MULTIPLE = 64
PROMPT_TEMPLATE = "### 指令:\n{instruction}\n\n### 输入:\n{input}\n\n### 回答:\n"


@dataclass(frozen=True)
class Example:
    """One tokenised sample: prompt tokens carry IGNORE labels, response tokens train."""

    input_ids: tuple[int, ...]
    labels: tuple[int, ...]


@dataclass(frozen=True)
class Batch:
    """One micro-batch as plain lists; :meth:`tensors` makes torch tensors."""

    input_ids: list[list[int]]
    labels: list[list[int]]
    position_ids: list[list[int]]
    attention_mask: list[list[int]] | None  # None when packed
    real_tokens: int
    target_tokens: int

    def tensors(self, device: Any) -> dict[str, Any]:
        """Model inputs on ``device``."""
        import torch

        out = {"input_ids": torch.tensor(self.input_ids, device=device),
               "labels": torch.tensor(self.labels, device=device),
               "position_ids": torch.tensor(self.position_ids, device=device)}
        if self.attention_mask is not None:
            out["attention_mask"] = torch.tensor(self.attention_mask, device=device)
        return out


def prompt_of(sample: dict[str, str]) -> str:
    """The prompt text of an instruction sample (the part that does not train)."""
    return PROMPT_TEMPLATE.format(instruction=sample["instruction"], input=sample.get("input", ""))


def tokenize(samples: Sequence[dict[str, str]], tokenizer: Any, max_length: int) -> list[Example]:
    """BOS + prompt + response + EOS, truncated to ``max_length``; loss on the response only."""
    examples = []
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    for sample in samples:
        prompt = bos + tokenizer(prompt_of(sample), add_special_tokens=False)["input_ids"]
        response = tokenizer(sample["output"], add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        ids = (prompt + response)[:max_length]
        labels = ([IGNORE] * len(prompt) + response)[:max_length]
        if any(label != IGNORE for label in labels[1:]):
            examples.append(Example(tuple(ids), tuple(labels)))
    return examples


def round_up(n: int) -> int:
    """``n`` rounded up to a multiple of :data:`PAD_MULTIPLE`."""
    return -(-n // PAD_MULTIPLE) * PAD_MULTIPLE


def _packed_batch(bin_: Sequence[Example], pad_id: int) -> Batch:
    ids: list[int] = []
    labels: list[int] = []
    positions: list[int] = []
    for example in bin_:
        ids += example.input_ids
        labels += [IGNORE, *example.labels[1:]]
        positions += range(len(example.input_ids))
    real = len(ids)
    pad = round_up(real) - real
    ids += [pad_id] * pad
    labels += [IGNORE] * pad
    positions += range(pad)  # the padding is its own short sequence: it attends to nothing real
    return Batch([ids], [labels], [positions], None, real, sum(label != IGNORE for label in labels))


def _grouped_batch(group: Sequence[Example], pad_id: int) -> Batch:
    width = round_up(max(len(e.input_ids) for e in group))
    ids, labels, positions, mask = [], [], [], []
    for e in group:
        pad = width - len(e.input_ids)
        ids.append([*e.input_ids, *[pad_id] * pad])
        labels.append([*e.labels, *[IGNORE] * pad])
        positions.append(list(range(width)))
        mask.append([1] * len(e.input_ids) + [0] * pad)
    real = sum(len(e.input_ids) for e in group)
    target = sum(label != IGNORE for row in labels for label in row[1:])
    return Batch(ids, labels, positions, mask, real, target)


def best_fit_bins(examples: Sequence[Example], capacity: int) -> list[list[Example]]:
    """Best-fit decreasing: each sample (longest first) goes to the fullest bin it still fits."""
    bins: list[list[Example]] = []
    room: list[int] = []
    for example in sorted(examples, key=lambda e: len(e.input_ids), reverse=True):
        size = len(example.input_ids)
        fits = [i for i, free in enumerate(room) if free >= size]
        if fits:
            best = min(fits, key=lambda i: room[i])
            bins[best].append(example)
            room[best] -= size
        else:
            bins.append([example])
            room.append(capacity - size)
    return bins


def epoch_batches(examples: Sequence[Example], batch_size: int, max_length: int, packing: bool,
                  pad_id: int, seed: int, epoch: int) -> list[Batch]:
    """The micro-batches of one epoch, in a deterministic shuffled order for (seed, epoch)."""
    rng = random.Random(seed * 1000 + epoch)
    if packing:
        groups = best_fit_bins(examples, batch_size * max_length)
        rng.shuffle(groups)
        return [_packed_batch(g, pad_id) for g in groups]
    order = list(examples)
    rng.shuffle(order)
    window = batch_size * 50  # sort within windows: similar lengths together, still shuffled overall
    grouped: list[list[Example]] = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start:start + window], key=lambda e: len(e.input_ids))
        grouped += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(grouped)
    return [_grouped_batch(g, pad_id) for g in grouped]

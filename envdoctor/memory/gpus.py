"""Common training GPUs: memory that NVML reports and compute capability.

Used for ``--gpu T4`` (plan for a GPU you do not have in front of you) and to
say whether bf16 is supported (compute capability 8.0 or newer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from envdoctor.errors import InputError

BF16_MIN_CAPABILITY = (8, 0)


@dataclass(frozen=True)
class GpuSpec:
    """A GPU model: ``memory_mib`` is the total NVML reports, ``capability`` the CUDA compute capability."""

    key: str
    name: str
    memory_mib: int
    capability: str

    @property
    def supports_bf16(self) -> bool:
        """bf16 tensor cores need Ampere (8.0) or newer; a T4 (7.5) trains in fp16."""
        return supports_bf16(self.capability)


GPUS: tuple[GpuSpec, ...] = (
    GpuSpec("t4", "Tesla T4 (16 GB, 15 GiB usable)", 15360, "7.5"),
    GpuSpec("p100", "Tesla P100 16 GB", 16280, "6.0"),
    GpuSpec("v100-16", "Tesla V100 16 GB", 16160, "7.0"),
    GpuSpec("v100-32", "Tesla V100 32 GB", 32510, "7.0"),
    GpuSpec("a10g", "A10G 24 GB", 23028, "8.6"),
    GpuSpec("a10", "A10 24 GB", 23028, "8.6"),
    GpuSpec("l4", "L4 24 GB", 23034, "8.9"),
    GpuSpec("l40s", "L40S 48 GB", 46068, "8.9"),
    GpuSpec("a6000", "RTX A6000 48 GB", 49140, "8.6"),
    GpuSpec("a100-40", "A100 40 GB", 40960, "8.0"),
    GpuSpec("a100-80", "A100 80 GB", 81920, "8.0"),
    GpuSpec("h100", "H100 80 GB", 81559, "9.0"),
    GpuSpec("h200", "H200 141 GB", 143771, "9.0"),
    GpuSpec("2080ti", "RTX 2080 Ti 11 GB", 11264, "7.5"),
    GpuSpec("2080ti-22", "RTX 2080 Ti 22 GB (modded)", 22528, "7.5"),
    GpuSpec("3060", "RTX 3060 12 GB", 12288, "8.6"),
    GpuSpec("3090", "RTX 3090 24 GB", 24576, "8.6"),
    GpuSpec("4060ti-16", "RTX 4060 Ti 16 GB", 16380, "8.9"),
    GpuSpec("4090", "RTX 4090 24 GB", 24564, "8.9"),
)
# Names without a size pick the commonest variant.
ALIASES = {"v100": "v100-16", "a100": "a100-40", "2080ti-11": "2080ti", "4060ti": "4060ti-16",
           "h100-80": "h100", "t4-16": "t4", "a10g-24": "a10g", "l4-24": "l4", "3090-24": "3090",
           "4090-24": "4090"}


def supports_bf16(capability: str | None) -> bool:
    """Whether compute capability ``capability`` ("8.6") has bf16 support."""
    if not capability:
        return False
    major, _, minor = capability.partition(".")
    return (int(major), int(minor or 0)) >= BF16_MIN_CAPABILITY


def normalise(name: str) -> str:
    """``"NVIDIA GeForce RTX 2080 Ti 22GB"`` → ``"2080ti-22"``: the table's key form."""
    text = name.lower()
    text = re.sub(r"\b(nvidia|geforce|tesla|rtx|gpu|pcie|sxm\d?|hbm\d?e?)\b", " ", text)
    size = re.search(r"(\d+)\s*g(i?b)?\b", text) or re.search(r"[-_:\s](\d+)\s*$", text.strip())
    if size:
        text = text[:size.start()] + " " + text[size.end():]
    model = re.sub(r"[^a-z0-9]", "", text)
    return f"{model}-{size.group(1)}" if size else model


_SIZE_ONLY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(gb|gib|g)\s*$", re.IGNORECASE)


def gpu_of_size(gigabytes: float) -> GpuSpec:
    """A GPU known only by its size (``--gpu 24GB``): the least NVML total among the table's cards of that
    nominal size, else the decimal gigabytes in MiB; bf16 assumed (pass --precision fp16 for older cards)."""
    same = [spec for spec in GPUS if re.search(rf"\b{gigabytes:g} GB\b", spec.name)]
    memory = min(spec.memory_mib for spec in same) if same else int(gigabytes * 1e9 / 2**20)
    return GpuSpec(f"{gigabytes:g}gb", f"{gigabytes:g} GB GPU ({memory} MiB)", memory, "8.0")


def find_gpu(name: str) -> GpuSpec:
    """The table entry for ``name`` (``T4``, ``A100-80``, ``2080Ti 22GB``, ``RTX 3090``), or a size (``24GB``).

    InputError if unknown.
    """
    size = _SIZE_ONLY.match(name)
    if size:
        return gpu_of_size(float(size.group(1)))
    key = normalise(name)
    key = ALIASES.get(key, key)
    for spec in GPUS:
        if spec.key == key:
            return spec
    known = ", ".join(spec.key for spec in GPUS)
    raise InputError(f"--gpu {name!r}: unknown GPU; known: {known}, or a size such as 24GB")


def spec_for_live(name: str, capability: str | None, memory_mib: int) -> GpuSpec:
    """A spec for a GPU NVML reported (its own name and memory)."""
    return GpuSpec(normalise(name), name, memory_mib, capability or "?")

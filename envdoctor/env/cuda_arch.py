"""GPU compute capabilities against a torch build's CUDA architectures, in both directions.

A CUDA binary built for ``sm_XY`` runs on GPUs of the same major version and minor >= Y;
PTX (``compute_XY``) is compiled on the fly for any GPU >= XY.  A GPU below every
architecture of the build is too old for it (an older torch, or a build for an older CUDA,
still has it); above every one without PTX it is too new (a newer torch built for a newer CUDA).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_ARCH = re.compile(r"\b(sm|compute)_(\d{2,3})\b")


@dataclass(frozen=True, order=True)
class Capability:
    """A compute capability, ``Capability(8, 6)`` for ``8.6`` / ``sm_86``."""

    major: int
    minor: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    @property
    def sm(self) -> str:
        """The ``sm_86`` spelling."""
        return f"sm_{self.major}{self.minor}"


def capability(text: str) -> Capability | None:
    """``"8.6"``, ``"sm_86"``, ``"86"`` or ``"120"`` as a Capability."""
    text = text.strip().lower().removeprefix("sm_").removeprefix("compute_")
    if "." in text:
        major, _, minor = text.partition(".")
        return Capability(int(major), int(minor[:1] or 0)) if major.isdigit() and minor[:1].isdigit() else None
    if text.isdigit() and len(text) in (2, 3):
        return Capability(int(text[:-1]), int(text[-1]))
    return None


@dataclass(frozen=True)
class ArchList:
    """A build's architectures: cubins (``sm_XY``) and PTX (``compute_XY``)."""

    cubins: tuple[Capability, ...]
    ptx: tuple[Capability, ...] = ()

    @classmethod
    def parse(cls, text: str) -> ArchList:
        """From ``sm_50 sm_60 ... compute_90`` or ``5.0;6.0;9.0+PTX`` text."""
        cubins: list[Capability] = []
        ptx: list[Capability] = []
        for kind, digits in _ARCH.findall(text):
            cap = capability(digits)
            if cap:
                (ptx if kind == "compute" else cubins).append(cap)
        if not cubins:
            for item in re.split(r"[;,\s]+", text):
                cap = capability(item.removesuffix("+PTX"))
                if cap:
                    cubins.append(cap)
                    if item.endswith("+PTX"):
                        ptx.append(cap)
        return cls(tuple(sorted(set(cubins))), tuple(sorted(set(ptx))))

    def runs_on(self, gpu: Capability) -> bool:
        """Whether some kernel of the build runs on ``gpu``."""
        return any(c.major == gpu.major and c.minor <= gpu.minor for c in self.cubins) or \
            any(p <= gpu for p in self.ptx)

    def direction(self, gpu: Capability) -> str | None:
        """``"too-old"`` or ``"too-new"`` when the build has no kernel for ``gpu``; None when it has one."""
        if self.runs_on(gpu) or not self.cubins:
            return None
        return "too-old" if gpu < self.cubins[0] else "too-new"

    def describe(self) -> str:
        """``sm_75 … sm_120 (+PTX compute_120)``."""
        text = " ".join(c.sm for c in self.cubins)
        return text + (" +PTX " + " ".join(f"compute_{p.major}{p.minor}" for p in self.ptx) if self.ptx else "")


def first_fitting(rows: Iterable[tuple[str, ArchList]], gpu: Capability) -> list[str]:
    """The labels of ``rows`` whose architectures run on ``gpu``, in the given order."""
    return [label for label, arches in rows if arches.runs_on(gpu)]

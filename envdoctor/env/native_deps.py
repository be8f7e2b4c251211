"""Which declared requirement ships the native library a C symbol comes from.

A compiled module that fails with ``undefined symbol: ncclCommRegister`` (or ``...,
version libnvJitLink.so.12``) was linked against a library another distribution ships:
C libraries prefix their symbols with their own name (``nccl``, ``cublas``, ``cudnn``,
``nvJitLink``), and the wheels that carry them are named after it (``nvidia-nccl-cu12``).
The distribution owning the module, or one it requires, declares which release of that
library it was built with (torch 2.2.0: ``nvidia-nccl-cu12==2.19.3``): that requirement is
the fix.  Only declared requirements are searched, nearest first, so a name merely
resembling the symbol is never blamed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from envdoctor.env.probe import canonical_name
from envdoctor.env.requirements import active_requirements
from envdoctor.env.snapshot import Snapshot

MAX_DEPTH = 2  # the module's distribution and what it requires (vllm -> torch -> nvidia-nccl-cu12)
MIN_TOKEN = 4  # a name part shorter than this ("cu12" aside) says nothing about a symbol
VENDOR_TOKENS = frozenset({"nvidia", "python", "bindings"})
_CUDA_TOKEN = re.compile(r"cu\d+")


@dataclass(frozen=True)
class LibraryRequirement:
    """``declarer`` requires ``name`` with ``spec`` (may be empty), and ``name`` ships the symbol's library."""

    declarer: str
    name: str
    spec: str


def _tokens(name: str) -> tuple[str, ...]:
    return tuple(t for t in canonical_name(name).split("-")
                 if len(t) >= MIN_TOKEN and t not in VENDOR_TOKENS and not _CUDA_TOKEN.fullmatch(t))


def library_requirement(symbol: str, library: str | None, roots: list[str], snap: Snapshot,
                        skip: frozenset[str] = frozenset()) -> LibraryRequirement | None:
    """The nearest requirement of ``roots`` (breadth first, ``MAX_DEPTH`` levels) whose name names the
    library of ``symbol`` (or ``library``, a file name such as ``libnvJitLink.so.12``); names in
    ``skip`` are never answered.  A C++ (mangled) symbol names no library this way: None."""
    if not library and symbol.startswith("_Z"):
        return None
    key = (library or symbol).lower().lstrip("_")
    key = key[3:] if library and key.startswith("lib") else key
    seen: set[str] = set()
    frontier = [canonical_name(r) for r in roots]
    for _ in range(MAX_DEPTH):
        following: list[str] = []
        for name in frontier:
            dist = snap.distributions.get(name)
            if dist is None or name in seen:
                continue
            seen.add(name)
            for req in active_requirements(dist, snap):
                wanted = canonical_name(req.name)
                if wanted not in skip and any(key.startswith(token) for token in _tokens(wanted)):
                    return LibraryRequirement(name, wanted, str(req.specifier))
                following.append(wanted)
        frontier = following
    return None

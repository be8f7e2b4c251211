"""The rule interface: what a rule reads (:class:`Context`), how a Python rule registers
(:func:`implements`), and small helpers every rule module shares.

Rules import this module, never the engine; the engine imports rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from envdoctor.env.implied import range_within
from envdoctor.env.requirements import parse_version
from envdoctor.env.snapshot import Distribution, Snapshot, torch_build
from envdoctor.findings import Finding, Location
from envdoctor.knowledge.base import Condition, KnowledgeBase, RuleEntry


@dataclass(frozen=True)
class Context:
    """What rules read.  ``project`` holds facts about files, data and configs
    (collected by the CLI before rules run); ``keep`` names packages the user or
    platform owns, which fixes must not move; ``provided`` names package patterns
    the platform supplies outside a lock file (a lock need not pin them); ``shipped`` holds the
    pins of the detected platform's published image (``shipped_by`` says which), whose own
    conflicts are the platform's."""

    snapshot: Snapshot
    kb: KnowledgeBase
    project: Any = None
    keep: frozenset[str] = frozenset()
    provided: frozenset[str] = frozenset()
    offline: bool = False
    extras: dict[str, Any] = field(default_factory=dict)
    shipped: frozenset[str] = frozenset()  # "name==version" in the detected platform's published image
    shipped_by: str = ""  # where that list comes from
    notes: list[str] = field(default_factory=list)  # what rules could not check yet, shown with the report


RuleImpl = Callable[[Context, RuleEntry], Iterable[Finding]]
IMPLEMENTATIONS: dict[str, RuleImpl] = {}


def implements(code: str) -> Callable[[RuleImpl], RuleImpl]:
    """Register a Python implementation for the knowledge-base rule ``code``."""

    def register(func: RuleImpl) -> RuleImpl:
        if code in IMPLEMENTATIONS:
            raise RuntimeError(f"two implementations for {code}")
        IMPLEMENTATIONS[code] = func
        return func

    return register


def pin_locations(snap: Snapshot, names: Iterable[str]) -> tuple[Location, ...]:
    """The lock-file lines that pin ``names`` (empty for an installed environment)."""
    if not snap.source.startswith("file:"):
        return ()
    found = []
    for name in names:
        dist = snap.distributions.get(name)
        if dist is not None and dist.location:
            path, _, line = dist.location.rpartition(":")
            if line.isdigit():
                found.append(Location(path, int(line)))
    return tuple(found)


def condition_holds(cond: Condition, ctx: Context) -> bool:
    """Whether every part of ``cond`` holds for the context's snapshot."""
    snap = ctx.snapshot
    ranges = {r.name: r for r in snap.implied_ranges}
    for name, spec in cond.packages.items():
        version = parse_version(snap.version_of(name))
        if version is None and name in ranges:  # implied as a range: holds only if it holds for all of it
            if not range_within(ranges[name], spec):
                return False
            continue
        if version is None or not spec.contains(version, prereleases=True):
            return False
    if any(snap.version_of(name) is not None for name in cond.absent):
        return False
    if cond.python is not None and not cond.python.contains(snap.python_version, prereleases=True):
        return False
    if cond.system and snap.system not in cond.system:
        return False
    gpus = snap.hardware.gpus
    probed = not snap.hardware.nvml.startswith("not probed")
    if (cond.gpu is not None or cond.gpu_capability is not None) and not probed:
        return False
    if cond.gpu is not None and bool(gpus) != cond.gpu:
        return False
    if cond.gpu_capability is not None and not any(
        g.capability and cond.gpu_capability.contains(g.capability) for g in gpus
    ):
        return False
    kind, cuda = torch_build(snap)
    if cond.torch_build and kind not in cond.torch_build:
        return False
    if cond.torch_cuda is not None and (cuda is None or not cond.torch_cuda.contains(cuda)):
        return False
    if cond.runtime and not set(cond.runtime) & set(snap.runtime):
        return False
    return True


def curated_pairs(ctx: Context) -> set[tuple[str, str]]:
    """(user, provider) pairs a curated declarative rule already explains in this target."""
    pairs: set[tuple[str, str]] = set()
    for entry in ctx.kb.rules.values():
        if entry.check == "declarative":
            for case in entry.cases:
                if case.covers and condition_holds(case.when, ctx):
                    pairs.update(case.covers)
    return pairs


def platform_conflict(ctx: Context, *dists: Distribution) -> str:
    """A message tail when each of ``dists`` is at the version the detected platform's published
    image ships (the conflict is the platform's own, which it runs with), else ''."""
    if not ctx.shipped or not all(f"{d.name}=={d.version}" in ctx.shipped for d in dists):
        return ""
    return (f" — as shipped in {ctx.snapshot.platform}'s published image ({ctx.shipped_by}): the platform "
            f"runs with it; it matters only if your run imports {dists[0].name}")

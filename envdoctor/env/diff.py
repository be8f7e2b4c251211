"""Compare two snapshots: packages added, removed and changed; Python, CUDA, driver, GPUs."""

from __future__ import annotations

from dataclasses import dataclass, field

from envdoctor.env.snapshot import Snapshot, torch_build


@dataclass(frozen=True)
class SnapshotDiff:
    """What differs between snapshot ``a`` and snapshot ``b``."""

    added: dict[str, str] = field(default_factory=dict)
    removed: dict[str, str] = field(default_factory=dict)
    changed: dict[str, tuple[str, str]] = field(default_factory=dict)
    system: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """True when the two environments match in everything compared."""
        return not (self.added or self.removed or self.changed or self.system)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {"added": self.added, "removed": self.removed,
                "changed": {k: {"from": a, "to": b} for k, (a, b) in self.changed.items()},
                "system": {k: {"from": a, "to": b} for k, (a, b) in self.system.items()},
                "drift": not self.empty}

    def to_text(self) -> str:
        """A short report, one line per difference."""
        if self.empty:
            return "✓ no drift: same packages, Python, CUDA, driver and GPUs"
        lines = [f"  {key}: {a} → {b}" for key, (a, b) in sorted(self.system.items())]
        lines += [f"+ {name}=={ver}" for name, ver in sorted(self.added.items())]
        lines += [f"- {name}=={ver}" for name, ver in sorted(self.removed.items())]
        lines += [f"~ {name}: {a} → {b}" for name, (a, b) in sorted(self.changed.items())]
        return "\n".join(lines)


def _system_facts(snap: Snapshot) -> dict[str, str]:
    kind, cuda = torch_build(snap)
    hw = snap.hardware
    facts = {"python": snap.python_version, "platform": f"{snap.system} {snap.machine}",
             "torch build": f"{kind} {cuda}" if cuda else kind}
    if hw.nvml == "ok":
        facts["driver"] = hw.driver_version or "?"
        facts["cuda driver"] = hw.cuda_driver_version or "?"
        facts["gpus"] = ", ".join(g.name for g in hw.gpus) or "none"
    return facts


def diff(a: Snapshot, b: Snapshot) -> SnapshotDiff:
    """Differences from ``a`` to ``b``; GPU facts compare only where both probed NVML."""
    va = {n: d.version for n, d in a.distributions.items()}
    vb = {n: d.version for n, d in b.distributions.items()}
    fa, fb = _system_facts(a), _system_facts(b)
    system = {k: (fa[k], fb[k]) for k in fa.keys() & fb.keys() if fa[k] != fb[k]}
    return SnapshotDiff(
        added={n: vb[n] for n in vb.keys() - va.keys()},
        removed={n: va[n] for n in va.keys() - vb.keys()},
        changed={n: (va[n], vb[n]) for n in va.keys() & vb.keys() if va[n] != vb[n]},
        system=system,
    )

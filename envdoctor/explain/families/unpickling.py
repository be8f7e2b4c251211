"""Family: unpickling errors of `torch.load` — `weights_only` and its default.

torch 2.6 changed ``torch.load``'s default to ``weights_only=True``: a checkpoint that
pickles anything but tensors and allow-listed types (optimizer state with numpy scalars, a
whole model, a custom class) now fails with ``Weights only load failed`` / an
``UnpicklingError``.  The culprit pair is torch (the boundary, from the knowledge base) and
the package whose frame called ``torch.load`` without saying ``weights_only``.
"""

from __future__ import annotations

from packaging.specifiers import SpecifierSet

from envdoctor.env.requirements import parse_version
from envdoctor.explain.blame import group_blame
from envdoctor.explain.diagnosis import (
    HIGH,
    LOW,
    MEDIUM,
    Diagnosis,
    Evidence,
    explains,
    say,
    stale,
)
from envdoctor.explain.extractors import HitGroup
from envdoctor.findings import Applicability, Fix, pip_install_fix
from envdoctor.knowledge.base import RuleEntry


@explains("ED612")
def weights_only(group: HitGroup, entry: RuleEntry, ev: Evidence) -> Diagnosis:
    """`Weights only load failed`: torch's boundary, the caller of torch.load, and the fixes on each side."""
    flip = ev.kb.tables["torch_load"]["weights_only_default_from"]
    who = group_blame(group, ev)
    caller = who.caller if who.raiser == "torch" else who.raiser
    caller = caller if caller != "torch" else None
    torch = ev.installed("torch")
    parsed = parse_version(torch.split("+")[0]) if torch else None
    if parsed is not None and not SpecifierSet(f">={flip}").contains(parsed, prereleases=True):
        return Diagnosis(stale(f"torch {torch} in the target loads with weights_only=False by default"), LOW,
                       (), ("torch",))
    by = f"{caller} calls torch.load without weights_only=False" if caller else "the code calls torch.load"
    fixes: list[Fix] = []
    if caller:
        fixes.append(say(f"upgrade {caller} to a release that passes weights_only (or loads safetensors)"))
    fixes.append(pip_install_fix(f"or keep torch below {flip}, whose torch.load still defaults to "
                                 "weights_only=False", {"torch": f"<{flip}"}, Applicability.UNSAFE))
    fixes.append(say("for a checkpoint you trust: torch.load(..., weights_only=False), or allow its types with "
                     "torch.serialization.add_safe_globals([...])"))
    on = f"; the target has torch {torch}" if torch else ""
    return Diagnosis(f"torch {flip} made weights_only=True the default of torch.load and {by}: the checkpoint "
                   f"holds objects outside the allow-list{on}", HIGH if torch else MEDIUM, tuple(fixes),
                   tuple(dict.fromkeys(d for d in ("torch", caller) if d)))

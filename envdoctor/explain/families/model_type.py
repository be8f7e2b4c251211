"""Family: a checkpoint's ``model_type`` that the installed transformers does not register.

``AutoConfig`` stops with "The checkpoint you are trying to load has model type `qwen2_vl` but
Transformers does not recognize this architecture" (older releases: ``KeyError: 'qwen2_vl'``
from ``CONFIG_MAPPING``).  transformers ships each architecture as the package
``transformers.models.<model_type>`` (``-`` spelled ``_``), so the first release that has the
architecture is where that module first appears in the release's file list: the API-surface
engine bisects it on the index.  The fix is that release or later; a target whose transformers
already has it says the log is stale.
"""

from __future__ import annotations

from envdoctor.explain import api_surface
from envdoctor.explain.blame import provider_side
from envdoctor.explain.diagnosis import HIGH, LOW, MEDIUM, Diagnosis, Evidence, explains, say, stale
from envdoctor.explain.extractors import HitGroup
from envdoctor.knowledge.base import RuleEntry
from envdoctor.project.models import architecture_module

DIST = "transformers"


@explains("ED231")
def model_type(group: HitGroup, entry: RuleEntry, ev: Evidence) -> Diagnosis:
    """The model type is newer than the transformers that ran: the release that added it, as a pin."""
    kind = group.groups.get("model_type") or ""
    module = architecture_module(kind)
    installed = ev.installed(DIST)
    found = api_surface.boundary(DIST, module, around=installed, offline=ev.offline) if kind else None
    has = api_surface.status(DIST, installed, module, site_packages=ev.location(DIST), offline=ev.offline) \
        if installed and kind else None
    if has:
        return Diagnosis(stale(f"{DIST} {installed} in the target has the architecture `{kind}`"), LOW, (), (DIST,))
    side = provider_side(DIST, found, installed) if found is not None and found.added_in else None
    escape = say("or load the checkpoint with the model's own code (`trust_remote_code=True`), after reading it")
    if side is None or found is None:
        why = "no transformers release on the index ships it" if found is not None else "release boundary unknown"
        return Diagnosis(f"the checkpoint's model type `{kind}` is not an architecture of the transformers that ran "
                         f"({why}): it is newer than that release, or needs the model's own code", MEDIUM,
                         (say(f"upgrade {DIST} (`pip install -U {DIST}`) and re-run"), escape), (DIST,))
    target = f"; the target's {DIST} {installed} lacks it, confirmed" if installed else ""
    return Diagnosis(f"the checkpoint's model type `{kind}` is newer than the transformers that ran: "
                     f"transformers added `{module}` in {found.added_in}{target}", HIGH if installed else MEDIUM,
                     (side.fix(), escape), (DIST,))

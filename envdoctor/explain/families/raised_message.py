"""Family: any other exception line — which release of which package started raising it.

When no family knows an error's wording ("RuntimeError: Dataset scripts are no longer supported,
but found x.py"), the message itself is evidence: it is written in the source of the package
that raises it.  The API-surface engine searches the message's fixed words (the varying parts
left out) in the releases of the packages that may raise it — the traceback's own packages
first, then the target's, then the fine-tuning stack — and bisects the first release whose
source says it.  A message that appeared in a release is a refusal that release introduced;
the release before it is the pin that avoids it.  A message every release says, or none does,
is not explained here: the line gets no finding rather than a guess.
"""

from __future__ import annotations

from envdoctor.env.probe import canonical_name
from envdoctor.explain import api_surface
from envdoctor.explain.blame import MAX_PHRASE_SEARCHES, group_frames
from envdoctor.explain.diagnosis import HIGH, MEDIUM, Diagnosis, Evidence, explains, say
from envdoctor.explain.extractors import HitGroup
from envdoctor.findings import Applicability, pip_install_fix
from envdoctor.knowledge.base import RuleEntry

# the packages this product's users fine-tune with, searched last when nothing else names one
STACK = ("transformers", "datasets", "peft", "trl", "accelerate", "huggingface-hub")
MAX_CANDIDATES = 4


def candidates(group: HitGroup, ev: Evidence) -> list[str]:
    """Distributions that may raise the message: the traceback's (innermost first), the target's
    fine-tuning packages, the stack."""
    found = [canonical_name(ev.distribution_of(f.top)) for f in reversed(group_frames(group)) if f.top]
    if ev.ctx is not None:  # a stack package the target does not have did not raise it there
        return list(dict.fromkeys(d for d in (*found, *STACK) if d not in STACK or ev.installed(d)))[:MAX_CANDIDATES]
    return list(dict.fromkeys((*found, *STACK)))[:MAX_CANDIDATES]


@explains("ED615")
def raised_message(group: HitGroup, entry: RuleEntry, ev: Evidence) -> Diagnosis | None:
    """The first release whose source raises the line's message, and the pin before it."""
    message = group.groups.get("message") or ""
    if ev.searches >= MAX_PHRASE_SEARCHES:
        return None
    ev.searches += 1
    for dist in candidates(group, ev):
        installed = ev.installed(dist)
        found = api_surface.phrase_boundary(dist, message, around=installed, offline=ev.offline)
        if found is None or found.added_in is None or found.last_without is None:
            continue
        gone = f"; releases from {found.removed_in} on no longer say it" if found.removed_in else ""
        target = f" (the target's {dist} {installed} does)" if installed else ""
        return Diagnosis(
            f"{dist} raises this error from release {found.added_in} on: its source says the message from "
            f"{found.added_in}, {found.last_without} does not{target}{gone}; the code or data was written for "
            f"{dist}<{found.added_in}",
            HIGH if installed else MEDIUM,
            (pip_install_fix(f"pin {dist} below the release that started refusing it: {dist}<{found.added_in} "
                             f"(the last before it is {found.last_without})", {dist: f"<{found.added_in}"},
                             Applicability.UNSAFE),
             say(f"or change the code or data the message names so that {dist} {found.added_in}+ accepts it "
                 f"(its release notes for {found.added_in} say how)")),
            (dist,))
    return None

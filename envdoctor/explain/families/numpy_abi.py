"""Family: "A module that was compiled using NumPy 1.x cannot be run in NumPy 2.x" (ED113).

NumPy prints the message and then the traceback of the import that loaded the old build, with
no exception line of its own: the innermost site-packages frame of that traceback names the
distribution whose binaries were built for NumPy 1 (numpy's own frames aside).  Its first
release built for NumPy 2 is read from the releases' binaries on the index
(:mod:`envdoctor.surface.numpy_abi`); keeping NumPy 1 is the other fix.
"""

from __future__ import annotations

import re

from envdoctor.explain import api_surface
from envdoctor.explain.blame import group_frames
from envdoctor.explain.diagnosis import HIGH, MEDIUM, Diagnosis, Evidence, explains
from envdoctor.explain.extractors import HitGroup
from envdoctor.explain.frames import parse_frames
from envdoctor.env.requirements import parse_version
from envdoctor.findings import Applicability, pip_install_fix
from envdoctor.knowledge.base import RuleEntry

_FOUND = re.compile(r"\bNumPy (?P<version>\d+\.\d+(?:\.\d+)?)\b")


def _loader(group: HitGroup, ev: Evidence) -> str | None:
    """The distribution of the innermost site-packages frame (numpy's aside) of the message's own
    traceback, else of the traceback before it."""
    for frames in (parse_frames(group.after), group_frames(group)):
        for frame in reversed(frames):
            if frame.top and (dist := ev.distribution_of(frame.top)) != "numpy":
                return dist
    return None


@explains("ED113")
def numpy1_build(group: HitGroup, entry: RuleEntry, ev: Evidence) -> Diagnosis:
    """A build against NumPy 1 loaded under NumPy 2: which distribution, and its first NumPy 2 build."""
    found = next((m.group("version") for text in (group.occurrences[0].text, *group.after[:2])
                  if (m := _FOUND.search(text.split("cannot be run in", 1)[-1]))), None)
    numpy = ev.installed("numpy") or found
    dist = _loader(group, ev)
    keep = pip_install_fix("keep NumPy 1: numpy<2 (a build against NumPy 1 needs it)", {"numpy": "<2"},
                           Applicability.UNSAFE)
    under = f"NumPy {numpy}" if numpy else "NumPy 2"
    if dist is None:
        return Diagnosis(f"a compiled module built against NumPy 1 was loaded under {under}; the log does not show "
                         "which package's (its traceback is missing)", MEDIUM, (keep,), ("numpy",))
    installed = ev.installed(dist)
    first = api_surface.first_numpy2_build(dist, installed, ev.offline, ev.deadline)
    fixes = [keep]
    if first is not None:
        fixes.insert(0, pip_install_fix(f"upgrade {dist} to {first}+, its first release built for NumPy 2",
                                        {dist: f">={first}"}, Applicability.UNSAFE))
    have = f" {installed}" if installed else ""
    later = f"; {first} is {dist}'s first release built for NumPy 2 (read from its binaries)" if first else ""
    stale = ""
    if ev.ctx is not None and (parsed := parse_version(ev.installed("numpy"))) is not None and parsed.major < 2:
        stale = f" (the target has numpy {parsed}: the log comes from another environment)"
    return Diagnosis(f"{dist}{have} was built against NumPy 1, and the process ran {under}: its compiled code "
                     f"cannot load NumPy{later}{stale}", HIGH if installed else MEDIUM, tuple(fixes), (dist, "numpy"))

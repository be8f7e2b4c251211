"""Family: ``f() takes 3 positional arguments but 4 were given`` — a caller written for a release of
``f`` that takes more (part of ED611, the argument family).

The distribution that defines ``f`` is looked for in the traceback's distributions, the
target's and the widely used libraries of ``table.likely_importers``, in that order: the first
whose newest release defines ``f`` (``C.f`` as a method of class ``C``) is the callee, and its
first release whose ``f`` takes the given count is the upgrade (:mod:`envdoctor.surface.arity`).
A bare ``forward()`` or ``__init__()`` names no function well enough to look for.
"""

from __future__ import annotations

from envdoctor.explain import api_surface
from envdoctor.explain.blame import group_blame, group_frames
from envdoctor.explain.diagnosis import HIGH, MEDIUM, Diagnosis, Evidence, say
from envdoctor.explain.extractors import HitGroup
from envdoctor.findings import Applicability, pip_install_fix

GENERIC = frozenset({"forward", "__call__", "__init__", "__new__", "call", "step", "run", "main", "apply"})


def _candidates(group: HitGroup, ev: Evidence) -> list[str]:
    """Where the callee may be defined: the traceback's distributions (innermost first), the target's, the table's."""
    framed = [ev.distribution_of(f.top) for f in reversed(group_frames(group)) if f.top]
    listed = list(ev.ctx.snapshot.listed()) if ev.ctx is not None else []
    return list(dict.fromkeys([*framed, *listed, *ev.kb.tables["likely_importers"]["packages"]]))


def positional_count(group: HitGroup, ev: Evidence) -> Diagnosis:
    """Too many positional arguments: the callee's distribution and its first release that takes them."""
    called, takes, given = group.groups["callable"], group.groups["takes"], int(group.groups["given"])
    parts = [p for p in called.split(".") if p]
    name = parts[-1]
    owner = parts[-2] if len(parts) > 1 and parts[-2][:1].isupper() else None
    who = group_blame(group, ev)
    what = f"`{called}()` takes {takes} positional arguments but {given} were given"
    if name in GENERIC and owner is None:
        return Diagnosis(f"{what}: the caller was written for another release of the callee (the message does not "
                         "say whose method)", MEDIUM, (say("pass the whole traceback: its frames name the callee"),),
                         tuple(d for d in (who.raiser, who.caller) if d))
    installed = {n: d.version for n, d in ev.ctx.snapshot.distributions.items()} if ev.ctx is not None else {}
    found = api_surface.positional_fix(name, given, _candidates(group, ev), owner, installed, ev.offline)
    caller = who.raiser or who.caller
    if found is None:
        return Diagnosis(f"{what}: the caller was written for a release of the callee that takes {given} (the "
                         "defining release was not found on the index)", MEDIUM,
                         (say("move the caller or the callee to releases made for each other"),),
                         tuple(d for d in (caller,) if d))
    dist, first = found
    have = f" {installed[dist]}" if dist in installed else ""
    fixes = [pip_install_fix(f"upgrade {dist} to {first}+, its first release whose `{name}` takes {given} positional "
                             "arguments", {dist: f">={first}"}, Applicability.UNSAFE)]
    if caller and caller != dist:
        fixes.append(say(f"or move {caller} back to a release that passes {takes} (the one {dist}{have} was written for)"))
    return Diagnosis(f"{what}: `{name}` is {dist}'s{have}, and {dist} {first} is its first release whose `{name}` takes "
                     f"{given} (read from its source)", HIGH if have else MEDIUM, tuple(fixes),
                     tuple(dict.fromkeys(d for d in (dist, caller) if d)))

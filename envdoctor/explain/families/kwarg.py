"""Family: `got an unexpected keyword argument` / `missing required argument` — a call out of step with its callee.

Python raises the TypeError in the caller's frame, so the last frame of the traceback is the
code that made the call (the user); the callee is ``C.__init__`` or a function whose module
the traceback shows (an import of C), or that the API-surface engine finds among the
target's distributions.  The boundary is the release where the callee gained or lost the
keyword (the engine's bisection), and each side gets a pin: the callee to a release that
takes the keyword, the caller to one that no longer passes it.
"""

from __future__ import annotations

import re

from envdoctor.explain import api_surface
from envdoctor.explain.families.arity import positional_count
from envdoctor.explain.blame import (
    class_module,
    defining_distribution,
    group_blame,
    group_frames,
    lacking_side,
    provider_side,
)
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
from envdoctor.findings import Fix
from envdoctor.knowledge.base import RuleEntry


_CONSTRUCTS = re.compile(r"(?<![\w.])([A-Z]\w{0,100})\(")


def constructed(group: HitGroup) -> str | None:
    """The class the failing call constructs, from the last frame's source line
    (``AsyncLLMEngine.from_engine_args(AsyncEngineArgs(**args))`` -> ``AsyncEngineArgs``: the
    innermost class called there; None when the line calls none or is not printed)."""
    frames = group_frames(group)
    code = frames[-1].code if frames else None
    if code is None:  # a trimmed traceback: the source line printed just above the error line
        above = next((line for line in reversed(group.context) if line.strip()), "")
        code = above if above[:1].isspace() and not above.lstrip().startswith("File ") else None
    found = _CONSTRUCTS.findall(code or "")
    return found[-1] if found else None


def _callee(group: HitGroup, ev: Evidence) -> tuple[str | None, str | None, str | None, str | None]:
    """(class or function name, the method of a class, its module, its distribution) of the call that failed.

    ``LlamaAttention.forward()`` is the method ``forward`` of the class ``LlamaAttention``;
    ``X.__init__()`` and ``X()`` are the class itself.
    """
    called = group.groups.get("callable", "")
    if called in ("", "__init__"):  # `__init__() got ...`: the calling line names the class it constructs
        called = constructed(group) or called
    parts = [p for p in called.replace(".__init__", "").replace(".init", "").split(".") if p]
    method = None
    if len(parts) > 1 and parts[-2][:1].isupper() and not parts[-1][:1].isupper():
        method = parts.pop()
    if not parts:
        return None, None, None, None
    name = parts[-1]
    module = ".".join(parts[:-1]) if len(parts) > 1 and parts[0].islower() else class_module(group, name)
    if module:
        return name, method, module, ev.distribution_of(module)
    found = defining_distribution(group, ev, name)  # ask the engine which distribution near the call defines it
    return (name, method, *found) if found else (name, method, None, None)


@explains("ED611")
def call_arguments(group: HitGroup, entry: RuleEntry, ev: Evidence) -> Diagnosis:
    """Unexpected or missing argument: caller, callee, the release boundary of the keyword, a pin per side."""
    if "given" in group.groups:
        return positional_count(group, ev)
    kwarg = group.groups.get("kwarg", "?").strip().replace(" ", "_")
    missing = "missing" in group.occurrences[0].text
    name, method, module, dist = _callee(group, ev)
    who = group_blame(group, ev)
    caller = who.raiser if who.raiser != dist else who.caller
    culprits = tuple(dict.fromkeys(d for d in (caller, dist) if d))
    call = f"`{name}{'.' + method if method else ''}()`" if name else "the call"
    what = f"{call} {'requires' if missing else 'does not take'} the argument `{kwarg}`"
    by = f" (called from {caller}{' ' + v if (v := ev.installed(caller)) else ''})" if caller else ""
    installed = ev.installed(dist) if dist else None
    if dist and installed and module and \
            api_surface.status(dist, installed, module, name=name, attr=method, kwarg=kwarg, explicit=missing,
                               site_packages=ev.location(dist), offline=ev.offline) is (not missing):
        return Diagnosis(stale(f"{dist} {installed}'s {name} {'takes' if not missing else 'does not require'} "
                             f"`{kwarg}`"), LOW, (), culprits)
    boundary = api_surface.boundary(dist, module, name=name, attr=method, kwarg=kwarg, around=installed,
                                    offline=ev.offline, explicit=missing) if dist and module else None
    fixes: list[Fix] = []
    if boundary is not None and not missing and (side := provider_side(dist or "", boundary, installed)):
        fixes.append(side.fix())
    elif boundary is not None and missing and boundary.added_in and (side := lacking_side(dist or "", boundary)):
        fixes.append(side.fix())  # the caller was written before the callee required it
    if caller:
        fixes.append(say(f"or move {caller} to a release written for "
                         f"{dist or 'the callee'}{' ' + installed if installed else ''}"))
    elif dist:
        release = f"{dist}{' ' + installed if installed else ''}"
        successor = boundary.successor if boundary is not None and boundary.successor != kwarg else None
        fixes.append(say(f"in your code, pass `{kwarg}`, which {release} requires" if missing else
                         f"in your code, pass `{successor}` instead of `{kwarg}` (the successor the source of {dist} "
                         "names)" if successor else
                         f"in your code, drop or rename `{kwarg}` for {release} "
                         "(its documentation names the successor)"))
    owner = f"{dist}'s " if dist else ""
    if boundary is None:
        return Diagnosis(f"{what}{by}: the caller was written for another {owner or 'callee '}release"
                       f"{f' than {installed}' if installed else ''} (release boundary unknown)", MEDIUM,
                       tuple(fixes) or (say("pin the library to the release the calling code was written for"),),
                       culprits)
    return Diagnosis(f"{what}{by}: {boundary.text}", HIGH if installed else MEDIUM, tuple(fixes), culprits)

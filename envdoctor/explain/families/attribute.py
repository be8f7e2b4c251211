"""Family: `has no attribute` — a module, class or object lacks a name its user expects.

``module 'M' has no attribute 'a'`` names the provider directly (the owner of M);
``'C' object has no attribute 'a'`` and ``type object 'C' ...`` name a class, whose module
is found in the traceback (an import of C, or C's own frame).  The user is the package
whose frame read the attribute.  The boundary comes from the message when it states one
(``was removed in the NumPy 2.0 release``), else from the API-surface engine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from envdoctor.explain import api_surface
from envdoctor.explain.blame import (
    MAX_PHRASE_SEARCHES,
    class_module,
    defining_distribution,
    group_frames,
    provider_side,
    removal_boundary,
    stated_removal,
    user_of,
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
from envdoctor.explain.frames import site_path
from envdoctor.findings import Applicability, Fix, pip_install_fix
from envdoctor.knowledge.base import RuleEntry

# "Use X instead" in the message names a replacement; Python's own "Did you mean: 'X'?" is only the
# nearest spelling among the object's names (get_seq_length for get_max_length), not a successor.
MAX_NAMED_BASES = 4  # the shortest trailing parts of a class name tried as the library class it extends
_SUCCESSOR = re.compile(r"(?:Use|use)\s`?'?(?P<successor>[\w.]+)`?'?")


@dataclass(frozen=True)
class Reader:
    """The frame whose printed source line reads the attribute, and the first release of its
    distribution whose file has that line."""

    dist: str
    path: str
    since: str
    before: str

    def fix(self, attr: str, first: bool = False) -> Fix:
        """Pin the reader below the release whose file started reading ``attr``."""
        return pip_install_fix(f"{'' if first else 'or '}pin {self.dist} below {self.since}: its {self.path} reads "
                               f"`.{attr}` there from {self.since} on (the last release before is {self.before})",
                               {self.dist: f"<{self.since}"}, Applicability.UNSAFE)


def reader_of(group: HitGroup, ev: Evidence, attr: str) -> Reader | None:
    """The innermost frame whose printed line reads ``.attr``, when it is a distribution's, with the
    first release whose file has that line (searched as written in that file alone)."""
    pattern = re.compile(rf"\.{re.escape(attr)}\b")
    frame = next((f for f in reversed(group_frames(group)) if f.code and pattern.search(f.code)), None)
    dist = ev.distribution_of(frame.top) if frame is not None and frame.top else None
    path = site_path(frame.path) if frame is not None else None
    if frame is None or frame.code is None or dist is None or path is None or ev.searches >= MAX_PHRASE_SEARCHES:
        return None
    ev.searches += 1
    found = api_surface.phrase_boundary(dist, frame.code.strip(), around=ev.installed(dist), offline=ev.offline,
                                        literal=True, path=path)
    if found is None or found.added_in is None or found.last_without is None:
        return None
    return Reader(dist, path, found.added_in, found.last_without)


def named_bases(cls: str) -> list[str]:
    """The trailing CamelCase runs of a class name, longest first, the name itself left out:
    ``HybridMambaAttentionDynamicCache`` -> ``MambaAttentionDynamicCache``, ..., ``DynamicCache``, ``Cache``."""
    return [cls[m.start():] for m in re.finditer(r"(?<=[a-z0-9])[A-Z]", cls)][-MAX_NAMED_BASES:]


def named_base(group: HitGroup, ev: Evidence, cls: str, attr: str) -> tuple[str, str, str] | None:
    """(module, distribution, class) of the longest trailing part of ``cls`` that a distribution defines
    and whose instances had ``attr`` in some release: code a model repository ships (loaded with
    trust_remote_code) subclasses the library's class and keeps its name as a suffix.  A part that
    never had the attribute is no evidence, so it is passed over."""
    for base in named_bases(cls):
        found = defining_distribution(group, ev, base)
        if found is None:
            continue
        module, dist = found
        had = api_surface.boundary(dist, module, name=base, attr=attr, around=ev.installed(dist),
                                   offline=ev.offline, instance=True)
        if had is not None and had.present:
            return module, dist, base
    return None


@explains("ED610")
def has_no_attribute(group: HitGroup, entry: RuleEntry, ev: Evidence) -> Diagnosis:
    """`has no attribute`: provider, user, the release that removed it, and a pin per side."""
    attr = group.groups["attr"]
    module = group.groups.get("module") or (class_module(group, group.groups["cls"]) if "cls" in group.groups
                                            else None)
    if "lib" in group.groups:  # "`np.NaN` was removed in the NumPy 2.0 release"
        module = group.groups["lib"].lower()
    owner = group.groups.get("cls") or module or "?"
    text = " ".join(o.text for o in group.occurrences)
    dist = ev.distribution_of(module) if module else None
    if dist is None and "cls" in group.groups and (found := defining_distribution(group, ev, group.groups["cls"])):
        module, dist = found  # a class the message names without its module: the target's definer
    base = None
    if dist is None and "cls" in group.groups and (named := named_base(group, ev, group.groups["cls"], attr)):
        module, dist, base = named  # remote code's class, named after the library class it extends
    user = user_of(group, ev, dist or "")
    culprits = tuple(dict.fromkeys(d for d in (user, dist) if d))
    what = f"`{owner}` has no attribute `{attr}`"
    successor = m.group("successor") if (m := _SUCCESSOR.search(text[:2000])) else None
    hint = f"; its successor is `{successor}`" if successor and successor != attr else ""
    if dist is None:
        return Diagnosis(f"{what}: the traceback does not say which package defines `{owner}`{hint}", MEDIUM,
                       (say(f"upgrade or pin {user} to the release written for your libraries") if user else
                        say("find which package defines it (`python -c 'import X; print(X.__file__)'`)"),),
                       culprits)
    installed = ev.installed(dist)
    cls = base or group.groups.get("cls")
    name, attribute = (cls, attr) if cls else (attr, None)
    if base:
        hint = f" (`{owner}` is not a class of {dist}; its name ends in {dist}'s `{base}`, which it extends){hint}"
    instance = cls is not None and f"type object '{cls}'" not in text  # "'C' object has no attribute"
    target = module or dist.replace("-", "_")
    if installed and ev.ctx is not None and \
            api_surface.status(dist, installed, target, name=name, attr=attribute, site_packages=ev.location(dist),
                               offline=ev.offline, instance=instance) is True:
        return Diagnosis(stale(f"{dist} {installed} in the target has `{owner}.{attr}`"), LOW, (), culprits)
    removed = stated_removal(text, dist)
    boundary = removal_boundary(dist, removed, owner, attr) if removed else \
        api_surface.boundary(dist, target, name=name, attr=attribute, around=installed, offline=ev.offline,
                             instance=instance)
    reader = reader_of(group, ev, attr)
    if reader is not None and reader.dist == dist and \
            api_surface.status(dist, reader.since, target, name=name, attr=attribute, offline=ev.offline,
                               instance=instance) is True:
        # the release whose code started reading it gave dist's own class the attribute too: the object
        # is another package's class of that name, written for the releases before
        return Diagnosis(f"{what}: {dist} reads `{owner}.{attr}` in {reader.path} from {reader.since} on, and "
                         f"{dist} {reader.since}'s own `{owner}` has it, so the object is another package's "
                         f"`{owner}`, written for {dist} before {reader.since}", HIGH if installed else MEDIUM,
                         (reader.fix(attr, first=True),
                          say(f"or upgrade the package whose `{owner}` it is to a release written for "
                              f"{dist} {reader.since}+")), culprits)
    fixes: list[Fix] = []
    if boundary is not None and (side := provider_side(dist, boundary, installed)):
        fixes.append(side.fix())
    if reader is not None and reader.dist not in (dist, user):
        fixes.append(reader.fix(attr))
    if user:
        fixes.append(say(f"or upgrade {user} to a release that no longer uses `{owner}.{attr}`{hint}"))
    elif successor:
        fixes.append(say(f"in your code, use `{successor}` instead of `{attr}`"))
    if boundary is None:
        return Diagnosis(f"{what}{hint}: the code{f' in {user}' if user else ''} was written for another {dist} "
                       f"release{f' than {installed}' if installed else ''} (release boundary unknown)", MEDIUM,
                       tuple(fixes) or (say(f"install the {dist} release the calling code supports"),), culprits)
    confirmed = f"; the target has {dist} {installed}" if installed else ""
    return Diagnosis(f"{what}: {boundary.text}{confirmed}{hint}", HIGH if installed else MEDIUM, tuple(fixes),
                   culprits)

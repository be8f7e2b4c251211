"""Culprits and pins shared by the error families.

The traceback of a hit group says which installed packages ran (envdoctor.explain.frames);
the API-surface engine says in which releases a symbol exists (envdoctor.explain.api_surface).
This module turns both into the parts of an explanation: the distributions involved, the
release boundary in words, and one pin per side that can move.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from envdoctor.env.probe import canonical_name
from envdoctor.env.requirements import active_requirements, parse_version
from envdoctor.explain import api_surface
from envdoctor.explain.api_surface import Boundary
from envdoctor.explain.diagnosis import Evidence
from envdoctor.explain.extractors import HitGroup
from envdoctor.explain.frames import Blame, Frame, blame, parse_frames
from envdoctor.findings import Applicability, Fix, pip_install_fix

MAX_MESSAGE = 2000
_IMPORT_OF = r"from\s(?P<module>[\w.]+)\simport\s[^\n]{0,300}?\b{name}\b"


def group_frames(group: HitGroup) -> list[Frame]:
    """The traceback frames printed before (and on) the group's first line."""
    return parse_frames([*group.context, group.occurrences[0].text])


def group_blame(group: HitGroup, ev: Evidence) -> Blame:
    """Who raised and who called, from the group's traceback."""
    return blame(group_frames(group), ev.distribution_of)


def user_of(group: HitGroup, ev: Evidence, provider: str) -> str | None:
    """The distribution whose code used ``provider``'s API: the raising frame's, unless that is the provider."""
    who = group_blame(group, ev)
    if who.raiser and who.raiser != provider:
        return who.raiser
    return who.caller if who.caller != provider else None


def version_in(version: str | None, specifiers: tuple[str, ...]) -> bool | None:
    """Whether ``version`` satisfies one of ``specifiers`` (None when it cannot be told)."""
    parsed = parse_version(version.split("+")[0]) if version else None
    if parsed is None or not specifiers:
        return None
    try:
        return any(SpecifierSet(spec).contains(parsed, prereleases=True) for spec in specifiers)
    except InvalidSpecifier:
        return None


@dataclass(frozen=True)
class Side:
    """A distribution that can move to fix the error, and the pin that moves it."""

    dist: str
    specifier: str
    why: str

    def fix(self) -> Fix:
        """The pip fix for this side."""
        return pip_install_fix(f"{self.why}: {self.dist}{self.specifier}", {self.dist: self.specifier},
                               Applicability.UNSAFE)


def provider_side(dist: str, found: Boundary, installed: str | None) -> Side | None:
    """The range of ``dist`` releases that have the symbol, nearest the installed release (the newest without one)."""
    if not found.present:
        return None
    spec = found.present[-1]
    if len(found.present) > 1 and version_in(installed, found.present[1:]) is False \
            and _below(installed, found.added_in or "") is True:
        spec = found.present[0]
    return Side(dist, spec, f"a {dist} release that has it ({found.text})")


def lacking_side(dist: str, found: Boundary) -> Side | None:
    """The newest release of ``dist`` before the one that added the symbol (for a caller that predates it).

    The release checked just below the boundary when the bisection saw it, else ``<added_in``.
    """
    if not found.added_in:
        return None
    spec = f"=={found.last_without}" if found.last_without else f"<{found.added_in}"
    return Side(dist, spec, f"the {dist} release before {found.added_in}, which added it ({found.text})")


def _below(version: str | None, bound: str) -> bool | None:
    parsed, limit = parse_version((version or "").split("+")[0]), parse_version(bound)
    return None if parsed is None or limit is None else parsed < limit


_STATED_REMOVAL = re.compile(r"\b(?:was|were|has been|have been|is)\s(?:deprecated\sand\s)?removed\sin\s(?:the\s)?"
                             r"(?:(?P<lib>[A-Za-z][\w-]{0,40})\s)?(?:v|version\s)?(?P<version>\d+(?:\.\d+){0,3})\b")


def stated_removal(text: str, dist: str) -> str | None:
    """The release the message itself says removed the symbol (``was removed in the NumPy 2.0 release``)."""
    for match in _STATED_REMOVAL.finditer(text[:MAX_MESSAGE]):
        lib = match.group("lib")
        if lib is None or canonical_name(lib) == dist or lib.lower() in ("version", "release"):
            return match.group("version")
    return None


def removal_boundary(dist: str, removed: str, module: str, symbol: str) -> Boundary:
    """A boundary read from the message: present before ``removed``."""
    return Boundary(present=(f"<{removed}",), added_in=None, removed_in=removed, last_with=None, first_with=None,
                    text=f"{dist} removed `{module}.{symbol}` in {removed} (as the message says)")


def class_module(group: HitGroup, cls: str) -> str | None:
    """The module a class comes from, as the traceback shows it (an import line, or a frame of the class)."""
    pattern = re.compile(_IMPORT_OF.replace("{name}", re.escape(cls)))
    for frame in reversed(group_frames(group)):
        if frame.code and (m := pattern.search(frame.code)):
            return m.group("module")
    for line in group.context:
        if m := pattern.search(line[:1000]):
            return m.group("module")
    return None


MAX_CANDIDATES = 16
MAX_PHRASE_SEARCHES = 3  # messages searched in release sources per run (each may download a few archives)


def candidate_definers(group: HitGroup, ev: Evidence) -> list[str]:
    """The target's distributions that may define a name the error mentions: those in the
    traceback, then what they require, then the fine-tuning stack the knowledge base lists first,
    then the others (at most :data:`MAX_CANDIDATES`)."""
    assert ev.ctx is not None
    snap = ev.ctx.snapshot
    names = [ev.distribution_of(f.top) for f in group_frames(group) if f.top]
    for name in list(dict.fromkeys(names)):
        if name in snap.distributions:
            names += [canonical_name(r.name) for r in active_requirements(snap.distributions[name], snap)]
    names += [canonical_name(n) for n in ev.kb.tables.get("surface_first", {}).get("packages", [])]
    names += sorted(snap.distributions)  # the rest, while the bound allows
    return [n for n in dict.fromkeys(names) if n in snap.distributions][:MAX_CANDIDATES]


def defining_distribution(group: HitGroup, ev: Evidence, name: str) -> tuple[str, str] | None:
    """(top-level module, distribution) that exports ``name`` (a class or function the message
    names without a module): the target's distribution whose release does, asked of the
    API-surface engine; without a target (or when none does), the first of the traceback's and
    the fine-tuning stack's distributions whose newest release on the index does."""
    if ev.ctx is not None:
        for dist in candidate_definers(group, ev):
            top = dist.replace("-", "_")
            if api_surface.status(dist, ev.installed(dist) or "", top, name=name, site_packages=ev.location(dist),
                                  offline=ev.offline) is True:
                return top, dist
    stack = [ev.distribution_of(f.top) for f in group_frames(group) if f.top]
    stack += [canonical_name(n) for n in ev.kb.tables.get("surface_first", {}).get("packages", [])]
    found = api_surface.definers(name, stack, offline=ev.offline)
    return (found[0][1], found[0][0]) if found else None


def checker_introduced(checker: str, message: str, ev: Evidence) -> Fix | None:
    """Pin ``checker`` below its first release whose source says ``message`` (the run-time check
    came with that release: transformers 4.52.1's torch.load refusal below torch 2.6); None when
    no release boundary is found, the search budget is spent, or the target's release predates it."""
    if ev.searches >= MAX_PHRASE_SEARCHES:
        return None
    ev.searches += 1
    installed = ev.installed(checker)
    found = api_surface.phrase_boundary(checker, message, around=installed, offline=ev.offline)
    if found is None or found.added_in is None or found.last_without is None:
        return None
    if installed and version_in(installed, (f">={found.added_in}",)) is not True:
        return None
    return pip_install_fix(f"or pin {checker} below {found.added_in}, the first release whose source makes this "
                           f"check (the last before it is {found.last_without})", {checker: f"<{found.added_in}"},
                           Applicability.UNSAFE)


def checker_relaxed(checker: str, requirement: str, ev: Evidence) -> Fix | None:
    """Upgrade ``checker`` (the package whose run-time check refused a dependency) to its first
    release whose source no longer spells ``requirement`` (``vllm>=0.4.3,<=0.6.2``): the release
    that changed its check (None: every newer release still spells it, or it cannot be told)."""
    found = api_surface.phrase_boundary(checker, requirement, offline=ev.offline, literal=True)
    if found is None or found.removed_in is None:
        return None
    installed = ev.installed(checker)
    if installed and version_in(installed, (f"<{found.removed_in}",)) is not True:
        return None  # the target's release already has the changed check (or cannot be compared)
    return pip_install_fix(f"or upgrade {checker} to {found.removed_in}+, the first release whose check no longer "
                           f"asks for {requirement}", {checker: f">={found.removed_in}"}, Applicability.UNSAFE)

"""Family: the log says another release works — a regression between two releases of one package.

Reports often carry the user's own bisection: ``VLLM 0.8.2 OOM error (No error in 0.7.3
version)``, ``with vllm 0.8.0 ... But I can run it successfully with vllm 0.7.3``, ``With
transformers 4.37.2 it works``.  :func:`parse_statement` reads the release the line says works
(its distribution named beside it, or by the other ``NAME VERSION`` the line states), and the
release that fails: the target's, else the other version the log states for the same
distribution.  A name counts as a distribution only when the target has it, a traceback frame
runs it, or the configured index lists it with the stated releases (so ``works on Ubuntu
22.04`` or ``Python 3.10`` is no pin).  The fix is the working release, named as the log names
it; a working release older than the failing one is a downgrade and says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from envdoctor.env.probe import canonical_name
from envdoctor.env.requirements import parse_version
from envdoctor.explain import releases
from envdoctor.explain.blame import group_frames
from envdoctor.explain.diagnosis import LOW, MEDIUM, Diagnosis, Evidence, explains, stale
from envdoctor.explain.extractors import HitGroup
from envdoctor.findings import Applicability, pip_install_fix
from envdoctor.knowledge.base import RuleEntry

MAX_LINE = 600
_NAME = r"[A-Za-z][A-Za-z0-9_.-]{0,40}?"
_VERSION = r"\d+\.\d+(?:\.\d+){0,2}(?:(?:a|b|rc|\.post|\.dev)\d+)?"
_SEP = r"(?:\s?==\s?|\s?=\s?|\s(?:v|version\s)?)"
# "no error in 0.7.3", "works fine with vllm 0.7.3", "run it successfully with vllm==0.7.3"
_WORKS_THEN_RELEASE = re.compile(
    r"\b(?:no\s(?:errors?|issues?|problems?|oom)|works?|worked|working|(?:runs?|ran)(?:\sit)?\s(?:fine|ok|well)|"
    r"successfully|(?:is|was)\s(?:fine|ok))(?:\s(?:fine|well|ok|perfectly))?\s(?:with|in|on|using|under)\s"
    rf"(?:(?P<name>{_NAME}){_SEP})?(?P<version>{_VERSION})(?!\.?\w)(?!\s?(?:GB|GiB|MB|%))", re.IGNORECASE)
# "with transformers 4.37.2 it works", "vllm 0.7.3 works fine"
_RELEASE_THEN_WORKS = re.compile(
    rf"(?<![\w.-])(?P<name>{_NAME}){_SEP}(?P<version>{_VERSION})(?!\.?\w),?\s(?:it\s|everything\s)?"
    r"(?:works|worked|runs\sfine|is\sfine|was\sfine|has\sno\s(?:error|issue|problem))", re.IGNORECASE)
_MENTION = re.compile(rf"(?<![\w.-])(?P<name>{_NAME}){_SEP}(?P<version>{_VERSION})(?!\.?\w)", re.IGNORECASE)
# the interpreter, and the words that stand before a number in prose
_BARE = re.compile(rf"(?<![\w.-])({_VERSION})(?!\.?\w)")
_NOT_PACKAGES = {"python", "cuda", "version", "release", "v", "in", "on", "with", "to", "from", "and", "or", "than",
                 "at", "of", "is", "was", "by", "for", "using", "under", "since", "after", "before", "until"}


@dataclass(frozen=True)
class Statement:
    """What a line says: ``name`` (None: not beside the version) ``works`` at that release."""

    name: str | None
    works: str


def parse_statement(line: str) -> Statement | None:
    """The release a line says works (bounded, linear patterns)."""
    line = line[:MAX_LINE]
    for pattern in (_WORKS_THEN_RELEASE, _RELEASE_THEN_WORKS):
        if (m := pattern.search(line)) is not None:
            name = m.group("name")
            return Statement(name if name and name.lower() not in _NOT_PACKAGES else None, m.group("version"))
    return None


def mentions(lines: list[str]) -> list[tuple[str, str]]:
    """Every ``NAME VERSION`` the lines state, in order (names as written)."""
    found = []
    for line in lines:
        for m in _MENTION.finditer(line[:MAX_LINE]):
            if m.group("name").lower() not in _NOT_PACKAGES:
                found.append((m.group("name"), m.group("version")))
    return found


def _is_distribution(name: str, versions: list[str], group: HitGroup, ev: Evidence) -> bool:
    """Whether ``name`` is a distribution here: the target's, a traceback frame's, or the index's with ``versions``."""
    dist = canonical_name(name)
    if ev.installed(dist):
        return True
    if any(frame.top and ev.distribution_of(frame.top) == dist for frame in group_frames(group)):
        return True
    return not ev.offline and releases.lists(dist, versions)


@explains("ED616")
def works_in_another_release(group: HitGroup, entry: RuleEntry, ev: Evidence) -> Diagnosis | None:
    """A release the log says works, against the one that fails (the target's or the log's)."""
    line = group.occurrences[0].text
    said = parse_statement(line)
    if said is None:
        return None
    lines = [line, *group.context]
    others = [(n, v) for n, v in mentions(lines) if v != said.works]
    name = said.name or next((n for n, _version in others), None)  # the line's own mentions come first
    if name is None:
        return None
    dist = canonical_name(name)
    failing = ev.installed(dist) or next((v for n, v in others if canonical_name(n) == dist), None)
    if not _is_distribution(dist, [said.works, *([failing] if failing else [])], group, ev):
        return None
    if failing is None and not ev.offline:  # "with transformers 4.37.2 it works, 4.38.2 OOMs"
        failing = next((v for v in _BARE.findall(line[:MAX_LINE]) if v != said.works
                        and releases.lists(dist, [v])), None)
    works, fails = parse_version(said.works), parse_version((failing or "").split("+")[0])
    if fails is not None and works is not None and fails == works:
        if ev.installed(dist):
            return Diagnosis(stale(f"the log says {dist} {said.works} works, and the target has it"), LOW, (),
                             (dist,))
        return None
    against = f" and {failing} fails" if failing else ""
    older = works is not None and fails is not None and works < fails
    title = (f"downgrade {dist} to {said.works}, the release the log says works (a downgrade: until a release "
             f"after {failing} fixes the regression)" if older else
             f"install {dist} {said.works}, the release the log says works")
    cause = (f"a change in {dist} between them causes this (a regression{' in ' + failing if older else ''})"
             if failing else f"the {dist} release that fails is another one")
    return Diagnosis(
        f"the log says {dist} {said.works} works{against}: {cause}; its changelog and issue tracker name the fix",
        MEDIUM, (pip_install_fix(title, {dist: f"=={said.works}"}, Applicability.UNSAFE),), (dist,))

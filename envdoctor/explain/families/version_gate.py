"""Family: runtime version gates, in any wording — the requirement a package states and the version it found.

Libraries check their dependencies at import or call time and say so in prose:
``X>=a is required for a normal functioning of this module, but found X==b``,
``requires X>=a``, ``Please upgrade X to a``, ``X version a or higher is required``,
``requires the latest version of X``.  :func:`parse_gate` reads one line into a
:class:`Gate` (the distribution, the specifier it needs, the version found; every pattern
is linear and the line is bounded first); the explanation compares it with the target and
names the package whose frame ran the check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from envdoctor.env.requirements import parse_version
from envdoctor.explain.blame import checker_introduced, checker_relaxed, group_frames
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

MAX_GATE_LINE = 1000
_NAME = r"[A-Za-z][A-Za-z0-9_.-]{0,60}?"
_VERSION = r"\d+(?:\.\d+){0,3}(?:[a-z]+\d*)?(?:\.(?:post|dev)\d+)?(?:\+[\w.]+)?"
_OP = r"(?:===|==|>=|<=|~=|!=|>|<)"
_CLAUSE = rf"{_OP}\s?{_VERSION}"
_SPEC = rf"{_CLAUSE}(?:\s?,\s?{_CLAUSE}){{0,3}}"
_Q = r"[`'\"]?"
# "NAME>=1.2,<2 is required ... but found NAME==1.0" / "requires NAME>=1.2" / "need NAME >= 1.2"
_STATED = re.compile(rf"(?<![\w.-]){_Q}(?P<name>{_NAME}){_Q}\s?(?:version\s)?(?P<spec>{_SPEC})(?![\w.])")
_UPGRADE = re.compile(rf"\b(?:upgrade|update|install)\s(?:your\s)?{_Q}(?P<name>{_NAME}){_Q}\s(?:package\s)?"
                      rf"to\s(?:at\sleast\s)?(?:(?:version|v)\s?)?(?:(?P<op>{_OP})\s?)?(?P<version>{_VERSION})",
                      re.IGNORECASE)
_OR_HIGHER = re.compile(rf"{_Q}(?P<name>{_NAME}){_Q}\s(?:version\s|v)?(?P<version>{_VERSION})\s"
                        r"(?:or\s(?:higher|later|newer|above)|\+)", re.IGNORECASE)
_AT_LEAST = re.compile(rf"{_Q}(?P<name>{_NAME}){_Q}\s(?:version\s)?(?:at\sleast|of\sat\sleast|minimum)\s"
                       rf"(?:version\s)?(?P<version>{_VERSION})", re.IGNORECASE)
_OR_LOWER = re.compile(rf"{_Q}(?P<name>{_NAME}){_Q}\s(?:version\s|v)?(?P<version>{_VERSION})\s"
                       r"or\s(?:less|lower|older|earlier|below)", re.IGNORECASE)
_MINIMUM = re.compile(rf"\b(?P<name>{_NAME})\sversion\s(?:of\s)?(?P<found>{_VERSION})\b[^\n]{{0,120}}?"
                      rf"\bminimum\s(?:required\s)?version\sis\s(?P<version>{_VERSION})", re.IGNORECASE)
_UPDATE_NAME = re.compile(rf"\b(?:upgrade|update)\s{_Q}(?P<name>{_NAME}){_Q}(?:\s|$|[.,`])", re.IGNORECASE)
# "... is not supported yet in `NAME==1.0`": the version named is the one found, not a requirement
_REFUSED_IN = re.compile(rf"(?:not|n't)\s(?:yet\s)?supported(?:\syet)?\s(?:in|by|with)\s{_Q}(?P<name>{_NAME})"
                         rf"==(?P<version>{_VERSION}){_Q}", re.IGNORECASE)
# "... are no longer supported for datasets>=4.0" / "no longer works since NAME 2.0": the releases from there on
_NO_LONGER = re.compile(rf"\bno\slonger\s(?:supported|available|works?|allowed)\s(?:in|for|since|from|as\sof|with)\s"
                        rf"{_Q}(?P<name>{_NAME}){_Q}\s?(?:>=\s?|==\s?|v)?(?P<version>{_VERSION})(?![\w.])", re.IGNORECASE)
_SUBJECT = re.compile(rf"^\s?(?:\w+(?:Error|Exception):\s)?(?P<who>{_NAME})\sneeds\s")
_LATEST = re.compile(rf"\b(?:the\s)?(?:latest|newest|most\srecent)\sversion\sof\s{_Q}(?P<name>{_NAME}){_Q}"
                     r"(?![\w-])", re.IGNORECASE)
_FOUND = re.compile(rf"\b(?:but\s)?(?:found|you\shave|installed(?:\sversion)?(?:\sis)?|got|current(?:ly)?"
                    rf"(?:\sinstalled)?(?:\sversion)?(?:\sis)?)[:\s]\s?(?:version\s)?{_Q}(?:(?P<name>{_NAME})"
                    rf"(?:==|\s|\s?version\s?|-))?(?P<version>{_VERSION})", re.IGNORECASE)
_TRIGGER = re.compile(r"requir|upgrade|update|install|need|latest|at least|or higher|or later|or newer|"
                      r"or less|or lower|minimum|too old|is not supported|not compatible|no longer", re.IGNORECASE)
# Words that look like NAME>=VER but are not distributions (Python itself is a separate family).
_NOT_DISTRIBUTIONS = frozenset({"python", "version", "v", "cuda", "cudnn", "driver", "sm", "gcc", "glibc",
                                "compute", "capability", "it", "is", "be", "to", "of", "and", "or"})


@dataclass(frozen=True)
class Gate:
    """A stated requirement: ``name`` must satisfy ``specifier`` ("" = the newest release); ``found`` as logged."""

    name: str
    specifier: str
    found: str | None = None
    requirer: str | None = None

    @property
    def requirement(self) -> str:
        """The requirement in PEP 508 form (``transformers>=4.41``)."""
        return f"{self.name}{self.specifier}"


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _valid(name: str, spec: str) -> bool:
    if _canonical(name) in _NOT_DISTRIBUTIONS or name[0].isdigit():
        return False
    try:
        SpecifierSet(spec.replace(" ", ""))
    except InvalidSpecifier:
        return False
    return True


def parse_gate(line: str) -> Gate | None:
    """The version gate stated on ``line``, or None when the line states none."""
    gate = _parse(line[:MAX_GATE_LINE])
    subject = _SUBJECT.match(line[:MAX_GATE_LINE])
    if gate and subject and _canonical(subject.group("who")) not in (gate.name, *_NOT_DISTRIBUTIONS):
        return Gate(gate.name, gate.specifier, gate.found, _canonical(subject.group("who")))
    return gate


def _parse(text: str) -> Gate | None:
    if not _TRIGGER.search(text):
        return None
    found_match = _FOUND.search(text)
    found = found_match.group("version") if found_match else None
    found_name = _canonical(found_match.group("name") or "") if found_match else ""
    if minimum := _MINIMUM.search(text):
        return Gate(_canonical(minimum.group("name")), f">={minimum.group('version')}", minimum.group("found"))
    if (gone := _NO_LONGER.search(text)) and _valid(gone.group("name"), f"<{gone.group('version')}"):
        return Gate(_canonical(gone.group("name")), f"<{gone.group('version')}", None)
    if refused := _REFUSED_IN.search(text):
        return Gate(_canonical(refused.group("name")), "", refused.group("version"))
    updated = _UPDATE_NAME.search(text)
    for m in _STATED.finditer(text):
        name, spec = m.group("name").strip(".-"), m.group("spec").replace(" ", "")
        if found_match and m.start() >= found_match.start():
            break  # "but found X==1.0" states what is installed, not what is required
        if updated and spec.startswith("==") and _canonical(updated.group("name")) == _canonical(name):
            return Gate(_canonical(name), "", spec[2:])  # "not supported in X==1.0. Please update X"
        if _valid(name, spec):
            same = found_name in ("", _canonical(name))
            return Gate(_canonical(name), spec, found if same else None)
    for pattern in (_UPGRADE, _OR_HIGHER, _AT_LEAST):
        said = pattern.search(text)
        if said and _valid(said.group("name"), ">=" + said.group("version")):
            op = said.groupdict().get("op") or ">="
            return Gate(_canonical(said.group("name")), f"{op}{said.group('version')}", found)
    lower = _OR_LOWER.search(text)
    if lower and _valid(lower.group("name"), "<=" + lower.group("version")):
        return Gate(_canonical(lower.group("name")), f"<={lower.group('version')}", found)
    latest = _LATEST.search(text) or _UPDATE_NAME.search(text)
    if latest and _canonical(latest.group("name")) not in _NOT_DISTRIBUTIONS:
        return Gate(_canonical(latest.group("name")), "", found)
    return None


def _checker(group: HitGroup, ev: Evidence, required: str) -> str | None:
    """The package whose code ran the check: the last frame outside version utilities and the required package."""
    for frame in reversed(group_frames(group)):
        if not frame.top or any(word in (frame.module or "") for word in ("version", "import_utils")):
            continue
        dist = ev.distribution_of(frame.top)
        if dist != required:
            return dist
    return None


def _message(group: HitGroup) -> str:
    """The gate's line without its exception class (``ValueError: ``), as the source spells it."""
    line = next((o.text for o in group.occurrences if parse_gate(o.text)), group.occurrences[0].text)
    return re.sub(r"^\s*[\w.]*(?:Error|Exception|Warning):\s*", "", line)


@explains("ED613")
def version_gate(group: HitGroup, entry: RuleEntry, ev: Evidence) -> Diagnosis:
    """A stated requirement against the found and the target's version; a pin into the stated range."""
    gate = next((g for o in group.occurrences if (g := parse_gate(o.text))), None)
    if gate is None:
        return Diagnosis(f"{entry.summary} (the line does not say which version)", LOW)
    checker = _checker(group, ev, gate.name) or gate.requirer
    who = f"{checker} checks" if checker else "a runtime check requires"
    said = f"{who} {gate.requirement or gate.name}" if gate.specifier else \
        f"{checker or 'a runtime check'} refuses {gate.name} {gate.found} and asks for a newer release" \
        if gate.found else f"{who} the newest release of {gate.name}"
    found = f", but {gate.name} {gate.found} was installed" if gate.found and gate.specifier else ""
    culprits = tuple(dict.fromkeys(d for d in (gate.name, checker) if d))
    # "the newest release" of a check that names the release it refused: past that one
    wanted = gate.specifier or (f">{gate.found}" if gate.found else "")
    title = f"move {gate.name} into the checked range {gate.specifier}" if gate.specifier else \
        f"upgrade {gate.name} past the {gate.found} the check refused (`pip install -U {gate.name}` gets the " \
        f"newest)" if gate.found else f"upgrade {gate.name} to its newest release"
    fixes: list[Fix] = [pip_install_fix(title, {gate.name: wanted}, Applicability.UNSAFE)]
    relaxed = checker_relaxed(checker, gate.requirement, ev) if checker and gate.specifier else None
    if relaxed is None and checker and gate.specifier:
        relaxed = checker_introduced(checker, _message(group), ev)
    if relaxed:
        fixes.append(relaxed)
    elif checker:
        fixes.append(say(f"or pin {checker} to a release whose check accepts "
                         f"{gate.name} {gate.found or 'as installed'}"))
    installed = ev.installed(gate.name)
    if ev.ctx is None:
        return Diagnosis(f"{said}{found} (from the log text alone)", MEDIUM, tuple(fixes), culprits)
    if installed is None:
        return Diagnosis(f"{said}, and {gate.name} is not installed in the target", HIGH, tuple(fixes), culprits)
    version = parse_version(installed.split("+")[0])
    if wanted and version is not None and SpecifierSet(wanted).contains(version, prereleases=True):
        return Diagnosis(stale(f"{said}; the target's {gate.name} {installed} satisfies it"), LOW, (), culprits)
    joined = "and the target has" if gate.found and not gate.specifier else "but the target has"
    return Diagnosis(f"{said}, {joined} {gate.name} {installed}", HIGH, tuple(fixes), culprits)

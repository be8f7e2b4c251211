"""Family: Requires-Python and `No matching distribution` — no release of X installs on this Python/platform.

pip says ``requires a different Python: 3.11.8 not in '<3.10,>=3.8'``, lists the releases it
ignored (``Ignored the following versions that require a different python version: 8.2.0
Requires-Python >=3.10``) or just ``No matching distribution found for X==v``.  The Python is
the one the log names (a ``pythonX.Y/site-packages`` path, pip's own line) or the target's.
The releases that do install come from the index (PEP 691 project pages carry every file's
Requires-Python; the target's wheel tags decide the platform): the newest one is the fix.
Without the index, the releases pip ignored still bound the answer from above.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from packaging.specifiers import SpecifierSet
from packaging.tags import Tag
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from envdoctor.env import fetch, index, pipconfig
from envdoctor.env.probe import canonical_name
from envdoctor.env.requirements import admits_python, parse_requirement
from envdoctor.env.torch_build import declared_or_recorded
from envdoctor.explain.diagnosis import HIGH, MEDIUM, Diagnosis, Evidence, explains, say
from envdoctor.explain.extractors import HitGroup
from envdoctor.findings import Applicability, Fix, pip_install_fix
from envdoctor.knowledge.base import RuleEntry

MAX_LINE = 4000
_IGNORED = re.compile(r"(?P<version>\d+(?:\.\d+){0,3}(?:[a-z]+\d*)?(?:\.post\d+)?) Requires-Python (?P<spec>[^;\s]+)")
_FROM_VERSIONS = re.compile(r"\(from versions: ([^)]*)\)")  # the whole list (the signature keeps 300 characters)
_PACKAGE = re.compile(r"Package '(?P<package>[^']{1,100})' requires a different Python")


def _python(group: HitGroup, ev: Evidence) -> tuple[str | None, str]:
    """The Python that ran pip, and where that is known from."""
    if python := group.groups.get("python"):
        return python, "the log"
    if ev.ctx is not None:
        return ev.ctx.snapshot.python_version, "the target"
    if ev.facts.python_version:
        return ev.facts.python_version, "the log"
    return None, ""


def releases(files: Iterable[index.IndexFile], python: str | None,
             ranking: dict[Tag, int] | None) -> list[Version]:
    """Final releases, newest first, with a file that installs on ``python`` (and, with ``ranking``, its tags)."""
    ok: set[Version] = set()
    for item in files:
        if item.yanked:
            continue
        try:
            if item.filename.endswith(".whl"):
                _, version, _, file_tags = parse_wheel_filename(item.filename)
                if ranking is not None and not any(t in ranking for t in file_tags):
                    continue
            else:
                _, version = parse_sdist_filename(item.filename)
        except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
            continue
        if version.is_prerelease or version.is_devrelease:
            continue
        if python and not admits_python(item.requires_python, python):
            continue
        ok.add(version)
    return sorted(ok, reverse=True)


def newest_installable(package: str, python: str | None, ev: Evidence) -> tuple[Version | None, str]:
    """The newest release of ``package`` that installs on the target (None when the index cannot say)."""
    if ev.offline:
        return None, "offline: the index was not asked"
    ranking = index.tag_ranking(ev.ctx.snapshot) if ev.ctx is not None else None
    config = pipconfig.read()
    for url in config.urls:
        try:
            found = releases(index.project_files(url, package), python, ranking)
        except (fetch.FetchError, fetch.NotFound):
            continue
        if found:
            return found[0], f"the newest {package} release on {pipconfig.redact(url)} that installs there"
    return None, "no index answered"


def _ignored_floor(group: HitGroup) -> Version | None:
    """The oldest release pip ignored for its Requires-Python (the answer lies below it)."""
    return min(_ignored(group), default=None)


def _listed(group: HitGroup, floor: Version | None) -> Version | None:
    """The newest final release in pip's ``(from versions: ...)`` list, below the releases it skipped."""
    found = []
    listing = group.groups.get("versions") or next(
        (m.group(1) for o in group.occurrences if (m := _FROM_VERSIONS.search(o.text[:MAX_LINE]))), "")
    for item in listing.split(","):
        try:
            version = Version(item.strip())
        except InvalidVersion:
            continue
        if not (version.is_prerelease or version.is_devrelease) and (floor is None or version < floor):
            found.append(version)
    return max(found) if found else None


def _ignored(group: HitGroup) -> dict[Version, str]:
    """Release -> the Requires-Python pip skipped it for, as the log lists them."""
    found: dict[Version, str] = {}
    for line in (*group.context, *(o.text for o in group.occurrences)):
        for m in _IGNORED.finditer(line[:MAX_LINE]):
            try:
                found[Version(m.group("version"))] = m.group("spec")
            except InvalidVersion:
                continue
    return found


def _python_needed(group: HitGroup, package: str, wanted: SpecifierSet | None) -> Diagnosis | None:
    """When every release the requirement admits was skipped for its Requires-Python (pip's own
    lists say so, for the Python that ran it): the Python they need, and the newest release pip
    could install there."""
    if wanted is None or not str(wanted):
        return None
    skipped = {v: spec for v, spec in _ignored(group).items() if wanted.contains(v, prereleases=True)}
    listed = _listed(group, None)
    if not skipped or (listed is not None and wanted.contains(listed, prereleases=True)):
        return None
    needs = Counter(skipped.values()).most_common(1)[0][0]  # what most of them ask
    fixes: list[Fix] = [say(f"run it on a Python {needs}: every {package} release in {wanted} pip saw requires it")]
    if listed is not None:
        fixes.append(pip_install_fix(f"or relax the requirement to {package} {listed}, the newest release pip listed "
                                     "as installable on this Python", {package: f"=={listed}"}, Applicability.UNSAFE))
    return Diagnosis(f"every {package} release in {wanted} requires Python {needs} (pip skipped "
                     f"{len(skipped)} of them for it), which the Python that ran pip is not", HIGH, tuple(fixes),
                     (package,))


def _explain(group: HitGroup, ev: Evidence, package: str, said: str, wanted: SpecifierSet | None = None) -> Diagnosis:
    python, origin = _python(group, ev)
    if (needed := _python_needed(group, package, wanted)) is not None:
        return needed  # pip's lists were made for the Python that ran it: they answer for it
    on = f"Python {python} ({origin})" if python else "the Python that ran pip"
    listed_here = _listed(group, _ignored_floor(group)) if python is None else None
    newest, how = (listed_here, "the newest release pip listed as installable there") if listed_here is not None \
        else newest_installable(package, python, ev)
    if newest is not None:
        return Diagnosis(f"{said}; {how} is {newest} (for {on})", HIGH,
                         (pip_install_fix(f"install {package} {newest}, {how}", {package: f"=={newest}"},
                                          Applicability.UNSAFE),), (package,))
    floor = _ignored_floor(group)
    fixes: list[Fix] = []
    listed = _listed(group, floor)
    if listed is not None:
        fixes.append(pip_install_fix(f"install {package} {listed}, the newest release pip listed as installable "
                                     "here", {package: f"=={listed}"}, Applicability.UNSAFE))
    elif floor is not None:
        fixes.append(pip_install_fix(f"install a {package} release before {floor}, the oldest one pip skipped "
                                     f"for its Requires-Python", {package: f"<{floor}"}, Applicability.UNSAFE))
    fixes.append(say(f"or run a Python that {package}'s newest release supports (its Requires-Python on the index)"))
    return Diagnosis(f"{said} for {on} ({how})", MEDIUM, tuple(fixes), (package,))


@explains("ED002")
def requires_python(group: HitGroup, entry: RuleEntry, ev: Evidence) -> Diagnosis:
    """`requires a different Python` / `Requires-Python`: the newest release that supports this Python."""
    text = group.occurrences[0].text
    m = _PACKAGE.search(text[:MAX_LINE])
    package = canonical_name(m.group("package")) if m else group.groups.get("package")
    spec = group.groups.get("spec", "")
    if not package:
        ignored = _IGNORED.search(text[:MAX_LINE])
        said = f"pip skipped releases whose Requires-Python is {ignored.group('spec')}" if ignored else entry.summary
        return Diagnosis(said + " (the line does not name the package; `No matching distribution found` names it)",
                         MEDIUM, (say("pick a release whose Requires-Python includes your Python"),))
    return _explain(group, ev, package, f"{package} requires Python {spec}")


@explains("ED609")
def no_distribution(group: HitGroup, entry: RuleEntry, ev: Evidence) -> Diagnosis:
    """`No matching distribution found for X`: which releases install on this Python and platform."""
    text = group.groups["requirement"].strip("`'\" ").rstrip(".…")
    req = parse_requirement(text)
    package = canonical_name(req.name) if req else text
    torch = ev.installed("torch")
    if package == "triton" and torch:  # torch pins its own triton (ED102): never an older pin
        torch_dist = ev.ctx.snapshot.distributions.get("torch") if ev.ctx else None
        found = declared_or_recorded(torch_dist, ev.ctx.snapshot, "triton") if ev.ctx and torch_dist else None
        pin = found[0] if found else None
        if pin:
            return Diagnosis(f"pip has no release matching `{text}` here; for triton never pin an older release: "
                             f"torch pins its own triton (ED102), triton{pin} for torch {torch}", HIGH,
                             (pip_install_fix(f"install the triton torch {torch} pins", {"triton": pin},
                                              Applicability.SAFE),), (package,))
    versions = group.groups.get("versions")
    listed = (" (none at all: this project has no files for it)" if versions == "none"
              else f" (it offers {versions})" if versions else "")
    return _explain(group, ev, package, f"pip has no release matching `{text}`{listed}",
                    req.specifier if req else None)

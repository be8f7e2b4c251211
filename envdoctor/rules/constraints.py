"""Constraints for the lock resolver, derived from the knowledge base's declarative rules.

Derivation (general, no per-rule code): a declarative case says "when these
packages are in these ranges, it breaks"; a fix of that case that is not
display-only pins one of the *same* packages out of its bad range
(ED101: when ``bitsandbytes>=0.38.1,<0.45.1`` and ``triton>=3.2.0``, pin
``bitsandbytes>=0.45.1``).  That is a conditional floor: if the condition holds for
a resolution, the pinned package must satisfy the fix's specifier.  pip cannot
express conditional constraints, so :mod:`envdoctor.fix.resolve` resolves, checks
the floors against the result, adds the violated ones as plain constraints and
resolves again.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from packaging.specifiers import SpecifierSet

from envdoctor.env.lockfile import Pin
from envdoctor.findings import Applicability, Finding, Location, Severity
from envdoctor.knowledge.base import Condition, KnowledgeBase
from envdoctor.rules.base import Context, condition_holds

CONFLICT_CODE = "ED401"


@dataclass(frozen=True)
class Floor:
    """``package`` must satisfy ``spec`` whenever ``when`` holds (from rule ``code``)."""

    code: str
    when: Condition
    package: str
    spec: str

    def trigger(self) -> str:
        """The condition's other packages, e.g. ``triton>=3.2.0``."""
        others = [f"{name}{spec}" for name, spec in sorted(self.when.packages.items()) if name != self.package]
        return " and ".join(others) or "always"

    def describe(self) -> str:
        """``bitsandbytes>=0.45.1 when triton>=3.2.0 (ED101)``."""
        return f"{self.package}{self.spec} when {self.trigger()} ({self.code})"


def floors(kb: KnowledgeBase) -> list[Floor]:
    """Every conditional floor the declarative rules imply (see the module docstring)."""
    found: list[Floor] = []
    for entry in sorted(kb.rules.values(), key=lambda e: e.code):
        if entry.check != "declarative":
            continue
        for case in entry.cases:
            for fix in case.fixes:
                if fix.applicability is Applicability.DISPLAY_ONLY:
                    continue
                found += [
                    Floor(entry.code, case.when, name, spec)
                    for name, spec in sorted(fix.pins.items())
                    if name in case.when.packages
                ]
    return found


def violated(all_floors: Sequence[Floor], ctx: Context) -> list[Floor]:
    """The floors whose condition holds for the context's pins (so the pin is in the bad range)."""
    return [f for f in all_floors if condition_holds(f.when, ctx)]


def conflicts(
    all_floors: Sequence[Floor],
    ctx: Context,
    requested: Sequence[Pin],
    entry_name: str,
    evidence: tuple[str, ...],
    only_requested: bool,
) -> Iterator[Finding]:
    """ED401 findings: a requested requirement that keeps a package in a rule's bad range.

    With ``only_requested`` a floor counts only when a line of ``requested`` blocks it
    (otherwise the rule itself, e.g. ED101, already reports the pin).
    """
    for floor in violated(all_floors, ctx):
        version = ctx.snapshot.version_of(floor.package)
        asks = [p for p in requested if p.name == floor.package]
        blocking = [p for p in asks if _excludes(p, floor)]
        culprit = blocking[0] if blocking else None
        if culprit is None and only_requested:
            continue
        where = (Location(culprit.source, culprit.line),) if culprit else ()
        origin = (
            f"{culprit.source}:{culprit.line} asks for {culprit.requirement}"
            if culprit
            else f"the resolution picked {floor.package} {version}"
        )
        yield Finding(
            code=CONFLICT_CODE,
            name=entry_name,
            severity=Severity.ERROR,
            message=(f"{origin}, which conflicts with {floor.code}: it needs {floor.describe()}"),
            packages=(floor.package,),
            locations=where,
            evidence=evidence,
        )


def _excludes(pin: Pin, floor: Floor) -> bool:
    """Whether ``pin``'s specifier leaves no room for ``floor``.

    Approximate: tries the versions named in both specifiers (``==0.44.1`` or
    ``<0.45`` exclude ``>=0.45.1``; ``>=0.40`` or ``<0.46`` do not).
    """
    wanted, floor_spec = pin.requirement.specifier, SpecifierSet(floor.spec)
    if not wanted:
        return False
    named = [s.version for s in (*wanted, *floor_spec) if not s.version.endswith("*")]
    return not any(wanted.contains(v, prereleases=True) and floor_spec.contains(v, prereleases=True) for v in named)

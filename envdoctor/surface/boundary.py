"""Where a symbol is present among a distribution's releases (the result of bisection)."""

from __future__ import annotations

from dataclasses import dataclass, field

from packaging.version import Version

from envdoctor.surface.query import Query


@dataclass(frozen=True)
class Boundary:
    """Where a symbol is present among a distribution's releases.

    ``present`` holds PEP 440 specifier strings of the ranges that have it (a bound is left out
    where the list ends without a change: ``<2.1.0`` when the oldest release has it);
    ``removed_in``/``added_in`` are the first releases without/with it, ``last_with``/
    ``first_with`` the releases beside them that have it.  ``message`` and ``successor`` are
    what the source says about it (a removal or deprecation message, a replacing name).
    """

    dist: str
    query: Query
    present: list[str]
    removed_in: str | None = None
    added_in: str | None = None
    last_with: str | None = None
    first_with: str | None = None
    message: str | None = None
    successor: str | None = None
    probed: dict[str, bool | None] = field(default_factory=dict)
    complete: bool = True

    def describe(self) -> str:
        """One sentence: ``markupsafe.soft_unicode is in markupsafe 1.1.1–2.0.1, removed in 2.1.0``."""
        what, dist = f"`{self.query.describe()}`", self.dist
        known = sorted(Version(v) for v, s in self.probed.items() if s)
        if not self.present:
            return f"{what} is in no release of {dist} that was checked ({len(self.probed)} probed)"
        parts = []
        if len(self.present) > 1:  # removed and added back: name each range
            parts.append(f"{what} is in " + " and ".join(f"{dist}{spec}" for spec in self.present))
            if self.successor:
                parts.append(f"its successor is `{self.successor}`")
            return ", ".join(parts)
        if self.first_with and self.last_with:
            parts.append(f"{what} is in {dist} {self.first_with}–{self.last_with}")
        elif self.first_with:
            parts.append(f"{what} is in {dist} {self.first_with} and later")
        elif self.last_with:
            without = [Version(v) for v, s in self.probed.items() if s is False and known and Version(v) < known[0]]
            if without:
                oldest = f" (from a release after {max(without)}: {known[0]} has it, {max(without)} does not)"
            else:
                oldest = f" (the oldest release checked, {known[0]}, has it)" if known else ""
            parts.append(f"{what} is in {dist} up to {self.last_with}{oldest}")
        else:
            parts.append(f"{what} is in every release of {dist} that was checked")
        if self.added_in and self.first_with and self.added_in == self.first_with:
            parts.append(f"added in {self.added_in}")
        if self.removed_in:
            parts.append(f"removed in {self.removed_in}")
        if self.successor:
            parts.append(f"its successor is `{self.successor}`")
        return ", ".join(parts)

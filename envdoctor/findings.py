"""What a rule reports: findings, their locations and their fixes.

These are plain frozen dataclasses so that every output format (text, JSON,
SARIF) and the fixer read the same values.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any


class Severity(str, Enum):
    """How bad a finding is; errors make `envdoctor check` exit 1."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Sort key: errors first."""
        return {"error": 0, "warning": 1, "info": 2}[self.value]


class Applicability(str, Enum):
    """Whether a fix may be applied without asking (the ruff model)."""

    SAFE = "safe"
    UNSAFE = "unsafe"
    DISPLAY_ONLY = "display-only"


@dataclass(frozen=True)
class Location:
    """A place in a file (1-based line and column, both optional)."""

    path: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        parts = [self.path]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)


@dataclass(frozen=True)
class FileEdit:
    """A change to one file that a fix would make.

    ``action`` is ``"reencode"`` (rewrite ``path`` from ``encoding`` to UTF-8)
    or ``"replace"`` (replace the text ``old`` by ``new``).
    """

    path: str
    action: str
    encoding: str | None = None
    old: str | None = None
    new: str | None = None


@dataclass(frozen=True)
class Fix:
    """One way to resolve a finding.

    ``pins`` are PEP 440 specifiers per distribution (``{"bitsandbytes": ">=0.45.1"}``);
    ``uninstall`` names distributions to remove; ``commands`` are argv lists
    where ``{python}`` stands for the target interpreter (never a shell string);
    ``env`` holds environment variables the fix relies on; ``within`` keeps, per distribution the fix
    moves, the range the rule asked for when ``pins`` names the one release picked inside it.
    """

    title: str
    applicability: Applicability
    pins: dict[str, str] = field(default_factory=dict)
    uninstall: tuple[str, ...] = ()
    commands: tuple[tuple[str, ...], ...] = ()
    edits: tuple[FileEdit, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    within: dict[str, str] = field(default_factory=dict)

    def __hash__(self) -> int:  # dict fields are not hashable by default
        return hash((self.title, self.applicability, tuple(sorted(self.pins.items())), self.uninstall))


@dataclass(frozen=True)
class Finding:
    """A problem found by a rule, with the observed values in ``message``.

    ``covers`` lists (requirer, requirement) pairs this finding explains; the
    engine drops the generic unmet-requirement finding for a pair that a more
    specific rule already explained.
    """

    code: str
    name: str
    severity: Severity
    message: str
    packages: tuple[str, ...] = ()
    locations: tuple[Location, ...] = ()
    evidence: tuple[str, ...] = ()
    fixes: tuple[Fix, ...] = ()
    covers: tuple[tuple[str, str], ...] = ()
    confidence: str | None = None
    quotes: tuple[str, ...] = ()
    inferred: tuple[str, ...] = ()  # implied packages it involves: "triton 3.2.0, implied by torch==2.6.0"

    def sort_key(self) -> tuple[Any, ...]:
        """Deterministic order: severity, code, first location, message."""
        loc = str(self.locations[0]) if self.locations else ""
        return (self.severity.rank, self.code, loc, self.message)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (see README, 'JSON output')."""
        data = asdict(self)
        data["severity"] = self.severity.value
        data["locations"] = [asdict(loc) for loc in self.locations]
        data["fixes"] = [_fix_to_dict(fix) for fix in self.fixes]
        data["covers"] = [list(pair) for pair in self.covers]
        data["packages"] = list(self.packages)
        data["evidence"] = list(self.evidence)
        data["quotes"] = list(self.quotes)
        data["inferred"] = list(self.inferred)
        return data


def _fix_to_dict(fix: Fix) -> dict[str, Any]:
    data = asdict(fix)
    data["applicability"] = fix.applicability.value
    data["uninstall"] = list(fix.uninstall)
    data["commands"] = [list(cmd) for cmd in fix.commands]
    data["edits"] = [asdict(edit) for edit in fix.edits]
    return data


def hint(title: str) -> Fix:
    """A fix the user applies by hand (display-only): a step in words, no pins or commands."""
    return Fix(title=title, applicability=Applicability.DISPLAY_ONLY)


def pip_install_fix(
    title: str, pins: dict[str, str], applicability: Applicability, uninstall: tuple[str, ...] = ()
) -> Fix:
    """A fix that installs ``pins`` (and removes ``uninstall``) with the target's pip."""
    commands: list[tuple[str, ...]] = []
    if uninstall:
        commands.append(("{python}", "-m", "pip", "uninstall", "-y", *uninstall))
    if pins:
        commands.append(("{python}", "-m", "pip", "install", *(f"{name}{spec}" for name, spec in sorted(pins.items()))))
    return Fix(title=title, applicability=applicability, pins=dict(pins), uninstall=uninstall, commands=tuple(commands))


def brief_list(names: list[str], shown: int = 5) -> str:
    """``a, b, c and 4 more``: the first few names of a long list, for messages."""
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" and {more} more" if more > 0 else "")

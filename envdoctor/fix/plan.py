"""Turn findings (or a lock file) into a concrete, reviewable plan of changes.

A plan is data: the requirement strings pip will install, the distributions it
will uninstall, extra argv commands, file edits, environment variables to set,
and the packages held still by a constraints file.  Nothing here runs anything;
:mod:`envdoctor.fix.transaction` applies a plan with a backup and a way back.

Kept packages (the knowledge base's ``platform_owned`` table for the runtime
plus ``--keep``) are written as ``name==installed`` lines to a pip constraints
file passed with ``-c`` to every install, so that pip cannot move torch or
triton on Colab while resolving the fix.  A fix that would itself move a kept
package is skipped and says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.specifiers import SpecifierSet

from envdoctor.env import record
from envdoctor.env.lockfile import parse_file
from envdoctor.env.requirements import is_kept, parse_version
from envdoctor.env.snapshot import Snapshot
from envdoctor.errors import InputError
from envdoctor.findings import Applicability, FileEdit, Finding, Fix, Severity

# Never uninstalled by `fix --to --unsafe`, whatever the lock says: the tools doing the work.
TOOLING = frozenset({"pip", "setuptools", "wheel", "envdoctor"})


@dataclass(frozen=True)
class Plan:
    """What `envdoctor fix` will do to one interpreter."""

    python: str
    install: tuple[str, ...] = ()
    uninstall: tuple[str, ...] = ()
    commands: tuple[tuple[str, ...], ...] = ()
    edits: tuple[FileEdit, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    constraints: tuple[str, ...] = ()
    chosen: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """Whether the plan changes nothing."""
        return not (self.install or self.uninstall or self.commands or self.edits)

    def argv(self, constraints_file: Path) -> list[list[str]]:
        """Every command in order (uninstall, install, fix commands) as argv lists."""
        pip = [self.python, "-m", "pip"]
        steps: list[list[str]] = []
        if self.uninstall:
            steps.append([*pip, "uninstall", "-y", *self.uninstall])
        if self.install:
            steps.append([*pip, "install", "-c", str(constraints_file), *self.install])
        steps += [[self.python if word == "{python}" else word for word in cmd] for cmd in self.commands]
        return steps

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (constraints path shown as a placeholder)."""
        return {"python": self.python, "install": list(self.install), "uninstall": list(self.uninstall),
                "commands": self.argv(Path("<state>/constraints.txt")),
                "edits": [{"path": e.path, "action": e.action} for e in self.edits],
                "env": dict(self.env), "constraints": list(self.constraints),
                "fixes": list(self.chosen), "skipped": list(self.skipped)}


def kept_constraints(snap: Snapshot, keep: Iterable[str]) -> tuple[str, ...]:
    """``name==version`` for every installed distribution matching a kept pattern."""
    patterns = tuple(keep)
    return tuple(f"{d.name}=={d.version}" for d in sorted(snap.distributions.values(), key=lambda d: d.name)
                 if is_kept(d.name, patterns))


def choose_fix(finding: Finding, unsafe: bool) -> Fix | None:
    """The first fix of ``finding`` that may be applied (safe, or unsafe with ``unsafe``)."""
    allowed = {Applicability.SAFE, Applicability.UNSAFE} if unsafe else {Applicability.SAFE}
    return next((fix for fix in finding.fixes if fix.applicability in allowed), None)


def _satisfied(snap: Snapshot, name: str, spec: str) -> bool:
    version = parse_version(snap.version_of(name))
    return version is not None and SpecifierSet(spec).contains(version, prereleases=True)


def _kept_move(fix: Fix, snap: Snapshot, keep: Sequence[str]) -> str | None:
    """The kept package ``fix`` would move, if any."""
    for name, spec in fix.pins.items():
        if is_kept(name, keep) and not _satisfied(snap, name, spec):
            return name
    return next((name for name in fix.uninstall if is_kept(name, keep)), None)


def from_findings(findings: Sequence[Finding], snap: Snapshot, keep: Sequence[str], unsafe: bool) -> Plan:
    """The plan that applies one fix per finding; pins on one package are intersected.

    A fix with pins or uninstalls is rebuilt from them (so every install gets the
    constraints file); a fix with only ``commands`` runs them as given.
    """
    pins: dict[str, SpecifierSet] = {}
    uninstall: list[str] = []
    commands: list[tuple[str, ...]] = []
    edits: list[FileEdit] = []
    env: dict[str, str] = {}
    chosen: list[str] = []
    skipped: list[str] = []
    for finding in findings:
        fix = choose_fix(finding, unsafe)
        if fix is not None and finding.severity is Severity.INFO and fix.applicability is not Applicability.SAFE:
            # a note's unsafe pin (a downgrade for a script nobody may run) is the user's call, not fix's
            skipped.append(f"{finding.code}: {fix.title} — a note, not acted on; run its command by hand if you "
                           "mean it")
            continue
        if fix is None:
            if finding.fixes:
                kinds = sorted({f.applicability.value for f in finding.fixes})
                hint = " (pass --unsafe to include it)" if "unsafe" in kinds else ": do it by hand"
                skipped.append(f"{finding.code}: {finding.fixes[0].title}{hint}")
            continue
        moved = _kept_move(fix, snap, keep)
        if moved is not None:
            skipped.append(f"{finding.code}: {fix.title} — it would move {moved}, which is kept "
                           "(platform-owned or --keep); run its command by hand if you mean it")
            continue
        chosen.append(f"{finding.code}: {fix.title} ({fix.applicability.value})")
        for name, spec in fix.pins.items():
            pins[name] = pins.get(name, SpecifierSet()) & SpecifierSet(spec)
        uninstall += [n for n in fix.uninstall if n not in uninstall]
        if not fix.pins and not fix.uninstall:
            commands += [cmd for cmd in fix.commands if cmd not in commands]
        edits += [e for e in fix.edits if e not in edits]
        env.update(fix.env)
    install = tuple(f"{name}{spec}" for name, spec in sorted(pins.items())
                    if name not in uninstall and not _satisfied(snap, name, str(spec)))
    return Plan(python=_python(snap), install=install, uninstall=tuple(uninstall), commands=tuple(commands),
                edits=tuple(edits), env=env, constraints=kept_constraints(snap, keep),
                chosen=tuple(chosen), skipped=tuple(skipped))


def fixable_count(findings: Sequence[Finding], snap: Snapshot, keep: Sequence[str]) -> int:
    """How many of ``findings`` `envdoctor fix` (without --unsafe) would act on: what `check` reports."""
    if not snap.executable:
        return 0  # a lock or snapshot target: nothing to install into
    plan = from_findings(findings, snap, keep, unsafe=False)
    return 0 if plan.empty else len(plan.chosen)


def interpreter_mismatch(lock: Path, snap: Snapshot) -> str | None:
    """Why ``lock`` does not suit ``snap``'s interpreter (it was resolved for another Python X.Y), or None."""
    from envdoctor.env.lock_header import made_for_python

    wanted = made_for_python(lock)
    have = ".".join(snap.python_version.split(".")[:2])
    if wanted is None or wanted == have:
        return None
    return (f"{lock} was resolved for Python {wanted}, but {snap.executable or snap.source} is Python "
            f"{snap.python_version}: its pins may not install or run there; use a Python {wanted} interpreter "
            f"(`--python /path/to/python{wanted}`), or re-lock for {have} "
            f"(`envdoctor lock IN --python-version {have}`)")


def read_lock(lock: Path) -> None:
    """Refuse a ``fix --to`` file before any work: unreadable, malformed, or pinning nothing (with
    ``--unsafe`` an empty lock would mean "uninstall everything", which nobody asks for this way)."""
    if record.is_json(lock):
        record.load(lock)
        return
    if not any(not pin.constraint for pin in parse_file(lock)):
        raise InputError(f"{lock}: pins nothing; `fix --to` needs a lock (make one with `envdoctor lock`)")


def from_lock(lock: Path, snap: Snapshot, keep: Sequence[str], unsafe: bool) -> Plan:
    """The moves from ``snap`` to the exact pins of ``lock`` (``fix --to``).

    Distributions the lock does not name stay installed unless ``unsafe``.  A snapshot JSON or a
    run record works as a lock (:mod:`envdoctor.env.record`): its Python and platform are checked
    first, URL and path installs come back from their recorded URL, and the recorded indexes and
    find-links that pip's configuration lacks are added to the install.
    """
    recorded = record.load(lock) if record.is_json(lock) else None
    if recorded is not None:
        recorded.check_interpreter(snap)
    wanted: dict[str, str] = {}
    for pin in parse_file(lock):
        if pin.constraint or (pin.requirement.marker and not pin.requirement.marker.evaluate(snap.marker_env)):
            continue
        if pin.exact_version is None:
            raise InputError(f"{pin.source}:{pin.line}: {pin.requirement} is not pinned with ==; "
                             "`fix --to` needs a lock (make one with `envdoctor lock`)")
        wanted[pin.name] = pin.exact_version
    install: list[str] = []
    skipped: list[str] = []
    for name, version in sorted(wanted.items()):
        if _satisfied(snap, name, f"=={version}"):
            continue
        if is_kept(name, keep):
            skipped.append(f"{name}: the lock wants {version} but {name} is kept at "
                           f"{snap.version_of(name) or 'absent'} (platform-owned or --keep)")
            continue
        install.append(recorded.requirement(name) if recorded else f"{name}=={version}")
    extra = sorted(n for n in snap.distributions
                   if n not in wanted and n not in TOOLING and not is_kept(n, keep))
    if extra and not unsafe:
        skipped.append(f"not in the lock, left installed: {', '.join(extra)} (pass --unsafe to uninstall them)")
    moves = len(install)
    if recorded is not None and install:
        install += recorded.source_options(record.pip_sources())
    return Plan(python=_python(snap), install=tuple(install), uninstall=tuple(extra) if unsafe else (),
                constraints=kept_constraints(snap, keep),
                chosen=(f"move to {lock} ({moves} to install)",), skipped=tuple(skipped))


def _python(snap: Snapshot) -> str:
    if not snap.executable:
        raise InputError(f"{snap.source}: not a live interpreter; `envdoctor fix` changes one "
                         "(pass --python PATH, or omit it for this one)")
    return snap.executable


"""Resolve a ``.in`` into exact pins, tightened by the knowledge base's floors.

Two resolvers, both run as subprocesses through the user's pip configuration
(pip.conf, ``PIP_INDEX_URL`` and friends pass through untouched):

- **pip-compile** (pip-tools, the ``lock`` extra) for the running interpreter:
  ``python -m piptools compile``.  pip-tools resolves for the interpreter it
  runs in and has no ``--python-version``/``--platform``.
- **pip's own resolver** for a foreign target (``--python-version``/``--platform``):
  ``pip install --dry-run --ignore-installed --only-binary=:all: --python-version X
  --platform TAG --report FILE``; the report names every chosen wheel with its
  sha256.  pip evaluates the environment markers of dependencies for the
  *running* interpreter, not the target (pip's behaviour: resolving pytest 8.3.3
  for ``--python-version 3.10`` on 3.11 leaves out its ``python_version < "3.11"``
  dependencies).  So envdoctor re-walks the dependency graph from the ``.in``
  with the target's markers, using the Requires-Dist lines the report carries:
  dependencies the target needs but pip left out are added as requirements and
  the resolution repeated; pins the target does not reach are dropped.

:func:`lock` repeats resolution while a knowledge-base floor (see
:mod:`envdoctor.rules.constraints`) is violated, adding it as a constraint; when the
tightened resolution is impossible it returns ED401 findings saying which
requirement conflicts with which rule.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

from envdoctor.rules.constraints import (
    CONFLICT_CODE,
    Floor,
    conflicts,
    floors,
    violated,
)
from envdoctor.env.lockfile import Pin, parse_file
from envdoctor.env.probe import canonical_name
from envdoctor.env.requirements import active_requirements
from envdoctor.env.snapshot import Distribution, Snapshot
from envdoctor.env.target import from_pins
from envdoctor.errors import InputError
from envdoctor.findings import Finding
from envdoctor.knowledge.base import KnowledgeBase
from envdoctor.rules.base import Context

MAX_ROUNDS = 8
GLIBC_MINORS = range(35, 16, -1)  # manylinux_2_35 (Ubuntu 22.04, Colab) down to manylinux_2_17
ARCH = {"linux_x86_64": "x86_64", "linux_aarch64": "aarch64"}


class ResolutionFailed(Exception):
    """The resolver found no solution; the message is the resolver's own last lines."""


@dataclass(frozen=True)
class LockTarget:
    """The environment a lock is made for; ``foreign`` selects pip's resolver."""

    python: str
    platform: str
    cuda: str | None
    foreign: bool


@dataclass(frozen=True)
class Resolved:
    """Exact pins (name, version, hashes) and a description of the resolver."""

    pins: list[tuple[str, str, tuple[str, ...]]]
    made_with: str
    requires: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class LockResult:
    """A resolution that satisfies the floors, or the findings saying why none does."""

    resolved: Resolved | None
    used: list[Floor] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def platform_tags(platform: str) -> list[str]:
    """pip ``--platform`` tags for an envdoctor platform name (Linux: manylinux 2.17-2.35)."""
    arch = ARCH.get(platform)
    if arch is None:
        raise InputError(f"--platform {platform}: envdoctor locks Linux targets only (linux_x86_64, linux_aarch64)")
    return [*(f"manylinux_2_{minor}_{arch}" for minor in GLIBC_MINORS), f"manylinux2014_{arch}", f"linux_{arch}"]


def _run(argv: list[str]) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise InputError(f"{argv[0]}: cannot run it ({exc.strerror})")
    if proc.returncode != 0:
        if "No module named piptools" in proc.stderr:
            raise InputError("pip-tools is not installed: pip install 'envdoctor[lock]'")
        lines = [line for line in proc.stderr.splitlines() if line.strip() and not line.startswith("WARNING:")]
        raise ResolutionFailed(" | ".join(lines[-6:]) or f"exit {proc.returncode}")
    return proc.stdout


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


def with_pip_compile(in_file: Path, constraints: Path, hashes: bool, work: Path) -> Resolved:
    """Resolve with pip-compile for the running interpreter."""
    out = work / "compiled.txt"
    out.unlink(missing_ok=True)  # pip-compile would prefer the pins of a previous round
    argv = [sys.executable, "-m", "piptools", "compile", "--quiet", "--no-header", "--no-annotate",
            "--strip-extras", "--allow-unsafe", "--output-file", str(out), "-c", str(constraints)]
    _run([*argv, *(["--generate-hashes"] if hashes else []), str(in_file)])
    pins = [(p.name, p.exact_version or "", p.hashes) for p in parse_file(out) if not p.constraint]
    return Resolved(pins=pins, made_with=f"pip-compile (pip-tools {_version('pip-tools')}) on Python "
                                         f"{sys.version.split()[0]}{' with hashes' if hashes else ''}")


def with_pip_report(in_files: list[Path], constraints: Path, target: LockTarget, work: Path) -> Resolved:
    """Resolve with ``pip install --dry-run --report`` for a foreign Python/platform (wheels only)."""
    report = work / "report.json"
    tags = platform_tags(target.platform)
    # --target (nothing is written with --dry-run) lets pip before 24.1 accept --platform.
    argv = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--target", str(work / "target"),
            "--only-binary=:all:", "--python-version", target.python, "--implementation", "cp",
            *(f"--platform={tag}" for tag in tags), "--report", str(report), "-c", str(constraints)]
    _run([*argv, *(f"--requirement={path}" for path in in_files)])
    data = json.loads(report.read_text(encoding="utf-8"))
    pins, requires = [], {}
    for item in data["install"]:
        name = canonical_name(item["metadata"]["name"])
        found = item.get("download_info", {}).get("archive_info", {}).get("hashes", {})
        pins.append((name, item["metadata"]["version"],
                     tuple(f"{algo}:{value}" for algo, value in sorted(found.items()) if algo == "sha256")))
        requires[name] = tuple(item["metadata"].get("requires_dist") or ())
    made = (f"pip {_version('pip')} install --dry-run --report --ignore-installed --only-binary=:all: "
            f"--python-version {target.python} --implementation cp --platform {tags[0]}..{tags[-1]}; "
            f"markers re-evaluated for Python {target.python}")
    return Resolved(pins=sorted(pins), made_with=made, requires=requires)


def target_gaps(resolved: Resolved, roots: list[Pin], snap: Snapshot) -> tuple[list[str], set[str]]:
    """Walk the graph from ``roots`` with the target's markers.

    Returns the requirements the target needs that the resolution lacks, and the
    pinned names the target never reaches.
    """
    versions = {name: version for name, version, _ in resolved.pins}
    queue = [p.requirement for p in roots if not p.constraint
             and (p.requirement.marker is None or p.requirement.marker.evaluate(snap.marker_env))]
    extras: dict[str, set[str]] = {}
    missing: list[str] = []
    while queue:
        req = queue.pop()
        name = canonical_name(req.name)
        if name not in versions:
            wanted = f"{name}[{','.join(sorted(req.extras))}]" if req.extras else name
            missing.append(f"{wanted}{req.specifier}")
            continue
        asked = {canonical_name(e) for e in req.extras}
        if name in extras and asked <= extras[name]:
            continue
        extras[name] = extras.get(name, set()) | asked
        dist = Distribution(name=name, version=versions[name], requires=resolved.requires.get(name, ()))
        queue += list(active_requirements(dist, snap, extras[name]))
    return sorted(set(missing)), set(versions) - set(extras)


def _context(resolved: Resolved, in_file: Path, target: LockTarget, kb: KnowledgeBase) -> Context:
    pins = [Pin(requirement=Requirement(f"{name}=={version}"), source=str(in_file), line=0)
            for name, version, _ in resolved.pins]
    return Context(snapshot=from_pins(pins, str(in_file), target.python, target.platform, target.cuda), kb=kb)


def lock(in_file: Path, target: LockTarget, hashes: bool, kb: KnowledgeBase) -> LockResult:
    """Resolve ``in_file``, adding violated knowledge-base floors until none is violated."""
    requested = parse_file(in_file)
    all_floors = floors(kb)
    used: list[Floor] = []
    previous: Context | None = None
    entry = kb.rules[CONFLICT_CODE]
    added: list[str] = []
    with tempfile.TemporaryDirectory(prefix="envdoctor-lock-") as tmp:
        work = Path(tmp)
        for _ in range(MAX_ROUNDS):
            constraints = work / "kb-constraints.txt"
            constraints.write_text("".join(f"{f.package}{f.spec}\n" for f in used), encoding="utf-8")
            needed = work / "target-markers.txt"
            needed.write_text("".join(f"{line}\n" for line in added), encoding="utf-8")
            try:
                resolved = (with_pip_report([in_file, needed], constraints, target, work) if target.foreign
                            else with_pip_compile(in_file, constraints, hashes, work))
            except ResolutionFailed as exc:
                if previous is None:
                    raise InputError(f"{in_file}: the resolver found no solution: {exc}")
                return LockResult(None, used, list(conflicts(used, previous, requested, entry.name,
                                                             entry.evidence, only_requested=False)))
            ctx = _context(resolved, in_file, target, kb)
            if target.foreign:
                missing, unreached = target_gaps(resolved, requested, ctx.snapshot)
                if set(missing) - set(added):
                    added = sorted(set(added) | set(missing))
                    continue
                resolved = Resolved(pins=[p for p in resolved.pins if p[0] not in unreached],
                                    made_with=resolved.made_with, requires=resolved.requires)
                ctx = _context(resolved, in_file, target, kb)
            new = [f for f in violated(all_floors, ctx) if f not in used]
            if not new:
                return LockResult(resolved, used)
            used += new
            previous = ctx
    raise InputError(f"{in_file}: no stable resolution after {MAX_ROUNDS} rounds (floors: "
                     + (", ".join(f.describe() for f in used) or "none")
                     + f"; added for the target's markers: {', '.join(added) or 'none'})")

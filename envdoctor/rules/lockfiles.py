"""Rules for envdoctor lock files (a ``--env`` target whose first line is the lock header).

ED401 lock-input-conflicts-with-rule, ED402 lock-line-not-pinned,
ED403 lock-hash-missing, ED404 lock-out-of-date.  Files without the header
(a plain pip freeze, a hand-written requirements file) are left to the other rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from envdoctor.env.lock_header import LockHeader, input_digest, read_header
from envdoctor.env.lockfile import Pin, parse_file
from envdoctor.env.requirements import is_kept, parse_version
from envdoctor.errors import InputError
from envdoctor.findings import Finding, Fix, Location, hint
from envdoctor.knowledge.base import RuleEntry
from envdoctor.rules.base import Context, implements
from envdoctor.rules.constraints import conflicts, floors


def lock_of(ctx: Context) -> tuple[Path, LockHeader] | None:
    """The lock file and its header when the target is an envdoctor lock."""
    source = ctx.snapshot.source
    if not source.startswith("file:"):
        return None
    path = Path(source[len("file:") :])
    given = ctx.extras.get("lock_header")  # `envdoctor lock verify` of a lock envdoctor did not write
    header = given if isinstance(given, LockHeader) else read_header(path)
    return (path, header) if header is not None else None


def source_of(path: Path, header: LockHeader) -> Path | None:
    """The ``.in`` a lock was made from (relative to the lock's folder)."""
    return path.parent / header.source if header.source else None


def _relock(header: LockHeader) -> Fix:
    if header.foreign:
        return hint(f"re-make the lock with {header.made_with} (or `envdoctor lock FILE.in`)")
    return hint(f"re-make the lock: {header.command or 'envdoctor lock FILE.in'}")


def _finding(entry: RuleEntry, message: str, pin: Pin | None, fix: Fix, packages: tuple[str, ...] = ()) -> Finding:
    where = (Location(pin.source, pin.line),) if pin is not None else ()
    return entry.finding(message, packages=packages or ((pin.name,) if pin else ()), locations=where, fixes=(fix,))


def _lock_pins(path: Path) -> list[Pin]:
    return [p for p in parse_file(path) if not p.constraint]


@implements("ED401")
def lock_input_conflicts_with_rule(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """A line of the lock's ``.in`` keeps a package inside a rule's broken range."""
    found = lock_of(ctx)
    if found is None or (source := source_of(*found)) is None or not source.is_file():
        return
    yield from conflicts(floors(ctx.kb), ctx, parse_file(source), entry.name, entry.evidence, only_requested=True)


@implements("ED402")
def lock_line_not_pinned(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """Every requirement of the lock is pinned with ``==`` to one version."""
    found = lock_of(ctx)
    if found is None:
        return
    for pin in _lock_pins(found[0]):
        if pin.exact_version is None or pin.editable:
            yield _finding(
                entry,
                f"{pin.requirement} is not pinned to one version with ==: installs "
                "from this lock will differ from day to day",
                pin,
                _relock(found[1]),
            )


@implements("ED403")
def lock_hash_missing(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """When any line of the lock carries ``--hash``, every line does (pip's hash-checking mode)."""
    found = lock_of(ctx)
    if found is None:
        return
    pins = _lock_pins(found[0])
    if not any(p.hashes for p in pins):
        return
    for pin in pins:
        if not pin.hashes:
            yield _finding(
                entry,
                f"{pin.requirement} has no --hash while other lines do: pip's "
                "hash-checking mode refuses to install the whole file",
                pin,
                _relock(found[1]),
            )


@implements("ED404")
def lock_out_of_date(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """The lock still matches its ``.in``: same digest, and every requirement holds for the pins."""
    found = lock_of(ctx)
    if found is None:
        return
    path, header = found
    fix = _relock(header)
    source = source_of(path, header)
    if header.foreign and source is None:
        return  # staleness only where an input is known (--input, its header, a sibling .in)
    if source is None or not source.is_file():
        yield _finding(
            entry,
            f"{path}: its header names no readable source .in "
            f"({header.source or 'none'}), so nobody can tell whether it is current",
            None,
            fix,
        )
        return
    try:
        digest = input_digest(source, meaningful=str(header.digest or "").startswith("m:"))
        requested = parse_file(source)
    except InputError as exc:
        yield _finding(entry, f"{source}: cannot read it ({exc})", None, fix)
        return
    if header.digest is not None and digest != header.digest:
        yield _finding(
            entry,
            f"{source} changed since {path.name} was made (sha256 {digest[:12]}… "
            f"vs {str(header.digest)[:12]}… in the header)",
            None,
            fix,
        )
    snap = ctx.snapshot
    for pin in requested:
        req = pin.requirement
        if req.marker is not None and not req.marker.evaluate(snap.marker_env):
            continue
        version = parse_version(snap.version_of(pin.name))
        if version is None and (pin.constraint or is_kept(pin.name, ctx.provided)):
            continue  # a constraint on an absent package, or a package the lock leaves out by design
        if version is None or not req.specifier.contains(version, prereleases=True):
            have = f"{pin.name} {snap.version_of(pin.name)}" if version else f"no {pin.name}"
            kind = "constrains" if pin.constraint else "asks for"
            yield _finding(entry, f"{pin.source}:{pin.line} {kind} {req}, but {path.name} pins {have}", pin, fix)

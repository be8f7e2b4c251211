"""ED150 missing-api-reference: code that uses what the installed release of a library lacks.

The facts come from :mod:`envdoctor.surface` (the packages' own source, read with ``ast``);
this module turns each breakage into a finding with both sides' versions and pins.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.version import Version

from envdoctor.env.probe import canonical_name
from envdoctor.env.requirements import active_requirements, parse_version, requested_extras
from envdoctor.rules.base import Context, condition_holds, implements, pin_locations
from envdoctor.findings import Applicability, Finding, Fix, Location, Severity, hint, pip_install_fix
from envdoctor.knowledge.base import RuleEntry
from envdoctor.surface import crosscheck
from envdoctor.surface.boundary import Boundary
from envdoctor.surface.crosscheck import Breakage
from envdoctor.surface.query import IN_BODY, Query

if TYPE_CHECKING:
    from envdoctor.surface.project import ScriptBreakage


def failure(query: Query) -> str:
    """The exception Python raises when ``query`` is missing."""
    if query.kwarg:
        return "TypeError: unexpected keyword argument"
    if query.name is None:
        return "ModuleNotFoundError"
    return "ImportError / AttributeError"


def kept(name: str, ctx: Context) -> bool:
    """Whether the platform or the user owns ``name`` (fixes must not move it)."""
    return any(fnmatch.fnmatch(name, pattern) for pattern in ctx.keep)


def provider_fixes(provider: str, version: str, query: Query, boundary: Boundary | None,
                   unlisted: bool = False) -> list[Fix]:
    """Pins that move the provider into the range that has the symbol (a downgrade says so;
    ``unlisted``: the target does not pin the provider, so a pin is added, nothing moves)."""
    if boundary is None:
        return []
    fixes = []
    current = Version(version)
    if boundary.added_in and current < Version(boundary.added_in):
        title = (f"pin {provider}>={boundary.added_in}, the first release with `{query.describe()}`" if unlisted
                 else f"upgrade {provider} to {boundary.added_in}+, which has `{query.describe()}`")
        fixes.append(pip_install_fix(title, {provider: f">={boundary.added_in}"}, Applicability.UNSAFE))
    if boundary.removed_in and current >= Version(boundary.removed_in) and boundary.last_with:
        title = (f"pin {provider}<{boundary.removed_in} ({boundary.last_with} is the last release with "
                 f"`{query.describe()}`)" if unlisted else
                 f"downgrade {provider} to {boundary.last_with} (a downgrade: {provider} {boundary.removed_in} "
                 f"removed `{query.describe()}`)")
        fixes.append(pip_install_fix(title, {provider: f"<{boundary.removed_in}"}, Applicability.UNSAFE))
    return fixes


def breakage_fixes(b: Breakage, ctx: Context) -> tuple[Fix, ...]:
    """Upgrade the user of the API first, then move the provider; never a platform-owned package."""
    fixes = []
    if b.user_fixed_in:
        fixes.append(pip_install_fix(
            f"upgrade {b.user} to {b.user_fixed_in}+, the first release that no longer uses "
            f"`{b.reference.query.describe()}`",
            {b.user: f">={b.user_fixed_in}"}, Applicability.UNSAFE))
    fixes += provider_fixes(b.provider, b.provider_version, b.reference.query, b.boundary, b.admitted is not None)
    movable = tuple(f for f in fixes if not any(kept(name, ctx) for name in f.pins))
    if movable or not fixes:
        return movable
    return (hint(f"{', '.join(sorted({n for f in fixes for n in f.pins}))} is platform-owned: "
                 f"change the code that uses `{b.reference.query.describe()}` instead"),)


def curated_pairs(ctx: Context) -> set[tuple[str, str]]:
    """(user, provider) pairs a curated declarative rule already explains in this target."""
    pairs: set[tuple[str, str]] = set()
    for entry in ctx.kb.rules.values():
        if entry.check == "declarative":
            for case in entry.cases:
                if case.covers and condition_holds(case.when, ctx):
                    pairs.update(case.covers)
    return pairs


def declared_excluded(b: Breakage, ctx: Context) -> bool:
    """Whether the user's own metadata already excludes the provider's release (``numba 0.56.4``
    requires ``numpy<1.24``): ED001 reports that pair from the metadata, the authority on it."""
    user = ctx.snapshot.distributions.get(b.user)
    version = parse_version(b.provider_version)
    if user is None or version is None:
        return False
    extras = requested_extras(ctx.snapshot).get(b.user, ())
    return any(canonical_name(req.name) == b.provider and req.specifier
               and not req.specifier.contains(version, prereleases=True)
               for req in active_requirements(user, ctx.snapshot, extras))


def _location(b: Breakage, ctx: Context) -> tuple[Location, ...]:
    dist = ctx.snapshot.distributions.get(b.user)
    if dist is not None and dist.location and dist.location.endswith(".dist-info"):
        return (Location(str(Path(dist.location).parent / b.reference.path), b.reference.line),)
    return pin_locations(ctx.snapshot, (b.user, b.provider))


def had_it(query: Query, boundary: Boundary | None) -> bool | None:
    """Whether the finding stands: True when some release of the provider has the symbol (a real
    removal or addition: an error) or it is a keyword that no release's signature accepts (a
    signature reads exactly); False when no release has a module, name or attribute (the static
    reading cannot see it, e.g. a module built at run time: not reported); None when the release
    history was not read, or its bisection ran out of budget before finding a release with it (only a note)."""
    found = bool(query.kwarg or boundary.last_with or boundary.first_with or any(boundary.probed.values())) \
        if boundary is not None else None
    if boundary is None or not (found or boundary.complete):
        return None  # a bisection cut short by its budget has not shown that no release has it
    return found


def describe(boundary: Boundary | None) -> str:
    """The boundary's sentence, or why there is none yet."""
    if boundary is None:
        return "its release history was not bisected (offline or budget)"
    if not boundary.complete and not boundary.present:
        return ("its release history was not bisected within this run's time budget (the probes are kept: "
                "run `envdoctor check` again to go on)")
    return boundary.describe()


def reference_module(b: Breakage) -> str:
    """The dotted module of the file that makes the breaking reference."""
    return b.reference.path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def project_importer(b: Breakage, ctx: Context, imports: dict[str, tuple[Path, int]]) -> str | None:
    """``file:line imports `m``` when the project imports a module of ``b.user`` that loads the
    module making the breaking reference (so the project's run fails, though the public API does not)."""
    from envdoctor.surface import reach
    from envdoctor.surface.crosscheck import Releases

    release = Releases(ctx.snapshot, ctx.offline).get(b.user)
    if release is None:
        return None
    target = reference_module(b)
    for module, (path, line) in sorted(imports.items()):
        if module.split(".")[0] in release.top_level() and target in (reach.loaded_by(release, [module]) or ()):
            return f"{path.name}:{line} imports `{module}`"
    return None


def _provider_side(b: Breakage, detail: str) -> str:
    """What the provider's side lacks, for the message: its pinned release, or for a provider the
    file does not list, the release the pins' requirements admit."""
    requirement = f"`{b.provider}{b.spec}`" if b.spec else f"`{b.provider}` (no bound)"
    if b.admitted == "floor" and b.boundary is not None and b.boundary.added_in:
        return (f"which {b.provider} releases before {b.boundary.added_in} lack, though {requirement} admits them "
                f"({b.provider_version} is the newest without it; the file does not pin {b.provider}): "
                f"{b.user}'s declared range reaches below what its code needs")
    if b.admitted is not None:
        chosen = ("the newest release it admits, what a fresh install of the file gets" if b.admitted == "newest"
                  else "a release it admits")
        return (f"which {b.provider} {b.provider_version} does not have (the file does not pin {b.provider}; "
                f"{requirement} is what the pins require, {b.provider_version} {chosen}): {detail}")
    return f"which {b.provider} {b.provider_version} does not have: {detail}"


def breakage_finding(b: Breakage, ctx: Context, entry: RuleEntry, importer: str | None = None) -> Finding:
    """The finding for one cross-package breakage (``importer``: where the project loads a module
    that makes a reference the public API does not load)."""
    query = b.reference.query
    more = f" and {len(b.more)} more place{'s' if len(b.more) > 1 else ''}" if b.more else ""
    detail = describe(b.boundary)
    in_body = b.reference.guard == IN_BODY
    if in_body:
        fails = f"calling that function fails with {failure(query)} (importing {b.user} does not)"
    elif b.public is False and importer:
        fails = f"{importer}, which loads it: running it fails with {failure(query)}"
    elif b.public is False:
        module = reference_module(b)
        fails = (f"only code that imports `{module}` fails, with {failure(query)} (neither `import "
                 f"{module.split('.')[0]}` nor {b.user}'s public names load it)")
    else:
        fails = f"importing it fails with {failure(query)}"
    where = f"{b.reference.path}:{b.reference.line}{more}{', in a function body' if in_body else ''}"
    message = (f"{b.user} {b.user_version} uses `{query.describe()}` ({where}), "
               f"{_provider_side(b, detail)}; {fails}")
    evidence = [*entry.evidence, f"{b.provider} {b.provider_version} source: {b.answer.reason}"]
    if b.answer.message:
        evidence.append(f"{b.provider} says: {b.answer.message.splitlines()[0][:200]}")
    complete = b.boundary is not None and b.boundary.complete
    severity = None if had_it(b.reference.query, b.boundary) and not in_body else Severity.INFO
    if b.admitted == "floor" and not any(op in (b.spec or "") for op in (">", "~=", "==")):
        severity = Severity.INFO  # a requirement with no lower bound: how low an install goes is anyone's guess
    elif severity is None and (b.public is False and not importer or b.admitted == "floor"):
        severity = Severity.WARNING  # only some importers fail, or only an install held that low
    return entry.finding(message, severity=severity, packages=(b.user, b.provider), locations=_location(b, ctx),
                         evidence=tuple(evidence), fixes=breakage_fixes(b, ctx), covers=((b.user, b.provider),),
                         confidence="high" if complete else "medium")


def script_fixes(b: ScriptBreakage, ctx: Context) -> tuple[Fix, ...]:
    """Change the script (to the successor when the library's source names one), or move the library."""
    query = b.reference.query.describe()
    where = f"{b.file.name}:{b.reference.line}"
    if b.successor:
        first = hint(f"in {where}, use `{b.successor}` instead of `{query}` (the name {b.dist}'s own "
                     "deprecation message gives)")
    else:
        first = hint(f"change {where} so that it no longer uses `{query}`")
    moves = [f for f in provider_fixes(b.dist, b.version, b.reference.query, b.boundary)
             if not any(kept(name, ctx) for name in f.pins)]
    return (first, *moves)


def script_finding(b: ScriptBreakage, ctx: Context, entry: RuleEntry) -> Finding:
    """The finding for one use in the user's own file."""
    detail = describe(b.boundary)
    message = (f"{b.file.name}:{b.reference.line} uses `{b.reference.query.describe()}`, which {b.dist} {b.version} "
               f"does not have: {detail}; running it fails with {failure(b.reference.query)}")
    evidence = [*entry.evidence, f"{b.dist} {b.version} source: {b.answer.reason}"]
    if b.answer.message:
        evidence.append(f"{b.dist} says: {' '.join(b.answer.message.split())[:300]}")
    severity = None if had_it(b.reference.query, b.boundary) else Severity.INFO
    return entry.finding(message, severity=severity, packages=(b.dist,),
                         locations=(Location(str(b.file), b.reference.line),),
                         evidence=tuple(evidence), fixes=script_fixes(b, ctx),
                         confidence="high" if b.boundary and b.boundary.complete else "medium")


@implements("ED150")
def missing_api_reference(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """Cross-package references the target's releases lack, and the project's own uses (not for
    a pair whose declared requirement already excludes the provider's release)."""
    order = ctx.kb.tables.get("surface_first", {}).get("packages", [])
    result = crosscheck.check(ctx.snapshot, offline=ctx.offline, order=order)
    ctx.notes.extend(result.notes)
    covered = curated_pairs(ctx)
    scan = getattr(ctx.project, "scan", None)
    files = [f.path for f in scan.files if f.kind == "python"] if scan is not None else []
    imports: dict[str, tuple[Path, int]] | None = None
    for b in result.breakages:
        shown = had_it(b.reference.query, b.boundary)
        if b.reference.guard == IN_BODY and not (b.boundary and (b.boundary.last_with or b.boundary.first_with)):
            continue  # a call in a body is reported only where a release that had it was found
        if (b.user, b.provider) not in covered and shown is not False and not declared_excluded(b, ctx):
            importer = None
            if b.public is False and scan is not None:
                from envdoctor.surface import project

                imports = project.imported_modules(files, scan.root) if imports is None else imports
                importer = project_importer(b, ctx, imports)
            yield breakage_finding(b, ctx, entry, importer)
    if scan is not None:
        from envdoctor.surface import project

        for sb in project.script_breakages(files, scan.root, ctx.snapshot, ctx.offline):
            if had_it(sb.reference.query, sb.boundary) is not False:
                yield script_finding(sb, ctx, entry)

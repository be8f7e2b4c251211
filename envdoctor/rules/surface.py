"""ED150 missing-api-reference: code that uses what the installed release of a library lacks.

The facts come from :mod:`envdoctor.surface` (the packages' own source, read with ``ast``);
this module turns each breakage into a finding with both sides' versions and pins.
"""

from __future__ import annotations

import fnmatch
from dataclasses import replace
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.version import Version

from envdoctor.env.probe import canonical_name
from envdoctor.env.requirements import active_requirements, parse_version, requested_extras
from envdoctor.rules.base import Context, curated_pairs, implements, pin_locations
from envdoctor.findings import Applicability, Finding, Fix, Location, Severity, hint, pip_install_fix
from envdoctor.knowledge.base import RuleEntry
from envdoctor.surface import crosscheck
from envdoctor.surface.boundary import Boundary
from envdoctor.surface.crosscheck import Breakage, ModuleUse
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
    """Upgrade the user of the API first, then move the provider; never a platform-owned package.

    A gap below the user's declared floor on the provider (``admitted == "floor"``) gets only the
    provider's floor: moving the user to a release that stopped using the symbol (a major upgrade,
    often) fixes nothing a fresh install of the file hits."""
    fixes = []
    if b.user_fixed_in and b.admitted != "floor":
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


def cross_check(ctx: Context) -> crosscheck.CrossCheck:
    """The target's cross-package check, run once per check (ED150 and ED151 read it)."""
    if "crosscheck" not in ctx.extras:
        order = ctx.kb.tables.get("surface_first", {}).get("packages", [])
        ctx.extras["crosscheck"] = result = crosscheck.check(ctx.snapshot, offline=ctx.offline, order=order)
        ctx.notes.extend(result.notes)
    found: crosscheck.CrossCheck = ctx.extras["crosscheck"]
    return found


def _provider_side(b: Breakage, detail: str, here: str | None = None) -> str:
    """What the provider's side lacks, for the message: its pinned release, or for a provider the
    file does not list, the release the pins' requirements admit (``here``: the target's version of
    the provider when the index does not list it and another release answered for it)."""
    if b.undeclared:
        unlisted = (f"; the file does not pin {b.provider}, and {b.provider_version} is what a fresh install gets"
                    if b.admitted else "")
        return (f"which {b.provider} {b.provider_version} does not have ({b.user} does not declare {b.provider}, "
                f"it relies on the one installed{unlisted}): {detail}")
    if here is not None:
        return (f"which {b.provider} {b.provider_version} does not have (the target's {b.provider} {here} is not "
                f"on the index; {b.provider_version}, the release it builds towards, answered for it): {detail}")
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
    elif b.script:
        fails = (f"only running `{reference_module(b)}` as a script fails, with {failure(query)} (it has a "
                 f"`__main__` block, and {b.user}'s public names do not load it)")
    elif b.public is False and importer:
        fails = f"{importer}, which loads it: running it fails with {failure(query)}"
    elif b.public is False:
        module = reference_module(b)
        fails = (f"only code that imports `{module}` fails, with {failure(query)} (neither `import "
                 f"{module.split('.')[0]}` nor the names it exports load it)")
    else:
        fails = f"importing it fails with {failure(query)}"
    where = f"{b.reference.path}:{b.reference.line}{more}{', in a function body' if in_body else ''}"
    dist = ctx.snapshot.distributions.get(b.provider)
    here = dist.version if dist is not None and b.admitted is None and not _same(dist.version, b.provider_version) \
        else None
    message = (f"{b.user} {b.user_version} uses `{query.describe()}` ({where}), "
               f"{_provider_side(b, detail, here)}; {fails}")
    evidence = [*entry.evidence, f"{b.provider} {b.provider_version} source: {b.answer.reason}"]
    if b.answer.message:
        evidence.append(f"{b.provider} says: {b.answer.message.splitlines()[0][:200]}")
    complete = b.boundary is not None and b.boundary.complete
    severity = None if had_it(b.reference.query, b.boundary) and not in_body and not b.script else Severity.INFO
    if severity is None and (b.public is False and not importer or b.admitted == "floor" or here):
        severity = Severity.WARNING  # only some importers fail, only an install held that low, or a stand-in
    return entry.finding(message, severity=severity, packages=(b.user, b.provider), locations=_location(b, ctx),
                         evidence=tuple(evidence), fixes=breakage_fixes(b, ctx), covers=((b.user, b.provider),),
                         confidence="high" if complete else "medium")


def _same(left: str, right: str) -> bool:
    """Whether two version strings name one release."""
    a, b = parse_version(left), parse_version(right)
    return left == right if a is None or b is None else a.public == b.public  # a local build is its release


def merged(members: list[tuple[Breakage, Finding]], ctx: Context) -> Finding:
    """One finding for the names one file of A takes from B that B's release lacks (``from B.m
    import x, y, z``): the most severe member's, naming the others, with pins that fix them all."""
    members = sorted(members, key=lambda m: (m[1].severity.rank, m[0].reference.line))
    first, finding = members[0]
    others = [b.reference.query.describe() for b, _ in members[1:]]
    shown = ", ".join(f"`{name}`" for name in others[:4]) + (f" and {len(others) - 4} more" if len(others) > 4 else "")
    message = (f"{finding.message}; the same file also uses {shown}, which {first.provider} "
               f"{first.provider_version} lacks too")
    return replace(finding, message=message, fixes=group_fixes([b for b, _ in members], ctx),
                   evidence=tuple(dict.fromkeys(e for _, f in members for e in f.evidence)))


def group_fixes(group: list[Breakage], ctx: Context) -> tuple[Fix, ...]:
    """Pins that fix every breakage of ``group`` (one user, one provider): the user's release that
    makes none of the references, and the provider's release range that has all of the names."""
    first = group[0]
    fixes: list[Fix] = []
    fixed = [b.user_fixed_in for b in group]
    if all(fixed):
        newest = max((v for v in fixed if v), key=Version)
        fixes.append(pip_install_fix(f"upgrade {first.user} to {newest}+, the first release that uses none of "
                                     "these names", {first.user: f">={newest}"}, Applicability.UNSAFE))
    bounds = [b.boundary for b in group if b.boundary is not None]
    current = Version(first.provider_version)
    if len(bounds) == len(group):
        chosen: Boundary | None = None
        if all(x.added_in and current < Version(x.added_in) for x in bounds):
            chosen = max(bounds, key=lambda x: Version(x.added_in or "0"))
            if any(x.removed_in and Version(x.removed_in) <= Version(chosen.added_in or "0") for x in bounds):
                chosen = None  # one was gone before the last arrived: no release has them all
        elif all(x.removed_in and x.last_with and current >= Version(x.removed_in) for x in bounds):
            chosen = min(bounds, key=lambda x: Version(x.removed_in or "0"))
            if any(x.added_in and Version(x.added_in) > Version(chosen.last_with or "0") for x in bounds):
                chosen = None
        if chosen is not None:
            fixes += provider_fixes(first.provider, first.provider_version, chosen.query, chosen,
                                    first.admitted is not None)
    return tuple(f for f in fixes if not any(kept(name, ctx) for name in f.pins))


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
    result = cross_check(ctx)
    covered = curated_pairs(ctx)
    scan = getattr(ctx.project, "scan", None)
    files = [f.path for f in scan.files if f.kind == "python"] if scan is not None else []
    imports: dict[str, tuple[Path, int]] | None = None
    groups: dict[tuple[object, ...], list[tuple[Breakage, Finding]]] = {}
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
            key = (b.user, b.provider, b.admitted, b.reference.path, b.reference.guard, importer) \
                if b.reference.query.kwarg is None else (id(b),)  # a keyword's fix is its own
            groups.setdefault(key, []).append((b, breakage_finding(b, ctx, entry, importer)))
    for members in groups.values():
        yield members[0][1] if len(members) == 1 else merged(members, ctx)
    if scan is not None:
        from envdoctor.surface import project

        for sb in project.script_breakages(files, scan.root, ctx.snapshot, ctx.offline):
            if had_it(sb.reference.query, sb.boundary) is not False:
                yield script_finding(sb, ctx, entry)


def user_fixes(use: ModuleUse, ctx: Context) -> list[Fix]:
    """Upgrade the importer to its first release that no longer imports the module (when bisected)."""
    if not use.user_fixed_in or kept(use.user, ctx):
        return []
    return [pip_install_fix(f"upgrade {use.user} to {use.user_fixed_in}+, the first release that no longer imports "
                            f"`{use.module}`", {use.user: f">={use.user_fixed_in}"}, Applicability.UNSAFE)]


def use_locations(use: ModuleUse, ctx: Context) -> tuple[Location, ...]:
    """The importing file of an installed distribution, else the importer's pin."""
    dist = ctx.snapshot.distributions.get(use.user)
    if dist is not None and dist.location and dist.location.endswith(".dist-info"):
        return (Location(str(Path(dist.location).parent / use.reference.path), use.reference.line),)
    return pin_locations(ctx.snapshot, (use.user,))


def _where(use: ModuleUse) -> str:
    more = f" and {len(use.more)} more place{'s' if len(use.more) > 1 else ''}" if use.more else ""
    return f"{use.reference.path}:{use.reference.line}{more}"


def _scope(use: ModuleUse) -> str:
    return ("importing it fails with ModuleNotFoundError" if use.public is not False else
            f"only code that imports `{use.reference.path.removesuffix('.py').replace('/', '.')}` fails, with "
            "ModuleNotFoundError")


def stdlib_fixes(use: ModuleUse, ctx: Context, row: dict[str, str]) -> tuple[Fix, ...]:
    """Upgrade the importer first, then the backport the index ships, then an older Python."""
    from envdoctor.env import stdlib
    from envdoctor.surface.providers import providers

    fixes = user_fixes(use, ctx)
    spellings = stdlib.backport_spellings(use.module)
    backport = next((name for name in providers(use.module, spellings, offline=ctx.offline) if name in spellings),
                    None)
    if backport:
        fixes.append(pip_install_fix(f"install {backport}, which ships `{use.module}` again (`{backport}; "
                                     f"python_version >= '{use.removed}'` in requirements)", {backport: ""},
                                     Applicability.UNSAFE))
    fixes.append(hint("; ".join(filter(None, (f"or run it on Python <{use.removed}", row.get("instead"))))))
    return tuple(fixes)


@implements("ED151")
def removed_stdlib_import(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """Packages whose unconditional imports name a module the target's Python removed from the
    standard library (not one a distribution in the target ships again)."""
    from envdoctor.env import stdlib

    table = ctx.kb.tables.get("stdlib_removed", {})
    for use in cross_check(ctx).stdlib:
        row = table.get(use.module, {})
        again = row.get("distribution")
        if again and canonical_name(again) in ctx.snapshot.distributions:
            continue
        message = (f"{use.user} {use.user_version} imports `{use.module}` ({_where(use)}), which Python "
                   f"{use.removed} removed from the standard library ({stdlib.source(use.module or '')}); the "
                   f"target runs Python {ctx.snapshot.python_version}: {_scope(use)}")
        yield entry.finding(message, severity=None if use.public is not False else Severity.WARNING,
                            packages=(use.user,), locations=use_locations(use, ctx),
                            fixes=stdlib_fixes(use, ctx, row), confidence="high")


@implements("ED152")
def undeclared_absent_import(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """Packages whose import always imports a module that nothing the target installs ships (not
    declared, not installed, not brought in by any requirement), with the distribution the index
    says ships it."""
    for use in cross_check(ctx).absent:
        provider = use.provider or ""
        where = "the environment does not have it" if not ctx.snapshot.source.startswith("file:") else \
            "no pin of the file, nor anything they require, installs it"
        message = (f"{use.user} {use.user_version} imports `{use.module}` ({_where(use)}), which {provider} ships; "
                   f"{use.user} does not declare {provider} and {where}: {_scope(use)}")
        fixes = [*user_fixes(use, ctx),
                 pip_install_fix(f"{'or ' if use.user_fixed_in else ''}install {provider}, which ships `{use.module}`",
                                 {provider: ""}, Applicability.UNSAFE)]
        yield entry.finding(message, packages=(use.user, provider), locations=use_locations(use, ctx),
                            fixes=tuple(fixes), confidence="high")

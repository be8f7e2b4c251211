"""ED110 llamafactory-runtime-bounds: LLaMA-Factory's own import-time version checks.

The bounds are read from the installed ``llamafactory/extras/misc.py``
(``check_dependencies``), because they differ from its metadata and change from
commit to commit; for a lock file the knowledge-base table for the release is used.
"""

from __future__ import annotations

from collections.abc import Iterator

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet

from envdoctor.env.probe import canonical_name
from envdoctor.env.requirements import is_kept, parse_version
from envdoctor.env.torch_build import table_lookup
from envdoctor.findings import Applicability, Finding, Fix, Severity, pip_install_fix
from envdoctor.knowledge.base import RuleEntry
from envdoctor.rules.base import Context, implements



def bypass_values(ctx: Context, version: str) -> list[str]:
    """The DISABLE_VERSION_CHECK values (lower-cased) this LLaMA-Factory release honours."""
    rows = ctx.kb.tables["llamafactory_bypass"]["rows"]
    parsed = parse_version(version)
    return next((list(row["values"]) for row in rows
                 if parsed is not None and SpecifierSet(row["llamafactory"]).contains(parsed, prereleases=True)),
                list(rows[0]["values"]))


def runtime_requirements(ctx: Context) -> tuple[list[str], str]:
    """LLaMA-Factory's runtime requirement strings and where they were read."""
    lf = ctx.snapshot.distributions["llamafactory"]
    if lf.runtime_requirements:
        return list(lf.runtime_requirements), "its installed extras/misc.py"
    rows = ctx.kb.tables["llamafactory_runtime"]["rows"]
    found = table_lookup(rows, "llamafactory", lf.version, "requires")
    return (found.split(";") if found else []), "the knowledge base for this release"


@implements("ED110")
def llamafactory_runtime_bounds(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """Each package LLaMA-Factory checks at import lies inside its runtime bounds."""
    snap = ctx.snapshot
    lf = snap.distributions.get("llamafactory")
    if lf is None:
        return
    bypass = snap.environ.get("DISABLE_VERSION_CHECK", "").lower() in bypass_values(ctx, lf.version)
    texts, origin = runtime_requirements(ctx)
    for text in texts:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue
        name = canonical_name(req.name)
        installed = snap.version_of(name)
        version = parse_version(installed)
        if version is None or req.specifier.contains(version, prereleases=True):
            continue
        quote = f"{text} is required for a normal functioning of this module, but found {name}=={installed}."
        if bypass:
            yield entry.finding(
                f"DISABLE_VERSION_CHECK is set, so LLaMA-Factory {lf.version} will not stop on "
                f"{name} {installed}, which is outside its tested range {req.specifier}",
                severity=Severity.WARNING,
                packages=("llamafactory", name),
                covers=(("llamafactory", name),),
            )
            continue
        fixes = []
        if not is_kept(name, ctx.keep):
            fixes.append(
                pip_install_fix(
                    f"pin {name} into LLaMA-Factory's runtime range", {name: str(req.specifier)}, Applicability.UNSAFE
                )
            )
        fixes.append(
            Fix(
                title=f"or skip LLaMA-Factory's check (keeps {name} {installed}; untested by LLaMA-Factory)",
                applicability=Applicability.UNSAFE,
                env={"DISABLE_VERSION_CHECK": "1"},
            )
        )
        yield entry.finding(
            f"llamafactory {lf.version} checks {name}{req.specifier} at import ({origin}), but {name} "
            f"{installed} is installed: `llamafactory-cli` stops with this ImportError",
            packages=("llamafactory", name),
            covers=(("llamafactory", name),),
            quotes=(quote,),
            fixes=tuple(fixes),
        )

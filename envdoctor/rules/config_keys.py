"""ED242 unknown-config-key: a LLaMA-Factory or accelerate config key the target's release does not take.

The accepted keys come from :mod:`envdoctor.surface.schema` (the dataclasses each loader takes,
read from the target's releases); where a key went comes from bisecting each class's release
history (:func:`envdoctor.surface.bisect.find_boundary`).  The knowledge base only says where
each loader names its classes (table ``config_loaders``) and how it fails.
"""

from __future__ import annotations

import difflib
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from envdoctor.env.probe import canonical_name
from envdoctor.findings import Applicability, FileEdit, Finding, Fix, Location, hint, pip_install_fix
from envdoctor.knowledge.base import RuleEntry
from envdoctor.project.facts import display_path
from envdoctor.rules.base import Context, implements
from envdoctor.surface.boundary import Boundary
from envdoctor.surface.catalog import ReleaseSymbols
from envdoctor.surface.crosscheck import Releases, dependencies
from envdoctor.surface.query import Query
from envdoctor.surface.schema import ConfigSchema, read_schema

BISECT_BUDGET_S = 20.0  # all keys of one run together; probes are cached for the next
CLOSE_MATCH = 0.8


@dataclass(frozen=True)
class ConfigFile:
    """One config a loader reads: its keys' values and lines, and how they were given."""

    tool: str
    path: Path
    values: Mapping[str, Any]
    lines: Mapping[str, tuple[int, str]]
    flags: bool = False  # command-line flags of a launch line, not a file


def config_files(ctx: Context) -> Iterator[ConfigFile]:
    """--llamafactory FILE, the LLaMA-Factory YAMLs and launch lines found, accelerate configs found."""
    project = ctx.project
    if project is None:
        return
    for lf in (project.llamafactory, *project.found_llamafactory):
        if lf is not None:
            yield ConfigFile("llamafactory", lf.path, lf.values, lf.lines, flags=lf.style == "cli")
    for acc in project.found_accelerate:
        yield ConfigFile("accelerate", acc.path, acc.values, acc.lines)


class Schemas:
    """Opens the target's releases once and reads each loader's schema once per run."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.releases = Releases(ctx.snapshot, ctx.offline)
        self.read: dict[str, ConfigSchema | None] = {}

    def release(self, dist: str) -> ReleaseSymbols | None:
        """The target's release of ``dist`` (None when it is not in the target or unreadable)."""
        return self.releases.get(dist) if dist in self.ctx.snapshot.distributions else None

    def owner(self, loader: str, top: str) -> str | None:
        """The target's distribution that provides top-level package ``top``: the one named like
        it, else one ``loader`` depends on that ships it."""
        snap = self.ctx.snapshot
        named = canonical_name(top)
        candidates = [named] if named in snap.distributions else []
        candidates += [d for d in dependencies(snap.distributions[loader], snap) if d != named]
        for name in candidates:
            release = self.release(name)
            if release is not None and top in release.top_level():
                return name
        return None

    def schema(self, row: Mapping[str, str]) -> ConfigSchema | None:
        """The schema of one ``config_loaders`` row in this target."""
        dist = row["dist"]
        if dist not in self.read:
            self.read[dist] = read_schema(self.release, lambda top: self.owner(dist, top), dist, row["module"],
                                          row["entry"]) if dist in self.ctx.snapshot.distributions else None
        return self.read[dist]


def _rename_fix(config: ConfigFile, key: str, new: str, applicability: Applicability, title: str) -> Fix:
    """An edit of the key's own line: ``old:`` -> ``new:`` (or ``--old`` -> ``--new`` on a launch line)."""
    line = config.lines.get(key)
    if line is None:
        return hint(title)
    _, text = line
    pattern = rf"(--){re.escape(key)}\b" if config.flags else rf"^(\s*){re.escape(key)}(?=\s*:)"
    new_text = re.sub(pattern, lambda m: m.group(1) + new, text, count=1)
    if new_text == text:
        return hint(title)
    return Fix(title=title, applicability=applicability,
               edits=(FileEdit(path=str(config.path.resolve()), action="replace", old=text, new=new_text),))


def _newer(left: str | None, right: str | None) -> bool:
    try:
        return left is not None and right is not None and Version(left) > Version(right)
    except InvalidVersion:
        return False


class History:
    """Where a key is among the releases of the classes that could take it (bisected, bounded)."""

    def __init__(self, schemas: Schemas) -> None:
        self.schemas = schemas
        self.deadline: float | None = None

    def boundary(self, schema: ConfigSchema, key: str) -> Boundary | None:
        """The first of the schema's classes some release of which takes ``key``."""
        from envdoctor.surface import bisect

        ctx = self.schemas.ctx
        self.deadline = self.deadline or time.monotonic() + BISECT_BUDGET_S
        for head in schema.heads:
            left = self.deadline - time.monotonic()
            if left <= 0 and not ctx.offline:
                return None
            found = bisect.find_boundary(head.dist, Query(head.module, head.name, kwarg=key),
                                         around=ctx.snapshot.version_of(head.dist), offline=ctx.offline,
                                         index_urls=() if ctx.offline else self.schemas.releases.index_urls,
                                         progress=None, time_budget_s=max(0.0, left))
            if found is not None and found.present:
                return found
        return None


def key_fixes(config: ConfigFile, key: str, schema: ConfigSchema, boundary: Boundary | None,
              installed: str | None) -> tuple[Fix, ...]:
    """The library's named successor, else the release range that takes the key, else the closest key."""
    fixes: list[Fix] = []
    spelled = (lambda k: f"--{k}") if config.flags else (lambda k: f"{k}:")
    if boundary is not None and boundary.successor and schema.accepts(boundary.successor):
        fixes.append(_rename_fix(config, key, boundary.successor, Applicability.SAFE,
                                 f"rename {spelled(key)} to {spelled(boundary.successor)} (the successor "
                                 f"{boundary.dist}'s own deprecation message names)"))
    close = difflib.get_close_matches(key, sorted(schema.keys), n=1, cutoff=CLOSE_MATCH)
    if boundary is not None:
        version = installed or ""
        if boundary.added_in and (not version or _newer(boundary.added_in, version)):
            fixes.append(pip_install_fix(f"upgrade {boundary.dist} to {boundary.added_in}+, the first release "
                                         f"that takes {key}", {boundary.dist: f">={boundary.added_in}"},
                                         Applicability.UNSAFE))
        elif boundary.removed_in and boundary.last_with and not fixes and not close:
            fixes.append(pip_install_fix(f"downgrade {boundary.dist} to {boundary.last_with} (a downgrade: "
                                         f"{boundary.removed_in} removed {key})",
                                         {boundary.dist: f"<{boundary.removed_in}"}, Applicability.UNSAFE))
    if close and not any(f.edits for f in fixes):
        fixes.insert(0, _rename_fix(config, key, close[0], Applicability.UNSAFE,
                                    f"did you mean {spelled(close[0])}? rename {spelled(key)}"))
    if not fixes:
        fixes.append(hint(f"remove {spelled(key)} from {config.path.name}: no release of the classes "
                          f"{config.tool} reads its config into takes it"))
    return tuple(fixes)


@implements("ED242")
def unknown_config_key(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """Keys of the project's LLaMA-Factory and accelerate configs that the target's releases do not take."""
    files = list(config_files(ctx))
    if not files:
        return
    rows = {row["tool"]: row for row in ctx.kb.tables["config_loaders"]["rows"]}
    schemas = Schemas(ctx)
    history = History(schemas)
    for config in files:
        row = rows[config.tool]
        schema = schemas.schema(row)
        if schema is None or not schema.complete:
            continue  # not in the target, another layout, or a base that cannot be read: nothing is proven
        unknown = [str(k) for k in config.values if not schema.accepts(str(k))]
        if not unknown:
            continue
        installed = ctx.snapshot.version_of(row["dist"])
        with_provider = sorted({h.dist for h in schema.heads} - {row["dist"]})
        versions = ", ".join(f"{d} {ctx.snapshot.version_of(d)}" for d in with_provider)
        template = row["flags"] if config.flags and "flags" in row else row["keys"]
        failure = template.format(keys=", ".join(repr(f"--{k}" if config.flags else k) for k in unknown),
                                  path=config.path.name)
        for key in unknown:
            boundary = history.boundary(schema, key)
            line = config.lines.get(key, (None, ""))[0]
            where = f"{display_path(config.path)}{f':{line}' if line else ''}"
            detail = f"; {boundary.describe()}" if boundary is not None else "; no release checked takes it"
            message = (f"{where}: `{key}` is not an argument {row['dist']} {installed} takes (fields of "
                       f"{', '.join(schema.roots)} and their bases{f', with {versions}' if versions else ''}): "
                       f"it stops with \"{failure}\"{detail}")
            yield entry.finding(message, packages=(row["dist"], *with_provider),
                                locations=(Location(display_path(config.path), line),),
                                fixes=key_fixes(config, key, schema, boundary,
                                                ctx.snapshot.version_of(boundary.dist) if boundary else installed),
                                confidence="high" if boundary is None or boundary.complete else "medium")

"""Family: a config loader rejected keys — `Some keys are not used by the HfArgumentParser: [...]`,
accelerate's `had unknown keys ([...])`.

The keys are read from the line; the classes that could take them are the loader's own (read from
the target's releases by :mod:`envdoctor.surface.schema`, as ED242 does for a config file), else the
public ones (transformers' ``Seq2SeqTrainingArguments``, accelerate's ``ClusterConfig``).  Each key
is looked up in those classes' release history: renamed (the successor the library's own message
names), removed in which release, added in which, or in no release at all (a typo).
"""

from __future__ import annotations

import re

from envdoctor.explain import api_surface
from envdoctor.explain.blame import group_frames, provider_side, version_in
from envdoctor.explain.diagnosis import HIGH, MEDIUM, Diagnosis, Evidence, explains, say, stale
from envdoctor.explain.extractors import HitGroup
from envdoctor.findings import Fix
from envdoctor.knowledge.base import RuleEntry
from envdoctor.rules.config_keys import Schemas
from envdoctor.surface.schema import ConfigSchema, Head

# The classes a loader takes when the target cannot be read: the public names (stable across releases).
PUBLIC_HEADS = {
    "accelerate": (Head("accelerate", "accelerate.commands.config.config_args", "ClusterConfig"),),
    "llamafactory": (Head("transformers", "transformers", "Seq2SeqTrainingArguments"),),
}
MAX_KEYS = 6


def _tool(group: HitGroup) -> str:
    """Which loader raised: accelerate by its wording, else LLaMA-Factory's (or a script's) HfArgumentParser."""
    return "accelerate" if "unknown keys" in group.occurrences[0].text else "llamafactory"


def _schema(tool: str, ev: Evidence) -> ConfigSchema | None:
    if ev.ctx is None or tool not in ev.ctx.snapshot.distributions:
        return None
    rows = {row["tool"]: row for row in ev.ctx.kb.tables["config_loaders"]["rows"]}
    return Schemas(ev.ctx).schema(rows[tool])


def _key(key: str, tool: str, heads: tuple[Head, ...], ev: Evidence) -> tuple[str, list[Fix], bool]:
    """What the release history says about one key: text, fixes, and whether it was found anywhere."""
    for head in heads:
        installed = ev.installed(head.dist)
        found = api_surface.boundary(head.dist, head.module, name=head.name, kwarg=key, around=installed,
                                     offline=ev.offline)
        if found is None or not found.present:
            continue
        current = version_in(installed, found.present) if installed else found.removed_in is None
        if current and head.dist != tool:  # the loader's own classes lack it, the training classes have it
            return (f"`{key}` is a {head.name} field ({found.text}), which the command that raised does not "
                    "parse", [say(f"run this config with `{tool}-cli train` (chat, eval, export and webchat take "
                                  "other argument classes), or drop its training keys")], True)
        fixes: list[Fix] = []
        if found.successor:
            fixes.append(say(f"rename `{key}` to `{found.successor}` in the config (the successor {head.dist} names)"))
        side = provider_side(head.dist, found, installed)
        if side is not None:
            fixes.append(side.fix())
        return f"`{key}`: {found.text}", fixes, True
    return f"`{key}` is in no release checked of {', '.join(h.name for h in heads)} (a typo?)", [], False


@explains("ED614")
def unused_keys(group: HitGroup, entry: RuleEntry, ev: Evidence) -> Diagnosis:
    """Keys a config loader rejected: where each went among the releases of the classes that take keys."""
    keys = [k.lstrip("-") for k in re.findall(r"'([^']{1,200})'", group.groups.get("keys", ""))][:MAX_KEYS]
    tool = _tool(group)
    schema = _schema(tool, ev)
    culprits = tuple(dict.fromkeys([tool, *(h.dist for h in schema.heads)] if schema else
                                   [tool, *(h.dist for h in PUBLIC_HEADS[tool])]))
    if schema is not None and schema.complete and keys and all(schema.accepts(k) for k in keys):
        version = ev.installed(tool)
        return Diagnosis(stale(f"{tool} {version} takes {', '.join(f'`{k}`' for k in keys)}"), MEDIUM, (), culprits)
    heads = schema.heads if schema is not None else PUBLIC_HEADS[tool]
    parts: list[str] = []
    fixes: list[Fix] = []
    known = 0
    for key in keys:
        if schema is not None and schema.accepts(key):
            continue
        text, more, found = _key(key, tool, heads, ev)
        parts.append(text)
        fixes += more
        known += found
    frames = {f.top for f in group_frames(group) if f.top}
    where = f"{tool} {ev.installed(tool)}" if ev.installed(tool) else tool
    lead = (f"{where}'s config loader rejects keys its argument classes do not have"
            f"{' (' + ', '.join(schema.roots) + ')' if schema else ''}")
    if not keys:
        return Diagnosis(f"{lead}; rename or remove them (`envdoctor check` reads them from your config)", MEDIUM,
                         (say("run `envdoctor check --llamafactory YOUR.yaml` to see each key's fate"),), culprits)
    fixes = list({fix.title: fix for fix in fixes}.values())
    if not fixes:
        fixes.append(say("fix the spelling of each key, or remove it (`envdoctor check` suggests the closest key)"))
    confidence = HIGH if known == len(parts) and (schema is not None or tool in frames) else MEDIUM
    return Diagnosis(f"{lead}: {'; '.join(parts)}", confidence, tuple(fixes), culprits)

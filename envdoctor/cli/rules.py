"""`envdoctor rules [CODE]`: list the rules or print one rule's documentation."""

from __future__ import annotations

import json

import click

from envdoctor.errors import InputError


@click.command()
@click.argument("rule", required=False)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def rules(rule: str | None, fmt: str) -> None:
    """List every rule, or print one rule's documentation (by code or name)."""
    from envdoctor.knowledge import base as knowledge

    kb = knowledge.load()
    if rule is not None:
        entry = kb.by_name_or_code(rule)
        if entry is None:
            raise InputError(f"no rule {rule!r}; `envdoctor rules` lists them all")
        if fmt == "json":
            click.echo(json.dumps({"code": entry.code, "name": entry.name, "severity": entry.severity.value,
                                   "docs": entry.docs(), "evidence": list(entry.evidence)}, indent=2))
        else:
            click.echo(entry.docs(), nl=False)
        return
    entries = sorted(kb.rules.values(), key=lambda e: e.code)
    if fmt == "json":
        click.echo(json.dumps([{"code": e.code, "name": e.name, "severity": e.severity.value,
                                "summary": e.summary} for e in entries], indent=2))
        return
    width = max(len(e.name) for e in entries)
    for e in entries:
        click.echo(f"{e.code}  {e.name:<{width}}  {e.severity.value:<7}  {e.summary}")

"""Render findings as text (for people), JSON (for tools) or SARIF (for code scanning)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import IO, Any

import click

from envdoctor import __version__
from envdoctor.env import notebook
from envdoctor.findings import Finding, Severity
from envdoctor.knowledge.base import RuleEntry

JSON_SCHEMA_VERSION = 1
MARKS = {Severity.ERROR: ("✗", "red"), Severity.WARNING: ("!", "yellow"), Severity.INFO: ("i", "cyan")}
SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def use_color(stream: IO[str]) -> bool:
    """Colour for ``stream``: it is a TTY and ``NO_COLOR`` (https://no-color.org) is unset or empty."""
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def exit_code(findings: Sequence[Finding], strict: bool = False) -> int:
    """0 clean, 1 errors (or warnings with ``strict``), 2 internal error."""
    if any(f.code == "ED000" for f in findings):
        return 2
    if any(f.severity is Severity.ERROR for f in findings):
        return 1
    if strict and any(f.severity is Severity.WARNING for f in findings):
        return 1
    return 0


def _command_text(argv: Sequence[str], python: str) -> str:
    import shlex

    return " ".join(shlex.quote(a.replace("{python}", python)) for a in argv)


def render_text(findings: Sequence[Finding], header: str, python: str, notes: Sequence[str] = (),
                color: bool = False, fixable: int = 0) -> str:
    """The human report: a mark, the code and the message per finding, then its fixes; the closing
    line points to `envdoctor fix` only when ``fixable`` (findings its plan acts on) is not zero."""
    def style(text: str, **kw: Any) -> str:
        return click.style(text, **kw) if color else text

    lines = [style(header, bold=True)]
    lines += [style(f"  note: {n}", dim=True) for n in notes]
    for f in findings:
        mark, colour = MARKS[f.severity]
        lines.append(f"{style(mark, fg=colour, bold=True)} {style(f.code, bold=True)} {f.message}")
        for loc in f.locations:
            lines.append(f"    at {loc}")
        for quote in f.quotes:
            lines.append(f"    > {quote}")
        for item in f.inferred:
            lines.append(f"    inferred: {item}")
        for fix in f.fixes:
            lines.append(f"    fix ({fix.applicability.value}): {fix.title}")
            for cmd in fix.commands:
                lines.append("      $ " + _command_text(cmd, python))
            for key, value in sorted(fix.env.items()):
                lines.append(f"      env {key}={value}")
    counts = {s: sum(f.severity is s for f in findings) for s in Severity}
    if not findings:
        lines.append(style("✓ no problems found", fg="green", bold=True))
    else:
        summary = f"{counts[Severity.ERROR]} error(s), {counts[Severity.WARNING]} warning(s), {counts[Severity.INFO]} note(s)"
        lines.append(style(summary, bold=True) + (
            f"; {fixable} with a safe fix: run `{notebook.command_line(['envdoctor', 'fix'])}` (with the same options) "
            f"to see the plan, `{notebook.command_line(['envdoctor', 'fix', '--apply'], confirm=True)}` to apply it"
            if fixable else
            "; read a rule with `envdoctor rules CODE`"))
    return "\n".join(lines)


def render_json(findings: Sequence[Finding], target: dict[str, Any], notes: Sequence[str] = (),
                strict: bool = False) -> str:
    """The JSON document described in README ('JSON output')."""
    doc = {
        "schema_version": JSON_SCHEMA_VERSION,
        "tool": {"name": "envdoctor", "version": __version__},
        "target": target,
        "notes": list(notes),
        "summary": {s.value: sum(f.severity is s for f in findings) for s in Severity},
        "exit_code": exit_code(findings, strict),
        "findings": [f.to_dict() for f in findings],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False)


def _artifact_uri(path: str) -> str:
    """A SARIF ``uri-reference`` for a file path: ``file:`` URI when absolute, percent-encoded when relative."""
    from pathlib import PurePath
    from urllib.parse import quote

    pure = PurePath(path)
    return pure.as_uri() if pure.is_absolute() else quote(pure.as_posix())


def render_sarif(findings: Sequence[Finding], rules: Sequence[RuleEntry], artifact: str,
                 target: dict[str, Any] | None = None) -> str:
    """SARIF 2.1.0 for GitHub code scanning; findings without a file point at ``artifact``;
    ``target`` (what was checked: the interpreter, Python, platform) goes to the run's properties.

    A rule's ``helpUri`` is its documentation page (envdoctor.knowledge.docs); its evidence and a
    finding's fixes are in ``properties``."""
    from envdoctor.knowledge.docs import REPOSITORY_URL, help_uri

    used = sorted({f.code for f in findings})
    by_code = {r.code: r for r in rules}
    descriptors = []
    for code in used:
        entry = by_code.get(code)
        if entry is None:
            descriptors.append({"id": code, "name": "internal-error",
                                "shortDescription": {"text": "a rule crashed"}})
            continue
        descriptors.append({
            "id": code,
            "name": entry.name,
            "shortDescription": {"text": entry.summary},
            "fullDescription": {"text": entry.docs()},
            "help": {"text": entry.docs(), "markdown": entry.docs()},
            "helpUri": help_uri(code),
            "defaultConfiguration": {"level": SARIF_LEVEL[entry.severity]},
            "properties": {"evidence": list(entry.evidence), "tags": [entry.severity.value]},
        })
    index = {code: i for i, code in enumerate(used)}
    results = []
    for f in findings:
        locs = f.locations or ()
        physical = [{"physicalLocation": {"artifactLocation": {"uri": _artifact_uri(loc.path)},
                                          **({"region": {"startLine": loc.line}} if loc.line else {})}}
                    for loc in locs] or [{"physicalLocation": {"artifactLocation": {"uri": _artifact_uri(artifact)}}}]
        text = f.message + "".join(f" [inferred: {item}]" for item in f.inferred)
        results.append({"ruleId": f.code, "ruleIndex": index[f.code], "level": SARIF_LEVEL[f.severity],
                        "message": {"text": text}, "locations": physical,
                        "properties": {"evidence": list(f.evidence),
                                       "fixes": [{"title": x.title, "applicability": x.applicability.value}
                                                 for x in f.fixes],
                                       **({"inferred": list(f.inferred)} if f.inferred else {})}})
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "envdoctor", "version": __version__,
                                      "informationUri": REPOSITORY_URL,
                                      "rules": descriptors}},
                  "results": results, **({"properties": {"target": target}} if target else {})}],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False)

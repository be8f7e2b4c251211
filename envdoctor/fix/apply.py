"""`envdoctor fix` and `envdoctor rollback`: plan fixes, apply them as a transaction, undo them.

`fix` shows the plan; `fix --apply` applies it (asking first on a terminal,
refusing without ``--yes`` elsewhere), re-checks, and rolls back by itself when
pip fails or the re-check finds new errors.  `rollback` undoes the last apply.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from envdoctor.env import notebook
from envdoctor.fix.plan import Plan
from envdoctor.fix.transaction import APPLIED, Outcome

def render_plan(plan: Plan) -> str:
    """The plan for people: fixes chosen, commands, edits, env and what was skipped."""
    lines = [f"envdoctor fix · {plan.python}"]
    lines += [f"  fix {item}" for item in plan.chosen]
    for argv in plan.argv(Path("<state>/constraints.txt")):
        lines.append("  $ " + shlex.join(argv))
    lines += [f"  edit {e.path} ({e.action}{' from ' + e.encoding if e.encoding else ''})" for e in plan.edits]
    if plan.constraints:
        lines.append(f"  kept (pip constraints): {', '.join(plan.constraints)}")
    lines += [f"  set {k}={v} when you run the training (envdoctor does not set it)" for k, v in sorted(plan.env.items())]
    lines += [f"  skipped {item}" for item in plan.skipped]
    if plan.empty:
        lines.append("nothing to apply" + ("; the skipped fixes above need you" if plan.skipped else ""))
    return "\n".join(lines)


def render_outcome(outcome: Outcome, python: str | None, restart: str | None = None) -> str:
    """What happened, where the state is, what to restart, and what to do next."""
    lines = [f"  {change}" for change in outcome.changes]
    if outcome.status == APPLIED:
        lines.insert(0, f"applied; the re-check found no new errors. State: {outcome.folder}")
        undo = ["envdoctor", "rollback", *(["--python", python] if python else [])]
        lines.append(f"undo it with `{notebook.command_line(undo, confirm=True)}`")
        if restart:
            lines.append(restart)
        return "\n".join(lines)
    lines = [f"rolled back automatically: {outcome.reason}", f"state: {outcome.folder}"]
    lines += [f"  undone {change}" for change in outcome.changes]
    if outcome.leftover:
        lines.append("could NOT restore (reinstall these by hand from freeze.txt in the state folder):")
        lines += [f"  {item}" for item in outcome.leftover]
    else:
        lines.append("the environment is back to its exact previous `pip freeze` and file bytes")
    if restart:
        lines.append(restart)
    return "\n".join(lines)


def _version_of(line: str) -> str:
    """The version (or URL) a freeze line pins."""
    for separator in ("===", "==", " @ "):
        if separator in line:
            return line.split(separator, 1)[1].strip()
    return line


def undo_lines(changes: list[str]) -> list[str]:
    """A transaction's changes (``name: old -> new`` freeze lines) as what a rollback does to each:
    ``bitsandbytes 0.45.1 -> 0.44.1 (restored)``, ``foo 1.0 (removed)``, ``bar 2.0 (reinstalled)``."""
    lines = []
    for change in changes:
        name, _, rest = change.partition(": ")
        old, _, new = rest.rpartition(" -> ")
        if old == "absent":
            lines.append(f"{name} {_version_of(new)} (removed)")
        elif new == "absent":
            lines.append(f"{name} {_version_of(old)} (reinstalled)")
        else:
            lines.append(f"{name} {_version_of(new)} -> {_version_of(old)} (restored)")
    return lines

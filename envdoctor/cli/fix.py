"""`envdoctor fix` and `envdoctor rollback`: the click commands over :mod:`envdoctor.fix.apply`."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
from pathlib import Path

import click

from envdoctor.engine.check import CheckRequest, build_context, run_check
from envdoctor.errors import InputError
from envdoctor.fix.apply import render_outcome, render_plan
from envdoctor.fix.plan import from_findings, from_lock
from envdoctor.fix.transaction import APPLIED, Progress, Transaction, apply, undo


def _progress(enabled: bool) -> Progress:
    """Print steps to stderr on a terminal; stay quiet in CI and JSON mode."""
    def report(message: str) -> None:
        if enabled:
            click.echo(click.style(f"… {message}", dim=True), err=True)
    return report


def _confirm(question: str, yes: bool) -> None:
    """Go on with ``--yes``; ask on a terminal; refuse in one line otherwise."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise InputError("not a terminal, so nobody can confirm: pass --yes to apply without asking")
    if not click.confirm(question, default=False):
        raise click.exceptions.Abort()


@click.command("fix")
@click.option("--python", "python", metavar="PATH", help="Fix another interpreter (a venv's python).")
@click.option("--apply", "do_apply", is_flag=True, help="Apply the plan (default: only show it).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (needed when not on a terminal).")
@click.option("--unsafe", is_flag=True, help="Include unsafe fixes (they may move packages others need).")
@click.option("--to", "lock", type=click.Path(path_type=Path), metavar="LOCK",
              help="Plan the moves to the exact pins of a lock file instead of fixing findings.")
@click.option("--keep", multiple=True, metavar="PKG", help="A package the fix must not move (repeatable).")
@click.option("--path", "project_path", type=click.Path(path_type=Path), default=None,
              help="Project folder whose files the fixes may edit (default: the current folder).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def fix_command(python: str | None, do_apply: bool, yes: bool, unsafe: bool, lock: Path | None,
                keep: tuple[str, ...], project_path: Path | None, fmt: str) -> None:
    """Plan the fixes for the current findings, or --apply them with a backup and a way back.

    Exit codes: 0 applied (or plan shown), 1 rolled back, 2 bad input.
    """
    if python is not None:
        python = os.path.abspath(shutil.which(python) or python if os.sep not in python else python)
    request = CheckRequest(python=python, project_path=project_path, keep=keep, quiet=fmt != "text")
    result = run_check(request)
    before, snap = result.findings, result.snapshot
    keep_all = sorted(build_context(request, snap=snap).keep)
    plan = (from_lock(lock, snap, keep_all, unsafe) if lock is not None
            else from_findings(before, snap, keep_all, unsafe))
    if not do_apply or plan.empty:
        click.echo(json.dumps({"plan": plan.to_dict()}, indent=2) if fmt == "json" else render_plan(plan))
        if fmt == "text" and not plan.empty:
            extra = [*(["--to", str(lock)] if lock else []), *(["--python", python] if python else []),
                     *(["--unsafe"] if unsafe else [])]
            click.echo(f"apply it with `{shlex.join(['envdoctor', 'fix', '--apply', *extra])}`")
        return
    if fmt == "text":
        click.echo(render_plan(plan))
    _confirm("apply this plan?", yes)
    progress = _progress(fmt == "text" and sys.stderr.isatty())
    outcome = apply(plan, snap, before, lambda: run_check(request).findings, progress,
                    base=project_path or Path("."))
    if fmt == "json":
        click.echo(json.dumps({"plan": plan.to_dict(), "result": outcome.to_dict()}, indent=2))
    else:
        click.echo(render_outcome(outcome, snap.runtime, python))
    sys.exit(0 if outcome.status == APPLIED else 1)


@click.command("rollback")
@click.option("--python", "python", metavar="PATH",
              help="Undo the last apply on this interpreter (default: the one running envdoctor).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (needed when not on a terminal).")
def rollback_command(python: str | None, yes: bool) -> None:
    """Undo the last `envdoctor fix --apply`: the exact previous `pip freeze` and file bytes.

    Exit codes: 0 restored, 1 some packages could not be restored, 2 nothing to undo.
    """
    def show(tx: Transaction) -> None:
        left = " (left `started` by an envdoctor that stopped; undone from its saved freeze)" \
            if tx.status == "started" else ""
        click.echo(f"undo {tx.folder.name} on {tx.python}{left}:")
        click.echo("\n".join(f"  {change}" for change in tx.changes) or "  (no package changes recorded)")
        _confirm("roll back?", yes)

    tx, leftover = undo(python, show, _progress(sys.stderr.isatty()))
    if leftover:
        click.echo("could NOT restore (reinstall these by hand from freeze.txt in the state folder):")
        click.echo("\n".join(f"  {item}" for item in leftover))
        click.echo(f"state: {tx.folder}")
        sys.exit(1)
    click.echo(f"restored the exact previous `pip freeze` and file bytes (state: {tx.folder})")

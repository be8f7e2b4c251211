"""`envdoctor fix` and `envdoctor rollback`: the click commands over :mod:`envdoctor.fix.apply`."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import click

from envdoctor.cli.options import no_project_conflicts, project_options, selection_options, target_options
from envdoctor.engine.check import CheckRequest, build_keep, run_check
from envdoctor.env import notebook
from envdoctor.env.snapshot import load_json
from envdoctor.env.target import kernel_python
from envdoctor.errors import ExitCode, InputError
from envdoctor.fix import restart
from envdoctor.fix.apply import render_outcome, render_plan, undo_lines
from envdoctor.fix.plan import from_findings, from_lock, interpreter_mismatch, read_lock
from envdoctor.fix.transaction import APPLIED, Progress, Transaction, apply, undo
from envdoctor.userfiles import open_regular


def _progress(enabled: bool) -> Progress:
    """Print steps to stderr on a terminal; stay quiet in CI and JSON mode."""
    def report(message: str) -> None:
        if enabled:
            click.echo(f"… {message}" if os.environ.get("NO_COLOR") else click.style(f"… {message}", dim=True),
                       err=True)
    return report


def _confirm(question: str, yes: bool) -> None:
    """Go on with ``--yes``; ask on a terminal; refuse in one line otherwise."""
    if yes:
        return
    if notebook.in_notebook():
        line = notebook.command_line(["envdoctor", *sys.argv[1:]], confirm=True)
        raise InputError(f"in a notebook nobody can answer a prompt: run `{line}` in a cell")
    if not sys.stdin.isatty():
        raise InputError("not a terminal, so nobody can confirm: pass --yes to apply without asking")
    if not click.confirm(question, default=False):
        click.echo("envdoctor: nothing changed (you answered no)", err=True)
        raise ExitCode(1)


def _same_options() -> list[str]:
    """The options this `fix` was given (not --apply/--format), to repeat them in the apply command."""
    ctx = click.get_current_context()
    argv: list[str] = []
    for param in ctx.command.params:
        value = ctx.params.get(param.name or "")
        flag = next((o for o in param.opts if o.startswith("--")), None)
        if flag in (None, "--apply", "--format", "--yes") or value in (None, False, ()):
            continue
        if isinstance(param, click.Option) and param.is_flag:
            argv.append(flag)
            continue
        for item in value if isinstance(value, tuple) else (value,):
            argv += [flag, str(item)]
    return argv


@click.command("fix")
@target_options
@project_options
@click.option("--apply", "do_apply", is_flag=True, help="Apply the plan (default: only show it).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (needed when not on a terminal).")
@click.option("--unsafe", is_flag=True, help="Include unsafe fixes (they may move packages others need).")
@click.option("--to", "lock", type=click.Path(path_type=Path, exists=True, dir_okay=False), metavar="LOCK",
              help="Plan the moves to the exact pins of a lock file, a snapshot JSON or a run record "
                   "(training_info.json) instead of fixing findings.")
@click.option("--keep", multiple=True, metavar="PKG", help="A package the fix must not move (repeatable).")
@selection_options
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def fix_command(python: str | None, env_file: Path | None, python_version: str | None, platform: str | None,
                cuda: str | None, project_path: Path | None, config_file: Path | None,
                llamafactory_file: Path | None, gpu_target: str | None, no_project: bool, do_apply: bool,
                yes: bool, unsafe: bool, lock: Path | None, keep: tuple[str, ...], select: tuple[str, ...],
                ignore: tuple[str, ...], fmt: str) -> None:
    """Plan the fixes for what `envdoctor check` (with the same options) reports, or --apply them
    with a backup and a way back.

    Exit codes: 0 applied (or plan shown), 1 rolled back or declined, 2 bad input.
    """
    no_project_conflicts(no_project, config=config_file, llamafactory=llamafactory_file)
    if lock is not None:  # a FIFO or device as --to is refused before the check's work, not after it
        open_regular(lock, "pass a lock file to --to").close()
        read_lock(lock)
    if python is not None:
        python = os.path.abspath(shutil.which(python) or python if os.sep not in python else python)
    request = CheckRequest(python=python, env_file=env_file, python_version=python_version, platform=platform,
                           cuda=cuda, project_path=project_path, config_file=config_file,
                           llamafactory_file=llamafactory_file, gpu_target=gpu_target,
                           include_project=not no_project, keep=keep, select=select, ignore=ignore,
                           quiet=fmt != "text")
    result = run_check(request)
    before, snap = result.findings, result.snapshot
    keep_all = sorted(build_keep(request, snap))
    if lock is not None:
        warning = interpreter_mismatch(lock, snap)
        if warning:
            click.echo(f"envdoctor fix: warning: {warning}", err=True)
            if do_apply:
                raise InputError(warning)
    plan = (from_lock(lock, snap, keep_all, unsafe) if lock is not None
            else from_findings(before, snap, keep_all, unsafe))
    if not do_apply or plan.empty:
        click.echo(json.dumps({"plan": plan.to_dict()}, indent=2) if fmt == "json" else render_plan(plan))
        if fmt == "text" and not plan.empty:
            click.echo(f"apply it with `{notebook.command_line(['envdoctor', 'fix', '--apply', *_same_options()], True)}`")
        return
    if fmt == "text":
        click.echo(render_plan(plan))
    _confirm("apply this plan?", yes)
    progress = _progress(fmt == "text" and sys.stderr.isatty())
    outcome = apply(plan, snap, before, lambda: run_check(request).findings, progress,
                    base=project_path or Path("."))
    held = restart.notice(plan.python, restart.site_dirs_of(d.location for d in snap.distributions.values()),
                          outcome.changes, hosted=bool({"colab", "kaggle"} & set(snap.runtime)))
    if fmt == "json":
        click.echo(json.dumps({"plan": plan.to_dict(), "result": outcome.to_dict(),
                               "restart_required": held.to_dict()}, indent=2))
    else:
        click.echo(render_outcome(outcome, python, held.text()))
    sys.exit(0 if outcome.status == APPLIED else 1)


@click.command("rollback")
@click.option("--python", "python", metavar="PATH",
              help="Undo the last apply on this interpreter (default: the one running envdoctor).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (needed when not on a terminal).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def rollback_command(python: str | None, yes: bool, fmt: str) -> None:
    """Undo the last `envdoctor fix --apply`: the exact previous `pip freeze` and file bytes.

    Exit codes: 0 restored, 1 some packages could not be restored, 2 nothing to undo.
    """
    def show(tx: Transaction) -> None:
        left = " (left `started` by an envdoctor that stopped; undone from its saved freeze)" \
            if tx.status == "started" else ""
        if fmt == "text":
            click.echo(f"undo {tx.folder.name} on {tx.python}{left}:")
            click.echo("\n".join(f"  {line}" for line in undo_lines(tx.changes)) or "  (no package changes recorded)")
        _confirm("roll back?", yes)

    python = python or kernel_python()  # in a notebook, the kernel's environment is the one fixed
    tx, leftover = undo(python, show, _progress(fmt == "text" and sys.stderr.isatty()))
    held = restart.notice(tx.python, _site_dirs(tx.folder), tx.changes)
    if fmt == "json":
        click.echo(json.dumps({"state": str(tx.folder), "python": tx.python, "undone": undo_lines(tx.changes),
                               "not_restored": leftover, "restart_required": held.to_dict()}, indent=2))
    elif leftover:
        click.echo("could NOT restore (reinstall these by hand from freeze.txt in the state folder):")
        click.echo("\n".join(f"  {item}" for item in leftover))
        click.echo(f"state: {tx.folder}")
    else:
        click.echo(f"restored the exact previous `pip freeze` and file bytes (state: {tx.folder})")
    if fmt == "text" and held.text():
        click.echo(held.text())
    sys.exit(1 if leftover else 0)


def _site_dirs(folder: Path) -> list[str]:
    """The site-packages folders recorded in a transaction's snapshot.json."""
    try:
        snap = load_json(folder / "snapshot.json")
    except InputError:
        return []
    return restart.site_dirs_of(d.location for d in snap.distributions.values())

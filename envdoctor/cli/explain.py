"""`envdoctor explain [FILE|-]`: the click command over :mod:`envdoctor.explain.command`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from envdoctor.cli.options import target_options
from envdoctor.engine import check as checking
from envdoctor.engine import report
from envdoctor.errors import InputError
from envdoctor.explain.command import explain_log, render


@click.command("explain")
@click.argument("log", required=False, metavar="[FILE|-]")
@target_options
@click.option("--no-env", is_flag=True, help="Explain from the log text alone; do not inspect any environment.")
@click.option("--db", "db_file", type=click.Path(path_type=Path), metavar="FILE",
              help="SQLite database for `no such column` suggestions (default: data.db of ./envdoctor.yaml).")
@click.option("--config", "config_file", type=click.Path(path_type=Path), metavar="FILE",
              help="envdoctor.yaml for data.db, paths and model (default: ./envdoctor.yaml if present).")
@click.option("--offline", is_flag=True, help="Use the metadata and release caches only; fetch nothing from the index.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif"]), default="text", show_default=True)
def command(log: str | None, python: str | None, env_file: Path | None, python_version: str | None,
            platform: str | None, cuda: str | None, no_env: bool, db_file: Path | None, config_file: Path | None,
            offline: bool, fmt: str) -> None:
    """Explain an error log: the rule, the cause, the fix, and how sure envdoctor is.

    FILE is a log, a notebook (.ipynb) or - for stdin. By default each cause is
    checked against the live environment; --python/--env pick another target,
    --no-env uses the text alone.

    Exit codes: 0 nothing known (or every cause ruled out), 1 known errors, 2 bad input.
    """
    stdin = sys.stdin.buffer
    if log is None and sys.stdin.isatty():
        raise InputError("no log given: pass a file (`envdoctor explain run.log`) or pipe one "
                         "(`cmd 2>&1 | envdoctor explain -`)")
    if no_env and (python or env_file):
        raise InputError("--no-env explains from the text alone; drop --python/--env or --no-env")
    if db_file is not None and not db_file.is_file():
        raise InputError(f"{db_file}: no such file; pass the SQLite database to --db")
    path = None if log in (None, "-") else Path(log)
    request = None if no_env else checking.CheckRequest(
        python=python, env_file=env_file, python_version=python_version, platform=platform, cuda=cuda,
        offline=offline, config_file=config_file, quiet=fmt != "text")
    db = None if no_env else db_file
    if fmt == "text" and sys.stderr.isatty():
        click.echo(f"reading {log or '<stdin>'}…", err=True)
    result = explain_log(path, stdin, request, db, offline=offline)
    click.echo(render(result, fmt, color=report.use_color(sys.stdout)))
    sys.exit(report.exit_code(result.findings))

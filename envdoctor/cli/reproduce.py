"""`envdoctor reproduce RECORD`: the click command over :mod:`envdoctor.reproduce.command`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from envdoctor.reproduce.command import ReproduceRequest, render, reproduce


@click.command("reproduce")
@click.argument("record", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--python", metavar="PATH", help="Reproduce with another interpreter (default: this one).")
@click.option("--venv", type=click.Path(path_type=Path, file_okay=False), metavar="DIR",
              help="Build a new venv in DIR with exactly the recorded pins, and reproduce there.")
@click.option("--apply", "do_apply", is_flag=True,
              help="Move the target to the recorded pins first (as `envdoctor fix --to RECORD --apply`).")
@click.option("--check-only", is_flag=True, help="Compare environment, data and model; do not re-train.")
@click.option("--workdir", type=click.Path(path_type=Path, file_okay=False), metavar="DIR",
              help="Where the re-run writes its data set and adapter (default: reproduce/ beside RECORD).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def command(record: Path, python: str | None, venv: Path | None, do_apply: bool, check_only: bool,
            workdir: Path | None, fmt: str) -> None:
    """Rebuild a recorded run (training_info.json) and say whether it reproduces, and if not, why.

    Steps: environment (diff; --apply or --venv installs the recorded pins), data (database and
    built JSONL hashes), model, then a re-train with the recorded config and seeds compared with
    the recorded loss curve and eval metrics (exact on CPU).

    Exit codes: 0 reproduced (or, with --check-only, nothing drifted), 1 it did not, 2 bad input.
    """
    def progress(message: str) -> None:
        if fmt == "text" and sys.stderr.isatty():
            click.echo(click.style(f"… {message}", dim=True), err=True)

    report = reproduce(ReproduceRequest(record=record, python=python, venv=venv, apply=do_apply,
                                        check_only=check_only, workdir=workdir), progress)
    click.echo(json.dumps(report.to_dict(), indent=2) if fmt == "json" else render(report))
    sys.exit(report.exit_code)

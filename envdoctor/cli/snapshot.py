"""`envdoctor snapshot` and `envdoctor diff`: record an environment and compare two."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from envdoctor.cli.options import target_options
from envdoctor.errors import InputError


@click.command()
@target_options
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write the snapshot JSON here (default: stdout).")
def snapshot(python: str | None, env_file: Path | None, python_version: str | None, platform: str | None,
             cuda: str | None, output: Path | None) -> None:
    """Record the environment (packages, Python, CUDA, driver, GPUs, RAM) as JSON."""
    from envdoctor.env import snapshot as snapshot_mod
    from envdoctor.env.target import resolve

    snap = resolve(python, env_file, python_version, platform, cuda)
    if output is None:
        click.echo(json.dumps(snap.to_dict(), indent=2, sort_keys=True))
        return
    try:
        snapshot_mod.save(snap, output)
    except OSError as exc:
        raise InputError(f"{output}: cannot write it ({exc.strerror})")
    click.echo(f"wrote {output} ({len(snap.distributions)} packages); compare later with "
               f"`envdoctor diff {output} live`", err=True)


@click.command()
@click.argument("a")
@click.argument("b", default="live")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def diff(a: str, b: str, fmt: str) -> None:
    """Compare two environments: snapshot JSONs, freeze files, or `live` (default for B).

    Exit 0 when they match, 1 when they differ.
    """
    from envdoctor.env.diff import diff as diff_snapshots
    from envdoctor.env.target import resolve

    def load(spec: str) -> Any:
        return resolve(None, None if spec == "live" else Path(spec), None, None, None)

    result = diff_snapshots(load(a), load(b))
    click.echo(json.dumps(result.to_dict(), indent=2) if fmt == "json" else result.to_text())
    sys.exit(0 if result.empty else 1)

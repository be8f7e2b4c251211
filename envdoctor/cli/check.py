"""`envdoctor check`: the environment and project against every rule."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from envdoctor.cli.options import no_project_conflicts, project_options, selection_options, target_options
from envdoctor.engine.report import use_color
from envdoctor.env.target import is_own


@click.command()
@target_options
@click.option("--offline", is_flag=True, help="Use the metadata cache and knowledge base only; fetch nothing.")
@project_options
@click.option("--keep", multiple=True, metavar="PKG", help="A package fixes must not move (repeatable).")
@click.option("--no-infer", is_flag=True, help="For --env FILE: check only what the file lists, not what its pins imply.")
@selection_options
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif"]), default="text", show_default=True)
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
@click.option("--no-cache", is_flag=True,
              help="Run every check even when nothing changed since the same check ran (see README: replay).")
def check(python: str | None, env_file: Path | None, python_version: str | None, platform: str | None,
          cuda: str | None, offline: bool, project_path: Path | None, config_file: Path | None,
          llamafactory_file: Path | None, gpu_target: str | None, no_project: bool, keep: tuple[str, ...],
          no_infer: bool, select: tuple[str, ...], ignore: tuple[str, ...], fmt: str, strict: bool, no_cache: bool) -> None:
    """Check the environment (and project) for what will break a fine-tuning run.

    Exit codes: 0 no errors, 1 errors (or warnings with --strict), 2 bad input or internal error.
    """
    from envdoctor.engine import check as checking
    from envdoctor.fix.plan import fixable_count

    no_project_conflicts(no_project, config=config_file, llamafactory=llamafactory_file)
    request = checking.CheckRequest(python=python, env_file=env_file, python_version=python_version,
                                    platform=platform, cuda=cuda, offline=offline, project_path=project_path,
                                    config_file=config_file, llamafactory_file=llamafactory_file,
                                    gpu_target=gpu_target, include_project=not no_project, keep=keep,
                                    infer=not no_infer, select=select, ignore=ignore, quiet=fmt != "text")
    result = checking.run_check(request)
    fixable = fixable_count(result.findings, result.snapshot, sorted(checking.build_keep(request, result.snapshot)))
    text = checking.render(result, fmt, strict, color=use_color(sys.stdout), fixable=fixable)
    click.echo(text)
    code = checking.exit_code(result.findings, strict)
    if no_project and env_file is None and not no_cache and result.complete and is_own(result.snapshot):
        from envdoctor.cli import replay
        from envdoctor.env.index import pages_valid_until

        replay.record(text, code, result.snapshot.executable,
                      [d.location for d in result.snapshot.distributions.values() if d.location],
                      pages_valid_until())
    sys.exit(code)

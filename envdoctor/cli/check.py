"""`envdoctor check`: the environment and project against every rule."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from envdoctor.cli.options import target_options


@click.command()
@target_options
@click.option("--offline", is_flag=True, help="Use the metadata cache and knowledge base only; fetch nothing.")
@click.option("--path", "project_path", type=click.Path(path_type=Path), default=None,
              help="Project folder to scan for files, data and configs (default: the current folder).")
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="Training config (default: ./envdoctor.yaml if present).")
@click.option("--llamafactory", "llamafactory_file", type=click.Path(path_type=Path), help="A LLaMA-Factory training YAML to check.")
@click.option("--gpu", "gpu_target", metavar="NAME", help="Plan for a named GPU (e.g. T4) instead of the live one.")
@click.option("--no-project", is_flag=True, help="Check the environment only; skip files, data and configs.")
@click.option("--keep", multiple=True, metavar="PKG", help="A package fixes must not move (repeatable).")
@click.option("--no-infer", is_flag=True, help="For --env FILE: check only what the file lists, not what its pins imply.")
@click.option("--select", multiple=True, metavar="CODE|NAME", help="Run only these rules (codes, prefixes or names).")
@click.option("--ignore", multiple=True, metavar="CODE|NAME", help="Skip these rules.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif"]), default="text", show_default=True)
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
def check(python: str | None, env_file: Path | None, python_version: str | None, platform: str | None,
          cuda: str | None, offline: bool, project_path: Path | None, config_file: Path | None,
          llamafactory_file: Path | None, gpu_target: str | None, no_project: bool, keep: tuple[str, ...],
          no_infer: bool, select: tuple[str, ...], ignore: tuple[str, ...], fmt: str, strict: bool) -> None:
    """Check the environment (and project) for what will break a fine-tuning run.

    Exit codes: 0 no errors, 1 errors (or warnings with --strict), 2 bad input or internal error.
    """
    from envdoctor.engine import check as checking

    result = checking.run_check(
        checking.CheckRequest(python=python, env_file=env_file, python_version=python_version,
                              platform=platform, cuda=cuda, offline=offline, project_path=project_path,
                              config_file=config_file, llamafactory_file=llamafactory_file,
                              gpu_target=gpu_target, include_project=not no_project, keep=keep,
                              infer=not no_infer, select=select, ignore=ignore, quiet=fmt != "text"))
    click.echo(checking.render(result, fmt, strict, color=sys.stdout.isatty()))
    sys.exit(checking.exit_code(result.findings, strict))

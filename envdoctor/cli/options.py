"""Click options shared by several commands, each value validated where it is parsed."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from packaging.version import InvalidVersion, Version


def _python_version(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``3.12`` or ``3.12.1`` (parsed with packaging); anything else is a usage error."""
    if value is None:
        return None
    try:
        version = Version(value)
    except InvalidVersion:
        raise click.BadParameter(f"{value!r} is not a version; give X.Y or X.Y.Z, e.g. 3.11 or 3.12.4")
    if not 2 <= len(version.release) <= 3 or version.pre or version.dev or version.post or version.local \
            or version.epoch or version.major != 3:
        raise click.BadParameter(f"{value!r}: give a Python 3 release as X.Y or X.Y.Z, e.g. 3.11 or 3.12.4")
    return value


def parse_gpu(ctx: click.Context | None, param: click.Parameter | None, value: str | None) -> str | None:
    """A ``--gpu`` value: a GPU of envdoctor.memory.gpus' table (``T4``, ``A100-80``), else a usage
    error with the closest names.  One parser for `check` and `estimate`."""
    if value is None:
        return None
    from envdoctor.errors import InputError
    from envdoctor.memory import gpus

    try:
        gpus.find_gpu(value)
    except InputError:
        keys = [spec.key for spec in gpus.GPUS] + list(gpus.ALIASES)
        close = difflib.get_close_matches(gpus.normalise(value), keys, n=3)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise click.BadParameter(f"{value!r} is not a GPU envdoctor knows; {hint}"
                                 f"known: {', '.join(spec.key for spec in gpus.GPUS)}")
    return value


def gpu_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--gpu NAME``: plan for a GPU from the table instead of the live one."""
    return click.option("--gpu", "gpu_target", metavar="NAME", callback=parse_gpu,
                        help="Plan for a named GPU (T4, A100-40, ...) instead of the live one.")(func)


def _apply(func: Callable[..., Any], options: list[Callable[[Callable[..., Any]], Callable[..., Any]]]) \
        -> Callable[..., Any]:
    for option in reversed(options):
        func = option(func)
    return func


def target_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options that choose the environment to inspect."""
    from envdoctor.env.target import platform_names

    return _apply(func, [
        click.option("--python", "python", metavar="PATH",
                     help="Inspect another interpreter (default: the active venv/conda env, else this one)."),
        click.option("--env", "env_file", type=click.Path(path_type=Path), metavar="FILE",
                     help="Inspect a pip freeze / lock file or a saved snapshot JSON instead."),
        click.option("--python-version", metavar="X.Y[.Z]", callback=_python_version,
                     help="Target Python for --env FILE (default: this one)."),
        click.option("--platform", type=click.Choice(platform_names()), help="Target platform for --env FILE."),
        click.option("--cuda", metavar="X.Y", help="State the target's CUDA version (overrides torch's label)."),
    ])


def project_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options that choose the project's files, data and configs (``check`` and ``fix``)."""
    file = click.Path(path_type=Path)  # a missing file is reported by the project reader, with its hint
    return _apply(func, [
        click.option("--path", "project_path", type=click.Path(path_type=Path), default=None,
                     help="Project folder to scan for files, data and configs (default: the current folder)."),
        click.option("--config", "config_file", type=file,
                     help="Training config (default: ./envdoctor.yaml if present)."),
        click.option("--llamafactory", "llamafactory_file", type=file, help="A LLaMA-Factory training YAML to check."),
        gpu_option,
        click.option("--no-project", is_flag=True, help="Check the environment only; skip files, data and configs."),
    ])


def selection_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--select`` / ``--ignore``: rule codes, prefixes or names, repeatable or comma-separated."""
    return _apply(func, [
        click.option("--select", multiple=True, metavar="CODE|NAME[,...]",
                     help="Run only these rules (codes, prefixes or names; `ED2,ED7` lists two)."),
        click.option("--ignore", multiple=True, metavar="CODE|NAME[,...]", help="Skip these rules."),
    ])


def no_project_conflicts(no_project: bool, **given: object) -> None:
    """``--no-project`` with a project option is a contradiction: a usage error naming the option."""
    named = [f"--{key.replace('_', '-')}" for key, value in given.items() if value is not None]
    if no_project and named:
        raise click.UsageError(f"{', '.join(named)} names a project file, but --no-project skips the project; "
                               "drop one of them")

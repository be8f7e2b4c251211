"""Click options shared by several commands."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click


def target_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options that choose the environment to inspect."""
    from envdoctor.env.target import platform_names

    options = [
        click.option("--python", "python", metavar="PATH", help="Inspect another interpreter (a venv's or a kernel's python)."),
        click.option("--env", "env_file", type=click.Path(path_type=Path), metavar="FILE",
                     help="Inspect a pip freeze / lock file or a saved snapshot JSON instead."),
        click.option("--python-version", metavar="X.Y[.Z]", help="Target Python for --env FILE (default: this one)."),
        click.option("--platform", type=click.Choice(platform_names()), help="Target platform for --env FILE."),
        click.option("--cuda", metavar="X.Y", help="State the target's CUDA version (overrides torch's label)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func

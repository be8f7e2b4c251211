"""`envdoctor init`: write a commented starter envdoctor.yaml."""

from __future__ import annotations

from pathlib import Path

import click

from envdoctor.errors import InputError
from envdoctor.project.config import (
    DEFAULT_FILE,
    DataConfig,
    LaunchConfig,
    LoraConfig,
    ModelConfig,
    TrainConfig,
    TrainingConfig,
    load_config,
    parse_config,
    starter_text,
)


@click.command("init")
@click.argument("path", type=click.Path(path_type=Path), default=DEFAULT_FILE, required=False)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init_command(path: Path, force: bool) -> None:
    """Write a commented starter envdoctor.yaml (default: ./envdoctor.yaml)."""
    if path.is_dir():
        path = path / DEFAULT_FILE
    if path.exists() and not force:
        raise InputError(f"{path}: already exists; edit it, or pass --force to replace it with the starter")
    try:
        path.write_text(starter_text(), encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot write it ({exc.strerror})")
    click.echo(f"wrote {path}; set model.name_or_path and data.db, then run `envdoctor check`", err=True)


__all__ = ["DataConfig", "LaunchConfig", "LoraConfig", "ModelConfig", "TrainConfig", "TrainingConfig",
           "init_command", "load_config", "parse_config", "starter_text"]

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
    text, found = with_discovery(starter_text(), path.resolve().parent)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot write it ({exc.strerror})")
    said = f" with what it found ({', '.join(found)})" if found else ""
    click.echo(f"wrote {path}{said}; check model.name_or_path and data.db, then run `envdoctor check`", err=True)


def with_discovery(text: str, folder: Path) -> tuple[str, list[str]]:
    """The starter ``text`` with data.db set to the database the project's code opens (or holds), and
    a comment naming the SQL, LLaMA-Factory configs and launch scripts found (envdoctor.project.discover)."""
    from envdoctor.project.discover import discover
    from envdoctor.project.scan import scan

    found = discover(folder, scan(folder))
    said: list[str] = []
    lines = text.splitlines()
    if found.databases:
        db = found.databases[0]
        relative = db.resolve().relative_to(folder).as_posix() if db.resolve().is_relative_to(folder) else str(db)
        lines = [f"  db: {relative}" if line == "  db: null" else line for line in lines]
        said.append(f"data.db {relative}")
    notes = [f"#   SQL in {q.path.relative_to(folder).as_posix()}:{q.line} (checked against the database it opens)"
             for q in found.queries if q.path.is_relative_to(folder)]
    notes += [f"#   LLaMA-Factory config {p.relative_to(folder).as_posix()}" for p in found.llamafactory
              if p.is_relative_to(folder)]
    notes += [f"#   {launch.launcher} flags in {launch.path.relative_to(folder).as_posix()}"
              for launch in found.launches if launch.path.is_relative_to(folder)]
    notes += [f"#   accelerate config {p.relative_to(folder).as_posix()}" for p in found.accelerate
              if p.is_relative_to(folder)]
    if notes:
        said.append(f"{len(notes)} file(s) `envdoctor check` reads without a config")
        lines = lines[:3] + ["# Found by `envdoctor init` (checked by `envdoctor check` with or without this file):",
                             *notes] + lines[3:]
    return "\n".join(lines) + ("\n" if text.endswith("\n") else ""), said


__all__ = ["DataConfig", "LaunchConfig", "LoraConfig", "ModelConfig", "TrainConfig", "TrainingConfig",
           "init_command", "load_config", "parse_config", "starter_text"]

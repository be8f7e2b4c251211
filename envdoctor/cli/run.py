"""`envdoctor run`: check the environment, then run the bundled QLoRA pipeline."""

from __future__ import annotations

from pathlib import Path

import click

from envdoctor.pipeline.runner import STAGES, RunOptions, run


@click.command("run")
@click.argument("config_file", metavar="[CONFIG]", required=False, type=click.Path(path_type=Path))
@click.option("--stage", type=click.Choice(STAGES), help="Run only this stage (the earlier ones must have run).")
@click.option("--force", is_flag=True, help="Train even when `envdoctor check` reports errors (recorded).")
@click.option("--resume", is_flag=True,
              help="Require a checkpoint and continue from it (an interrupted run resumes anyway).")
@click.option("--gpus", "processes", type=click.IntRange(min=1), metavar="N",
              help="Data-parallel processes (accelerate launch); overrides launch.processes.")
@click.option("--python", metavar="PATH", help="Train with this interpreter (default: the one running envdoctor).")
@click.option("--checkpoint-every", type=click.IntRange(min=1), default=50, show_default=True, metavar="STEPS",
              help="Write a resumable checkpoint every STEPS optimizer steps.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
              help="auto: the GPU when there is one.")
def command(config_file: Path | None, stage: str | None, force: bool, resume: bool, processes: int | None,
            python: str | None, checkpoint_every: int, device: str) -> None:
    """Check, then run data → train → eval → export on CONFIG (default: ./envdoctor.yaml,
    else a built-in demo: the bundled sample database and a tiny random-init Llama).

    Training runs in a child process of the target interpreter; Ctrl-C writes a checkpoint, and
    running the same command again resumes from it.
    """
    run(RunOptions(config_file=config_file, stage=stage, force=force, resume=resume, processes=processes,
                   python=python, checkpoint_every=checkpoint_every, device=device))

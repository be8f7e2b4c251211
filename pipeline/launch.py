"""Start a heavy stage in a child process of the target interpreter.

One process: ``python -m envdoctor.pipeline.worker STAGE PLAN``.  Several (``launch.processes`` or
``--gpus N``): the same module under ``accelerate launch`` (torchrun underneath), data-parallel
(DDP; gloo on CPU, NCCL on GPUs).  Argument lists only; nothing goes through a shell.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from types import FrameType

import click

from envdoctor.errors import ExitCode, InputError

WORKER = "envdoctor.pipeline.worker"
EXIT_BAD_INPUT = 2
ALLOC_CONF = "expandable_segments:True"
EXIT_INTERRUPTED = 3  # envdoctor.pipeline.training.EXIT_INTERRUPTED (not imported: it imports torch)


def worker_argv(python: str, stage: str, plan_path: Path, processes: int) -> list[str]:
    """The child's argv; ``accelerate launch`` when training on more than one process.

    ``--multi_gpu`` selects accelerate's torchrun launcher on any machine (its ``--cpu`` launcher
    starts a single process); on CPU the workers' Accelerator joins the processes over gloo.
    """
    if stage != "train" or processes == 1:
        return [python, "-m", WORKER, stage, str(plan_path)]
    return [python, "-m", "accelerate.commands.launch", "--num_processes", str(processes),
            "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
            "--multi_gpu", "-m", WORKER, stage, str(plan_path)]


def child_environment(tty: bool) -> dict[str, str]:
    """The child's environment: quiet libraries off a TTY; NCCL and other settings left untouched.

    torch's allocator grows expandable segments (unless the user configured it): freed blocks are
    reused whatever their size, so the reserved memory stays within a few percent of what the step
    allocates, as `envdoctor estimate` predicts.
    """
    env = dict(os.environ)
    env.setdefault("PYTORCH_CUDA_ALLOC_CONF", ALLOC_CONF)
    env.setdefault("TRANSFORMERS_VERBOSITY", "error")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    if not tty:
        env.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        env.setdefault("PYTHONWARNINGS", "ignore")
    return env


def run_stage(argv: list[str], tty: bool) -> None:
    """Run the child to completion; SIGINT reaches it (it checkpoints) and this process waits.

    Exit mapping: child 2 (it printed a one-line error) → exit 2; child 3 (interrupted with a
    checkpoint) → exit 130; anything else → a one-line error.
    """
    try:
        child = subprocess.Popen(argv, env=child_environment(tty))
    except OSError as exc:
        raise InputError(f"{argv[0]}: cannot start the training interpreter ({exc.strerror}); "
                         "pass a python executable to --python") from None

    def forward(signum: int, _frame: FrameType | None) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = child.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if code == 0:
        return
    if code == EXIT_BAD_INPUT:
        raise ExitCode(EXIT_BAD_INPUT)
    if code == EXIT_INTERRUPTED:
        raise ExitCode(130)
    reason = f"killed by signal {-code}" if code < 0 else f"exit {code}"
    raise click.ClickException(
        f"the {argv[argv.index(WORKER) + 1]} stage failed ({reason}); its output is above. "
        "Run `envdoctor run` again to resume from the last checkpoint")

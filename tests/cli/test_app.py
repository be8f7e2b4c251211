"""The command line's own behaviour: help, closed pipes, colour."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from tests.helpers.core import envdoctor

REPO = Path(__file__).resolve().parents[2]
ARGV = [sys.executable, "-m", "envdoctor"]


def test_short_and_long_help_are_identical() -> None:
    for command in ((), ("check",), ("fix",), ("lock",)):
        long, short = envdoctor(*command, "--help"), envdoctor(*command, "-h")
        assert long.returncode == short.returncode == 0
        assert long.stdout == short.stdout and long.stdout.startswith("Usage:")


def test_a_closed_pipe_is_success_without_noise() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([*ARGV, "rules"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # what `| head -1` does
    stderr = proc.stderr.read()
    assert proc.wait(timeout=60) == 0, stderr
    assert first.startswith(b"ED") and stderr == b""


def on_a_tty(*args: str, env: dict[str, str], stdin: bytes = b"") -> tuple[int, str]:
    """Run the CLI with stdin/stdout/stderr on a pseudo-terminal; returns exit code and output."""
    main, child = pty.openpty()
    proc = subprocess.Popen([*ARGV, *args], stdin=child, stdout=child, stderr=child,
                            env={**os.environ, "PYTHONPATH": str(REPO), **env}, close_fds=True)
    os.close(child)
    if stdin:
        os.write(main, stdin)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(main)
    return proc.wait(timeout=120), b"".join(chunks).decode("utf-8", "replace")


def test_no_color_is_honoured_on_a_terminal(tmp_path: Path) -> None:
    lock = tmp_path / "r.txt"
    lock.write_text("torch==2.6.0\ntriton==3.1.0\n", encoding="utf-8")
    args = ("check", "--offline", "--no-project", "--env", str(lock))
    code, coloured = on_a_tty(*args, env={})
    assert code == 1 and "\x1b[" in coloured
    code, plain = on_a_tty(*args, env={"NO_COLOR": "1"})
    assert code == 1 and "ED102" in plain and "\x1b[" not in plain

"""The bad-input corpus: every command × every hostile file; no traceback, no hang, one-line errors.

The matrix runs in-process (fast) in one memory-limited child (so a reader of /dev/zero
would fail there, not take the machine); a sample runs through the real CLI in
subprocesses for what only a process shows: closed and full stdout, closed stdin, a FIFO.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.bad_input import CATEGORIES, COMMANDS

REPO = Path(__file__).resolve().parents[2]
REFUSED_EVERYWHERE = ("fifo", "device", "symlink-loop", "no-such-user", "missing", "huge-sparse")
JSON_READERS = ("check --env", "diff A B", "snapshot --env", "estimate --model")
JSON_BAD = ("deep-json", "deep-dict-json", "big-int-json")
YAML_READERS = ("check --config", "check --llamafactory", "estimate --config", "run --config")
YAML_BAD = ("deep-yaml", "yaml-bomb", "yaml-mapping-bomb", "deep-json", "big-int-json", "long-line")
MODEL_BAD = ("model-negative", "model-zero-heads", "model-huge", "model-strings", "model-fifo-config",
             "model-deep", "model-bigint", "folder")
MAX_SECONDS = 10


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    (tmp / "links").mkdir(exist_ok=True)
    env.update(XDG_CACHE_HOME=str(tmp / "cache"), XDG_STATE_HOME=str(tmp / "state"), PIP_NO_INDEX="1",
               PIP_FIND_LINKS=str(tmp / "links"), PIP_CONFIG_FILE=os.devnull, PYTHONPATH=str(REPO), NO_COLOR="1")
    return env


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("corpus")
    proc = subprocess.run([sys.executable, "-m", "tests.helpers.bad_input"], cwd=REPO, env=_env(tmp),
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    found: list[dict[str, Any]] = json.loads(proc.stdout)
    assert len(found) == len(COMMANDS) * len(CATEGORIES)
    return found


def _where(item: dict[str, Any]) -> str:
    return f"{item['command']} × {item['category']}"


def test_no_traceback_and_no_hang(results: list[dict[str, Any]]) -> None:
    tracebacks = [f"{_where(r)}: {r['traceback'].strip().splitlines()[-1]}" for r in results if r["traceback"]]
    hangs = [_where(r) for r in results if r["hung"] or r["seconds"] > MAX_SECONDS]
    assert (tracebacks, hangs) == ([], [])
    assert all("Traceback" not in r["stderr"] for r in results)


def test_every_bad_input_error_is_one_line_naming_what_to_do(results: list[dict[str, Any]]) -> None:
    refused = [r for r in results if r["code"] == 2]
    assert refused
    several = [f"{_where(r)}: {r['stderr']!r}" for r in refused if len(r["stderr"].strip().splitlines()) != 1]
    assert several == []
    assert all(r["stderr"].startswith("envdoctor: error: ") and len(r["stderr"]) <= 620 for r in refused)


@pytest.mark.parametrize(("commands", "categories"), [
    (tuple(COMMANDS), REFUSED_EVERYWHERE),
    (JSON_READERS, JSON_BAD),
    (YAML_READERS, YAML_BAD),
    (("estimate --model",), MODEL_BAD),
])
def test_hostile_inputs_are_refused_with_exit_2(results: list[dict[str, Any]], commands: tuple[str, ...],
                                                categories: tuple[str, ...]) -> None:
    wrong = [f"{_where(r)} exited {r['code']}" for r in results
             if r["command"] in commands and r["category"] in categories and r["code"] != 2]
    assert wrong == []


def _cli(tmp_path: Path, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    streams = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **kwargs}
    return subprocess.run([sys.executable, "-m", "envdoctor", *args], env=_env(tmp_path), cwd=tmp_path,
                          text=True, timeout=60, check=False, **streams)


def test_fifo_and_dev_zero_through_the_real_cli(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    for args in (("check", "--env", "fifo", "--no-project"), ("estimate", "--model", "/dev/zero"),
                 ("explain", "fifo", "--no-env")):
        proc = _cli(tmp_path, *args, stdin=subprocess.DEVNULL)
        assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1, (args, proc.stderr)
        assert "not a regular file" in proc.stderr


def test_closed_and_full_stdout_and_closed_stdin_exit_cleanly(tmp_path: Path) -> None:
    args = ("rules",)
    with open("/dev/full", "w") as full:
        proc = _cli(tmp_path, *args, stdout=full)
    assert proc.returncode == 2 and proc.stderr.strip() == (
        "envdoctor: error: cannot write the output (No space left on device); free space or redirect it")
    closed = _cli(tmp_path, *args, preexec_fn=lambda: os.close(1))  # noqa: PLW1509 - the test needs it
    assert closed.returncode == 0 and "Traceback" not in closed.stderr
    reader = subprocess.Popen([sys.executable, "-m", "envdoctor", *args], env=_env(tmp_path), cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert reader.stdout is not None and reader.stderr is not None
    reader.stdout.read(1)
    reader.stdout.close()  # the reader goes away, as `| head -c 1` does
    assert reader.wait(timeout=60) in (0, 1) and reader.stderr.read() == b""  # click exits 1 on EPIPE, silently
    no_stdin = _cli(tmp_path, "explain", "-", "--no-env", preexec_fn=lambda: os.close(0))  # noqa: PLW1509
    assert no_stdin.returncode == 0 and "Traceback" not in no_stdin.stderr

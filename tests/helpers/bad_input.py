"""A corpus of bad inputs and an in-process CLI harness that bounds each run in time.

Each *category* writes one hostile file (or names one hostile path) under a folder;
each *command template* puts that path where a command reads a file.  :func:`run_cli`
calls :func:`envdoctor.cli.app.main` with patched argv and captured stdout/stderr, under
``signal.alarm``, and reports the exit code, stderr, and whether it raised (a traceback)
or hung.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

Maker = Callable[[Path], Path]


def _file(name: str, data: bytes) -> Maker:
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(data)
        return path
    return make


def _fifo(folder: Path) -> Path:
    path = folder / "fifo"
    os.mkfifo(path)
    return path


def _folder(folder: Path) -> Path:
    path = folder / "a-folder"
    path.mkdir()
    (path / "config.json").mkdir()  # a model folder whose config.json is a folder too
    return path


def _loop(folder: Path) -> Path:
    path = folder / "loop"
    path.symlink_to(path)
    return path


def _sparse(folder: Path) -> Path:
    path = folder / "huge.txt"
    with open(path, "wb") as handle:
        handle.truncate(300 << 20)  # 300 MB of NULs, no disk used
    return path


def _model_folder(config: bytes) -> Maker:
    def make(folder: Path) -> Path:
        path = folder / "model"
        path.mkdir()
        (path / "config.json").write_bytes(config)
        return path
    return make


def _model_fifo(folder: Path) -> Path:
    path = folder / "model"
    path.mkdir()
    os.mkfifo(path / "config.json")
    return path


BOMB = ("a0: &a0 [x, x]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}]\n" for i in range(1, 30))).encode()
MAPPING_BOMB = ("a0: &a0 {k: v, l: w}\n"
                + "".join(f"a{i}: &a{i} {{p: *a{i - 1}, q: *a{i - 1}}}\n" for i in range(1, 30))).encode()
DEEP_JSON = b"[" * 100_000 + b"]" * 100_000
DEEP_DICT_JSON = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
DEEP_YAML = b"a: " + b"[" * 20_000 + b"]" * 20_000 + b"\n"
BIG_INT = b'{"hidden_size": ' + b"9" * 5000 + b"}"
MODEL = {"model_type": "llama", "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
         "num_attention_heads": 32, "num_key_value_heads": 32, "vocab_size": 32000}

CATEGORIES: dict[str, Maker] = {
    "fifo": _fifo,
    "folder": _folder,
    "device": lambda _folder: Path("/dev/zero"),
    "symlink-loop": _loop,
    "no-such-user": lambda _folder: Path("~nosuchuser-envdoctor/file.txt"),
    "missing": lambda folder: folder / "missing.txt",
    "empty": _file("empty.txt", b""),
    "binary": _file("binary.bin", bytes(range(256)) * 64),
    "nul-bytes": _file("nul.txt", b"torch==2.3.1\n\0\0\0\n"),
    "bad-utf8": _file("bad.txt", b"torch==2.3.1\n\xff\xfe\xfa bad\n"),
    "damaged-utf16": _file("utf16.txt", b"\xff\xfe" + "torch==2.3.1\n".encode("utf-16-le") + b"\x00\xd8"),
    "damaged-utf32": _file("utf32.txt", b"\xff\xfe\x00\x00" + "torch\n".encode("utf-32-le") + b"\xff\xff\xff\xff"),
    "deep-json": _file("deep.json", DEEP_JSON),
    "deep-dict-json": _file("deepdict.json", DEEP_DICT_JSON),
    "deep-yaml": _file("deep.yaml", DEEP_YAML),
    "yaml-bomb": _file("bomb.yaml", BOMB),
    "yaml-mapping-bomb": _file("mbomb.yaml", MAPPING_BOMB),
    "big-int-json": _file("bigint.json", BIG_INT),
    "huge-sparse": _sparse,
    "odd-json": _file("odd.json", b'{"python": 1, "distributions": "x", "cells": 3, "schema_version": 1}'),
    "list-json": _file("list.json", b"[1, 2, 3]"),
    "odd-yaml": _file("odd.yaml", b"model: [1, 2]\ndata: 3\n"),
    "long-line": _file("long.txt", b"a" * 1_500_000 + b"\n"),
    "notebook-odd": _file("nb.ipynb", json.dumps({"cells": [{"cell_type": "code", "source": 5},
                                                              3, {"cell_type": None}]}).encode()),
    "model-negative": _model_folder(json.dumps({**MODEL, "hidden_size": -4096}).encode()),
    "model-zero-heads": _model_folder(json.dumps({**MODEL, "num_attention_heads": 0}).encode()),
    "model-huge": _model_folder(json.dumps({**MODEL, "hidden_size": 10 ** 300}).encode()),
    "model-strings": _model_folder(json.dumps({**MODEL, "hidden_size": "4096", "vocab_size": [1]}).encode()),
    "model-fifo-config": _model_fifo,
    "model-deep": _model_folder(DEEP_JSON),
    "model-bigint": _model_folder(BIG_INT),
}

COMMANDS: dict[str, list[str]] = {
    "check --env": ["check", "--env", "{}", "--offline", "--no-project"],
    "check --config": ["check", "--config", "{}", "--offline"],
    "check --llamafactory": ["check", "--llamafactory", "{}", "--offline"],
    "check --path": ["check", "--path", "{}", "--offline"],
    "explain FILE": ["explain", "{}", "--no-env"],
    "estimate --model": ["estimate", "--model", "{}"],
    "estimate --config": ["estimate", "--config", "{}"],
    "diff A B": ["diff", "{}", "{}"],
    "snapshot --env": ["snapshot", "--env", "{}"],
    "lock FILE": ["lock", "{}", "--offline", "-o", "{out}"],
    "fix --to": ["fix", "--to", "{}"],
    "run --config": ["run", "{}", "--stage", "data"],
}


class Hung(BaseException):
    """The command ran past its time limit."""


@dataclass(frozen=True)
class Result:
    """One run: exit code, stderr, and a traceback text when it raised."""

    code: int | None
    stdout: str
    stderr: str
    traceback: str | None = None
    hung: bool = False


def _alarm(signum: int, frame: object) -> None:
    raise Hung()


@contextlib.contextmanager
def _time_limit(seconds: int) -> Iterator[None]:
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def run_cli(argv: list[str], cwd: Path, seconds: int = 20) -> Result:
    """``envdoctor ARGV`` in this process, in ``cwd``, bounded by ``seconds``."""
    from envdoctor.cli import app

    out, err = io.StringIO(), io.StringIO()
    code: int | None = 0
    trace: str | None = None
    hung = False
    old_argv, old_cwd, old_stdin = sys.argv, os.getcwd(), sys.stdin
    sys.argv = ["envdoctor", *argv]
    os.chdir(cwd)
    sys.stdin = io.TextIOWrapper(io.BytesIO(b""))
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), _time_limit(seconds):
            app.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Hung:
        hung, code = True, None
    except BaseException:  # noqa: BLE001 - the point is to see every escape
        trace, code = traceback.format_exc(), None
    finally:
        sys.argv, sys.stdin = old_argv, old_stdin
        os.chdir(old_cwd)
    return Result(code, out.getvalue(), err.getvalue(), trace, hung)


def run_matrix(seconds: int = 15) -> list[dict[str, object]]:
    """Every command with every category, each in a fresh folder; JSON-ready results with timings."""
    import tempfile
    import time

    results: list[dict[str, object]] = []
    for command, template in COMMANDS.items():
        for category, make in CATEGORIES.items():
            with tempfile.TemporaryDirectory() as name:
                folder = Path(name)
                path = make(folder)
                argv = [a.replace("{}", str(path)).replace("{out}", str(folder / "out.txt")) for a in template]
                start = time.monotonic()
                result = run_cli(argv, folder, seconds)
                results.append({"command": command, "category": category, "code": result.code,
                                "stderr": result.stderr, "traceback": result.traceback, "hung": result.hung,
                                "seconds": round(time.monotonic() - start, 2)})
    return results


if __name__ == "__main__":  # run by tests/cli/test_bad_input.py in a memory-limited child
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))  # a reader of /dev/zero fails, not the machine
    json.dump(run_matrix(), sys.stdout)

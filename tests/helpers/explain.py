"""Shared helpers for the `envdoctor explain` tests: logs, freeze files, real throwaway venvs."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

from envdoctor.engine.check import CheckRequest
from envdoctor.explain.command import ExplainResult, explain_log

DATA = Path(__file__).resolve().parents[1] / "fixtures"


def explain_text(text: str | bytes, tmp_path: Path, request: CheckRequest | None = None,
                 db: Path | None = None, name: str = "run.log") -> ExplainResult:
    """Write ``text`` to a log file and explain it (``request`` None: --no-env), offline (hermetic)."""
    log = tmp_path / name
    log.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return explain_log(log, sys.stdin.buffer, request, db, offline=True)


def freeze(tmp_path: Path, pins: dict[str, str]) -> CheckRequest:
    """A `--env` request for a pip-freeze file pinning ``pins`` (name -> version)."""
    path = tmp_path / "requirements.lock"
    path.write_text("".join(f"{name}=={version}\n" for name, version in pins.items()), encoding="utf-8")
    return CheckRequest(env_file=path, offline=True, include_project=False, quiet=True)


def make_venv(root: Path, dists: dict[str, tuple[str, list[str], list[str]]]) -> Path:
    """A real venv (no pip) whose site-packages holds ``dists``: name -> (version, requires, files).

    Each distribution gets a ``*.dist-info`` folder (METADATA, RECORD, top_level.txt) and its
    files (empty) so that importlib.metadata and packages_distributions() see it.
    """
    venv.EnvBuilder(with_pip=False).create(root)
    python = root / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    for name, (version, requires, files) in dists.items():
        info = site / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        meta = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}",
                *(f"Requires-Dist: {r}" for r in requires)]
        (info / "METADATA").write_text("\n".join(meta) + "\n\n", encoding="utf-8")
        for rel in files:
            (site / rel).parent.mkdir(parents=True, exist_ok=True)
            (site / rel).write_bytes(b"")
        (info / "RECORD").write_text("".join(f"{rel},,\n" for rel in files), encoding="utf-8")
        tops = sorted({rel.split("/")[0].split(".")[0] for rel in files})
        (info / "top_level.txt").write_text("\n".join(tops) + "\n", encoding="utf-8")
    return python


def run_cli(*args: str, stdin: bytes | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`envdoctor explain ARGS` in a subprocess (exit codes and one-line errors as users see them)."""
    proc = subprocess.run([sys.executable, "-m", "envdoctor", "explain", *args], input=stdin,
                          capture_output=True, cwd=cwd, timeout=120, check=False)
    return subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode("utf-8", "replace"),
                                       proc.stderr.decode("utf-8", "replace"))

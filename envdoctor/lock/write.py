"""`envdoctor lock FILE.in` writes a checked lock; `envdoctor lock verify [FILES]` checks locks.

Writing: resolve (see :mod:`envdoctor.fix.resolve`), write the lock with its header
(:mod:`envdoctor.env.lock_header`) to a temporary file beside the target, check it
with the same engine as `envdoctor check --env`, and only then move it into place.
Verifying: the target comes from each lock's header; the findings are those of
`envdoctor check --env LOCK` (declared requirements, version rules) plus the
lock rules ED401-ED404.  Both work offline from the knowledge base; package
metadata is used where the metadata fetcher can get it.
"""

from __future__ import annotations

import os
import re
import stat
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from envdoctor.engine.check import CheckRequest, CheckResult, run_check
from envdoctor.env.probe import marker_environment
from envdoctor.env.target import PLATFORMS
from envdoctor.errors import InputError
from envdoctor.fix.resolve import Resolved
from envdoctor.env.lock_header import LockHeader
from envdoctor.env.lockfile import parse_file


VERIFY_BUDGET_S = 300.0  # per lock: `lock verify` runs the cross-package check again until it is complete


def native_platform() -> str:
    """The ``--platform`` name of the running machine (what pip-compile resolves for)."""
    env = marker_environment()
    return next((name for name, (system, _, machine) in sorted(PLATFORMS.items())
                 if (system, machine) == (env["platform_system"], env["platform_machine"])), "linux_x86_64")


_CUDA_RUNTIME = re.compile(r"^nvidia-cuda-runtime(?:-cu\d+)?$")


def pinned_cuda(pins: Iterable[tuple[str, str, tuple[str, ...]]]) -> str | None:
    """The CUDA (X.Y) a resolution pins: the version of the CUDA runtime wheel torch's CUDA builds
    require (``nvidia-cuda-runtime-cu12==12.4.127`` → ``12.4``), else a ``+cuXYZ`` torch label; None
    for a CPU resolution (``torch==2.6.0+cpu``, or no CUDA wheels)."""
    for name, version, _ in pins:
        if _CUDA_RUNTIME.match(name.lower()):
            return ".".join(version.split(".")[:2])
    for name, version, _ in pins:
        label = re.search(r"\+cu(\d+)(\d)$", version) if name.lower() == "torch" else None
        if label:
            return f"{label.group(1)}.{label.group(2)}"
    return None
def output_for(in_file: Path, output: Path | None) -> Path:
    """Where the lock of ``in_file`` goes: ``output``, or ``FILE.txt`` beside ``FILE.in``.

    Never one of its inputs (``in_file`` or a file it includes; pip-compile refuses this
    too) and never a device, FIFO or folder: InputError naming the output to use instead.
    """
    chosen = output or in_file.with_suffix(".txt")
    inputs = {os.path.realpath(in_file), *(os.path.realpath(pin.source) for pin in parse_file(in_file))}
    if os.path.realpath(chosen) in inputs:
        stem = in_file.name[:-len(in_file.suffix)] if in_file.suffix else in_file.name
        instead = chosen.with_name(f"{stem}.lock.txt" if chosen.name == in_file.name else f"{stem}.txt")
        hint = (f"rename the input to {stem}.in (the convention) or pass -o {instead}"
                if chosen.name == in_file.name else f"pass -o {instead}")
        raise InputError(f"{chosen}: is an input of this lock, so it is not overwritten; {hint}")
    try:
        mode = os.stat(chosen).st_mode
    except OSError:
        return chosen
    if not stat.S_ISREG(mode):
        raise InputError(f"{chosen}: not a regular file (a device, FIFO or folder); pass -o with a file name")
    return chosen


def lock_text(header: LockHeader, resolved: Resolved, hashes: bool) -> str:
    """The lock: header, then one ``name==version`` line per package (with ``--hash`` lines)."""
    lines = [header.render().rstrip("\n")]
    for name, version, digests in sorted(resolved.pins):
        if hashes and digests:
            lines.append(f"{name}=={version} \\")
            lines += [f"    --hash={d}" + (" \\" if i < len(digests) - 1 else "") for i, d in enumerate(digests)]
        else:
            lines.append(f"{name}=={version}")
    return "\n".join(lines) + "\n"


def check_lock(path: Path, header: LockHeader, offline: bool, budget_s: float = 0.0) -> CheckResult:
    """The findings of `envdoctor check --env path` for the lock's own target.  ``budget_s``: run
    the check again (each run goes on from the cache) until the cross-package check is complete,
    a run learns nothing new, or the time is spent, so that a CI job's verdict does not depend on
    how far one run's budget got; the result says which (:attr:`CheckResult.complete`, a note)."""
    request = CheckRequest(env_file=path, python_version=header.python or None,
                           platform=header.platform or None, cuda=header.cuda, offline=offline,
                           provided=tuple(p.strip() for p in header.excluded.split(",") if p.strip()),
                           include_project=False, quiet=True, lock_header=header if header.foreign else None)
    deadline = time.monotonic() + budget_s
    result, runs = run_check(request), 1
    while not result.complete and not offline and time.monotonic() < deadline:
        if sys.stderr.isatty():
            sys.stderr.write(f"\r{path.name}: the cross-package check goes on (run {runs + 1})" + " " * 10)
            sys.stderr.flush()
        result = run_check(request)
        runs += 1
        if not result.learned:
            break
    if sys.stderr.isatty() and runs > 1:
        sys.stderr.write("\r" + " " * 70 + "\r")
    if runs > 1:
        state = "complete" if result.complete else "still incomplete (the notes say what waits)"
        result.notes.append(f"cross-package API check: {runs} runs, {state}")
    return result


def lock_files(paths: tuple[Path, ...]) -> list[Path]:
    """Files to verify: given files, and in given folders every ``X.txt`` that has an ``X.in``."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.glob("*.txt") if p.with_suffix(".in").is_file())
        elif path.is_file():
            found.append(path)
        else:
            raise InputError(f"{path}: no such file or folder; pass lock files or a folder of them")
    if not found:
        raise InputError(f"{', '.join(map(str, paths))}: no lock files (X.txt beside X.in) to verify")
    return found

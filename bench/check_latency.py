"""Wall-clock latency of `envdoctor check --no-project` beside `python -m pip check`.

envdoctor is timed twice: as users meet it (an unchanged environment replays the last answer,
see envdoctor/cli/replay.py) and with ``--no-cache`` (every rule runs; the symbol cache is warm).
The warm-up repeats envdoctor's check until its answer is complete (the cross-package check
finishes over the first runs of a cold cache), at most 8 times.  All three check the same
environment (the interpreter given with --python, default this one) in fresh processes,
interleaved run by run after one warm-up each, so machine load hits them alike.  All write and
read their bytecode under one temporary PYTHONPYCACHEPREFIX, even where PYTHONDONTWRITEBYTECODE
is set: an installed wheel ships compiled modules, an editable checkout would otherwise recompile
envdoctor's ~150 modules every run while pip's stay compiled.  Prints medians, p90 and the
ratios; the target is envdoctor's median <= 0.2 x pip check's.

    python bench/check_latency.py [--runs 15] [--python /work/venv-index/bin/python]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_RATIO = 0.2


def timed(argv: list[str], cwd: str, env: dict[str, str]) -> tuple[float, int]:
    """Seconds one run of ``argv`` took, and its exit code."""
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          check=False)
    return time.perf_counter() - start, proc.returncode


def answer(argv: list[str], cwd: str, env: dict[str, str]) -> str:
    """What one run of ``argv`` prints."""
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False).stdout


def p90(values: list[float]) -> float:
    """The 90th percentile (inclusive method)."""
    return statistics.quantiles(values, n=10, method="inclusive")[8]


def version_of(python: str, code: str) -> str:
    return subprocess.run([python, "-c", code], capture_output=True, text=True, check=False).stdout.strip()


def main() -> int:
    """Run the benchmark and print the figures; exit 1 when over the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs of each command (default 15)")
    parser.add_argument("--python", default=sys.executable, help="the environment's interpreter")
    args = parser.parse_args()
    script = Path(args.python).with_name("envdoctor")
    commands = {
        "envdoctor check": [str(script), "check", "--no-project", "--python", args.python],
        "  --no-cache": [str(script), "check", "--no-project", "--no-cache", "--python", args.python],
        "pip check": [args.python, "-m", "pip", "check"],
    }
    versions = version_of(args.python, (
        "import sys, platform, importlib.metadata as m; "
        "print(f'Python {platform.python_version()}, envdoctor {m.version(\"envdoctor\")}, "
        "pip {m.version(\"pip\")}, {len({d.metadata[\"Name\"] for d in m.distributions()})} distributions, "
        "{len(__import__(\"os\").sched_getaffinity(0))} CPUs')"))
    print(f"environment: {args.python}\n  {versions}")
    times: dict[str, list[float]] = {name: [] for name in commands}
    codes: dict[str, set[int]] = {name: set() for name in commands}
    with tempfile.TemporaryDirectory() as cwd, tempfile.TemporaryDirectory() as pycache:  # no project files
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = pycache
        for argv in commands.values():
            timed(argv, cwd, env)  # warm-up: page cache, .pyc files, envdoctor's caches
        for _ in range(8):
            if "not fully checked yet" not in answer(commands["  --no-cache"], cwd, env):
                break
        for _ in range(args.runs):
            for name, argv in commands.items():
                seconds, code = timed(argv, cwd, env)
                times[name].append(seconds)
                codes[name].add(code)
    print(f"{args.runs} runs each, interleaved, after one warm-up")
    print(f"{'command':<18}{'median':>10}{'p90':>10}{'min':>10}  exit codes")
    for name, values in times.items():
        print(f"{name:<18}{statistics.median(values) * 1000:>8.0f}ms{p90(values) * 1000:>8.0f}ms"
              f"{min(values) * 1000:>8.0f}ms  {sorted(codes[name])}")
    full = statistics.median(times["  --no-cache"]) / statistics.median(times["pip check"])
    print(f"ratio of medians, every rule run (--no-cache / pip check): {full:.3f}")
    ratio = statistics.median(times["envdoctor check"]) / statistics.median(times["pip check"])
    verdict = "meets" if ratio <= TARGET_RATIO else "misses"
    print(f"ratio of medians (envdoctor / pip check): {ratio:.3f} ({verdict} the target <= {TARGET_RATIO})")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())

"""Cold and warm timings of the cross-package API check (ED150) beside `pip check`.

Runs `envdoctor check --no-project --offline --no-cache` (every rule runs: no replay of an unchanged
environment, which bench/check_latency.py times) in the interpreter given with --python (default
this one; this checkout's envdoctor) with a fresh symbol cache: the first run (cold: it scans what the time budget allows,
the QLoRA stack first), the runs until the cache is complete, then warm runs; `pip check` runs
interleaved with the warm runs so that machine load hits both alike.  Prints every figure and
the warm ratio; the targets are a cold first run under 10 s and a warm `check` within 0.2 x
`pip check`.  Both keep their bytecode under one PYTHONPYCACHEPREFIX (see bench/check_latency.py).

    python bench/surface_cold.py [--runs 7] [--python /path/to/python]
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

COLD_TARGET_S = 10.0
WARM_RATIO = 0.2


def timed(argv: list[str], env: dict[str, str], cwd: str) -> float:
    """Seconds one run of ``argv`` took."""
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def main() -> int:
    """Run the benchmark, print the figures; exit 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="warm runs of each command (default 7)")
    parser.add_argument("--python", default=sys.executable, help="the environment's interpreter")
    args = parser.parse_args()
    here = str(Path(__file__).resolve().parents[1])
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as cwd, \
            tempfile.TemporaryDirectory() as pycache:
        env = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
               "ENVDOCTOR_CACHE_DIR": cache, "PIP_CONFIG_FILE": os.devnull,
               "PYTHONPYCACHEPREFIX": pycache,  # both compiled once, as an installed wheel is
               "PYTHONPATH": here + os.pathsep + os.environ.get("PYTHONPATH", "")}
        # the environment's own interpreter runs envdoctor (this checkout first on its path): a live check
        check = [args.python, "-m", "envdoctor", "check", "--no-project", "--offline", "--no-cache",
                 "--python", args.python]
        pip = [args.python, "-m", "pip", "check"]
        cold = [timed(check, env, cwd)]
        while not list(Path(cache, "surface", "checks").glob("*.json")) and len(cold) < 10:
            cold.append(timed(check, env, cwd))  # until every distribution has been scanned once
        warm, peer = [], []
        for _ in range(args.runs):
            warm.append(timed(check, env, cwd))
            peer.append(timed(pip, env, cwd))
        size = sum(p.stat().st_size for p in Path(cache).rglob("*") if p.is_file())
    print(f"environment: {args.python}; {os.cpu_count()} CPUs; symbol cache {size / 1e6:.1f} MB when complete")
    print(f"cold: first run {cold[0]:.2f} s; {len(cold)} runs to a complete cache: "
          + ", ".join(f"{t:.2f} s" for t in cold))
    w, p = statistics.median(warm), statistics.median(peer)
    print(f"warm `envdoctor check` median {w * 1000:.0f} ms (min {min(warm) * 1000:.0f}); "
          f"`pip check` median {p * 1000:.0f} ms ({args.runs} runs each, interleaved)")
    print(f"warm ratio {w / p:.3f} (target <= {WARM_RATIO}); cold first run target < {COLD_TARGET_S:.0f} s")
    return 0 if cold[0] < COLD_TARGET_S and w / p <= WARM_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())

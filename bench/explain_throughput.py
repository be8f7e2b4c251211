"""Throughput and peak memory of `envdoctor explain` on a large generated log, beside two peers.

Peers measured in the same run on the same file: GNU grep with a few of the same error texts
(a C scanner, the speed ceiling) and a plain Python loop over the file's lines (the floor of any
Python line reader).  Usage: python bench/explain_throughput.py [MB] (default 200).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LINE_LOOP = "import sys\nfor line in open(sys.argv[1], encoding='utf-8', errors='replace'):\n    pass\n"
GREP_TEXTS = "No module named|undefined symbol|CUDA out of memory|no such column|cannot stat|Killed"


def measure(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one command."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(proc.pid, 0)
    return time.monotonic() - start, usage.ru_maxrss / 1024


def main() -> None:
    megabytes = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    block = "".join(f"{{'loss': 1.{i % 97:02d}, 'learning_rate': 0.0002, 'epoch': 0.{i % 10}}}\r"
                    f"  {i % 100}%|{'█' * (i % 100 // 4)}| {i}/100000 [00:01<00:59]\n"
                    for i in range(4096)).encode()
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder, "train.log")
        with log.open("wb") as handle:
            for _ in range(megabytes * 2**20 // len(block) + 1):
                handle.write(block)
            handle.write(b"torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB\n")
        size = log.stat().st_size / 2**20
        rows = [
            ("envdoctor explain --no-env", [sys.executable, "-m", "envdoctor", "explain", str(log), "--no-env",
                                            "--format", "json"]),
            ("python line loop (floor)", [sys.executable, "-c", LINE_LOOP, str(log)]),
            ("grep -E (C ceiling)", ["grep", "-c", "-E", GREP_TEXTS, str(log)]),
        ]
        print(f"log: {size:.0f} MiB, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
        for name, argv in rows:
            seconds, peak = measure(argv)
            print(f"{name:30s} {seconds:7.1f} s  {size / seconds:7.1f} MiB/s  peak RSS {peak:6.0f} MiB")


if __name__ == "__main__":
    main()

"""`envdoctor explain` on a 1.6 MB log of long, adversarial lines: no pattern may backtrack super-linearly.

The log mixes lines built to make naive patterns slow: up to 8192 characters (the reader's cap)
of repeated trigger words (``requires ``, ``triton ``, ``torch ``, ``File "``, ``sm_``, quotes,
``site-packages/``) without the text that would complete a match, and a real traceback at the
end.  It runs `envdoctor explain --no-env --offline` in a subprocess beside a peer on the same
file (a plain Python loop over its lines, the floor of any line reader) and prints both
figures and the ratio; then the same for a 1.6 MB training log (loss lines and a traceback).  Usage: python bench/explain_long_lines.py [MB] (default 1.6).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

LINE_LOOP = "import sys\nfor line in open(sys.argv[1], encoding='utf-8', errors='replace'):\n    pass\n"
TRIGGERS = ("requires ", "triton ", "torch==2", 'File "/x/site-packages/', "sm_", "'a' ", "upgrade x to ",
            "module 'numpy' has no ", "got an unexpected ", "is required ", "or higher ", "capability ",
            "NVIDIA GeForce ", "Requires-Python ", "`np.", "needs numpy ", "cannot import name '", "Tried to allocate ")
TAIL = ('  File "/usr/lib/python3.11/site-packages/peft/peft_model.py", line 37, in <module>\n'
        "    from transformers import EncoderDecoderCache\n"
        "ImportError: cannot import name 'EncoderDecoderCache' from 'transformers'\n")


def timed(argv: list[str]) -> float:
    """Wall seconds of one command."""
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, timeout=600)
    return time.perf_counter() - start


def main() -> None:
    megabytes = float(sys.argv[1]) if len(sys.argv) > 1 else 1.6
    lines = [(word * (8190 // len(word) + 1))[:8190] for word in TRIGGERS]
    block = "\n".join(lines) + "\n"
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder, "long.log")
        with log.open("w", encoding="utf-8") as handle:
            for _ in range(int(megabytes * 2**20 / len(block)) + 1):
                handle.write(block)
            handle.write(TAIL)
        training = Path(folder, "train.log")
        with training.open("w", encoding="utf-8") as handle:
            step = "".join(f"{{'loss': 1.{i % 97:02d}, 'grad_norm': 0.{i % 89}, 'learning_rate': 0.0002, "
                           f"'epoch': 0.{i % 10}}}\n" for i in range(2000))
            for _ in range(int(megabytes * 2**20 / len(step)) + 1):
                handle.write(step)
            handle.write(TAIL)
        start = timed([sys.executable, "-c", "import envdoctor.explain.command"])
        for name, path in (("adversarial", log), ("training", training)):
            size = path.stat().st_size / 2**20
            explain = timed([sys.executable, "-m", "envdoctor", "explain", str(path), "--no-env", "--offline"])
            peer = timed([sys.executable, "-c", LINE_LOOP, str(path)])
            print(f"{name} log: {size:.2f} MB · envdoctor explain {explain:.2f} s (start-up and imports "
                  f"{start:.2f} s, scan {explain - start:.2f} s) · python line loop {peer:.2f} s · "
                  f"ratio {explain / peer:.1f}x")


if __name__ == "__main__":
    main()

"""Entry point of the child process: ``python -m envdoctor.pipeline.worker {train|eval} PLAN``.

It runs in the *target* interpreter (and under ``accelerate launch`` for several processes), so
training imports what that environment holds, and `envdoctor check` never imports torch.
Exit codes: 0 done, 2 bad input (one line on stderr), 3 interrupted with a checkpoint written.
"""

from __future__ import annotations

import sys
from pathlib import Path

from envdoctor.errors import InputError


def main(argv: list[str]) -> int:
    """Run one heavy stage of a plan."""
    if len(argv) != 2 or argv[0] not in ("train", "eval"):
        print("usage: python -m envdoctor.pipeline.worker {train|eval} PLAN_JSON", file=sys.stderr)
        return 2
    import logging
    import warnings

    from envdoctor.pipeline import plan as plan_mod
    from envdoctor.pipeline import training

    # bitsandbytes warns on AVX512-BF16 CPUs that its optional hub kernel is absent; the
    # built-in CPU kernel it falls back to is what trains here, so the hint is only noise.
    logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
    # transformers 5.2x renames gradient_checkpointing_* (peft still calls the old names).
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"transformers\.")

    plan = plan_mod.read(Path(argv[1]))
    try:
        if argv[0] == "train":
            training.train(plan)
        else:
            from envdoctor.pipeline import evaluate

            evaluate.evaluate(plan)
    except InputError as exc:
        print(f"envdoctor: error: {exc}", file=sys.stderr)
        return 2
    except training.Interrupted as exc:
        print(f"envdoctor: {exc}; continue with `envdoctor run --resume`", file=sys.stderr)
        return training.EXIT_INTERRUPTED
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

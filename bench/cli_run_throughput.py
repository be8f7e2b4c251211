"""`envdoctor run`'s own throughput on the 7B shape, with and without CUDA graphs, from train_result.json.

An independent check of ``pipeline_throughput.py``: nothing here times anything.  Each variant is
a fresh project (the bundled sample database, the random-init 7B deepseek shape written once in
bf16 as ``pipeline_throughput.materialise`` does, batch 4 × 512, LoRA r 8 on q/v), trained by the real CLI (`envdoctor run --stage data`, then `--stage train`, in child
processes); the figures are the training loop's own record: tokens/s over every step (the eager
first updates and the capture included), seconds per step, peak reserved memory and what the auto
knobs chose.  Usage::

    python bench/cli_run_throughput.py --steps 40 --out cli_run.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

CONFIG = """\
model:
  name_or_path: {model}
data:
  db: finance_analysis.db
  output: out/instructions.jsonl
  samples: 600
  eval_fraction: 0.05
  seed: 7
lora:
  r: 8
  alpha: 16
  dropout: 0.05
train:
  epochs: 3
  batch_size: 4
  max_length: 512
  seed: 7
  output_dir: out/adapter
  max_steps: {steps}
  gradient_checkpointing: {checkpointing}
  cuda_graphs: {graphs}
"""
VARIANTS = {"lean-graphs": ("true", "auto"), "lean-eager": ("true", "false"),
            "auto-graphs": ("auto", "auto"), "auto-eager": ("auto", "false")}


def run_variant(root: Path, name: str, model: str, steps: int) -> dict[str, Any]:
    """Build the project, run the data and train stages; the train_result.json figures."""
    from envdoctor.pipeline import sample_db

    checkpointing, graphs = VARIANTS[name]
    folder = root / name
    folder.mkdir(parents=True)
    sample_db.build(folder / "finance_analysis.db")
    (folder / "envdoctor.yaml").write_text(CONFIG.format(model=model, steps=steps, checkpointing=checkpointing,
                                                         graphs=graphs), encoding="utf-8")
    env = {**os.environ, "ENVDOCTOR_CACHE_DIR": str(root / "cache")}
    for stage in ("data", "train"):
        proc = subprocess.run([sys.executable, "-m", "envdoctor", "run", "envdoctor.yaml", "--stage", stage,
                               "--device", "cuda", "--force"], cwd=folder, env=env, capture_output=True, text=True,
                              timeout=900, check=False)
        if proc.returncode != 0:
            return {"variant": name, "error": (proc.stderr or proc.stdout)[-600:]}
    result = json.loads((folder / "out/adapter/train_result.json").read_text(encoding="utf-8"))
    return {"variant": name, "tokens_per_s": result["tokens_per_s"], "seconds_per_step": result["seconds_per_step"],
            "steps": result["step"], "peak_reserved_gib": result["peak_memory"]["gpu_reserved_mib"] / 1024,
            "settings": result["settings"], "final_loss": result["final_loss"]}


def main() -> None:
    """Run every variant; print one line each and the graphs/eager ratios; write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="7b", help="a shape of pipeline_throughput.MODELS")
    parser.add_argument("--models-dir", type=Path, default=Path("/tmp/envdoctor-bench-models"))
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--out", type=Path, default=Path("cli_run_throughput.json"))
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import pipeline_throughput

    model = pipeline_throughput.materialise(args.model, args.models_dir / args.model, "cuda")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.variants:
            row = run_variant(Path(tmp), name, str(model), args.steps)
            rows.append(row)
            print(json.dumps(row), flush=True)
            args.out.write_text(json.dumps(rows, indent=2))
    by = {r["variant"]: r for r in rows if "error" not in r}
    for mode in ("lean", "auto"):
        if f"{mode}-graphs" in by and f"{mode}-eager" in by:
            ratio = by[f"{mode}-graphs"]["tokens_per_s"] / by[f"{mode}-eager"]["tokens_per_s"]
            print(f"{mode}: graphs {by[f'{mode}-graphs']['tokens_per_s']:,.0f} tok/s, eager "
                  f"{by[f'{mode}-eager']['tokens_per_s']:,.0f} tok/s: {ratio:.2f}x")


if __name__ == "__main__":
    main()

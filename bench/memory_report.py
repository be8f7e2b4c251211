"""Compare `envdoctor estimate` with the GPU measurements in bench/results/memory_calibration.json.

For every measured row prints the measured peak as NVML sees it (torch's peak reserved memory
plus the memory outside torch's allocator: CUDA context, cuBLAS/cuDNN workspaces), the
estimator's prediction, and what weights-only arithmetic (accelerate's `estimate-memory`
int4 column: 0.5 byte per parameter) predicts for the same row.  Runs on CPU, no torch.

Usage: python bench/memory_report.py [--markdown] [RESULTS.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from envdoctor.memory.estimate import TrainingPlan, estimate  # noqa: E402
from envdoctor.memory.shapes import resolve_targets, shape_from_config  # noqa: E402

DEFAULT_RESULTS = ROOT / "bench" / "results" / "memory_calibration.json"
TARGETS: dict[str, tuple[str, ...] | str] = {"qv": ("q_proj", "v_proj"), "all": "all-linear"}


@dataclass(frozen=True)
class Row:
    """One measured configuration with its prediction."""

    model: str
    fresh: bool
    record: dict[str, Any]
    measured_mib: float
    predicted_mib: float
    weights_only_mib: float

    @property
    def error(self) -> float:
        """Relative error of the estimator (negative: under-predicted)."""
        return (self.predicted_mib - self.measured_mib) / self.measured_mib

    @property
    def weights_only_error(self) -> float:
        """Relative error of weights-only arithmetic."""
        return (self.weights_only_mib - self.measured_mib) / self.measured_mib


def plan_of(record: dict[str, Any]) -> TrainingPlan:
    """The estimator's plan for a measured row."""
    return TrainingPlan(batch_size=record["batch_size"], max_length=record["max_length"], lora_r=record["lora_r"],
                        targets=resolve_targets(TARGETS[record["targets"]]), optimizer=record["optimizer"],
                        gradient_checkpointing=record["gradient_checkpointing"], attn=record["attn"],
                        style=record["style"], precision="bf16")


def rows(results: dict[str, Any]) -> list[Row]:
    """Every measured (not skipped, not out-of-memory) row with its prediction."""
    out = []
    for name, model in results["models"].items():
        shape = shape_from_config(model["config"], name)
        for fresh, key in ((False, "rows"), (True, "fresh_rows")):
            for record in model.get(key, []):
                if record.get("max_reserved_mib") is None or record.get("oom") or record.get("skipped"):
                    continue
                measured = record["max_reserved_mib"] + record["nvml_used_mib"] - record["reserved_now_mib"]
                prediction = estimate(shape, plan_of(record))
                out.append(Row(name, fresh, record, measured, prediction.peak_mib, prediction.weights_only_mib))
    return out


def summary(table: list[Row]) -> dict[str, float]:
    """Median absolute error, worst under-prediction and worst over-prediction (fractions)."""
    errors = [r.error for r in table]
    return {"median_abs_error": statistics.median(abs(e) for e in errors), "worst_under": min(errors),
            "worst_over": max(errors), "weights_only_median_abs_error":
                statistics.median(abs(r.weights_only_error) for r in table)}


def render(table: list[Row], markdown: bool) -> str:
    """The error table."""
    head = ("model", "process", "style", "ckpt", "seq", "batch", "LoRA", "optimizer", "attn", "measured GiB",
            "estimate GiB", "error", "weights-only GiB", "error")
    lines = []
    for r in table:
        rec = r.record
        lines.append((r.model, "fresh" if r.fresh else "shared", rec["style"], "on" if rec["gradient_checkpointing"] else "off", str(rec["max_length"]),
                      str(rec["batch_size"]), f"r{rec['lora_r']} {rec['targets']}", rec["optimizer"], rec["attn"],
                      f"{r.measured_mib / 1024:.2f}", f"{r.predicted_mib / 1024:.2f}", f"{r.error:+.1%}",
                      f"{r.weights_only_mib / 1024:.2f}", f"{r.weights_only_error:+.1%}"))
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(line) + " |" for line in lines]
    else:
        widths = [max(len(x) for x in col) for col in zip(head, *lines)]
        out = ["  ".join(x.ljust(w) for x, w in zip(line, widths)) for line in (head, *lines)]
    s = summary(table)
    out.append("")
    out.append(f"{len(table)} rows: estimator median |error| {s['median_abs_error']:.1%}, worst under-prediction "
               f"{s['worst_under']:+.1%}, worst over-prediction {s['worst_over']:+.1%}; weights-only median |error| "
               f"{s['weights_only_median_abs_error']:.1%}")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    data = json.loads(args.results.read_text(encoding="utf-8"))
    print(render(rows(data), args.markdown))
    v = data["versions"]
    print(f"measured on {v.get('gpu')} (driver {v.get('driver')}), torch {v['torch']} CUDA {v['cuda']}, "
          f"transformers {v['transformers']}, peft {v['peft']}, bitsandbytes {v['bitsandbytes']}")


if __name__ == "__main__":
    main()

"""Compare `envdoctor estimate` with the GPU measurements of bench/calibrate_memory.py.

bench/results/memory_h200.json holds rows of two calls.  Rows measured with the allocator
`envdoctor run` gives its training child (expandable segments) are compared on the peak as
NVML shows it (torch's peak reserved memory plus the memory outside torch's allocator, less
any managed memory an earlier paged-optimizer row of the same process left behind).  Rows
measured with torch's default allocator are compared on torch's peak *allocated* memory: the
arithmetic terms without the allocator's slack and what lies outside it.  The fitted rows
(``split: fit``) set the slack constants; ``holdout`` rows were kept out of every fit; ``t4``
rows ran with torch capped to a T4's 15360 MiB.  The seeds' recipe (style ``seed``) is compared
with its H100 rows in memory_calibration.json.  Runs on CPU, no torch.

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

from envdoctor.memory.estimate import OUTSIDE_TORCH_MIB, TrainingPlan, estimate  # noqa: E402
from envdoctor.memory.shapes import resolve_targets, shape_from_config  # noqa: E402

DEFAULT_RESULTS = ROOT / "bench" / "results" / "memory_h200.json"
SEED_RESULTS = ROOT / "bench" / "results" / "memory_calibration.json"
TARGETS: dict[str, tuple[str, ...] | str] = {"qv": ("q_proj", "v_proj"), "all": "all-linear"}
NOT_ALLOCATED = ("allocator slack", "outside torch's allocator")


@dataclass(frozen=True)
class Row:
    """One measured configuration with its prediction; ``basis`` is "nvml" or "allocated"."""

    model: str
    record: dict[str, Any]
    basis: str
    measured_mib: float
    predicted_mib: float
    weights_only_mib: float

    @property
    def split(self) -> str:
        """fit | holdout | t4 (seed rows: fit)."""
        return str(self.record.get("split", "fit"))

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
                        style=record.get("style", "pipeline"), precision=record.get("precision", "bf16"),
                        block_mask=record.get("block_mask", True))


def measured_peak_mib(record: dict[str, Any]) -> float:
    """NVML's peak for the row: reserved peak + outside torch, less an earlier row's leftover managed memory."""
    return float(record["nvml_peak_est_mib"] - record.get("leftover_managed_mib", 0.0))


def rows(results: dict[str, Any]) -> list[Row]:
    """Every measured, completed row with its prediction (out-of-memory rows are left out)."""
    if "models" in results:  # the H100 file of the seeds' recipe
        return _seed_rows(results)
    out = []
    for record in results["rows"]:
        if record.get("oom") or record.get("max_reserved_mib") is None:
            continue
        shape = shape_from_config(results["shapes"][record["model"]], record["model"])
        prediction = estimate(shape, plan_of(record))
        if record["allocator"] == "default":
            allocated = prediction.peak_mib - sum(prediction.part(name) for name in NOT_ALLOCATED)
            out.append(Row(record["model"], record, "allocated", record["step_max_allocated_mib"], allocated,
                           prediction.weights_only_mib))
        else:
            out.append(Row(record["model"], record, "nvml", measured_peak_mib(record), prediction.peak_mib,
                           prediction.weights_only_mib))
    return out


def _seed_rows(results: dict[str, Any]) -> list[Row]:
    out = []
    for name, model in results["models"].items():
        shape = shape_from_config(model["config"], name)
        for key in ("rows", "fresh_rows"):
            for record in model.get(key, []):
                if record["style"] != "seed" or record.get("max_reserved_mib") is None or record.get("oom"):
                    continue
                measured = record["max_reserved_mib"] + record["nvml_used_mib"] - record["reserved_now_mib"]
                prediction = estimate(shape, plan_of(record))
                out.append(Row(name, record, "nvml", measured, prediction.peak_mib, prediction.weights_only_mib))
    return out


def t4_ladders(results: dict[str, Any]) -> dict[str, list[tuple[dict[str, Any], float]]]:
    """The capped rows of each model in measuring order, each with the estimator's predicted peak."""
    ladders: dict[str, list[tuple[dict[str, Any], float]]] = {}
    for record in results["rows"]:
        if record["split"] == "t4":
            shape = shape_from_config(results["shapes"][record["model"]], record["model"])
            ladders.setdefault(record["model"], []).append((record, estimate(shape, plan_of(record)).peak_mib))
    return ladders


def summary(table: list[Row]) -> dict[str, float]:
    """Median absolute error, worst under-prediction and worst over-prediction (fractions)."""
    errors = [r.error for r in table]
    return {"median_abs_error": statistics.median(abs(e) for e in errors), "worst_under": min(errors),
            "worst_over": max(errors), "weights_only_median_abs_error":
                statistics.median(abs(r.weights_only_error) for r in table)}


def render(table: list[Row], markdown: bool) -> str:
    """The error table, then one summary line per (basis, split)."""
    head = ("model", "split", "compared", "ckpt", "batch x seq", "LoRA", "optimizer", "attn", "dtype",
            "measured GiB", "estimate GiB", "error")
    lines = []
    for r in table:
        rec = r.record
        lines.append((r.model, r.split, r.basis, "on" if rec["gradient_checkpointing"] else "off",
                      f"{rec['batch_size']}x{rec['max_length']}", f"r{rec['lora_r']} {rec['targets']}", rec["optimizer"],
                      rec["attn"], rec.get("precision", "bf16"), f"{r.measured_mib / 1024:.2f}",
                      f"{r.predicted_mib / 1024:.2f}", f"{r.error:+.1%}"))
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(line) + " |" for line in lines]
    else:
        widths = [max(len(x) for x in col) for col in zip(head, *lines)]
        out = ["  ".join(x.ljust(w) for x, w in zip(line, widths)) for line in (head, *lines)]
    out.append("")
    for basis in dict.fromkeys(r.basis for r in table):
        for split in dict.fromkeys(r.split for r in table):
            group = [r for r in table if r.basis == basis and r.split == split]
            if group:
                s = summary(group)
                out.append(f"{basis:9} {split:7} {len(group):2} rows: median |error| {s['median_abs_error']:.1%}, "
                           f"worst under {s['worst_under']:+.1%}, worst over {s['worst_over']:+.1%}; weights-only "
                           f"median |error| {s['weights_only_median_abs_error']:.1%}")
    return "\n".join(out)


def render_t4(results: dict[str, Any]) -> str:
    """Each capped ladder: the estimator's verdict at 15360 MiB beside what happened under the cap."""
    out = []
    for model, ladder in t4_ladders(results).items():
        for record, predicted in ladder:
            verdict = "fits" if predicted <= 15360 else "does not fit"
            outcome = "out of memory" if record.get("oom") else (
                f"trained, peak {measured_peak_mib(record) / 1024:.2f} GiB (reserved "
                f"{record['max_reserved_mib'] / record['cap_mib']:.0%} of the cap)")
            out.append(f"T4 {model} batch {record['batch_size']} x {record['max_length']} ckpt "
                       f"{'on' if record['gradient_checkpointing'] else 'off'}: estimate {predicted / 1024:.2f} GiB "
                       f"({verdict}); {outcome}")
    out.append(f"cap: torch may reserve 15360 - {OUTSIDE_TORCH_MIB} MiB (what lies outside its allocator here)")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    data = json.loads(args.results.read_text(encoding="utf-8"))
    print(render(rows(data), args.markdown))
    if "rows" in data:
        print(render_t4(data))
    v = data["versions"]
    print(f"measured on {v.get('gpu')} (driver {v.get('driver')}), torch {v['torch']} CUDA {v['cuda']}, "
          f"transformers {v['transformers']}, peft {v['peft']}, bitsandbytes {v['bitsandbytes']}")


if __name__ == "__main__":
    main()

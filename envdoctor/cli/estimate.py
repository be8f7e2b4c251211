"""`envdoctor estimate`: the click command over :mod:`envdoctor.memory.estimate`."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from envdoctor.errors import InputError
from envdoctor.memory.estimate import (
    ATTENTIONS,
    OPTIMIZERS,
    PRECISIONS,
    STRATEGIES,
    STYLES,
    WEIGHT_FORMATS,
    TrainingPlan,
    _plan_from_flags,
    estimate,
    host_ram,
    render_text,
)


def _command_options(func: Any) -> Any:
    import click

    options = [
        click.option("--config", "config_file", type=click.Path(path_type=Path),
                     help="Training config (default: ./envdoctor.yaml when --model/--params are not given)."),
        click.option("--model", metavar="NAME_OR_PATH", help="builtin:NAME, a model folder or its config.json."),
        click.option("--params", metavar="COUNT", help="Only a parameter count is known, e.g. 7B (approximate)."),
        click.option("--batch-size", type=click.IntRange(min=1)),
        click.option("--max-length", type=click.IntRange(min=8)),
        click.option("--lora-r", type=click.IntRange(min=1)),
        click.option("--target-modules", "targets", metavar="LIST", help="q_proj,v_proj or all-linear."),
        click.option("--optimizer", type=click.Choice(OPTIMIZERS)),
        click.option("--gradient-checkpointing/--no-gradient-checkpointing", default=None),
        click.option("--attn", type=click.Choice(ATTENTIONS)),
        click.option("--style", type=click.Choice(STYLES),
                     help="pipeline: envdoctor's loop; seed: prepare_model_for_kbit_training + full fp32 logits."),
        click.option("--precision", type=click.Choice(PRECISIONS), help="Default: bf16, or fp16 on GPUs without bf16."),
        click.option("--processes", type=click.IntRange(min=1)),
        click.option("--strategy", type=click.Choice(STRATEGIES)),
        click.option("--weights-format", type=click.Choice(WEIGHT_FORMATS)),
        click.option("--gpu", "gpu_target", metavar="NAME",
                     help="Judge against a GPU from the table (T4, A100-40, ...) or of a size (24GB)."),
        click.option("--host-ram", "host_ram_text", metavar="SIZE",
                     help="Judge host RAM against a planned machine's (64GB) instead of this one's."),
        click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _load_inputs(config_file: Path | None, model: str | None, params: str | None) -> tuple[Any, Any]:
    """(shape, config or None) from --config / --model / --params."""
    from envdoctor.memory.shapes import load_shape, shape_from_params

    if model and params:
        raise InputError("pass --model or --params, not both")
    config = None
    if config_file is None and not model and not params and Path("envdoctor.yaml").is_file():
        config_file = Path("envdoctor.yaml")
    if config_file is not None:
        from envdoctor.project.config import load_config

        config = load_config(config_file)
    if params:
        return shape_from_params(params), config
    if model:
        return load_shape(model), config
    if config is not None:
        base = config.source.parent if config.source else None
        return load_shape(config.model.name_or_path, base), config
    raise InputError("nothing to estimate: pass --model builtin:deepseek-7b-config (or a config.json), "
                     "--params 7B, or --config envdoctor.yaml")


def parse_size_mib(text: str, flag: str) -> int:
    """``64GB`` / ``512MB`` / ``1.5TB`` (decimal units; GiB/MiB binary) as MiB; InputError otherwise."""
    m = re.match(r"^\s*(\d+(?:\.\d+)?)\s*(tb|tib|gb|gib|g|mb|mib|m)\s*$", text, re.IGNORECASE)
    if not m or float(m.group(1)) <= 0:
        raise InputError(f"{flag} {text!r}: expected a size such as 64GB or 512MB")
    unit = m.group(2).lower()
    scale = {"tb": 1e12, "tib": 2**40, "gb": 1e9, "g": 1e9, "gib": 2**30, "mb": 1e6, "m": 1e6, "mib": 2**20}[unit]
    return int(float(m.group(1)) * scale / 2**20)


def _run_estimate(config_file: Path | None, model: str | None, params: str | None, gpu_target: str | None,
                  fmt: str, flags: dict[str, Any], host_ram_text: str | None = None) -> None:
    import click

    from envdoctor.env.hardware import probe_hardware
    from envdoctor.memory.headroom import (
        budget_for,
        judge,
        plan_from_config,
        precision_for,
    )

    shape, config = _load_inputs(config_file, model, params)
    hardware = probe_hardware()
    processes = flags.get("processes") or (config.launch.processes if config else 1)
    budget = budget_for(gpu_target, hardware.gpus, processes)
    capability = budget.gpu.capability if budget else None
    base = plan_from_config(config, capability) if config else replace(
        TrainingPlan(), precision=precision_for("auto", capability))
    plan = _plan_from_flags(base, flags)
    verdict = judge(shape, plan, budget) if budget else None
    result = verdict.estimate if verdict else estimate(shape, plan)
    ram = host_ram(shape, plan)
    if host_ram_text:
        ram_available: int | None = parse_size_mib(host_ram_text, "--host-ram")
    else:
        ram_available = None if gpu_target else hardware.ram_available_mib  # --gpu plans for another machine
    ram_fits = ram_available is None or ram.peak_mib <= ram_available
    if fmt == "json":
        data = {**result.to_dict(), "host_ram_mib": round(ram.peak_mib), "host_ram_detail": ram.detail,
                "host_ram_available_mib": ram_available, "host_ram_fits": ram_fits}
        if verdict is not None:
            data["verdict"] = {"gpu": verdict.budget.label, "budget_mib": verdict.budget.free_mib,
                               "fits": verdict.fits, "tight": verdict.tight, "summary": verdict.summary(),
                               "options": [{"title": o.title, "peak_mib": round(o.peak_mib)} for o in verdict.options]}
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(render_text(result, verdict, ram, ram_available,
                               "on the planned machine (--host-ram)" if host_ram_text else "available here"))
    sys.exit(1 if (verdict is not None and not verdict.fits) or not ram_fits else 0)


def _build_command() -> Any:
    import click

    @click.command(name="estimate")
    @_command_options
    def estimate_command(config_file: Path | None, model: str | None, params: str | None, batch_size: int | None,
                         max_length: int | None, lora_r: int | None, targets: str | None, optimizer: str | None,
                         gradient_checkpointing: bool | None, attn: str | None, style: str | None,
                         precision: str | None, processes: int | None, strategy: str | None,
                         weights_format: str | None, gpu_target: str | None, host_ram_text: str | None,
                         fmt: str) -> None:
        """Predict peak GPU memory and host RAM of a QLoRA run, and whether it fits a GPU.

        Reads envdoctor.yaml (or --model/--params) and flags that override it.  Host RAM is
        judged against this machine unless --gpu plans for another one.  Exit codes:
        0 fits (or nothing to judge), 1 does not fit, 2 bad input.
        """
        flags = {"batch_size": batch_size, "max_length": max_length, "lora_r": lora_r, "targets": targets,
                 "optimizer": optimizer, "gradient_checkpointing": gradient_checkpointing, "attn": attn,
                 "style": style, "precision": precision, "processes": processes, "strategy": strategy,
                 "weights_format": weights_format}
        _run_estimate(config_file, model, params, gpu_target, fmt, flags, host_ram_text)

    return estimate_command


command = _build_command()

"""The training config, ``envdoctor.yaml``: load, validate, and write a starter file.

One YAML file says what `envdoctor check` inspects and what `envdoctor run`
executes: model, data, lora, train and launch sections.  Every knob is a field
of a frozen dataclass below; its ``doc`` metadata is the trade-off that the
starter file (``envdoctor init``) prints as a comment, so code, validation and
documentation come from one place.

Paths are resolved relative to the config file's folder.  Errors name the file,
the line and the key: ``envdoctor.yaml:12: train.bath_size: unknown key; did you
mean 'batch_size'?``.
"""

from __future__ import annotations

import difflib
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from envdoctor.errors import InputError
from envdoctor.userfiles import parse_yaml, read_text
from envdoctor.project.builtin_models import BUILTIN_PREFIX

DEFAULT_FILE = "envdoctor.yaml"


MAX_MAGNITUDE = 1e15  # larger numbers in a training config are typos or attacks


def knob(default: Any, doc: str, *, choices: tuple[Any, ...] = (), minimum: float | None = None,
         maximum: float | None = None, below: float | None = None) -> Any:
    """A config field with its trade-off ``doc`` and its allowed values or range.

    ``maximum`` is inclusive, ``below`` exclusive.  Mutable defaults are copied per instance.
    """
    meta = {"doc": doc, "choices": choices, "minimum": minimum, "maximum": maximum, "below": below}
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class ModelConfig:
    """The base model that is quantized to 4-bit and given LoRA adapters."""

    name_or_path: str = knob(
        "builtin:tiny-llama",
        "Local folder, Hugging Face hub id, or builtin:tiny-llama / builtin:deepseek-7b-config (random init "
        "from a bundled config: no download, for smoke tests). A local folder is checked before the run "
        "(config.json, tokenizer files, custom code).")
    revision: str | None = knob(
        None, "Hub revision (commit, tag or branch). Pin a commit for reproducible runs; null follows the "
              "default branch, which can change under you.")
    trust_remote_code: bool = knob(
        False, "Run Python code shipped with the model (config.json auto_map). Needed for custom "
               "architectures (e.g. ChatTS); it executes that code with your permissions, so only for "
               "models you trust.")
    attn_implementation: str = knob(
        "sdpa", "Attention kernel. sdpa: built into torch, works everywhere; flash_attention_2: faster and "
                "leaner on Ampere+ (not T4) but needs a flash-attn build matching torch; eager: slowest, "
                "most compatible.", choices=("eager", "sdpa", "flash_attention_2"))

    @property
    def is_builtin(self) -> bool:
        """Whether the model is one of the bundled random-init configs."""
        return self.name_or_path.startswith(BUILTIN_PREFIX)


@dataclass(frozen=True)
class DataConfig:
    """Where the instruction data set comes from and how it is mixed."""

    db: Path | None = knob(
        None, "SQLite database the dataset builder reads (opened read-only). null builds a template-only "
              "data set (recorded in the run record): fine for smoke tests, not for a real model.")
    queries: dict[str, str] = knob(
        {}, "Optional name -> SQL overrides of the builder's built-in queries (news, ...). `envdoctor check` "
            "compiles each against the database, so a wrong column is caught before the GPU starts.")
    output: Path = knob(
        Path("out/instructions.jsonl"), "Where the built instruction samples are written (JSONL).")
    samples: int = knob(
        300, "Total instruction samples. More samples: better coverage, longer training; the database "
             "must hold enough rows for each source's share.", minimum=1, maximum=10_000_000)
    mix: dict[str, float] = knob(
        {"news": 0.6, "market": 0.2, "earnings": 0.2},
        "Share of samples per source; the shares sum to 1. Skewing it skews what the adapter learns.",
        minimum=0.0)
    eval_fraction: float = knob(
        0.1, "Fraction held out for evaluation. Larger gives a steadier eval loss but fewer training "
             "samples.", minimum=0.0, below=1.0)
    seed: int = knob(42, "Seed for sampling and shuffling: same seed, same data set.")


@dataclass(frozen=True)
class LoraConfig:
    """The LoRA adapter trained on top of the frozen 4-bit base."""

    r: int = knob(8, "Adapter rank. Higher learns more but uses more memory and overfits small data "
                     "sets sooner; 8-16 is typical for QLoRA.", minimum=1)
    alpha: float = knob(16, "Scaling of the adapter update (effective scale alpha/r). Usually 2*r; "
                            "higher makes updates stronger and training less stable.", minimum=0.0)
    dropout: float = knob(0.05, "Dropout on the adapter input. Regularises small data sets; 0 trains "
                                "slightly faster.", minimum=0.0, below=1.0)
    target_modules: tuple[str, ...] | str = knob(
        ("q_proj", "v_proj"), "Layers that get adapters: a list of module names, or \"all-linear\". More "
                              "layers: better quality, more memory and time.")


@dataclass(frozen=True)
class TrainConfig:
    """The optimisation loop."""

    epochs: int = knob(3, "Passes over the data. More fits better until it overfits; watch eval loss.",
                       minimum=1)
    batch_size: int = knob(4, "Samples per device per step. The main lever on GPU memory: halve it "
                              "(and double gradient_accumulation) when memory runs out.", minimum=1)
    gradient_accumulation: int = knob(1, "Steps accumulated per optimizer update: a larger effective "
                                         "batch without more memory, but fewer updates per epoch.", minimum=1)
    learning_rate: float = knob(2.0e-4, "Peak learning rate. 1e-4 to 3e-4 is usual for LoRA; too high "
                                        "diverges, too low learns nothing in few epochs.", minimum=1e-8)
    max_length: int = knob(512, "Tokens per sample (longer ones are truncated). Memory grows with it; "
                                "too short cuts answers off.", minimum=8)
    seed: int = knob(42, "Seed for adapter initialisation and data order.")
    output_dir: Path = knob(Path("out/adapter"), "Where checkpoints and the adapter are written; needs "
                                                 "free disk for the checkpoints (`envdoctor check` measures it).")
    gradient_checkpointing: bool | str = knob(
        True, "Recompute activations in the backward pass: much less memory, about 30% slower. auto: the "
              "fastest setting whose estimated peak fits the GPU with 10% to spare (off, or only as many "
              "layers as needed); the choice and why are recorded in train_result.json.",
        choices=(True, False, "auto"))
    cuda_graphs: bool | str = knob(
        "auto", "Replay each step from CUDA graphs: the host launches a few graphs instead of thousands of "
                "small kernels, so steps stop waiting on Python (packed rows are padded to batch_size x "
                "max_length). auto: on with CUDA, packing, one process, sdpa and adamw_torch; the "
                "choice and why are recorded in train_result.json.", choices=(True, False, "auto"))
    kernels: str = knob("torch", "torch: the model's own layers. liger: Liger's fused RMSNorm, RoPE and SwiGLU "
                                 "kernels on CUDA (pip install liger-kernel; faster steps, the same loss within "
                                 "rounding); ignored on CPU.", choices=("torch", "liger"))
    optimizer: str = knob("adamw_torch", "adamw_torch: plain, most compatible. adamw_8bit / paged_adamw_8bit: "
                                         "less optimizer memory via bitsandbytes; paged_* survives memory "
                                         "spikes.", choices=("adamw_torch", "adamw_8bit", "paged_adamw_8bit",
                                                             "paged_adamw_32bit"))
    precision: str = knob("auto", "auto: bf16 if the GPU supports it, fp16 on T4, fp32 on CPU. Forcing bf16 "
                                  "on a T4 fails; fp32 doubles activation memory.",
                          choices=("auto", "bf16", "fp16", "fp32"))
    style: str = knob("pipeline", "pipeline: this tool's loop. seed: the seeds' recipe "
                                  "(prepare_model_for_kbit_training, fp32 logits, padding to max_length), "
                                  "which needs more memory; the estimator models both.",
                      choices=("pipeline", "seed"))
    max_steps: int | None = knob(None, "Optional cap on optimizer steps for smoke runs; null trains all "
                                       "epochs.", minimum=1)
    packing: bool = knob(True, "Pack several short samples into one row without padding (each keeps its "
                               "own attention span): about 2x the useful tokens per step; false pads each "
                               "length-grouped batch instead.")


@dataclass(frozen=True)
class LaunchConfig:
    """How many processes train and how they share the model."""

    processes: int = knob(1, "Processes (usually one per GPU). More is faster only with a strategy that "
                             "splits the work.", minimum=1)
    strategy: str = knob("none", "none: one process. ddp: a full model copy per GPU. deepspeed-zero3 / "
                                 "fsdp: shard the model across GPUs (4-bit with ZeRO-3 needs "
                                 "bitsandbytes>=0.43.0).", choices=("none", "ddp", "deepspeed-zero3", "fsdp"))


@dataclass(frozen=True)
class TrainingConfig:
    """A validated ``envdoctor.yaml``.

    ``source`` is the file it came from (None when built in code), ``lines``
    maps dotted keys (``data.queries.news``) to their 1-based line in it and
    ``written`` maps keys of scalar values to the value's text as written there;
    ``source_lines`` is the file's text by line.
    """

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    lora: LoraConfig = field(default_factory=LoraConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    launch: LaunchConfig = field(default_factory=LaunchConfig)
    source: Path | None = None
    lines: Mapping[str, int] = field(default_factory=dict, compare=False)
    written: Mapping[str, str] = field(default_factory=dict, compare=False)
    source_lines: tuple[str, ...] = field(default=(), compare=False)

    def line_of(self, key: str) -> int | None:
        """The line of a dotted key in ``source`` (None when absent or built in code)."""
        return self.lines.get(key)

    def line_text(self, key: str) -> str | None:
        """The text of the line holding a dotted key, for exact edits (None when absent)."""
        line = self.lines.get(key)
        return self.source_lines[line - 1] if line and line <= len(self.source_lines) else None

    @property
    def model_dir(self) -> Path | None:
        """The local model folder, when ``model.name_or_path`` names one (not a hub id or builtin)."""
        name = self.model.name_or_path
        if self.model.is_builtin:
            return None
        base = self.source.parent if self.source else Path.cwd()
        candidate = Path(name).expanduser()
        if candidate.is_absolute() or name.startswith((".", "~")) or (base / candidate).exists():
            return candidate if candidate.is_absolute() else base / candidate
        return None


SECTIONS: dict[str, type] = {"model": ModelConfig, "data": DataConfig, "lora": LoraConfig,
                             "train": TrainConfig, "launch": LaunchConfig}


class _Invalid(Exception):
    """A validation problem at a dotted key; becomes an InputError with file and line."""

    def __init__(self, key: str, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.line = line


def _did_you_mean(name: str, allowed: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(allowed), n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return "allowed: " + ", ".join(sorted(allowed))


def _type_name(value: Any) -> str:
    return {type(None): "null", bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a mapping"}.get(type(value), type(value).__name__)


def _number(value: Any, key: str, integer: bool) -> int | float:
    """An int or float; also accepts PyYAML's string form of ``2e-4`` (YAML 1.1 needs ``2.0e-4``)."""
    if isinstance(value, str) and not integer:
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Invalid(key, f"expected {'an integer' if integer else 'a number'}, got {_type_name(value)} {value!r}")
    if integer and not (isinstance(value, int) or float(value).is_integer()):
        raise _Invalid(key, f"expected an integer, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise _Invalid(key, f"expected a finite number, got {value!r}")
    if abs(value) > MAX_MAGNITUDE:
        raise _Invalid(key, f"{str(value)[:24]}… is out of any sane range (at most {MAX_MAGNITUDE:g})")
    return int(value) if integer else float(value)


def _coerce(value: Any, hint: Any, key: str, base: Path) -> Any:
    """``value`` checked against the type hint ``hint`` (the small set the config uses)."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if str in options and isinstance(value, str):  # tuple[str, ...] | str: a single string
            return value
        return _coerce(value, options[0], key, base)
    if hint is bool:
        if not isinstance(value, bool):
            raise _Invalid(key, f"expected true or false, got {_type_name(value)} {value!r}")
        return value
    if hint in (int, float):
        return _number(value, key, hint is int)
    if hint is str:
        if not isinstance(value, str) or not value.strip():
            raise _Invalid(key, f"expected a non-empty string, got {_type_name(value)} {value!r}")
        return value
    if hint is Path:
        if not isinstance(value, str) or not value.strip():
            raise _Invalid(key, f"expected a path string, got {_type_name(value)} {value!r}")
        path = Path(value).expanduser()
        return path if path.is_absolute() else base / path
    origin = typing.get_origin(hint)
    if origin is tuple:
        if not isinstance(value, list) or not value:
            raise _Invalid(key, f"expected a non-empty list, got {_type_name(value)} {value!r}")
        return tuple(_coerce(v, args[0], f"{key}[{i}]", base) for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise _Invalid(key, f"expected a mapping, got {_type_name(value)} {value!r}")
        return {_coerce(k, args[0], f"{key}", base): _coerce(v, args[1], f"{key}.{k}", base)
                for k, v in value.items()}
    raise TypeError(f"config field {key} has an unsupported type {hint!r}")  # a bug in this module


def _check_range(value: Any, meta: Mapping[str, Any], key: str) -> None:
    if meta["choices"] and value not in meta["choices"]:
        names = [str(c).lower() if isinstance(c, bool) else str(c) for c in meta["choices"]]  # YAML spelling
        close = difflib.get_close_matches(str(value), names, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise _Invalid(key, f"{value!r} is not one of {', '.join(names)}{hint}")
    numbers = value.values() if isinstance(value, dict) else [value]
    for number in numbers:
        if not isinstance(number, (int, float)) or isinstance(number, bool):
            continue
        if meta["minimum"] is not None and number < meta["minimum"]:
            raise _Invalid(key, f"{number!r} is below the minimum {meta['minimum']}")
        if meta["maximum"] is not None and number > meta["maximum"]:
            raise _Invalid(key, f"{number!r} is above the maximum {meta['maximum']}")
        if meta["below"] is not None and number >= meta["below"]:
            raise _Invalid(key, f"{number!r} must be below {meta['below']}")


def _section(cls: type, raw: Any, name: str, base: Path) -> Any:
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise _Invalid(name, f"expected a mapping of keys, got {_type_name(raw)}")
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        dotted = f"{name}.{key}"
        if key not in known:
            raise _Invalid(dotted, "unknown key; " + _did_you_mean(str(key), known))
        values[key] = _coerce(value, hints[key], dotted, base)
        _check_range(values[key], known[key].metadata, dotted)
    for key, default in ((f.name, f.default) for f in fields(cls)):
        if key not in values and isinstance(default, Path):
            values[key] = base / default
    return cls(**values)


def _check_mix(data: DataConfig) -> None:
    total = sum(data.mix.values())
    if not data.mix or abs(total - 1.0) > 1e-3:
        raise _Invalid("data.mix", f"shares must sum to 1 (they sum to {total:g})")


def _key_lines(node: yaml.Node, text: str, prefix: str, lines: dict[str, int], written: dict[str, str]) -> None:
    """Fill dotted key → 1-based line, and → source text of scalar values; reject duplicate keys."""
    if not isinstance(node, yaml.MappingNode):
        return
    for key_node, value_node in node.value:
        dotted = f"{prefix}{key_node.value}"
        if dotted in lines:
            raise _Invalid(dotted, f"duplicate key (first at line {lines[dotted]})", line=key_node.start_mark.line + 1)
        lines[dotted] = key_node.start_mark.line + 1
        if isinstance(value_node, yaml.ScalarNode):
            written[dotted] = text[value_node.start_mark.index:value_node.end_mark.index]
        _key_lines(value_node, text, dotted + ".", lines, written)


def parse_config(text: str, path: Path) -> TrainingConfig:
    """Validate YAML ``text`` read from ``path`` (used for error messages and relative paths)."""
    lines: dict[str, int] = {}
    written: dict[str, str] = {}

    def fail(exc: _Invalid) -> InputError:
        key = exc.key.split("[")[0]
        while "." in key and key not in lines:
            key = key.rsplit(".", 1)[0]
        line = exc.line or lines.get(key)
        where = f"{path}:{line}" if line else str(path)
        return InputError(f"{where}: {exc.key}: {exc}" if exc.key else f"{where}: {exc}")

    raw = parse_yaml(text, path)  # bounded: no alias bomb, no deep nesting, before anything walks it
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"{path}{where}: not valid YAML ({problem}); fix the syntax or run "
                         f"`envdoctor init --force` for a fresh starter file")
    try:
        if node is not None:
            _key_lines(node, text, "", lines, written)
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise _Invalid("", f"expected sections {', '.join(SECTIONS)} at the top, got {_type_name(raw)}")
        base = path.parent.resolve()
        sections = {}
        for name, value in raw.items():
            if name not in SECTIONS:
                raise _Invalid(str(name), "unknown section; " + _did_you_mean(str(name), SECTIONS))
            sections[name] = _section(SECTIONS[name], value, name, base)
        for name, cls in SECTIONS.items():
            sections.setdefault(name, _section(cls, {}, name, base))
        _check_mix(sections["data"])
    except _Invalid as exc:
        raise fail(exc)
    return TrainingConfig(**sections, source=path.resolve(), lines=lines, written=written,
                          source_lines=tuple(text.splitlines()))


def load_config(path: Path) -> TrainingConfig:
    """Read and validate the training config at ``path``.

    Raises InputError (one line, with file and line) for a missing, unreadable or invalid file.
    """
    text = read_text(path, "config", f"create one with `envdoctor init {path}`")
    return parse_config(text, path)


def _yaml_value(value: Any) -> str:
    if isinstance(value, Path):
        value = value.as_posix()
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, float):
        return repr(value)  # 0.0002 stays a float for YAML 1.1 (2e-4 would load as a string)
    return yaml.safe_dump(value, default_flow_style=True, width=200, sort_keys=False).strip().removesuffix("...").strip()


def _comment(text: str, indent: str) -> list[str]:
    import textwrap

    return [f"{indent}# {line}" for line in textwrap.wrap(text, 96 - len(indent))]


def starter_text() -> str:
    """The commented starter ``envdoctor.yaml``; its values are the defaults (the seeds' settings)."""
    out = ["# envdoctor.yaml: the training config read by `envdoctor check` and run by `envdoctor run`.",
           "# Paths are relative to this file's folder. Each knob's comment says what it trades off.",
           "# Validate it with `envdoctor check` (unknown keys and bad values are reported with a line).", ""]
    for name, cls in SECTIONS.items():
        defaults = cls()
        out += _comment(cls.__doc__ or "", "")
        out.append(f"{name}:")
        for f in fields(cls):
            out += _comment(f.metadata["doc"], "  ")
            out.append(f"  {f.name}: {_yaml_value(getattr(defaults, f.name))}")
        out.append("")
    return "\n".join(out)

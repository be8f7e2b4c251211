"""Facts about a local model folder and a LLaMA-Factory training YAML, without loading a model.

Nothing here imports torch or transformers: a model folder is read as files
(``config.json``, tokenizer files, the imports of its custom code), and the
model types the installed transformers knows are read from its
``models/auto`` source text (the ``CONFIG_MAPPING_NAMES`` pairs), which takes
milliseconds where importing transformers takes seconds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from envdoctor.env.snapshot import Snapshot
from envdoctor import userfiles
from envdoctor.errors import InputError

MAX_FOLDER_ENTRIES = 500
MAX_CODE_BYTES = 1 << 20
IMPORT_RE = re.compile(r"^\s*(?:from|import)\s+([A-Za-z_]\w*)", re.MULTILINE)
CONFIG_PAIR_RE = re.compile(r"""\(\s*["']([\w.-]+)["']\s*,\s*["'](\w+Config)["']\s*\)"""
                            r"""|["']([\w.-]+)["']\s*:\s*["'](\w+Config)["']""")
AUTO_SOURCES = ("configuration_auto.py", "auto_mappings.py")


@dataclass(frozen=True)
class ModelFolderFacts:
    """A local model folder: its config.json, tokenizer files and custom code imports.

    ``config`` is the parsed ``config.json`` (None with ``error`` when missing or
    invalid); ``files`` the names at the top of the folder; ``code_imports`` the
    top-level modules its ``*.py`` files import; ``known_model_types`` the model
    types of the target's transformers (None when it is not installed or its
    source cannot be read).
    """

    path: Path
    config: Mapping[str, Any] | None
    error: str | None = None
    files: frozenset[str] = frozenset()
    tokenizer_config: Mapping[str, Any] = field(default_factory=dict)
    code_imports: frozenset[str] = frozenset()
    known_model_types: frozenset[str] | None = None
    transformers_version: str | None = None


@dataclass(frozen=True)
class LlamaFactoryFacts:
    """A LLaMA-Factory training YAML: its keys, their lines, and what they point at.

    ``lines`` maps each top-level key to (line number, line text); ``zero_stage``
    is the ZeRO stage of the DeepSpeed config it names (None when none or unreadable).
    """

    path: Path
    values: Mapping[str, Any]
    lines: Mapping[str, tuple[int, str]]
    zero_stage: int | None = None
    model: ModelFolderFacts | None = None
    style: str = "yaml"  # "cli": the flags of a launch line (`llamafactory-cli train --flash_attn False`)


def architecture_module(model_type: str) -> str:
    """The transformers package of an architecture: ``qwen2-vl`` -> ``transformers.models.qwen2_vl``
    (each architecture ships as ``transformers/models/<model_type>/``, ``-`` and ``.`` spelled ``_``)."""
    return f"transformers.models.{model_type.strip().lower().replace('-', '_').replace('.', '_')}"


def known_model_types(snapshot: Snapshot) -> tuple[frozenset[str] | None, str | None]:
    """Model types the target's transformers registers, read from its source (not imported)."""
    dist = snapshot.distributions.get("transformers")
    if dist is None or not dist.location:
        return None, dist.version if dist else None
    auto = Path(dist.location).parent / "transformers" / "models" / "auto"
    names: set[str] = set()
    for source in AUTO_SOURCES:
        try:
            text = (auto / source).read_text(encoding="utf-8")
        except OSError:
            continue
        names.update(m.group(1) or m.group(3) for m in CONFIG_PAIR_RE.finditer(text))
    return (frozenset(names) or None), dist.version


def _json(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    if not path.exists() and not path.is_symlink():
        return None, f"no {path.name}"
    try:
        data = userfiles.load_json(path, "json")
    except InputError as exc:
        reason = str(exc).split(": ", 1)[-1]
        if reason.startswith("invalid JSON"):
            return None, f"{path.name} is not valid JSON{reason.removeprefix('invalid JSON')}"
        return None, f"cannot read {path.name} ({reason})"
    if not isinstance(data, dict):
        return None, f"{path.name} is not a JSON object"
    return data, None


def model_folder(path: Path, snapshot: Snapshot) -> ModelFolderFacts:
    """Read a model folder's config.json, tokenizer files and custom code imports."""
    types, version = known_model_types(snapshot)
    if not path.is_dir():
        return ModelFolderFacts(path, None, error="not a folder", known_model_types=types,
                                transformers_version=version)
    try:
        files = frozenset(sorted(p.name for p in path.iterdir())[:MAX_FOLDER_ENTRIES])
    except OSError as exc:
        return ModelFolderFacts(path, None, error=f"cannot list it ({exc.strerror})")
    config, error = _json(path / "config.json")
    tokenizer_config, _ = _json(path / "tokenizer_config.json")
    imports: set[str] = set()
    for name in files:
        if name.endswith(".py"):
            try:
                code = userfiles.read_bytes(path / name, head=MAX_CODE_BYTES).decode("utf-8", "replace")
            except InputError:
                continue
            imports.update(IMPORT_RE.findall(code))
    return ModelFolderFacts(path, config, error=error, files=files, tokenizer_config=tokenizer_config or {},
                            code_imports=frozenset(imports), known_model_types=types,
                            transformers_version=version)


def _zero_stage(reference: Any, bases: tuple[Path, ...]) -> int | None:
    if not isinstance(reference, str):
        return None
    for base in bases:
        data, _ = _json(base / reference)
        if data is not None:
            stage = data.get("zero_optimization", {}).get("stage")
            return stage if isinstance(stage, int) else None
    return None


@dataclass(frozen=True)
class ConfigFileFacts:
    """A tool's YAML configuration (accelerate's ``default_config.yaml``): its top-level values
    and each key's (line number, line text)."""

    path: Path
    values: Mapping[str, Any]
    lines: Mapping[str, tuple[int, str]]


def config_yaml(path: Path, what: str, next_step: str) -> ConfigFileFacts:
    """Read a YAML mapping with the line of each top-level key (InputError when it is missing,
    not YAML or not a mapping)."""
    text = userfiles.read_text(path, "config", next_step)
    values = userfiles.parse_yaml(text, path)  # bounded before anything walks it
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(f"{path}{f':{mark.line + 1}' if mark else ''}: not valid YAML "
                         f"({getattr(exc, 'problem', None) or exc}); fix the syntax")
    if not isinstance(values, dict) or not isinstance(node, yaml.MappingNode):
        raise InputError(f"{path}: expected a mapping of {what}")
    source_lines = text.splitlines()
    lines = {key.value: (key.start_mark.line + 1, source_lines[key.start_mark.line]) for key, _ in node.value}
    return ConfigFileFacts(path, values, lines)


def llamafactory_yaml(path: Path, snapshot: Snapshot, project_root: Path) -> LlamaFactoryFacts:
    """Read a LLaMA-Factory training YAML (InputError when it is missing or not a YAML mapping)."""
    found = config_yaml(path, "LLaMA-Factory arguments (model_name_or_path: ...)",
                        "pass the training YAML you give `llamafactory-cli train`")
    values, lines = found.values, found.lines
    bases = (path.parent, project_root, Path.cwd())
    model = None
    name = values.get("model_name_or_path")
    if isinstance(name, str):
        candidate = next((b / name for b in bases if (b / name).is_dir()), None)
        if candidate is not None or name.startswith(("/", ".", "~")):
            model = model_folder(candidate or Path(name).expanduser(), snapshot)
    return LlamaFactoryFacts(path, values, lines, zero_stage=_zero_stage(values.get("deepspeed"), bases),
                             model=model)

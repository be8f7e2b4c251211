"""The model configs bundled with the pipeline (``builtin:<name>``), read without importing torch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from envdoctor.errors import InputError

BUILTIN_PREFIX = "builtin:"
_FOLDER = Path(__file__).parent / "models_builtin"


def builtin_names() -> list[str]:
    """Names accepted after ``builtin:`` (the bundled ``model_<name>.json`` files)."""
    return sorted(p.name[len("model_"):-len(".json")] for p in _FOLDER.glob("model_*.json"))


def builtin_config(name: str) -> dict[str, Any]:
    """The bundled config of ``builtin:<name>`` (the prefix is optional)."""
    name = name.removeprefix(BUILTIN_PREFIX)
    if name not in builtin_names():
        raise InputError(f"model {BUILTIN_PREFIX}{name} is not bundled; use one of "
                         + ", ".join(BUILTIN_PREFIX + n for n in builtin_names()))
    config: dict[str, Any] = json.loads((_FOLDER / f"model_{name}.json").read_text(encoding="utf-8"))
    return config

"""Which distribution owns an import name, in the target environment.

A log names modules (``No module named 'triton.ops'``, ``.../site-packages/vllm/_C.abi3.so``);
fixes name distributions.  The target interpreter's importlib.metadata answers (in a
subprocess with a time limit for ``--python``); lock files fall back to a name table.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping

from envdoctor.env.interpreter import isolated
from envdoctor.env.probe import canonical_name

PROBE_TIMEOUT_S = 30
_PACKAGES_DISTRIBUTIONS = ("import importlib.metadata as m, json; "
                           "json.dump(m.packages_distributions(), sys.stdout)")


def module_owners(python: str | None) -> dict[str, list[str]]:
    """Top-level import name → distributions, from the target interpreter's importlib.metadata.

    ``python`` None means this interpreter.  An interpreter that cannot answer
    (too old, broken, slow) gives an empty map; callers fall back to name rules.
    """
    if python is None:
        from importlib.metadata import packages_distributions

        return {k: list(v) for k, v in packages_distributions().items()}
    try:
        proc = subprocess.run(isolated(python, _PACKAGES_DISTRIBUTIONS), capture_output=True, text=True,
                              errors="replace", timeout=PROBE_TIMEOUT_S, check=False, stdin=subprocess.DEVNULL)
        data = json.loads(proc.stdout) if proc.returncode == 0 else {}
    except (OSError, subprocess.TimeoutExpired, ValueError, RecursionError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): [str(d) for d in v] for k, v in data.items() if isinstance(v, list)}


def distribution_for_module(module: str, owners: Mapping[str, list[str]], table: Mapping[str, str]) -> str:
    """The distribution (canonical name) that provides import name ``module``'s top-level package."""
    top = module.split(".")[0]
    if owners.get(top):
        return canonical_name(owners[top][0])
    return canonical_name(table.get(top, top))

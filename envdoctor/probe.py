"""Collect a Python environment's facts using the standard library only.

This file is run as a script inside a *target* interpreter
(``envdoctor check --python /path/to/python``), so it must import nothing but
the standard library and must work on every Python envdoctor supports.  It
prints one JSON object on stdout.  For the running interpreter envdoctor
imports it and calls :func:`collect` directly.
"""

from __future__ import annotations

import ast
import json
import os
import platform
import re
import sys
from importlib import metadata

# Environment variables that change what tools do at run time.
RELEVANT_ENV = (
    "DISABLE_VERSION_CHECK", "PYTHONUTF8", "CUDA_VISIBLE_DEVICES", "COLAB_RELEASE_TAG",
    "COLAB_GPU", "KAGGLE_KERNEL_RUN_TYPE", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL",
    "BNB_CUDA_VERSION", "TRITON_CACHE_DIR", "HF_HUB_OFFLINE", "JPY_PARENT_PID",
)

# Installed source files whose runtime version checks we read (package -> file, function).
RUNTIME_CHECK_SOURCES = {
    "llamafactory": ("llamafactory/extras/misc.py", "check_dependencies"),
}

_CANON = re.compile(r"[-_.]+")


def canonical_name(name: str) -> str:
    """PEP 503 normalised project name."""
    return _CANON.sub("-", name).lower()


def marker_environment() -> dict[str, str]:
    """The PEP 508 marker environment of this interpreter (as packaging computes it)."""
    impl = sys.implementation
    iver = "{0.major}.{0.minor}.{0.micro}".format(impl.version)
    if impl.version.releaselevel != "final":
        iver += impl.version.releaselevel[0] + str(impl.version.serial)
    return {
        "implementation_name": impl.name,
        "implementation_version": iver,
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    }


def _runtime_requirements(dist: metadata.Distribution, name: str) -> list[str]:
    """Requirement strings passed to version checks inside an installed source file."""
    rel_path, function = RUNTIME_CHECK_SOURCES[name]
    try:
        text = dist.locate_file(rel_path).read_text(encoding="utf-8")  # type: ignore[union-attr]
        tree = ast.parse(text)
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return []
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == function:
            for call in ast.walk(node):
                if (isinstance(call, ast.Call) and call.args
                        and isinstance(call.args[0], ast.Constant)
                        and isinstance(call.args[0].value, str)):
                    found.append(call.args[0].value)
    return found


def parse_metadata_text(text: str) -> tuple[str, str, list[str], str | None] | None:
    """Name, version, Requires-Dist and Requires-Python from core-metadata text.

    Reads the RFC 822 headers only (the body is the long description); returns
    None when Name or Version is missing.
    """
    name = version = None
    requires: list[str] = []
    requires_python = None
    for line in text.splitlines():
        if not line:  # end of headers; the body is the long description
            break
        key, sep, value = line.partition(":")
        if not sep:
            continue
        value = value.strip()
        if key == "Name":
            name = value
        elif key == "Version":
            version = value
        elif key == "Requires-Dist":
            requires.append(value)
        elif key == "Requires-Python":
            requires_python = value
    if not name or not version:
        return None
    return name, version, requires, requires_python


def _read_metadata(dist: metadata.Distribution) -> tuple[str, str, list[str], str | None] | None:
    """Name, version, Requires-Dist and Requires-Python from METADATA/PKG-INFO."""
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO")
    if not text:
        return None
    return parse_metadata_text(text)


def collect_distributions(paths: list[str] | None = None) -> tuple[list[dict], list[str]]:
    """Every distribution visible on ``paths`` (default ``sys.path``), first one wins.

    Returns the distributions and notes about broken or shadowed ones.
    """
    seen: dict[str, dict] = {}
    notes: list[str] = []
    for dist in metadata.distributions(path=paths if paths is not None else sys.path):
        where = str(getattr(dist, "_path", "?"))
        try:
            meta = _read_metadata(dist)
        except (OSError, UnicodeDecodeError) as exc:
            notes.append(f"unreadable metadata at {where}: {exc}")
            continue
        if meta is None:
            notes.append(f"broken metadata (no Name/Version) at {where}")
            continue
        name, version, requires, requires_python = meta
        key = canonical_name(name)
        if key in seen:
            seen[key]["shadowed"].append(version)
            continue
        entry: dict = {
            "name": key, "version": version, "requires": requires,
            "requires_python": requires_python, "metadata_known": True,
            "location": where, "shadowed": [], "runtime_requirements": [],
            "direct_url": None,
        }
        if key in RUNTIME_CHECK_SOURCES:
            entry["runtime_requirements"] = _runtime_requirements(dist, key)
        direct = dist.read_text("direct_url.json")
        if direct:
            try:
                entry["direct_url"] = json.loads(direct).get("url")
            except ValueError:
                pass
        seen[key] = entry
    return sorted(seen.values(), key=lambda d: d["name"]), notes


def glibc_version() -> str | None:
    """The C library version, e.g. '2.35', or None off glibc."""
    lib, ver = platform.libc_ver()
    return ver if lib == "glibc" and ver else None


def collect() -> dict:
    """All Python-side facts of this interpreter as a JSON-ready dict."""
    dists, notes = collect_distributions()
    return {
        "python": {
            "version": platform.python_version(),
            "implementation": sys.implementation.name,
            "executable": sys.executable,
        },
        "platform": {
            "system": platform.system(), "machine": platform.machine(),
            "sys_platform": sys.platform, "glibc": glibc_version(),
            "release": platform.release(),
        },
        "marker_env": marker_environment(),
        "distributions": dists,
        "environ": {k: os.environ[k] for k in RELEVANT_ENV if k in os.environ},
        "notes": notes,
        "in_notebook": "ipykernel" in sys.modules,
    }


if __name__ == "__main__":
    json.dump(collect(), sys.stdout)

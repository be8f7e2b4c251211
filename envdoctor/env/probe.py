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

# Environment variables that change what tools do at run time.
RELEVANT_ENV = (
    "DISABLE_VERSION_CHECK", "PYTHONUTF8", "CUDA_VISIBLE_DEVICES", "COLAB_RELEASE_TAG",
    "COLAB_GPU", "KAGGLE_KERNEL_RUN_TYPE", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL",
    "BNB_CUDA_VERSION", "TRITON_CACHE_DIR", "HF_HUB_OFFLINE", "JPY_PARENT_PID", "CONDA_DEFAULT_ENV",
    "PIP_CONSTRAINT",
)

# Installed source files whose runtime version checks we read (package -> file, function).
RUNTIME_CHECK_SOURCES = {
    "llamafactory": ("llamafactory/extras/misc.py", "check_dependencies"),
}

# Packages whose shipped native libraries (file names) the snapshot records.
NATIVE_LIBRARY_PATTERNS = {"bitsandbytes": re.compile(r"libbitsandbytes_\w+\.(so|dll|dylib)$")}

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


def _runtime_requirements(root: str, name: str) -> list[str]:
    """Requirement strings passed to version checks inside an installed source file under ``root``."""
    rel_path, function = RUNTIME_CHECK_SOURCES[name]
    try:
        with open(os.path.join(root, rel_path), encoding="utf-8") as handle:
            tree = ast.parse(handle.read())
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


def _native_libraries(metadata_folder: str, name: str) -> list[str]:
    """File names of the native libraries a distribution ships, from its RECORD."""
    pattern = NATIVE_LIBRARY_PATTERNS[name]
    record = _read(os.path.join(metadata_folder, "RECORD")) or ""
    names = (line.split(",", 1)[0].rsplit("/", 1)[-1] for line in record.splitlines())
    return sorted({n for n in names if pattern.search(n)})


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


def _read(path: str) -> str | None:
    """A text file's content, or None when it does not exist."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (FileNotFoundError, NotADirectoryError):
        return None


def installed_metadata(paths: list[str]) -> list[tuple[str, str, str]]:
    """(metadata folder, metadata file, package root) of every distribution on ``paths``, in path order.

    Finds ``*.dist-info`` (METADATA), ``*.egg-info`` folders and files (PKG-INFO) and ``*.egg``
    folders (EGG-INFO/PKG-INFO), as importlib.metadata does, by listing each folder once:
    importing importlib.metadata alone costs more than the whole scan.
    """
    found = []
    for entry in paths:
        try:
            with os.scandir(entry or ".") as items:
                names = sorted((item.name, item.path, item.is_dir()) for item in items)
        except OSError:  # missing folders, zip files on sys.path
            continue
        for name, path, is_dir in names:
            if name.endswith(".dist-info") and is_dir:
                found.append((path, os.path.join(path, "METADATA"), entry))
            elif name.endswith(".egg-info"):
                found.append((path, os.path.join(path, "PKG-INFO") if is_dir else path, entry))
            elif name.endswith(".egg") and is_dir:
                found.append((path, os.path.join(path, "EGG-INFO", "PKG-INFO"), path))
    return found


def collect_distributions(paths: list[str] | None = None) -> tuple[list[dict], list[str]]:
    """Every distribution visible on ``paths`` (default ``sys.path``), first one wins.

    Returns the distributions and notes about broken or shadowed ones.
    """
    seen: dict[str, dict] = {}
    notes: list[str] = []
    for where, metadata_file, root in installed_metadata(paths if paths is not None else sys.path):
        try:
            text = _read(metadata_file)
        except (OSError, UnicodeDecodeError) as exc:
            notes.append(f"unreadable metadata at {where}: {exc}")
            continue
        meta = parse_metadata_text(text) if text else None
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
            "direct_url": None, "native_libs": [],
        }
        if key in RUNTIME_CHECK_SOURCES:
            entry["runtime_requirements"] = _runtime_requirements(root, key)
        if key in NATIVE_LIBRARY_PATTERNS:
            entry["native_libs"] = _native_libraries(where, key)
        try:
            direct = _read(os.path.join(where, "direct_url.json"))
            entry["direct_url"] = json.loads(direct).get("url") if direct else None
        except (OSError, ValueError, UnicodeDecodeError, AttributeError):
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

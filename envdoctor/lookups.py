"""Look-ups that check a log's claim against the machine: module owners, files, database names.

Each look-up is bounded (a time limit, an entry limit) and read-only: databases
are opened with SQLite's ``mode=ro`` URI, the file search never follows links
and stops after a fixed number of entries.
"""

from __future__ import annotations

import difflib
import json
import os
import sqlite3
import subprocess
from collections.abc import Mapping
from contextlib import closing
from pathlib import Path

from envdoctor.probe import canonical_name

PROBE_TIMEOUT_S = 30
SEARCH_DEPTH = 4
SEARCH_MAX_ENTRIES = 20_000
MAX_CANDIDATES = 3
_PACKAGES_DISTRIBUTIONS = ("import importlib.metadata as m, json, sys; "
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
        proc = subprocess.run([python, "-c", _PACKAGES_DISTRIBUTIONS], capture_output=True, text=True,
                              timeout=PROBE_TIMEOUT_S, check=False)
        data = json.loads(proc.stdout) if proc.returncode == 0 else {}
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return {}
    return {str(k): [str(d) for d in v] for k, v in data.items()} if isinstance(data, dict) else {}


def distribution_for_module(module: str, owners: Mapping[str, list[str]], table: Mapping[str, str]) -> str:
    """The distribution (canonical name) that provides import name ``module``'s top-level package."""
    top = module.split(".")[0]
    if owners.get(top):
        return canonical_name(owners[top][0])
    return canonical_name(table.get(top, top))


def nearby_files(path: Path) -> tuple[Path | None, list[Path]]:
    """The nearest existing ancestor of a missing ``path`` and files with its name below it.

    The search is bounded (SEARCH_DEPTH levels, SEARCH_MAX_ENTRIES entries), skips
    hidden folders and is not done from the file-system root or the home folder.
    """
    anchor = path.parent
    while not anchor.is_dir():
        if anchor.parent == anchor:
            return None, []
        anchor = anchor.parent
    if anchor in (Path(anchor.anchor), Path.home()):
        return anchor, []
    found: list[Path] = []
    seen = 0
    base_depth = len(anchor.parts)
    for root, dirs, files in os.walk(anchor):
        seen += len(dirs) + len(files)
        if path.name in files:
            found.append(Path(root, path.name))
            if len(found) >= MAX_CANDIDATES:
                break
        if seen > SEARCH_MAX_ENTRIES:
            break
        if len(Path(root).parts) - base_depth >= SEARCH_DEPTH:
            dirs[:] = []
        else:
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
    return anchor, found


def sqlite_names(db: Path) -> dict[str, list[str]]:
    """Table → column names of an SQLite database, opened read-only."""
    uri = f"{db.resolve().as_uri()}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as conn:
        tables = [row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name")]
        return {table: [row[1] for row in conn.execute("SELECT * FROM pragma_table_info(?)", (table,))]
                for table in tables}


def closest(name: str, choices: list[str]) -> list[str]:
    """Up to three names from ``choices`` that look like ``name`` (difflib ratio ≥ 0.6)."""
    return difflib.get_close_matches(name, choices, n=MAX_CANDIDATES, cutoff=0.6)

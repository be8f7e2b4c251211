"""What a run record needs so that `envdoctor reproduce` can rebuild and re-run it.

Everything here is read without importing torch: file hashes, the config file's bytes, the
model's identity (a builtin's config, a hub revision, or a local folder's file hashes), the
package sources pip is configured with, and the determinism flags the train stage reports.

pip keeps no record of which index a wheel was installed from (only URL and path installs
leave a ``direct_url.json``, which the snapshot already holds), so the record keeps the indexes
and find-links pip was configured with at export time, in pip's order; `envdoctor lock --from`
and `envdoctor fix --to` look each recorded pin up there.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from envdoctor.project.builtin_models import BUILTIN_PREFIX, builtin_config

# Files of a local model folder whose bytes decide the result (weights, config, tokenizer).
MODEL_SUFFIXES = (".safetensors", ".bin", ".json", ".model", ".txt", ".py")
CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def config_source(path: Path | None) -> dict[str, Any] | None:
    """The config file's path, SHA-256 and exact text (None for the built-in default)."""
    if path is None:
        return None
    data = path.read_bytes()
    return {"path": str(path), "sha256": hashlib.sha256(data).hexdigest(),
            "text": data.decode("utf-8", errors="surrogateescape")}


def data_hashes(db: Path | None, jsonl: Path) -> dict[str, Any]:
    """SHA-256 of the database the data set was built from and of the built JSONL."""
    return {"db": str(db) if db else None,
            "db_sha256": file_sha256(db) if db is not None and db.is_file() else None,
            "jsonl": str(jsonl), "jsonl_sha256": file_sha256(jsonl) if jsonl.is_file() else None}


def folder_hashes(folder: Path) -> dict[str, str]:
    """SHA-256 of every model file in ``folder`` (relative path -> digest)."""
    return {str(p.relative_to(folder)): file_sha256(p) for p in sorted(folder.rglob("*"))
            if p.is_file() and p.suffix in MODEL_SUFFIXES and ".cache" not in p.parts}


def hub_commit(repo_id: str, revision: str | None) -> str | None:
    """The commit the local hub cache resolves ``revision`` (default ``main``) of ``repo_id`` to."""
    root = Path(os.environ.get("HF_HUB_CACHE") or Path(os.environ.get("HF_HOME") or
                                                      Path.home() / ".cache" / "huggingface") / "hub")
    ref = root / f"models--{repo_id.replace('/', '--')}" / "refs" / (revision or "main")
    try:
        return ref.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None if revision is None else revision


def model_identity(name_or_path: str, revision: str | None) -> dict[str, Any]:
    """How to tell later whether the model is the same: builtin config hash, hub commit, or file hashes."""
    if name_or_path.startswith(BUILTIN_PREFIX):
        config = builtin_config(name_or_path[len(BUILTIN_PREFIX):])
        digest = hashlib.sha256(repr(sorted(config.items())).encode()).hexdigest()
        return {"kind": "builtin", "name_or_path": name_or_path, "config_sha256": digest}
    folder = Path(name_or_path)
    if folder.is_dir():
        return {"kind": "local", "name_or_path": name_or_path, "files": folder_hashes(folder)}
    return {"kind": "hub", "name_or_path": name_or_path, "revision": revision,
            "commit": hub_commit(name_or_path, revision)}


def loss_tolerance(device: str, deterministic: bool) -> float:
    """How far a re-run's losses may differ: exact on CPU; on a GPU 1e-6 relative with
    deterministic algorithms on, 2e-2 relative without (atomic-add reductions reorder sums)."""
    if device == "cpu":
        return 0.0
    return 1e-6 if deterministic else 2e-2

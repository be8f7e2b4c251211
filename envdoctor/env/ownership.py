"""Who owns what: the packages a fix must not move, and the image a platform publishes.

A detected platform decides part of the environment: Colab's and Kaggle's images (their
``platform_owned`` lists in the knowledge base), a conda base environment, or an image whose
pip configuration applies a constraints file (NVIDIA's PyTorch containers ship
``/etc/pip/constraint.txt`` since 25.03).  Those packages, and ``--keep``, stay; outside a
platform nothing else is held, so on a user's own venv or lock torch, triton and the CUDA
wheels may move when that is the smallest fix.

The platforms also publish the package list of their own image.  A conflict between two
packages both at the versions that image ships is the platform's own: it runs with it, and the
user cannot move it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from envdoctor.env.lockfile import parse_file
from envdoctor.env.pipconfig import constraint_files
from envdoctor.env.snapshot import Snapshot
from envdoctor.errors import InputError


def image_pins(snap: Snapshot, environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """Names that the image's pip constraints file pins (live and ``--python`` targets only)."""
    if snap.source.startswith("file:"):
        return frozenset()
    names: set[str] = set()
    for path in constraint_files(environ):
        try:
            names |= {pin.name for pin in parse_file(path) if pin.exact_version}
        except InputError:
            continue  # pip stops on it; this only means nothing extra is held
    return frozenset(names)


def kept(snap: Snapshot, platform_owned: Mapping[str, list[str]], keep: Iterable[str],
         pinned_by_image: frozenset[str] = frozenset()) -> frozenset[str]:
    """Package patterns fixes must not move: ``keep``, the detected platform's list, the image's pins."""
    platform = snap.platform
    return frozenset(keep) | frozenset(platform_owned.get(platform, []) if platform else ()) | pinned_by_image


def published_image(snap: Snapshot, images: Mapping[str, list[dict[str, Any]]],
                    folder: Path) -> tuple[frozenset[str], str]:
    """The ``name==version`` pins of the detected platform's published image for the target's
    Python (``images`` is the knowledge base's ``platform_images``; files under ``folder``), and
    where the list comes from; empty when no platform or no image for that Python."""
    python = ".".join(snap.python_version.split(".")[:2])
    for image in images.get(snap.platform or "", []):
        if image["python"] == python:
            pins = parse_file(folder / image["file"])
            return frozenset(f"{p.name}=={p.exact_version}" for p in pins if p.exact_version), image["source"]
    return frozenset(), ""

"""The API-surface engine as explain uses it, when it is installed (envdoctor.surface).

The symbol families (cannot import name, has no attribute, unexpected keyword) ask two
questions: does this release of a distribution have the symbol, and in which releases does
it exist.  The engine answers from the packages' own source (``ast`` only) and bisects the
release list on the index.  Without it every answer here is None ("unknown"), and the
families still name the culprits from the traceback and the metadata.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from packaging.version import Version
from typing import Any


@dataclass(frozen=True)
class Boundary:
    """Where a symbol exists in a distribution's releases, as the engine found it."""

    present: tuple[str, ...]
    added_in: str | None
    removed_in: str | None
    last_with: str | None
    first_with: str | None
    text: str
    successor: str | None = None
    last_without: str | None = None  # the release just before ``added_in`` (checked: it lacks the symbol)


def _api() -> Any | None:
    try:
        return importlib.import_module("envdoctor.surface.api")
    except ImportError:
        return None


def available() -> bool:
    """Whether the API-surface engine is installed."""
    return _api() is not None


def status(dist: str, version: str, module: str, name: str | None = None, attr: str | None = None,
           kwarg: str | None = None, site_packages: str | None = None, offline: bool = False,
           explicit: bool = False, instance: bool = False) -> bool | None:
    """Whether ``dist`` ``version`` has the symbol (None: unknown, or no engine).

    ``site_packages``: the target's folder holding that release (its installed files are read
    first); ``offline``: the engine's cache only, no index; ``explicit``: ``kwarg`` must be a named
    parameter (``**kwargs`` does not count); ``instance``: ``attr`` is read on an instance.
    """
    api = _api()
    if api is None:
        return None
    try:
        source = api.SourceSpec(site_packages=(Path(site_packages),) if site_packages else (), offline=offline)
        return api.symbol_status(dist, version, module, name=name, attr=attr, kwarg=kwarg, source=source,
                                 explicit=explicit, instance=instance)
    except Exception:  # the engine's failure is an unknown answer, never a crash of explain
        return None


def boundary(dist: str, module: str, name: str | None = None, attr: str | None = None,
             kwarg: str | None = None, around: str | None = None, index_url: str | None = None,
             offline: bool = False, explicit: bool = False, instance: bool = False) -> Boundary | None:
    """The releases of ``dist`` that have the symbol (None: unknown, or no engine)."""
    api = _api()
    if api is None:
        return None
    try:
        found = api.symbol_boundary(dist, module, name=name, attr=attr, kwarg=kwarg, around=around,
                                    index_url=index_url, offline=offline, explicit=explicit, instance=instance)
    except Exception:
        return None
    if found is None:
        return None
    before = [Version(v) for v, status in found.probed.items() if status is False and found.added_in
              and Version(v) < Version(found.added_in)]
    return Boundary(present=tuple(found.present), added_in=found.added_in, removed_in=found.removed_in,
                    last_with=found.last_with, first_with=found.first_with, text=found.describe(),
                    successor=getattr(found, "successor", None), last_without=str(max(before)) if before else None)


def first_release_without(user: str, version: str | None, path: str, module: str, name: str | None = None,
                          offline: bool = False, anywhere: bool = False) -> str | None:
    """The first release of ``user`` after ``version`` (None: any) whose ``path`` (``anywhere``: whose
    files) no longer uses the symbol (None: unknown)."""
    api = _api()
    if api is None:
        return None
    try:
        return api.first_release_without(user, version, path, module, name, offline=offline, anywhere=anywhere)
    except Exception:
        return None


def importers(module: str, name: str | None, candidates: list[tuple[str, str]],
              offline: bool = False) -> list[tuple[str, str]]:
    """[(distribution, file)] of the candidate releases that import ``module.name`` at import time."""
    api = _api()
    if api is None:
        return []
    try:
        return api.importers_of(module, name, candidates, api.SourceSpec(offline=offline))
    except Exception:
        return []


def likely_importers(module: str, name: str, provider: str, candidates: list[str],
                     offline: bool = False) -> list[tuple[str, str]]:
    """[(distribution, first release without it)] of the widely used ``candidates`` whose earlier
    releases import ``module.name`` at import time (envdoctor.surface.api.likely_importers)."""
    api = _api()
    if api is None:
        return []
    try:
        return api.likely_importers(module, name, provider, candidates, offline=offline)
    except Exception:
        return []


def positional_fix(name: str, given: int, candidates: list[str], owner: str | None = None,
                   installed: dict[str, str] | None = None, offline: bool = False) -> tuple[str, str] | None:
    """(definer, first release whose ``name`` takes ``given`` positional arguments) among
    ``candidates`` (envdoctor.surface.api.positional_fix)."""
    api = _api()
    if api is None:
        return None
    try:
        return api.positional_fix(name, given, candidates, owner=owner, installed=installed, offline=offline)
    except Exception:
        return None


def first_numpy2_build(dist: str, after: str | None, offline: bool = False, deadline: float | None = None) -> str | None:
    """The first release of ``dist`` after ``after`` whose binaries were built for NumPy 2
    (envdoctor.surface.numpy_abi); None offline, without the engine, or when it cannot be told."""
    if offline or _api() is None:
        return None
    try:
        from envdoctor.surface.numpy_abi import first_numpy2_build as found

        return found(dist, after, deadline)
    except Exception:
        return None


@dataclass(frozen=True)
class Phrase:
    """Where an error message appears in a distribution's releases (envdoctor.surface.phrases)."""

    added_in: str | None
    last_without: str | None
    removed_in: str | None


def phrase_boundary(dist: str, message: str, around: str | None = None, offline: bool = False,
                    literal: bool = False, path: str | None = None) -> Phrase | None:
    """The first release of ``dist`` whose source says ``message`` (None: unknown, or no engine);
    ``literal``: searched as written, not as runs of words; ``path``: in that file only."""
    if _api() is None:
        return None
    try:
        from envdoctor.surface.phrases import phrase_boundary as found

        result = found(dist, message, around=around, offline=offline, literal=literal, path=path)
    except Exception:
        return None
    return None if result is None else Phrase(result.added_in, result.last_without, result.removed_in)


def definers(name: str, candidates: list[str], offline: bool = False) -> list[tuple[str, str]]:
    """[(distribution, top-level package)] of the first candidate whose newest release exports ``name``."""
    try:
        from envdoctor.surface.providers import definers as found

        return found(name, candidates, offline=offline)
    except Exception:
        return []


def owner(module: str, site_packages: str) -> str | None:
    """The distribution that installed ``module`` under ``site_packages`` (RECORD files), if the engine says."""
    api = _api()
    if api is None:
        return None
    try:
        return api.module_owner(module, [Path(site_packages)])
    except Exception:
        return None

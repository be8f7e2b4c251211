"""Shared test configuration.

* Every test runs hermetically: ``HOME``, the XDG folders, pip's configuration and with them
  envdoctor's cache and state folders point at a fresh temporary folder (pre-commit's tests do the same), so
  no test reads or writes the user's real home, cache or pip configuration.  The variables are set
  in ``os.environ``, so every subprocess a test starts inherits them.
* GPU tests run only where an NVIDIA GPU answers NVML.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from envdoctor.env.hardware import probe_hardware

# Variables that would let a test see the machine's (or the user's) own configuration.
UNSET = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_NO_INDEX", "PIP_FIND_LINKS", "PIP_CERT",
         "PIP_CLIENT_CERT", "PIP_TRUSTED_HOST", "NETRC", "XDG_CONFIG_DIRS", "VIRTUAL_ENV", "CONDA_PREFIX",
         "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_COLOR",
         "ENVDOCTOR_CACHE_DIR", "ENVDOCTOR_STATE_DIR")  # envdoctor's own folders then lie under the temp XDG ones


CLOSED_INDEX = "http://127.0.0.1:9/simple/"


def hermetic_environ(root: Path) -> dict[str, str]:
    """The variables a hermetic test runs with, every folder under ``root`` (created)."""
    folders = {"HOME": "home", "XDG_CACHE_HOME": "home/.cache", "XDG_CONFIG_HOME": "home/.config",
               "XDG_DATA_HOME": "home/.local/share", "XDG_STATE_HOME": "home/.local/state"}
    values = {key: str(root / sub) for key, sub in folders.items()}
    for path in values.values():
        Path(path).mkdir(parents=True, exist_ok=True)
    values["PIP_CONFIG_FILE"] = os.devnull
    values["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    # No network but loopback: without a test's own index, pip and envdoctor's index client reach a closed
    # loopback port (refused at once) instead of the public index.
    values["PIP_INDEX_URL"] = CLOSED_INDEX
    return values


@pytest.fixture(autouse=True, scope="session")
def hermetic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point home, XDG folders, pip's config and envdoctor's cache/state at a fresh temp folder.

    Session-scoped, so that module- and session-scoped fixtures (which copy ``os.environ`` for
    their subprocesses) see it too."""
    root = tmp_path_factory.mktemp("hermetic")
    with pytest.MonkeyPatch.context() as patch:
        for key in UNSET:
            patch.delenv(key, raising=False)
        for key, value in hermetic_environ(root).items():
            patch.setenv(key, value)
        # the `python` on PATH is the test interpreter, so a live check inspects it (see env.target)
        patch.setenv("PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
        yield root


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests marked `gpu` on machines without an NVIDIA GPU (CI); they run on the device machine."""
    if probe_hardware().gpus:
        return
    skip = pytest.mark.skip(reason="needs an NVIDIA GPU (run on the device machine)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)

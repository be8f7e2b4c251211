"""Shared test configuration: GPU tests run only where an NVIDIA GPU answers NVML."""

from __future__ import annotations

import pytest

from envdoctor.env.hardware import probe_hardware


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests marked `gpu` on machines without an NVIDIA GPU (CI); they run on the device machine."""
    if probe_hardware().gpus:
        return
    skip = pytest.mark.skip(reason="needs an NVIDIA GPU (run on the device machine)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)

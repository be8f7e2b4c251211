"""Host RAM and NVIDIA GPUs, read through psutil and NVML (nvidia-ml-py).

No GPU, no driver or a restricted /proc is a reported state, never a crash.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from envdoctor.env.snapshot import GPU, Hardware


def _ram() -> tuple[int | None, int | None]:
    try:
        import psutil

        vm = psutil.virtual_memory()
        return vm.total // 2**20, vm.available // 2**20
    except Exception:  # psutil raises OSError/RuntimeError on a restricted /proc
        return None, None


def _cuda_version(raw: int) -> str:
    return f"{raw // 1000}.{raw % 1000 // 10}"


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _no_nvidia_driver() -> bool:
    """True on a Linux host (not WSL, whose driver lives in Windows) where no NVIDIA kernel driver is
    loaded: the driver creates /proc/driver/nvidia, in containers too.  Saves importing pynvml."""
    return (sys.platform.startswith("linux") and not os.path.exists("/dev/dxg")
            and not os.path.exists("/proc/driver/nvidia"))


def probe_hardware() -> Hardware:
    """Read RAM and GPUs; NVML failures become ``Hardware.nvml`` text."""
    total, available = _ram()
    base: dict[str, Any] = dict(ram_total_mib=total, ram_available_mib=available, cpu_count=os.cpu_count())
    if _no_nvidia_driver():
        return Hardware(nvml="unavailable: no NVIDIA driver loaded", **base)
    try:
        import pynvml
    except ImportError:
        return Hardware(nvml="unavailable: nvidia-ml-py is not installed", **base)
    try:
        pynvml.nvmlInit()
    except Exception as exc:  # pynvml.NVMLError and OSError when libnvidia-ml is absent
        return Hardware(nvml=f"unavailable: {_text(exc) or type(exc).__name__}", **base)
    try:
        gpus = []
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            mem = pynvml.nvmlDeviceGetMemoryInfo(handle)
            try:
                major, minor = pynvml.nvmlDeviceGetCudaComputeCapability(handle)
                capability: str | None = f"{major}.{minor}"
            except pynvml.NVMLError:
                capability = None
            gpus.append(GPU(index=index, name=_text(pynvml.nvmlDeviceGetName(handle)),
                            capability=capability, memory_total_mib=mem.total // 2**20,
                            memory_free_mib=mem.free // 2**20))
        return Hardware(
            nvml="ok",
            driver_version=_text(pynvml.nvmlSystemGetDriverVersion()),
            cuda_driver_version=_cuda_version(pynvml.nvmlSystemGetCudaDriverVersion()),
            gpus=tuple(gpus), **base)
    except pynvml.NVMLError as exc:
        return Hardware(nvml=f"error: {_text(exc)}", **base)
    finally:
        try:
            pynvml.nvmlShutdown()
        except pynvml.NVMLError:
            pass

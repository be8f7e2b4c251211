"""Builders for the core tests: snapshots made directly, real ``*.dist-info`` folders, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

from envdoctor.engine import core as engine
from envdoctor.env.snapshot import GPU, Distribution, Hardware, Snapshot
from envdoctor.findings import Finding
from envdoctor.knowledge import base as knowledge
from envdoctor.knowledge.base import KnowledgeBase
from envdoctor.rules.base import Context

LINUX_311 = {
    "implementation_name": "cpython", "implementation_version": "3.11.7", "os_name": "posix",
    "platform_machine": "x86_64", "platform_release": "6.1.0", "platform_system": "Linux",
    "platform_version": "#1 SMP", "python_full_version": "3.11.7",
    "platform_python_implementation": "CPython", "python_version": "3.11", "sys_platform": "linux",
}
NO_GPU = Hardware(nvml="unavailable: no NVIDIA driver loaded", ram_total_mib=16000, ram_available_mib=12000)


@lru_cache(maxsize=1)
def kb() -> KnowledgeBase:
    """The bundled knowledge base (loaded once per test session)."""
    return knowledge.load()


def gpu_hardware(capability: str = "7.5", cuda_driver: str = "12.2", name: str = "Tesla T4") -> Hardware:
    """NVML answered with one GPU."""
    return Hardware(nvml="ok", driver_version="535.104.05", cuda_driver_version=cuda_driver,
                    gpus=(GPU(index=0, name=name, capability=capability, memory_total_mib=15360,
                              memory_free_mib=15000),), ram_total_mib=12000, ram_available_mib=10000)


def dist(name: str, version: str, requires: tuple[str, ...] = (), **kw: object) -> Distribution:
    """A distribution with known metadata unless ``metadata_known=False`` is given."""
    return Distribution(name=name, version=version, requires=requires, **kw)  # type: ignore[arg-type]


def snap(*dists: Distribution | tuple[str, str], source: str = "live", python: str = "3.11.7",
         hardware: Hardware = NO_GPU, system: str = "Linux", **kw: object) -> Snapshot:
    """A Linux x86_64 CPython snapshot holding ``dists`` (``(name, version)`` pairs are shorthand)."""
    items = [d if isinstance(d, Distribution) else dist(*d) for d in dists]
    env = dict(LINUX_311, python_full_version=python, python_version=".".join(python.split(".")[:2]))
    if system != "Linux":
        env.update(platform_system=system, sys_platform={"Darwin": "darwin", "Windows": "win32"}[system])
    return Snapshot(source=source, python_version=python, system=system, marker_env=env,
                    distributions={d.name: d for d in items}, hardware=hardware, **kw)  # type: ignore[arg-type]


def run_rule(code: str, snapshot: Snapshot, keep: frozenset[str] = frozenset()) -> list[Finding]:
    """Findings of rule ``code`` alone on ``snapshot``."""
    ctx = Context(snapshot=snapshot, kb=kb(), keep=keep)
    return engine.run(ctx, [kb().rules[code]])


def write_dist_info(site: Path, name: str, version: str, requires: tuple[str, ...] = (),
                    requires_python: str | None = None, files: dict[str, str] | None = None) -> Path:
    """A real installed distribution: ``NAME-VERSION.dist-info/METADATA`` (+ package files) in ``site``."""
    folder = site / f"{name.replace('-', '_')}-{version}.dist-info"
    folder.mkdir(parents=True)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Requires-Dist: {r}" for r in requires]
    (folder / "METADATA").write_text("\n".join(lines) + "\n\nA description.\n", encoding="utf-8")
    for rel, text in (files or {}).items():
        path = site / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


def envdoctor(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
              timeout: int = 120) -> subprocess.CompletedProcess[str]:
    """Run the installed `envdoctor` console script (or `python -m envdoctor`) in a subprocess."""
    script = Path(sys.executable).with_name("envdoctor")
    argv = [str(script)] if script.exists() else [sys.executable, "-m", "envdoctor"]
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}  # no machine pip config
    full_env.update({"PIP_CONFIG_FILE": os.devnull, **(env or {})})
    return subprocess.run([*argv, *args], cwd=cwd, capture_output=True, text=True, env=full_env,
                          timeout=timeout, check=False)

"""Turn the CLI's target options into a snapshot: live, ``--python PATH`` or ``--env FILE``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from envdoctor.env import notebook
from envdoctor.env import snapshot as snapshot_mod
from envdoctor.env.hardware import probe_hardware
from envdoctor.env.lockfile import Pin, parse_file
from envdoctor.env.probe import marker_environment
from envdoctor.env.snapshot import Distribution, Hardware, Snapshot
from envdoctor import userfiles
from envdoctor.errors import InputError

PLATFORMS = {
    # --platform value: (platform_system, sys_platform, platform_machine)
    "linux_x86_64": ("Linux", "linux", "x86_64"),
    "linux_aarch64": ("Linux", "linux", "aarch64"),
    "macosx_arm64": ("Darwin", "darwin", "arm64"),
    "macosx_x86_64": ("Darwin", "darwin", "x86_64"),
    "win_amd64": ("Windows", "win32", "AMD64"),
}


def platform_names() -> list[str]:
    """Accepted ``--platform`` values."""
    return sorted(PLATFORMS)


def from_pins(pins: list[Pin], source: str, python_version: str, platform: str | None,
              cuda: str | None) -> Snapshot:
    """A snapshot whose distributions are the exact pins of a lock (metadata not yet known)."""
    env = dict(marker_environment())
    env["python_version"] = ".".join(python_version.split(".")[:2])
    env["python_full_version"] = python_version if python_version.count(".") == 2 else python_version + ".0"
    system, machine = env["platform_system"], env["platform_machine"]
    if platform is not None:
        system, env["sys_platform"], machine = PLATFORMS[platform]
        env["platform_system"], env["platform_machine"] = system, machine
    dists: dict[str, Distribution] = {}
    loose: list[str] = []
    for pin in pins:
        if pin.constraint:
            continue
        if pin.requirement.marker is not None and not pin.requirement.marker.evaluate(env):
            continue
        version = pin.exact_version
        if version is None:
            loose.append(f"{pin.source}:{pin.line} {pin.requirement}")
            continue
        dists[pin.name] = Distribution(name=pin.name, version=version, metadata_known=False,
                                       location=f"{pin.source}:{pin.line}")
    notes = [f"not pinned with ==, so not checked: {item}" for item in loose]
    return Snapshot(source=f"file:{source}", python_version=env["python_full_version"],
                    system=system, machine=machine, marker_env=env, distributions=dists,
                    runtime=snapshot_mod.platform_from_packages({}, {p.name for p in pins}),
                    hardware=Hardware(nvml="not probed: file target"), stated_cuda=cuda,
                    notes=tuple(notes), created=snapshot_mod.utc_now())


PREFIX_TIMEOUT_S = 10


def _prefix_python(prefix: str) -> Path:
    """The interpreter of an environment folder (venv or conda)."""
    if os.name == "nt":
        return Path(prefix) / ("Scripts" if (Path(prefix) / "Scripts").is_dir() else "") / "python.exe"
    return Path(prefix) / "bin" / "python"


def _same_prefix(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def _prefix_of(python: str) -> str | None:
    """``sys.prefix`` of another interpreter (read from its pyvenv.cfg's folder, else by asking it)."""
    path = Path(python)
    if (path.parent.parent / "pyvenv.cfg").is_file():
        return str(path.parent.parent)
    if sys.prefix == sys.base_prefix and _same_prefix(python, sys.executable):
        return sys.prefix  # the very interpreter running envdoctor, outside any venv
    try:
        proc = subprocess.run([python, "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True,
                              timeout=PREFIX_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (proc.stdout.strip() or None) if proc.returncode == 0 else None


def active_python(environ: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """The interpreter of the environment the user is in, when it is not envdoctor's own, and why:
    ``$VIRTUAL_ENV``, then ``$CONDA_PREFIX``, then the ``python`` on ``PATH``."""
    environ = os.environ if environ is None else environ
    for key in ("VIRTUAL_ENV", "CONDA_PREFIX"):
        prefix = environ.get(key)
        if prefix:
            if _same_prefix(prefix, sys.prefix):
                return None
            python = _prefix_python(prefix)
            if python.exists():
                return str(python), f"{key}={prefix}"
    found = shutil.which("python", path=environ.get("PATH")) or shutil.which("python3", path=environ.get("PATH"))
    if found is None:
        return None
    prefix = _prefix_of(found)
    if prefix is None or _same_prefix(prefix, sys.prefix):
        return None
    return found, "the `python` on PATH"


def is_own(snap: Snapshot) -> bool:
    """Whether ``snap`` is the live snapshot of envdoctor's own environment (this ``sys.path``)."""
    if snap.source != "live" or not snap.executable:
        return False
    prefix = _prefix_of(snap.executable)
    return prefix is not None and _same_prefix(prefix, sys.prefix)


def kernel_python() -> str | None:
    """The interpreter of the notebook kernel that ran this ``!envdoctor`` when it is not this one
    (the kernel's venv is what the notebook imports from), else None."""
    found = notebook.kernel()
    if found is None or not os.path.isfile(found.python):
        return None
    return None if os.path.abspath(found.python) == os.path.abspath(sys.executable) else found.python


def resolve(python: str | None, env_file: Path | None, python_version: str | None,
            platform: str | None, cuda: str | None) -> Snapshot:
    """The snapshot the user asked for; hardware is probed only for live targets.

    With neither ``python`` nor ``env_file`` the target is the environment the user is in
    (:func:`active_python`), else envdoctor's own interpreter."""
    if python and env_file:
        raise InputError("--python and --env name two targets; pass one of them")
    if python is None and env_file is None:
        python = kernel_python()
    if env_file is None:
        hardware = probe_hardware()
        active = None if python else active_python()
        if python and (prefix := _prefix_of(python)) is not None and _same_prefix(prefix, sys.prefix):
            snap = snapshot_mod.live(hardware).with_changes(executable=python)  # named: no probe process
        elif python:
            snap = snapshot_mod.from_interpreter(python, hardware)
        elif active is not None:
            snap = snapshot_mod.from_interpreter(active[0], hardware)
            snap = snap.with_changes(source="live", notes=(*snap.notes, f"checked the active environment "
                                                           f"({active[1]}), not envdoctor's own {sys.executable}"))
        else:
            snap = snapshot_mod.live(hardware)
        return snap.with_changes(stated_cuda=cuda) if cuda else snap
    head = userfiles.read_bytes(env_file, "requirements", "pass a pip freeze, a lock or a snapshot JSON to --env")
    if head.lstrip()[:1] == b"{":
        snap = snapshot_mod.load_json(env_file)
        return snap.with_changes(stated_cuda=cuda) if cuda else snap
    pins = parse_file(env_file)
    version = python_version or marker_environment()["python_full_version"]
    return from_pins(pins, str(env_file), version, platform, cuda)


"""Turn the CLI's target options into a snapshot: live, ``--python PATH`` or ``--env FILE``."""

from __future__ import annotations

from pathlib import Path

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
                    hardware=Hardware(nvml="not probed: file target"), stated_cuda=cuda,
                    notes=tuple(notes), created=snapshot_mod.utc_now())


def resolve(python: str | None, env_file: Path | None, python_version: str | None,
            platform: str | None, cuda: str | None) -> Snapshot:
    """The snapshot the user asked for; hardware is probed only for live targets."""
    if python and env_file:
        raise InputError("--python and --env name two targets; pass one of them")
    if env_file is None:
        hardware = probe_hardware()
        snap = snapshot_mod.from_interpreter(python, hardware) if python else snapshot_mod.live(hardware)
        return snap.with_changes(stated_cuda=cuda) if cuda else snap
    head = userfiles.read_bytes(env_file, "requirements", "pass a pip freeze, a lock or a snapshot JSON to --env")
    if head.lstrip()[:1] == b"{":
        snap = snapshot_mod.load_json(env_file)
        return snap.with_changes(stated_cuda=cuda) if cuda else snap
    pins = parse_file(env_file)
    version = python_version or marker_environment()["python_full_version"]
    return from_pins(pins, str(env_file), version, platform, cuda)


"""One typed, serialisable picture of a target environment.

A snapshot is what every rule reads.  It comes from the running interpreter,
from another interpreter (``--python``), from a freeze/lock file (``--env``)
or from a saved snapshot JSON.  Nothing in here imports torch.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Collection
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from envdoctor.env import probe
from envdoctor.env.interpreter import isolated
from envdoctor.env.pipconfig import redact_text
from envdoctor.errors import InputError
from envdoctor import userfiles
from envdoctor.userfiles import check_output, write_private

SCHEMA_VERSION = 1
# Runtimes whose packages the platform decides (first match wins: Kaggle's image is built on Colab's).
PLATFORMS = ("kaggle", "colab", "conda-base", "image-pins")
PROBE_TIMEOUT_S = 30


@dataclass(frozen=True)
class Distribution:
    """An installed (or pinned) distribution and its declared requirements."""

    name: str
    version: str
    requires: tuple[str, ...] = ()
    requires_python: str | None = None
    metadata_known: bool = True
    location: str | None = None
    shadowed: tuple[str, ...] = ()
    runtime_requirements: tuple[str, ...] = ()
    direct_url: str | None = None
    native_libs: tuple[str, ...] = ()
    implied_by: tuple[str, ...] = ()  # not listed: the pins whose metadata implies it, nearest first

    @property
    def site_packages(self) -> str | None:
        """The folder holding its files: the metadata folder's parent (None for a pin in a lock file)."""
        where = self.location
        if where and where.rstrip("/\\").endswith((".dist-info", ".egg-info")):
            return str(Path(where).parent)
        return where


@dataclass(frozen=True)
class ImpliedRange:
    """An unlisted distribution that a pin's metadata confines to a narrow range (``triton~=3.8.0``)."""

    name: str
    spec: str
    implied_by: tuple[str, ...]


@dataclass(frozen=True)
class GPU:
    """One GPU as NVML reports it."""

    index: int
    name: str
    capability: str | None
    memory_total_mib: int
    memory_free_mib: int


@dataclass(frozen=True)
class Hardware:
    """Host memory and GPUs; ``nvml`` says whether NVML answered and, if not, why."""

    nvml: str = "not probed"
    driver_version: str | None = None
    cuda_driver_version: str | None = None
    gpus: tuple[GPU, ...] = ()
    ram_total_mib: int | None = None
    ram_available_mib: int | None = None
    cpu_count: int | None = None


@dataclass(frozen=True)
class Snapshot:
    """Everything envdoctor knows about one environment.

    ``not_on_index`` maps pins of a lock-file target that the configured package
    index does not list to their pinned version (filled by envdoctor.env.index).
    """

    source: str
    python_version: str
    implementation: str = "cpython"
    executable: str | None = None
    system: str = "Linux"
    machine: str = "x86_64"
    glibc: str | None = None
    marker_env: dict[str, str] = field(default_factory=dict)
    distributions: dict[str, Distribution] = field(default_factory=dict)
    hardware: Hardware = field(default_factory=Hardware)
    runtime: tuple[str, ...] = ()
    environ: dict[str, str] = field(default_factory=dict)
    stated_cuda: str | None = None
    notes: tuple[str, ...] = ()
    not_on_index: dict[str, str] = field(default_factory=dict)
    implied_ranges: tuple[ImpliedRange, ...] = ()
    created: str = ""
    schema_version: int = SCHEMA_VERSION

    @property
    def platform(self) -> str | None:
        """The detected platform that owns part of the environment (see :data:`PLATFORMS`), or None."""
        return next((p for p in PLATFORMS if p in self.runtime), None)

    def version_of(self, name: str) -> str | None:
        """Installed version of ``name`` (any spelling), or None."""
        dist = self.distributions.get(probe.canonical_name(name))
        return dist.version if dist else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; :func:`from_dict` reads it back."""
        data = asdict(self)
        data["distributions"] = [asdict(d) for d in sorted(self.distributions.values(), key=lambda d: d.name)]
        return data

    def listed(self) -> list[str]:
        """The distributions the target itself lists, by name (not those its pins' metadata implies)."""
        return sorted(name for name, dist in self.distributions.items() if not dist.implied_by)

    def with_changes(self, **changes: Any) -> Snapshot:
        """A copy with some fields replaced."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Snapshot(**values)


def torch_build(snap: Snapshot) -> tuple[str, str | None]:
    """torch's accelerator build read from its version label and metadata, never by import.

    Returns (kind, version): ("cuda", "12.1"), ("rocm", "6.2"), ("cpu", None),
    ("none", None) when torch is absent, or ("unknown", None).
    """
    torch = snap.distributions.get("torch")
    if torch is None:
        return ("none", None)
    if snap.stated_cuda:
        return ("cuda", snap.stated_cuda)
    local = torch.version.partition("+")[2]
    if m := re.fullmatch(r"cu(\d+)(\d)", local):
        return ("cuda", f"{m.group(1)}.{m.group(2)}")
    if m := re.fullmatch(r"rocm([\d.]+)", local):
        return ("rocm", m.group(1))
    if local == "cpu":
        return ("cpu", None)
    for req in torch.requires:
        # nvidia-cuda-runtime-cu12==12.4.127 (also "(==12.4.127)"); from torch 2.11: cuda-toolkit[...]==13.0.2
        if m := re.match(r"(?:nvidia-cuda-runtime(?:-cu\d+)?|cuda-toolkit(?:\[[^\]]*\])?)\s*\(?\s*==\s*(\d+)\.(\d+)", req):
            return ("cuda", f"{m.group(1)}.{m.group(2)}")
    if torch.metadata_known and snap.system == "Linux":
        return ("cpu", None)
    return ("unknown", None)


def platform_from_packages(environ: dict[str, str], names: Collection[str]) -> tuple[str, ...]:
    """Platforms told by environment variables or by packages only a platform installs.

    Kaggle's image is built FROM Colab's and keeps google-colab, and adds learntools from git
    (Kaggle/docker-python Dockerfile.tmpl); Colab's image installs google-colab from a local sdist
    (googlecolab/backend-info pip-freeze.gpu.txt).
    """
    flags = []
    if "KAGGLE_KERNEL_RUN_TYPE" in environ or "learntools" in names:
        flags.append("kaggle")
    if "COLAB_RELEASE_TAG" in environ or "COLAB_GPU" in environ or "google-colab" in names:
        flags.append("colab")
    if environ.get("CONDA_DEFAULT_ENV") == "base":
        flags.append("conda-base")
    return tuple(flags)


def detect_runtime(environ: dict[str, str], dists: dict[str, Distribution]) -> tuple[str, ...]:
    """Hosted notebook or container flags: 'colab', 'kaggle', 'conda-base', 'container', 'notebook'."""
    flags = list(platform_from_packages(environ, dists))
    if Path("/.dockerenv").exists() or Path("/run/.containerenv").exists():
        flags.append("container")
    if "JPY_PARENT_PID" in environ:
        flags.append("notebook")
    return tuple(flags)


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def from_probe(data: dict[str, Any], source: str, hardware: Hardware) -> Snapshot:
    """Build a snapshot from :func:`envdoctor.env.probe.collect` output."""
    dists = {d["name"]: _dist_from_dict(d) for d in data["distributions"]}
    environ = {str(k): redact_text(str(v)) for k, v in dict(data.get("environ", {})).items()}
    runtime = detect_runtime(environ, dists)
    if data.get("in_notebook") and "notebook" not in runtime:
        runtime = (*runtime, "notebook")
    return Snapshot(
        source=source,
        python_version=data["python"]["version"],
        implementation=data["python"]["implementation"],
        executable=data["python"]["executable"],
        system=data["platform"]["system"],
        machine=data["platform"]["machine"],
        glibc=data["platform"]["glibc"],
        marker_env=dict(data["marker_env"]),
        distributions=dists,
        hardware=hardware,
        runtime=runtime,
        environ=environ,
        notes=tuple(data.get("notes", ())),
        created=utc_now(),
    )


def _dist_from_dict(d: dict[str, Any]) -> Distribution:
    return Distribution(
        name=probe.canonical_name(d["name"]), version=str(d["version"]),
        requires=tuple(d.get("requires") or ()), requires_python=d.get("requires_python"),
        metadata_known=bool(d.get("metadata_known", True)), location=d.get("location"),
        shadowed=tuple(d.get("shadowed") or ()),
        runtime_requirements=tuple(d.get("runtime_requirements") or ()),
        direct_url=redact_text(d["direct_url"]) if isinstance(d.get("direct_url"), str) else None,
        native_libs=tuple(d.get("native_libs") or ()), implied_by=tuple(d.get("implied_by") or ()),
    )


def live(hardware: Hardware) -> Snapshot:
    """Snapshot of the interpreter running envdoctor."""
    return from_probe(probe.collect(), "live", hardware)


def from_interpreter(python: str, hardware: Hardware) -> Snapshot:
    """Snapshot of another interpreter, collected by running the stdlib-only probe in it."""
    import subprocess  # only this target needs it; `envdoctor check` of the live interpreter stays lean

    argv = isolated(python, "exec(sys.stdin.read())")
    source = Path(probe.__file__).read_text(encoding="utf-8")
    try:
        proc = subprocess.run(argv, input=source, capture_output=True, text=True, errors="replace",
                              timeout=PROBE_TIMEOUT_S, check=False)
    except FileNotFoundError:
        raise InputError(f"{python}: no such interpreter; pass the path of a python executable to --python")
    except PermissionError:
        raise InputError(f"{python}: not executable; pass the path of a python executable to --python")
    except OSError as exc:
        raise InputError(f"{python}: cannot run it ({exc.strerror}); pass a python executable to --python")
    except subprocess.TimeoutExpired:
        raise InputError(f"{python}: the probe did not answer within {PROBE_TIMEOUT_S} s")
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise InputError(f"{python}: the probe failed ({last}); is it Python 3.8 or newer?")
    try:
        return from_probe(json.loads(proc.stdout), f"python:{python}", hardware)
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        raise InputError(f"{python}: the probe printed no envdoctor JSON; is it a Python interpreter "
                         "(3.8 or newer)?") from None


def load_json(path: Path) -> Snapshot:
    """Read a snapshot saved by ``envdoctor snapshot -o`` (or a run's training_info.json)."""
    data = userfiles.load_json(path, "json", "pass a snapshot written by `envdoctor snapshot`")
    if isinstance(data, dict) and isinstance(data.get("environment"), dict):
        data = data["environment"]  # a pipeline run record embeds its snapshot
    try:
        return from_dict(data)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise InputError(f"{path}: not an envdoctor snapshot (missing or bad field {str(exc)[:80]})") from None


def from_dict(data: dict[str, Any]) -> Snapshot:
    """Inverse of :meth:`Snapshot.to_dict`."""
    if data.get("schema_version") != SCHEMA_VERSION:
        raise ValueError("schema_version")
    hw = dict(data.get("hardware") or {})
    hw["gpus"] = tuple(GPU(**g) for g in hw.get("gpus", ()))
    values = dict(data)
    values["hardware"] = Hardware(**hw)
    values["distributions"] = {d["name"]: _dist_from_dict(d) for d in data["distributions"]}
    for key in ("runtime", "notes"):
        values[key] = tuple(values.get(key) or ())
    values["implied_ranges"] = tuple(ImpliedRange(r["name"], r["spec"], tuple(r["implied_by"]))
                                     for r in values.get("implied_ranges") or ())
    return Snapshot(**values)


def save(snap: Snapshot, path: Path) -> None:
    """Write ``snap`` as indented JSON, readable by its owner only (0600: it describes the machine)."""
    write_private(check_output(path), (json.dumps(snap.to_dict(), indent=2, sort_keys=True) + "\n").encode("utf-8"))


"""Family: `no kernel image is available` / unsupported `sm_XX` — the GPU against the torch build.

The GPU's compute capability comes from the log (``sm_61``, ``compute capability (CC) 6.1``,
a GPU name in the knowledge of envdoctor.memory.gpus) or the target's hardware; the torch
build's architectures from the log (``supports CUDA capabilities sm_75 ...``) or the
knowledge base's table of PyTorch's CUDA build matrix.  The comparison runs both ways: a GPU
older than every architecture of the build needs the same torch built for an older CUDA
(or an older torch), a GPU newer than all of them a newer torch built for a newer CUDA.
"""

from __future__ import annotations

from packaging.specifiers import SpecifierSet

from envdoctor.env.cuda_arch import ArchList, Capability, capability
from envdoctor.env.requirements import parse_version
from envdoctor.errors import InputError
from envdoctor.explain.diagnosis import (
    HIGH,
    LOW,
    MEDIUM,
    Diagnosis,
    Evidence,
    explains,
    say,
    stale,
)
from envdoctor.explain.extractors import HitGroup
from envdoctor.findings import Applicability, Fix, pip_install_fix
from envdoctor.knowledge.base import RuleEntry
from envdoctor.memory.gpus import find_gpu

TORCH_INDEX = "https://download.pytorch.org/whl/"


def _gpu(ev: Evidence) -> tuple[Capability | None, str]:
    """The GPU's capability and how it is known."""
    facts = ev.facts
    if facts.gpu_capability and (cap := capability(facts.gpu_capability)):
        return cap, f"{facts.gpu_name or 'the GPU'} (compute capability {cap}, from the log)"
    if ev.ctx is not None:
        for gpu in ev.ctx.snapshot.hardware.gpus:
            if gpu.capability and (cap := capability(gpu.capability)):
                return cap, f"{gpu.name} (compute capability {cap})"
    if facts.gpu_name:
        try:
            spec = find_gpu(facts.gpu_name)
        except InputError:
            return None, ""
        if cap := capability(spec.capability):
            return cap, f"{facts.gpu_name} (compute capability {cap})"
    return None, ""


def _cuda_of(torch: str) -> str | None:
    """``12.8`` for ``2.7.0+cu128``; None for a build without a local tag."""
    local = torch.partition("+")[2]
    if local.startswith("cu") and local[2:].isdigit() and len(local) >= 5:
        return f"{local[2:-1]}.{local[-1]}"
    return None


def _rows(ev: Evidence) -> list[tuple[SpecifierSet, SpecifierSet, ArchList]]:
    return [(SpecifierSet(row["torch"]), SpecifierSet(row["cuda"]), ArchList.parse(row["arches"]))
            for row in ev.kb.tables["torch_cuda_arches"]["rows"]]


def _builds_for(ev: Evidence, torch: str) -> list[tuple[str, ArchList]]:
    """(CUDA version, architectures) of each build the matrix lists for torch ``torch``."""
    version = parse_version(torch.split("+")[0])
    found = []
    for cuda in ev.kb.tables["torch_cuda_arches"]["cuda_builds"]:
        for torch_spec, cuda_spec, arches in _rows(ev):
            if version is not None and torch_spec.contains(version, prereleases=True) and \
                    cuda_spec.contains(cuda, prereleases=True):
                found.append((cuda, arches))
                break
    return found


def _tag(cuda: str) -> str:
    return "cu" + cuda.replace(".", "")


def _from_torch_index(title: str, spec: str, cuda: str) -> Fix:
    """A pin of torch installed from the PyTorch index's build for ``cuda`` (local versions live only there)."""
    url = f"{TORCH_INDEX}{_tag(cuda)}"
    return Fix(title=title, applicability=Applicability.UNSAFE, pins={"torch": spec},
               commands=(("{python}", "-m", "pip", "install", f"torch{spec}", "--index-url", url),))


def _too_old_fixes(ev: Evidence, cap: Capability, torch: str, cuda: str | None) -> list[Fix]:
    """The same torch built for a CUDA that still has the GPU, and the last torch whose build for ``cuda`` had it."""
    base = torch.split("+")[0]
    fixes: list[Fix] = []
    for build_cuda, arches in _builds_for(ev, torch):
        if arches.runs_on(cap):
            fixes.append(_from_torch_index(f"install torch=={base}+{_tag(build_cuda)}: the same release built for "
                                           f"CUDA {build_cuda}, which still has {cap.sm} kernels (reinstall "
                                           "torchvision/torchaudio from the same index)",
                                           f"=={base}+{_tag(build_cuda)}", build_cuda))
            break
    for torch_spec, cuda_spec, arches in _rows(ev):
        if (cuda is None or cuda_spec.contains(cuda, prereleases=True)) and arches.runs_on(cap):
            ceiling = next((s.version for s in torch_spec if s.operator == "<"), None)
            version, limit = parse_version(base), parse_version(ceiling or "")
            if ceiling and version is not None and limit is not None and version >= limit:
                fixes.append(pip_install_fix(f"or an older torch whose CUDA {cuda or ''} build still has {cap.sm}",
                                             {"torch": f"<{ceiling}"}, Applicability.UNSAFE))
    return fixes


def _too_new_fixes(ev: Evidence, cap: Capability) -> list[Fix]:
    """The oldest torch (and its CUDA) whose build has kernels for ``cap``."""
    best = None
    for torch_spec, cuda_spec, arches in _rows(ev):
        if arches.runs_on(cap):
            floor = next((s.version for s in torch_spec if s.operator == ">="), None)
            cuda = next((s.version for s in cuda_spec if s.operator == ">="), None)
            if floor and (best is None or parse_version(floor) < parse_version(best[0])):  # type: ignore[operator]
                best = (floor, cuda)
    if best is None:
        return [say(f"install a torch built with {cap.sm} kernels (https://pytorch.org/get-started/locally/)")]
    floor, cuda = best
    on = f" built for CUDA {cuda}+ (index {TORCH_INDEX}{_tag(cuda)})" if cuda else ""
    title = f"install torch>={floor}{on}, the first with {cap.sm} kernels"
    return [_from_torch_index(title, f">={floor}", cuda) if cuda else
            pip_install_fix(title, {"torch": f">={floor}"}, Applicability.UNSAFE)]


@explains("ED142")
def kernel_image(group: HitGroup, entry: RuleEntry, ev: Evidence) -> Diagnosis:
    """No kernel image for the GPU: compare its capability with the build's architectures, both ways."""
    cap, gpu_text = _gpu(ev)
    torch = ev.facts.torch_version or ev.installed("torch")
    if ev.facts.torch_version and ev.installed("torch") and ev.installed("torch") != ev.facts.torch_version:
        torch = ev.installed("torch")
    cuda = _cuda_of(torch) if torch else None
    stated = ArchList.parse(ev.facts.arch_list) if ev.facts.arch_list else None
    arches = stated
    if arches is None and torch:
        builds = _builds_for(ev, torch)
        matching = [a for c, a in builds if cuda is None or c == cuda]
        arches = matching[0] if cuda and matching else None
        if cap and cuda is None and builds and not any(a.runs_on(cap) for _, a in builds):
            arches = builds[0][1]
    if cap is None:
        return Diagnosis("the torch build has no kernels for this GPU; the log does not say which GPU (run "
                       "`python -c \"import torch; print(torch.cuda.get_device_capability(), torch.cuda.get_arch_list())\"`)",
                       MEDIUM, (say("compare the GPU's compute capability with torch.cuda.get_arch_list()"),), ("torch",))
    build = f"torch {torch}" if torch else "the installed torch"
    if arches is None and torch:  # no CUDA tag: judge by every build of this release
        builds = _builds_for(ev, torch)
        if builds and any(a.runs_on(cap) for _, a in builds):
            fixes = _too_old_fixes(ev, cap, torch, None) if cap < min(a.cubins[0] for _, a in builds) or \
                any(not a.runs_on(cap) and cap < a.cubins[0] for _, a in builds) else _too_new_fixes(ev, cap)
            return Diagnosis(f"{gpu_text}: {build}'s default build has no {cap.sm} kernels; some builds of this "
                           "release do", MEDIUM, tuple(fixes), ("torch",))
    if arches is None:
        return Diagnosis(f"{gpu_text}: {build} has no kernels for it; its architecture list is not known here",
                       MEDIUM, tuple(_too_new_fixes(ev, cap)) if cap >= Capability(10, 0) else
                       (say("install a torch build that lists this GPU's sm in torch.cuda.get_arch_list()"),),
                       ("torch",))
    direction = arches.direction(cap)
    known = "as the log states" if stated else "PyTorch's CUDA build matrix"
    if direction is None:
        return Diagnosis(stale(f"{build} has kernels for {gpu_text} ({arches.describe()}, {known}); the error comes "
                             "from another compiled extension or another build"), LOW, (), ("torch",))
    if direction == "too-old":
        fixes = _too_old_fixes(ev, cap, torch or "", cuda)
        return Diagnosis(f"{gpu_text} is older than every architecture of {build} ({arches.describe()}, {known}): "
                       "this build dropped it; install a build that still has it (not a newer torch)",
                       HIGH if torch else MEDIUM, tuple(fixes) or (say(f"install a torch build with {cap.sm}"),),
                       ("torch",))
    return Diagnosis(f"{gpu_text} is newer than every architecture of {build} ({arches.describe()}, {known})",
                   HIGH if torch else MEDIUM, tuple(_too_new_fixes(ev, cap)), ("torch",))

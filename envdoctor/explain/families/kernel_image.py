"""Family: `no kernel image is available` / unsupported `sm_XX` — the GPU against the torch build.

The GPU's compute capability comes from the log (``sm_61``, ``compute capability (CC) 6.1``,
a GPU name in the knowledge of envdoctor.memory.gpus) or the target's hardware; the torch
build's architectures from the log (``supports CUDA capabilities sm_75 ...``) or the
knowledge base's table of PyTorch's CUDA build matrix.  The comparison runs both ways: a GPU
older than every architecture of the build needs the same torch built for an older CUDA
(or an older torch), a GPU newer than all of them a newer torch built for a newer CUDA.
"""

from __future__ import annotations

from envdoctor.env.cuda_arch import ArchList, Capability, capability
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
from envdoctor.knowledge.base import RuleEntry
from envdoctor.memory.gpus import find_gpu
from envdoctor.rules.gpu_arch import builds_for, cuda_of, too_new_fixes, too_old_fixes

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


@explains("ED142")
def kernel_image(group: HitGroup, entry: RuleEntry, ev: Evidence) -> Diagnosis:
    """No kernel image for the GPU: compare its capability with the build's architectures, both ways."""
    cap, gpu_text = _gpu(ev)
    torch = ev.facts.torch_version or ev.installed("torch")
    if ev.facts.torch_version and ev.installed("torch") and ev.installed("torch") != ev.facts.torch_version:
        torch = ev.installed("torch")
    cuda = cuda_of(torch) if torch else None
    stated = ArchList.parse(ev.facts.arch_list) if ev.facts.arch_list else None
    arches = stated
    if arches is None and torch:
        builds = builds_for(ev.kb.tables, torch)
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
        builds = builds_for(ev.kb.tables, torch)
        if builds and any(a.runs_on(cap) for _, a in builds):
            fixes = too_old_fixes(ev.kb.tables, cap, torch, None) if cap < min(a.cubins[0] for _, a in builds) or \
                any(not a.runs_on(cap) and cap < a.cubins[0] for _, a in builds) else \
                too_new_fixes(ev.kb.tables, cap, torch)
            return Diagnosis(f"{gpu_text}: {build}'s default build has no {cap.sm} kernels; some builds of this "
                           "release do", MEDIUM, tuple(fixes), ("torch",))
    if arches is None:
        return Diagnosis(f"{gpu_text}: {build} has no kernels for it; its architecture list is not known here",
                       MEDIUM, tuple(too_new_fixes(ev.kb.tables, cap)) if cap >= Capability(10, 0) else
                       (say("install a torch build that lists this GPU's sm in torch.cuda.get_arch_list()"),),
                       ("torch",))
    direction = arches.direction(cap)
    known = "as the log states" if stated else "PyTorch's CUDA build matrix"
    if direction is None:
        return Diagnosis(stale(f"{build} has kernels for {gpu_text} ({arches.describe()}, {known}); the error comes "
                             "from another compiled extension or another build"), LOW, (), ("torch",))
    if direction == "too-old":
        fixes = too_old_fixes(ev.kb.tables, cap, torch or "", cuda)
        return Diagnosis(f"{gpu_text} is older than every architecture of {build} ({arches.describe()}, {known}): "
                       "this build dropped it; install a build that still has it (not a newer torch)",
                       HIGH if torch else MEDIUM, tuple(fixes) or (say(f"install a torch build with {cap.sm}"),),
                       ("torch",))
    return Diagnosis(f"{gpu_text} is newer than every architecture of {build} ({arches.describe()}, {known})",
                   HIGH if torch else MEDIUM, tuple(too_new_fixes(ev.kb.tables, cap, torch)), ("torch",))

"""ED143 gpu-outside-torch-build: the target's GPU against the torch build's CUDA architectures.

The architectures of each PyTorch CUDA build come from the knowledge base's table of PyTorch's
build matrix (``table.torch_cuda_arches``, evidence in ED142); the GPU's compute capability from
the probed hardware or a snapshot.  A GPU older than every architecture of the build (Pascal
with a CUDA 12.8 build of torch 2.8+) needs the same torch built for an older CUDA, never a
newer torch (a GPU newer than all of them, Blackwell, is ED141's).  `envdoctor explain` reads
the same matrix for `no kernel image is available` (ED142), in both directions, through the
helpers here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from packaging.specifiers import SpecifierSet

from envdoctor.env.cuda_arch import ArchList, Capability, capability
from envdoctor.env.requirements import parse_version
from envdoctor.findings import Applicability, Finding, Fix, hint, pip_install_fix
from envdoctor.knowledge.base import RuleEntry
from envdoctor.rules.base import Context, implements, pin_locations

TORCH_INDEX = "https://download.pytorch.org/whl/"


def cuda_of(torch: str) -> str | None:
    """``12.8`` for ``2.7.0+cu128``; None for a build without a local tag."""
    local = torch.partition("+")[2]
    if local.startswith("cu") and local[2:].isdigit() and len(local) >= 5:
        return f"{local[2:-1]}.{local[-1]}"
    return None


def rows(tables: dict[str, Any]) -> list[tuple[SpecifierSet, SpecifierSet, ArchList]]:
    """(torch range, CUDA range, architectures) of each row of the build matrix."""
    return [(SpecifierSet(row["torch"]), SpecifierSet(row["cuda"]), ArchList.parse(row["arches"]))
            for row in tables["torch_cuda_arches"]["rows"]]


def builds_for(tables: dict[str, Any], torch: str) -> list[tuple[str, ArchList]]:
    """(CUDA version, architectures) of each build the matrix lists for torch ``torch``."""
    version = parse_version(torch.split("+")[0])
    found = []
    for cuda in tables["torch_cuda_arches"]["cuda_builds"]:
        for torch_spec, cuda_spec, arches in rows(tables):
            if version is not None and torch_spec.contains(version, prereleases=True) and \
                    cuda_spec.contains(cuda, prereleases=True):
                found.append((cuda, arches))
                break
    return found


def tag(cuda: str) -> str:
    """``cu128`` for ``12.8``."""
    return "cu" + cuda.replace(".", "")


def from_torch_index(title: str, spec: str, cuda: str) -> Fix:
    """A pin of torch installed from the PyTorch index's build for ``cuda`` (local versions live only there)."""
    url = f"{TORCH_INDEX}{tag(cuda)}"
    return Fix(title=title, applicability=Applicability.UNSAFE, pins={"torch": spec},
               commands=(("{python}", "-m", "pip", "install", f"torch{spec}", "--index-url", url),))


def too_old_fixes(tables: dict[str, Any], cap: Capability, torch: str, cuda: str | None) -> list[Fix]:
    """The same torch built for a CUDA that still has the GPU, and the last torch whose build for ``cuda`` had it."""
    base = torch.split("+")[0]
    fixes: list[Fix] = []
    for build_cuda, arches in builds_for(tables, torch):
        if arches.runs_on(cap):
            fixes.append(from_torch_index(f"install torch=={base}+{tag(build_cuda)}: the same release built for "
                                          f"CUDA {build_cuda}, which still has {cap.sm} kernels (reinstall "
                                          "torchvision/torchaudio from the same index)",
                                          f"=={base}+{tag(build_cuda)}", build_cuda))
            break
    for torch_spec, cuda_spec, arches in rows(tables):
        if (cuda is None or cuda_spec.contains(cuda, prereleases=True)) and arches.runs_on(cap):
            ceiling = next((s.version for s in torch_spec if s.operator == "<"), None)
            version, limit = parse_version(base), parse_version(ceiling or "")
            if ceiling and version is not None and limit is not None and version >= limit:
                fixes.append(pip_install_fix(f"or an older torch whose CUDA {cuda or ''} build still has {cap.sm}",
                                             {"torch": f"<{ceiling}"}, Applicability.UNSAFE))
    return fixes


def too_new_fixes(tables: dict[str, Any], cap: Capability, torch: str | None = None) -> list[Fix]:
    """The same release built for a newer CUDA when one has kernels for ``cap`` (torch 2.7.1+cu126
    on sm_120: 2.7.1+cu128), else the oldest torch (and its CUDA) whose build has them."""
    base = (torch or "").split("+")[0]
    for build_cuda, arches in builds_for(tables, base) if base else ():
        if arches.runs_on(cap) and build_cuda != cuda_of(torch or ""):
            return [from_torch_index(f"install torch=={base}+{tag(build_cuda)}: the same release built for CUDA "
                                     f"{build_cuda}, which has {cap.sm} kernels (reinstall torchvision/torchaudio "
                                     "from the same index)", f"=={base}+{tag(build_cuda)}", build_cuda)]
    best = None
    for torch_spec, cuda_spec, arches in rows(tables):
        if arches.runs_on(cap):
            floor = next((s.version for s in torch_spec if s.operator == ">="), None)
            cuda = next((s.version for s in cuda_spec if s.operator == ">="), None)
            if floor and (best is None or parse_version(floor) < parse_version(best[0])):  # type: ignore[operator]
                best = (floor, cuda)
    if best is None:
        return [hint(f"install a torch built with {cap.sm} kernels (https://pytorch.org/get-started/locally/)")]
    floor, cuda = best
    on = f" built for CUDA {cuda}+ (index {TORCH_INDEX}{tag(cuda)})" if cuda else ""
    title = f"install torch>={floor}{on}, the first with {cap.sm} kernels"
    return [from_torch_index(title, f">={floor}", cuda) if cuda else
            pip_install_fix(title, {"torch": f">={floor}"}, Applicability.UNSAFE)]


@implements("ED143")
def gpu_outside_torch_build(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """Each GPU of the target older than every architecture of the torch build (its +cuXYZ tag).
    A GPU newer than the build is ED141's (Blackwell, the only such GPUs the matrix knows)."""
    torch = ctx.snapshot.distributions.get("torch")
    cuda = cuda_of(torch.version) if torch else None
    if torch is None or cuda is None:
        return
    matching = [arches for build, arches in builds_for(ctx.kb.tables, torch.version) if build == cuda]
    seen: set[tuple[str, str]] = set()
    for gpu in ctx.snapshot.hardware.gpus if matching else ():  # a mixed box: each kind of GPU once
        cap = capability(gpu.capability or "")
        if cap is None or matching[0].direction(cap) != "too-old" or (gpu.name, str(cap)) in seen:
            continue
        seen.add((gpu.name, str(cap)))
        yield entry.finding(
            f"{gpu.name} (compute capability {cap}) is older than every architecture of torch {torch.version} "
            f"({matching[0].describe()}): this build dropped it, and a newer torch will not bring it back; "
            "every CUDA op fails with `no kernel image is available for execution on the device`",
            packages=("torch",), locations=pin_locations(ctx.snapshot, ("torch",)),
            fixes=tuple(too_old_fixes(ctx.kb.tables, cap, torch.version, cuda)))

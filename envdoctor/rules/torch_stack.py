"""torch and what is built against it: triton's pin, compiled extensions, the driver.

ED102 triton-not-torchs-pin, ED120 extension-built-for-other-torch,
ED140 driver-older-than-torch-cuda.
"""

from __future__ import annotations

from collections.abc import Iterator

from packaging.specifiers import SpecifierSet

from envdoctor.env import releases
from envdoctor.env.requirements import is_kept, parse_version
from envdoctor.env.snapshot import Distribution, torch_build
from envdoctor.env.torch_build import built_for_torch, declared_or_recorded, declared_pin
from envdoctor.findings import Applicability, Finding, hint, pip_install_fix
from envdoctor.knowledge.base import RuleEntry
from envdoctor.rules.base import Context, implements


@implements("ED102")
def triton_not_torchs_pin(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """triton is the one torch requires for this Python and platform (torch's metadata, else the release snapshot)."""
    snap = ctx.snapshot
    torch, triton = snap.distributions.get("torch"), snap.distributions.get("triton")
    if torch is None or triton is None:
        return
    found = declared_or_recorded(torch, snap, "triton")
    if found is None:
        return  # a pin whose metadata is unknown and newer than the snapshot
    spec, origin = found
    if spec is None or SpecifierSet(spec).contains(triton.version, prereleases=True):
        return
    yield entry.finding(
        f"torch {torch.version} is built for triton{spec} ({origin}), but triton {triton.version} "
        "is installed: torch.compile and every triton kernel (bitsandbytes, flash kernels) "
        "may fail or miscompile",
        packages=("torch", "triton"),
        covers=(("torch", "triton"),),
        fixes=(
            pip_install_fix(f"put back the triton torch {torch.version} pins", {"triton": spec}, Applicability.SAFE),
        ),
    )


def built_for(ctx: Context, name: str, torch_version: str) -> tuple[list[str], str]:
    """Releases of extension ``name`` whose torch requirement (markers evaluated) admits ``torch_version``
    and whose Requires-Python admits the target, oldest first, and where they were read.

    The release snapshot answers first; the index is asked (lock files online) only when it has none.
    """
    snap = ctx.snapshot
    version = parse_version(torch_version)

    def fits(release: releases.Release) -> bool:
        spec = declared_pin(Distribution(name, release.version, release.requires), snap, "torch")
        if spec is None or version is None or not SpecifierSet(spec).contains(version, prereleases=True):
            return False
        python = release.requires_python
        return not python or SpecifierSet(python).contains(snap.python_version, prereleases=True)

    known, origin = releases.history(name, "torch", snap, offline=True)
    found = [r.version for r in known if fits(r)]
    if not found and not ctx.offline:
        known, origin = releases.history(name, "torch", snap, offline=False)
        found = [r.version for r in known if fits(r)]
    return found, origin


@implements("ED120")
def extension_built_for_other_torch(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """Compiled packages built against exactly one torch (vllm, xformers, torchvision, flash-attn…)."""
    snap = ctx.snapshot
    torch = snap.distributions.get("torch")
    if torch is None:
        return
    torch_version = releases.public(torch.version)
    for name in ctx.kb.tables["torch_extensions"]["packages"]:
        dist = snap.distributions.get(name)
        if dist is None:
            continue
        spec, origin = built_for_torch(dist, snap)
        if spec is None or SpecifierSet(spec).contains(torch_version, prereleases=True):
            continue
        fixes = []
        torch_kept = is_kept("torch", ctx.keep)
        stays = "torch stays: the platform owns it" if torch_kept else "torch stays"
        matching, searched = built_for(ctx, name, torch_version) if name != "flash-attn" else ([], "")
        if matching:
            fixes.append(
                pip_install_fix(
                    f"install {name} {matching[-1]}, the newest release built for torch {torch_version} "
                    f"({searched}; {stays})",
                    {name: f"=={matching[-1]}"},
                    Applicability.UNSAFE,
                )
            )
        elif name == "flash-attn":  # its torch is in the wheel build tag, which index metadata lacks
            fixes.append(
                hint(f"install the flash-attn wheel whose build tag names torch{torch_version[:3]} "
                     f"(github.com/Dao-AILab/flash-attention releases; {stays})")
            )
        else:
            fixes.append(hint(f"install a {name} build for torch {torch.version} (none in {searched}); {stays}"))
        if not torch_kept and spec.startswith("=="):
            fixes.append(
                pip_install_fix(
                    f"move torch to {spec.removeprefix('==')}, the torch {name} {dist.version} is built for",
                    {"torch": spec},
                    Applicability.UNSAFE,
                )
            )
        fixes.append(
            pip_install_fix(
                f"uninstall {name} if this run does not import it",
                {},
                Applicability.UNSAFE,
                uninstall=(name,),
            )
        )
        yield entry.finding(
            f"{name} {dist.version} is compiled against torch{spec} ({origin}), but torch "
            f"{torch.version} is installed: importing it fails with `undefined symbol: _ZN…`",
            packages=(name, "torch"),
            covers=((name, "torch"),),
            fixes=tuple(fixes),
        )


@implements("ED140")
def driver_older_than_torch_cuda(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """torch's CUDA major version is newer than what the NVIDIA driver supports."""
    snap = ctx.snapshot
    kind, cuda = torch_build(snap)
    driver_cuda = snap.hardware.cuda_driver_version
    if kind != "cuda" or cuda is None or driver_cuda is None:
        return
    if int(cuda.split(".")[0]) <= int(driver_cuda.split(".")[0]):
        return
    yield entry.finding(
        f"torch {snap.version_of('torch')} is built for CUDA {cuda}, but driver "
        f"{snap.hardware.driver_version} supports CUDA {driver_cuda} at most: "
        "torch.cuda.is_available() will be False",
        packages=("torch",),
        fixes=(
            hint(
                f"install the torch build for CUDA {driver_cuda.split('.')[0]}.x from the PyTorch "
                "index (same torch version), or upgrade the NVIDIA driver"
            ),
        ),
    )

"""torch and what is built against it: triton's pin, compiled extensions, the driver.

ED102 triton-not-torchs-pin, ED120 extension-built-for-other-torch,
ED140 driver-older-than-torch-cuda.
"""

from __future__ import annotations

from collections.abc import Iterator

from packaging.specifiers import SpecifierSet

from envdoctor.env.requirements import is_kept
from envdoctor.env.snapshot import torch_build
from envdoctor.env.torch_build import built_for_torch, declared_pin, table_lookup
from envdoctor.findings import Applicability, Finding, Fix, hint, pip_install_fix
from envdoctor.knowledge.base import RuleEntry
from envdoctor.rules.base import Context, implements


@implements("ED102")
def triton_not_torchs_pin(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """triton is the one torch was built with (torch's metadata, else the knowledge base)."""
    snap = ctx.snapshot
    torch, triton = snap.distributions.get("torch"), snap.distributions.get("triton")
    if torch is None or triton is None:
        return
    if torch.metadata_known:
        spec, origin = declared_pin(torch, snap, "triton"), "torch's metadata"
    else:
        spec, origin = (
            table_lookup(ctx.kb.tables["torch_triton"]["rows"], "torch", torch.version, "triton"),
            "the knowledge base",
        )
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


def _matching_releases(ctx: Context, name: str, torch_version: str) -> list[str]:
    rows = ctx.kb.tables["torch_extensions"].get(name, [])
    return [row["version"] for row in rows if SpecifierSet(row["torch"]).contains(torch_version, prereleases=True)]


@implements("ED120")
def extension_built_for_other_torch(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """Compiled packages built against exactly one torch (vllm, xformers, torchvision, flash-attn…)."""
    snap = ctx.snapshot
    torch = snap.distributions.get("torch")
    if torch is None:
        return
    for name in ctx.kb.tables["torch_extensions"]["packages"]:
        dist = snap.distributions.get(name)
        if dist is None:
            continue
        spec, origin = built_for_torch(dist, snap, ctx.kb.tables["torch_extensions"].get(dist.name, []))
        if spec is None or SpecifierSet(spec).contains(torch.version.split("+")[0], prereleases=True):
            continue
        fixes = []
        releases = _matching_releases(ctx, name, torch.version.split("+")[0])
        torch_kept = is_kept("torch", ctx.keep)
        stays = " (torch stays: the platform owns it)" if torch_kept else " (torch stays)"
        if name == "flash-attn":  # its torch is in the wheel's build tag, which index metadata lacks
            fixes.append(
                Fix(
                    title=(f"install the flash-attn wheel whose build tag names torch{torch.version[:3]} "
                           f"(github.com/Dao-AILab/flash-attention releases){stays}"),
                    applicability=Applicability.DISPLAY_ONLY,
                )
            )
        else:  # the fix search (envdoctor.fix.search) names the release whose metadata pins this torch
            fixes.append(
                pip_install_fix(
                    f"install the {name} built for torch {torch.version}{stays}",
                    {name: releases[-1] if releases else f"!={dist.version}"},
                    Applicability.UNSAFE,
                )
            )
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
                f"uninstall {name} if this run does not use it (training does not need vllm)",
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

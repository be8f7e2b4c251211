"""ED104 bitsandbytes-no-binary-for-torch-cuda: bitsandbytes ships a native library per CUDA version.

The shipped ``libbitsandbytes_cudaXYZ.so`` files are read from the installed
distribution's RECORD, so the rule needs no table of releases. Whether a missing
exact build is fatal follows the installed release's own loading rule (knowledge-base
table ``bitsandbytes_loading``): from 0.50.0 it loads the nearest build of the same CUDA
major, before that only the exact one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from packaging.specifiers import SpecifierSet

from envdoctor.env.requirements import parse_version
from envdoctor.env.snapshot import torch_build
from envdoctor.findings import Applicability, Finding, Fix, Severity, pip_install_fix
from envdoctor.knowledge.base import RuleEntry
from envdoctor.rules.base import Context, implements

_CUDA_LIB = re.compile(r"libbitsandbytes_cuda(\d+)\.")


def _as_version(digits: str) -> tuple[int, int]:
    """'124' -> (12, 4); '130' -> (13, 0)."""
    return int(digits[:-1]), int(digits[-1])


def nearest_same_major(shipped: list[tuple[int, int]], wanted: tuple[int, int]) -> tuple[int, int] | None:
    """The build bitsandbytes 0.50+ picks for ``wanted``: the highest lower one of the same major, else the
    lowest higher one; None when no build of that major is shipped."""
    same = [v for v in shipped if v[0] == wanted[0]]
    lower = [v for v in same if v < wanted]
    return max(lower) if lower else min(same, default=None)


def falls_back(ctx: Context, version: str) -> bool:
    """Whether this bitsandbytes release loads the nearest same-major build when the exact one is missing."""
    parsed = parse_version(version)
    spec = SpecifierSet(ctx.kb.tables["bitsandbytes_loading"]["same_major_fallback"])
    return parsed is not None and spec.contains(parsed, prereleases=True)


@implements("ED104")
def bitsandbytes_no_binary_for_torch_cuda(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """The installed bitsandbytes has a native library for torch's CUDA version (or BNB_CUDA_VERSION)."""
    snap = ctx.snapshot
    bnb = snap.distributions.get("bitsandbytes")
    kind, cuda = torch_build(snap)
    if bnb is None or kind != "cuda" or cuda is None:
        return
    shipped = sorted({_as_version(m.group(1)) for lib in bnb.native_libs if (m := _CUDA_LIB.match(lib))})
    if not shipped:
        return  # metadata only (a lock file): the libraries are unknown
    listed = ", ".join(f"{a}.{b}" for a, b in shipped)
    override = snap.environ.get("BNB_CUDA_VERSION")
    major, minor = (cuda.split(".") + ["0"])[:2]
    wanted = _as_version(override) if override and override.isdigit() and len(override) >= 2 else \
        (int(major), int(minor))
    if wanted in shipped:
        return
    nearest = nearest_same_major(shipped, wanted)
    label = f"BNB_CUDA_VERSION={override}" if override else f"torch's CUDA {cuda}"
    floor = SpecifierSet(ctx.kb.tables["bitsandbytes_loading"]["same_major_fallback"])
    upgrade = pip_install_fix("upgrade bitsandbytes to a release built for this CUDA", {"bitsandbytes": f">{bnb.version}"},
                              Applicability.UNSAFE)
    if nearest is not None and not override and falls_back(ctx, bnb.version):
        yield entry.finding(
            f"bitsandbytes {bnb.version} has no binary for {label} (it ships CUDA {listed}); it loads its "
            f"CUDA {nearest[0]}.{nearest[1]} build instead (its fallback within one CUDA major, from 0.50.0)",
            severity=Severity.WARNING, packages=("bitsandbytes", "torch"),
            fixes=(Fix(title=f"load the CUDA {nearest[0]}.{nearest[1]} build explicitly (silences the warning)",
                       applicability=Applicability.UNSAFE, env={"BNB_CUDA_VERSION": f"{nearest[0]}{nearest[1]}"}),
                   upgrade))
        return
    if nearest is not None and not override:
        yield entry.finding(
            f"bitsandbytes {bnb.version} has no binary for {label} (it ships CUDA {listed}), and releases before "
            "0.50.0 load only the exact build: no CUDA library is loaded (0.46-0.49 raise 'Configured CUDA binary "
            "not found'; older ones load the CPU library and fail with 'CUDA Setup failed despite GPU being "
            "available'), so 4-bit layers cannot run",
            packages=("bitsandbytes", "torch"),
            fixes=(Fix(title=f"load its CUDA {nearest[0]}.{nearest[1]} build (same CUDA major) with BNB_CUDA_VERSION",
                       applicability=Applicability.UNSAFE, env={"BNB_CUDA_VERSION": f"{nearest[0]}{nearest[1]}"}),
                   pip_install_fix("or upgrade bitsandbytes to 0.50.0+, which falls back to the nearest CUDA "
                                   f"{wanted[0]}.x build itself", {"bitsandbytes": str(floor)}, Applicability.UNSAFE)))
        return
    yield entry.finding(
        f"bitsandbytes {bnb.version} has no binary for {label} (it ships CUDA {listed}): "
        "loading its native library fails and 4-bit layers cannot run",
        packages=("bitsandbytes", "torch"),
        fixes=(upgrade,) if not override else
        (Fix(title="unset BNB_CUDA_VERSION so bitsandbytes picks the build matching torch",
             applicability=Applicability.SAFE), upgrade))

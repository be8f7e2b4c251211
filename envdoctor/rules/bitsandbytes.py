"""ED104 bitsandbytes-no-binary-for-torch-cuda: bitsandbytes ships a native library per CUDA version.

The shipped ``libbitsandbytes_cudaXYZ.so`` files are read from the installed
distribution's RECORD, so the rule needs no table of releases.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from envdoctor.env.snapshot import torch_build
from envdoctor.findings import Applicability, Finding, Fix, Severity, pip_install_fix
from envdoctor.knowledge.base import RuleEntry
from envdoctor.rules.base import Context, implements

_CUDA_LIB = re.compile(r"libbitsandbytes_cuda(\d+)\.")


def _as_version(digits: str) -> tuple[int, int]:
    """'124' -> (12, 4); '130' -> (13, 0)."""
    return int(digits[:-1]), int(digits[-1])


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
    wanted = (
        _as_version(override)
        if override and override.isdigit() and len(override) >= 2
        else tuple(int(x) for x in cuda.split(".")[:2])
    )
    if wanted in shipped:
        return
    same_major = [v for v in shipped if v[0] == wanted[0]]
    label = f"BNB_CUDA_VERSION={override}" if override else f"torch's CUDA {cuda}"
    upgrade = pip_install_fix(
        "upgrade bitsandbytes to a release built for this CUDA",
        {"bitsandbytes": f">{bnb.version}"},
        Applicability.UNSAFE,
    )
    if same_major and not override:
        nearest = max((v for v in same_major if v <= wanted), default=min(same_major))
        yield entry.finding(
            f"bitsandbytes {bnb.version} has no binary for {label} (it ships CUDA {listed}); "
            f"recent releases load the nearest CUDA {wanted[0]}.x build, older ones fail with "
            "'CUDA Setup failed'",
            severity=Severity.WARNING,
            packages=("bitsandbytes", "torch"),
            fixes=(
                Fix(
                    title=f"load the CUDA {nearest[0]}.{nearest[1]} build explicitly",
                    applicability=Applicability.UNSAFE,
                    env={"BNB_CUDA_VERSION": f"{nearest[0]}{nearest[1]}"},
                ),
                upgrade,
            ),
        )
        return
    yield entry.finding(
        f"bitsandbytes {bnb.version} has no binary for {label} (it ships CUDA {listed}): "
        "loading its native library fails and 4-bit layers cannot run",
        packages=("bitsandbytes", "torch"),
        fixes=(upgrade,)
        if not override
        else (
            Fix(
                title="unset BNB_CUDA_VERSION so bitsandbytes picks the build matching torch",
                applicability=Applicability.SAFE,
            ),
            upgrade,
        ),
    )

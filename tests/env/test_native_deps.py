"""The declared requirement that ships a C symbol's library (envdoctor.env.native_deps)."""

from __future__ import annotations

import pytest

from envdoctor.env.native_deps import LibraryRequirement, library_requirement
from envdoctor.env.snapshot import Distribution, Snapshot

MARKERS = {"platform_system": "Linux", "sys_platform": "linux", "platform_machine": "x86_64",
           "python_version": "3.11", "python_full_version": "3.11.7", "implementation_name": "cpython"}


def target(**requires: tuple[str, ...]) -> Snapshot:
    dists = {name.replace("_", "-"): Distribution(name.replace("_", "-"), "1.0", requires=reqs)
             for name, reqs in requires.items()}
    return Snapshot(source="test", python_version="3.11.7", marker_env=MARKERS, distributions=dists)


STACK = target(
    torch=("filelock", "nvidia-nccl-cu12==2.19.3; platform_system == 'Linux'", "nvidia-cusparse-cu12==12.1.0.106"),
    nvidia_cusparse_cu12=("nvidia-nvjitlink-cu12",),
    vllm=("torch==2.2.0", "xformers==0.0.24"),
    torchaudio=("torch==2.2.0",),
    app=("vllm",),
)


@pytest.mark.parametrize(("symbol", "library", "root", "found"), [
    ("ncclCommRegister", None, "torch", LibraryRequirement("torch", "nvidia-nccl-cu12", "==2.19.3")),
    ("ncclcommregister", None, "vllm", LibraryRequirement("torch", "nvidia-nccl-cu12", "==2.19.3")),  # via torch
    ("__nvJitLinkAddData_12_1,", "libnvJitLink.so", "torch",
     LibraryRequirement("nvidia-cusparse-cu12", "nvidia-nvjitlink-cu12", "")),  # the library the line names
    ("cusparseSpSM_analysis", None, "torch", LibraryRequirement("torch", "nvidia-cusparse-cu12", "==12.1.0.106")),
])
def test_the_nearest_declared_requirement_named_after_the_library(symbol: str, library: str | None, root: str,
                                                                   found: LibraryRequirement) -> None:
    assert library_requirement(symbol, library, [root], STACK) == found


@pytest.mark.parametrize(("symbol", "root"), [
    ("_ZN3c104cuda9SetDeviceEi", "torch"),  # C++: torch's own, not a library's
    ("ncclCommRegister", "app"),  # app -> vllm -> torch -> nccl: torch is past the two levels searched
    ("filelockAcquire", "nvidia-cusparse-cu12"),  # cusparse does not require filelock
    ("xform", "vllm"),  # shorter than the name part: no claim
])
def test_no_answer_beyond_the_declared_requirements(symbol: str, root: str) -> None:
    assert library_requirement(symbol, None, [root], STACK) is None


def test_skipped_names_are_never_the_answer() -> None:
    assert library_requirement("torch_library_impl", None, ["torchaudio"], STACK) == \
        LibraryRequirement("torchaudio", "torch", "==2.2.0")
    assert library_requirement("torch_library_impl", None, ["torchaudio"], STACK, skip=frozenset({"torch"})) is None

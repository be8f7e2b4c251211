"""torch's accelerator build, read from its version label and metadata without importing it."""

from __future__ import annotations

import pytest

from envdoctor.env.snapshot import Distribution, Snapshot, torch_build

CU13_REQUIRES = ('cuda-toolkit[cublas,cudart,cufft]==13.0.2; platform_system == "Linux"',
                 'nvidia-cudnn-cu13==9.19.0.56; platform_system == "Linux"')


def snap(version: str, requires: tuple[str, ...] = (), known: bool = True, cuda: str | None = None) -> Snapshot:
    torch = Distribution(name="torch", version=version, requires=requires, metadata_known=known)
    return Snapshot(source="live", python_version="3.12.3", distributions={"torch": torch}, stated_cuda=cuda)


@pytest.mark.parametrize(("version", "requires", "known", "expected"), [
    ("2.5.1+cu121", (), True, ("cuda", "12.1")),
    ("2.6.0+rocm6.2", (), True, ("rocm", "6.2")),
    ("2.13.0+cpu", (), True, ("cpu", None)),
    ("2.6.0", ("nvidia-cuda-runtime-cu12==12.4.127; platform_system == 'Linux'",), True, ("cuda", "12.4")),
    ("2.6.0", ("nvidia-cuda-runtime-cu12 (==12.4.127)",), True, ("cuda", "12.4")),
    ("2.11.0", CU13_REQUIRES, True, ("cuda", "13.0")),     # PyPI's CUDA 13 torch names cuda-toolkit
    ("2.11.0", ("filelock",), True, ("cpu", None)),        # metadata known, no CUDA runtime: a CPU build
    ("2.11.0", (), False, ("unknown", None)),              # a lock pin without metadata
])
def test_build_from_label_and_metadata(version: str, requires: tuple[str, ...], known: bool,
                                       expected: tuple[str, str | None]) -> None:
    assert torch_build(snap(version, requires, known)) == expected


def test_stated_cuda_wins_and_no_torch_is_none() -> None:
    assert torch_build(snap("2.13.0+cpu", cuda="12.8")) == ("cuda", "12.8")
    assert torch_build(Snapshot(source="live", python_version="3.12.3")) == ("none", None)

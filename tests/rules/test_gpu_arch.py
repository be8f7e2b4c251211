"""ED143 gpu-outside-torch-build: the GPU's capability against the torch build's architectures, both ways."""

from __future__ import annotations

import pytest

from envdoctor.findings import Applicability
from tests.helpers.core import gpu_hardware, run_rule, snap


def findings(torch: str, capability: str, name: str = "GPU") -> list:
    return run_rule("ED143", snap(("torch", torch), hardware=gpu_hardware(capability, name=name)))


def test_a_gpu_older_than_the_build_gets_the_same_release_built_for_an_older_cuda() -> None:
    [f] = findings("2.10.0+cu128", "6.0", "Tesla P100-PCIE-16GB")
    assert f.message.startswith("Tesla P100-PCIE-16GB (compute capability 6.0) is older than every architecture "
                                "of torch 2.10.0+cu128 (sm_70 sm_75 sm_80 sm_86 sm_90 sm_100 sm_120)")
    assert "a newer torch will not bring it back" in f.message and f.packages == ("torch",)
    same, older = f.fixes
    assert same.pins == {"torch": "==2.10.0+cu126"} and same.applicability is Applicability.UNSAFE
    assert same.commands[0][-2:] == ("--index-url", "https://download.pytorch.org/whl/cu126")
    assert older.pins == {"torch": "<2.8"}  # the last cu128 builds with Pascal kernels were 2.7.x


@pytest.mark.parametrize(("torch", "capability"), [
    ("2.10.0+cu126", "6.0"),  # the CUDA 12.6 build still has Pascal
    ("2.7.1+cu128", "6.1"),  # 2.7's CUDA 12.8 build had sm_50-sm_61 too
    ("2.10.0+cu128", "7.0"),  # Volta is in 2.10's cu128 build (dropped in 2.11)
    ("2.10.0", "6.0"),  # no CUDA tag: which build is installed is not known
    ("2.6.0+cu124", "12.0"),  # Blackwell with torch < 2.7 is ED141's
])
def test_a_build_with_kernels_for_the_gpu_or_an_unknown_build_is_quiet(torch: str, capability: str) -> None:
    assert findings(torch, capability) == []


def test_volta_after_2_11_and_maxwell_on_a_cuda_13_build() -> None:
    [volta] = findings("2.11.0+cu128", "7.0", "Tesla V100")
    assert volta.fixes[0].pins == {"torch": "==2.11.0+cu126"}
    assert findings("2.11.0+cu130", "7.5") == []  # CUDA 13 builds start at Turing
    [maxwell] = findings("2.11.0+cu130", "5.2", "GeForce GTX 980")
    assert "older than every architecture of torch 2.11.0+cu130" in maxwell.message


def test_every_kind_of_gpu_of_a_mixed_box_is_checked_once() -> None:
    from dataclasses import replace

    from envdoctor.env.snapshot import GPU

    base = gpu_hardware("8.0", name="A100")
    gpus = (*base.gpus, GPU(1, "Tesla P100", "6.0", 16000, 16000), GPU(2, "Tesla P100", "6.0", 16000, 16000))
    found = run_rule("ED143", snap(("torch", "2.10.0+cu128"), hardware=replace(base, gpus=gpus)))
    assert [f.message.split(" (")[0] for f in found] == ["Tesla P100"]  # the A100 (first) has kernels

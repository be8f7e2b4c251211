"""Every rule in checks/*.toml, on both sides of every version and hardware boundary."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.helpers.core import NO_GPU, dist, gpu_hardware, kb, run_rule, snap

from envdoctor.engine import core as engine
from envdoctor.env.snapshot import Hardware
from envdoctor.findings import Applicability, Severity
from envdoctor.rules.base import Context

TESTS = Path(__file__).resolve().parents[1]


def test_every_rule_in_the_knowledge_base_has_a_test() -> None:
    """Each rule code is exercised by at least one test module (its own or this one)."""
    sources = [p for p in TESTS.rglob("*") if p.suffix in (".py", ".toml", ".json") and p != Path(__file__)]
    text = "\n".join(p.read_text(encoding="utf-8") for p in sources)
    text += Path(__file__).read_text(encoding="utf-8").split("def test_every_rule", 1)[1]
    untested = sorted(code for code in kb().rules if not re.search(rf"\b{code}\b", text))
    assert untested == []


def fired(code: str, *dists, **kw) -> bool:
    found = run_rule(code, snap(*dists, **kw))
    assert all(f.code == code for f in found), found
    return bool(found)


# --- ED101 bitsandbytes-imports-removed-triton-ops -----------------------------------------------

@pytest.mark.parametrize(("bnb", "triton", "expected"), [
    ("0.38.0", "3.2.0", False), ("0.38.1", "3.2.0", True), ("0.44.1", "3.2.0", True),
    ("0.45.0", "3.2.0", True), ("0.45.1", "3.2.0", False), ("0.44.1", "3.1.0", False),
    ("0.44.1", "3.3.0", True),
])
def test_ed101_bnb_triton_ops(bnb: str, triton: str, expected: bool) -> None:
    assert fired("ED101", ("bitsandbytes", bnb), ("triton", triton), ("torch", "2.6.0")) is expected


def test_ed101_needs_triton_and_fixes_bnb_only() -> None:
    assert not fired("ED101", ("bitsandbytes", "0.44.1"), ("torch", "2.6.0"))
    [finding] = run_rule("ED101", snap(("bitsandbytes", "0.44.1"), ("triton", "3.2.0")))
    assert finding.fixes[0].pins == {"bitsandbytes": ">=0.45.1"}
    assert finding.fixes[0].applicability is Applicability.SAFE
    assert finding.covers == (("bitsandbytes", "triton"),)


# --- ED102 triton-not-torchs-pin -----------------------------------------------------------------

TORCH_260 = dist("torch", "2.6.0", ('triton==3.2.0; platform_system == "Linux" and platform_machine == "x86_64"',))


@pytest.mark.parametrize(("triton", "expected"), [("3.2.0", False), ("3.1.0", True), ("3.2.1", True)])
def test_ed102_pin_from_torch_metadata(triton: str, expected: bool) -> None:
    assert fired("ED102", TORCH_260, ("triton", triton)) is expected


def test_ed102_marker_that_does_not_apply_means_no_pin() -> None:
    assert not fired("ED102", TORCH_260, ("triton", "3.1.0"), system="Darwin")


@pytest.mark.parametrize(("torch", "triton", "python", "expected"), [
    ("2.6.0", "3.2.0", "3.11.7", False), ("2.6.0", "3.1.0", "3.11.7", True),
    ("2.14.1", "3.8.5", "3.11.7", False), ("2.14.1", "3.9.0", "3.11.7", True),
    ("2.5.1", "3.1.0", "3.11.7", False), ("2.5.1", "3.2.0", "3.11.7", True),
    # releases the old hand table lacked
    ("2.12.1", "3.7.1", "3.11.7", False), ("2.12.1", "3.7.0", "3.11.7", True),
    ("2.13.0", "3.7.1", "3.12.3", False), ("2.13.0", "3.8.0", "3.12.3", True),
    ("2.14.0", "3.8.0", "3.12.3", False), ("2.14.0", "3.7.1", "3.12.3", True),
    # python markers: 2.2.1-2.3.1 require no triton on 3.12, 2.4.0-2.5.1 none on 3.13
    ("2.2.1", "3.0.0", "3.11.7", True), ("2.2.1", "3.0.0", "3.12.3", False),
    ("2.3.1", "3.0.0", "3.12.3", False), ("2.2.0", "3.0.0", "3.12.3", True),
    ("2.4.0", "3.1.0", "3.12.3", True), ("2.4.0", "3.1.0", "3.13.1", False), ("2.5.1", "3.2.0", "3.13.1", False),
    ("2.6.0", "3.1.0", "3.13.1", True),
])
def test_ed102_pin_from_the_release_snapshot_for_a_lock(torch: str, triton: str, python: str, expected: bool) -> None:
    pins = (dist("torch", torch, metadata_known=False), dist("triton", triton, metadata_known=False))
    assert fired("ED102", *pins, source="file:req.txt", python=python) is expected


def test_ed102_names_the_snapshot_as_its_source() -> None:
    pins = (dist("torch", "2.12.1", metadata_known=False), dist("triton", "3.7.0", metadata_known=False))
    [finding] = run_rule("ED102", snap(*pins, source="file:req.txt"))
    assert "torch 2.12.1's metadata in the release snapshot of" in finding.message
    assert finding.fixes[0].pins == {"triton": "==3.7.1"}


def test_ed102_without_triton_or_torch_is_silent() -> None:
    assert not fired("ED102", TORCH_260)
    assert not fired("ED102", ("triton", "2.1.0"))


# --- ED103 bitsandbytes-cpu-4bit-unsupported ------------------------------------------------------

@pytest.mark.parametrize(("bnb", "torch", "hardware", "expected"), [
    ("0.45.5", "2.6.0", NO_GPU, True), ("0.46.0", "2.6.0", NO_GPU, False),
    ("0.45.5", "2.1.2", NO_GPU, False), ("0.45.5", "2.2.0", NO_GPU, True),
    ("0.45.5", "2.6.0", gpu_hardware(), False),
    ("0.45.5", "2.6.0", Hardware(nvml="not probed: file target"), False),
])
def test_ed103_cpu_only_nf4(bnb: str, torch: str, hardware: Hardware, expected: bool) -> None:
    assert fired("ED103", ("bitsandbytes", bnb), ("torch", torch), hardware=hardware) is expected


# --- ED110 llamafactory-runtime-bounds -------------------------------------------------------------

LF_RUNTIME = ("transformers>=4.45.0,<=4.52.4,!=4.52.0", "peft>=0.14.0,<=0.15.2")


@pytest.mark.parametrize(("transformers", "expected"), [
    ("4.52.4", False), ("4.52.5", True), ("4.52.0", True), ("4.45.0", False), ("4.44.2", True)])
def test_ed110_reads_installed_runtime_bounds(transformers: str, expected: bool) -> None:
    lf = dist("llamafactory", "0.9.3", runtime_requirements=LF_RUNTIME)
    assert fired("ED110", lf, ("transformers", transformers), ("peft", "0.15.2")) is expected


def test_ed110_quotes_the_error_and_offers_bypass() -> None:
    lf = dist("llamafactory", "0.9.3", runtime_requirements=LF_RUNTIME)
    [f] = run_rule("ED110", snap(lf, ("transformers", "4.57.0"), ("peft", "0.15.2")))
    assert f.severity is Severity.ERROR
    assert f.quotes == (("transformers>=4.45.0,<=4.52.4,!=4.52.0 is required for a normal functioning of this "
                        "module, but found transformers==4.57.0."),)
    assert f.fixes[-1].env == {"DISABLE_VERSION_CHECK": "1"}


@pytest.mark.parametrize("value", ["1", "true", "Y"])
def test_ed110_disable_version_check_downgrades_to_warning(value: str) -> None:
    lf = dist("llamafactory", "0.9.3", runtime_requirements=LF_RUNTIME)
    found = run_rule("ED110", snap(lf, ("transformers", "4.57.0"), environ={"DISABLE_VERSION_CHECK": value}))
    assert [f.severity for f in found] == [Severity.WARNING]


@pytest.mark.parametrize(("lf", "value", "bypassed"), [
    ("0.9.1", "y", False), ("0.9.2", "y", True), ("0.9.1", "true", True), ("0.8.3", "1", True), ("0.9.5", "Y", True),
])
def test_ed110_bypass_values_follow_the_release(lf: str, value: str, bypassed: bool) -> None:
    """`y` skips the checks only from 0.9.2 (is_env_enabled); older releases compare with ["true", "1"]."""
    release = dist("llamafactory", lf, runtime_requirements=LF_RUNTIME)
    found = run_rule("ED110", snap(release, ("transformers", "4.57.0"), environ={"DISABLE_VERSION_CHECK": value}))
    assert [f.severity for f in found] == [Severity.WARNING if bypassed else Severity.ERROR]


def test_ed110_unrelated_value_still_errors() -> None:
    lf = dist("llamafactory", "0.9.3", runtime_requirements=LF_RUNTIME)
    found = run_rule("ED110", snap(lf, ("transformers", "4.57.0"), environ={"DISABLE_VERSION_CHECK": "0"}))
    assert [f.severity for f in found] == [Severity.ERROR]


@pytest.mark.parametrize(("lf", "transformers", "expected"), [
    ("0.9.4", "4.57.1", False), ("0.9.4", "4.57.2", True), ("0.9.4", "4.50.3", True), ("0.9.4", "4.51.0", False),
    ("0.9.3", "4.52.4", False), ("0.9.3", "4.52.0", True), ("0.9.5", "5.6.0", False),
    ("0.9.5", "5.6.1", True), ("0.9.5", "4.55.0", False), ("0.9.5", "4.54.1", True),
])
def test_ed110_table_for_a_lock(lf: str, transformers: str, expected: bool) -> None:
    pins = (dist("llamafactory", lf, metadata_known=False), dist("transformers", transformers, metadata_known=False))
    assert fired("ED110", *pins, source="file:req.txt") is expected


@pytest.mark.parametrize(("lf", "pins", "expected"), [
    ("0.9.5", (("peft", "0.20.0"), ("trl", "0.24.0")), False), ("0.9.5", (("peft", "0.21.0"),), True),
    ("0.9.5", (("trl", "0.25.0"),), True), ("0.9.3", (("trl", "0.9.6"),), False), ("0.9.3", (("trl", "0.10.1"),), True),
])
def test_ed110_table_checks_every_package_for_a_lock(lf: str, pins: tuple, expected: bool) -> None:  # type: ignore[type-arg]
    locked = [dist("llamafactory", lf, metadata_known=False)] + [dist(n, v, metadata_known=False) for n, v in pins]
    assert fired("ED110", *locked, source="file:req.txt") is expected


# --- ED111 numpy2-with-numpy1-package --------------------------------------------------------------

@pytest.mark.parametrize(("package", "old", "new"), [
    ("scipy", "1.12.0", "1.13.0"), ("pandas", "2.2.1", "2.2.2"), ("scikit-learn", "1.4.1.post1", "1.4.2"),
    ("matplotlib", "3.8.3", "3.8.4"),
])
def test_ed111_each_package_boundary(package: str, old: str, new: str) -> None:
    assert fired("ED111", ("numpy", "2.0.0"), (package, old))
    assert not fired("ED111", ("numpy", "2.0.0"), (package, new))
    assert not fired("ED111", ("numpy", "1.26.4"), (package, old))


def test_ed111_no_longer_flags_pure_python_declarations() -> None:
    """trl and LLaMA-Factory are pure Python: their numpy caps are metadata (ED112), not an ABI break."""
    assert not fired("ED111", ("numpy", "2.0.0"), ("trl", "0.9.6"), ("llamafactory", "0.9.3"))


# --- ED112 numpy-capped-below-installed ------------------------------------------------------------

@pytest.mark.parametrize(("package", "version", "expected"), [
    ("trl", "0.8.6", False), ("trl", "0.9.4", False), ("trl", "0.9.6", True), ("trl", "0.10.1", False),
    ("llamafactory", "0.7.1", False), ("llamafactory", "0.8.2", False), ("llamafactory", "0.8.3", True),
    ("llamafactory", "0.9.3", True), ("llamafactory", "0.9.4", False),
])
def test_ed112_caps_read_from_the_release_metadata(package: str, version: str, expected: bool) -> None:
    """A lock (metadata unknown, offline): the caps come from the releases' metadata in the snapshot."""
    pins = (dist(package, version, metadata_known=False), dist("numpy", "2.1.3", metadata_known=False))
    assert fired("ED112", *pins, source="file:req.txt", python="3.11.7") is expected
    assert not fired("ED112", pins[0], dist("numpy", "1.26.4", metadata_known=False), source="file:req.txt")


@pytest.mark.parametrize(("system", "expected"), [("Linux", False), ("Windows", True)])
def test_ed112_trl_011_caps_numpy_only_on_windows(system: str, expected: bool) -> None:
    trl = dist("trl", "0.11.4", ('numpy>=1.18.2; platform_system != "Windows"', 'numpy<2; platform_system == "Windows"'))
    assert fired("ED112", trl, ("numpy", "2.1.3"), system=system) is expected


def test_ed112_fix_stays_inside_what_llamafactory_requires() -> None:
    """Alone, trl 0.9.6 moves up to 0.10.1; with LLaMA-Factory 0.9.3 (trl<=0.9.6) to 0.9.4, said to be a downgrade."""
    trl = dist("trl", "0.9.6", ("numpy<2.0.0,>=1.18.2",))
    [alone] = run_rule("ED112", snap(trl, ("numpy", "2.1.3")))
    assert alone.fixes[0].pins == {"trl": "==0.10.1"} and alone.covers == (("trl", "numpy"),)
    lf = dist("llamafactory", "0.9.3", ("trl<=0.9.6,>=0.8.6", "numpy<2.0.0"))
    found = {f.packages[0]: f for f in run_rule("ED112", snap(trl, lf, ("numpy", "2.1.3")))}
    assert found["trl"].fixes[0].pins == {"trl": "==0.9.4"} and "downgrade" in found["trl"].fixes[0].title
    assert found["llamafactory"].fixes[0].pins == {"llamafactory": "==0.9.4"}
    # LLaMA-Factory 0.9.4 needs Python 3.11: on 3.10 the nearest is 0.8.2 (no numpy requirement), a downgrade
    [on_310] = run_rule("ED112", snap(lf, ("numpy", "2.1.3"), python="3.10.12"))
    assert on_310.fixes[0].pins == {"llamafactory": "==0.8.2"} and "downgrade" in on_310.fixes[0].title
    # a package whose releases the snapshot does not record: the fix says what was searched
    [unknown] = run_rule("ED112", snap(dist("oldlib", "1.0", ("numpy<2",)), ("numpy", "2.1.3")))
    assert unknown.fixes[0].applicability is Applicability.DISPLAY_ONLY
    assert "does not record oldlib's releases" in unknown.fixes[0].title


def test_ed112_drops_the_generic_unmet_requirement() -> None:
    trl = dist("trl", "0.9.6", ("numpy<2.0.0,>=1.18.2",))
    found = run_rule("ED001", snap(trl, ("numpy", "2.1.3")))
    assert [f.code for f in found] == ["ED001"]
    both = engine.run(Context(snapshot=snap(trl, ("numpy", "2.1.3")), kb=kb()), [kb().rules["ED001"], kb().rules["ED112"]])
    assert [f.code for f in both] == ["ED112"]


# --- ED130 / ED131 peft, trl vs transformers ---------------------------------------------------------

@pytest.mark.parametrize(("peft", "transformers", "expected"), [
    ("0.15.2", "5.0.0", False), ("0.16.0", "5.0.0", True), ("0.17.1", "5.6.0", True),
    ("0.17.1", "4.57.1", False), ("0.17.1", "5.0.0rc2", False), ("0.17.1", "5.0.0rc3", True),
    ("0.18.1", "5.6.0", False),
    ("0.18.0", "4.51.3", True), ("0.18.0", "4.52.0", False), ("0.18.1", "4.51.3", False),
    ("0.13.2", "4.42.4", False), ("0.14.0", "4.42.4", True), ("0.15.2", "4.42.4", True),
    ("0.14.0", "4.43.0", False),
    # every peft from 0.14.0 imports EncoderDecoderCache at top level (0.16.0-0.21.2 too)
    ("0.16.0", "4.42.4", True), ("0.18.1", "4.42.4", True), ("0.21.2", "4.42.4", True), ("0.21.2", "4.43.0", False),
])
def test_ed130_peft_transformers(peft: str, transformers: str, expected: bool) -> None:
    assert fired("ED130", ("peft", peft), ("transformers", transformers)) is expected


@pytest.mark.parametrize(("trl", "transformers", "expected"), [
    ("0.9.4", "5.0.0", False), ("0.9.6", "5.0.0", True), ("0.10.1", "5.0.0", True), ("0.18.0", "5.6.0", True),
    ("0.22.2", "5.6.0", True), ("0.23.0", "5.6.0", False), ("0.9.6", "4.57.1", False),
    ("0.22.2", "5.0.0rc2", False), ("0.22.2", "5.0.0rc3", True),
])
def test_ed131_trl_transformers(trl: str, transformers: str, expected: bool) -> None:
    assert fired("ED131", ("trl", trl), ("transformers", transformers)) is expected


def test_ed131_fix_floor_is_the_first_release_without_the_import() -> None:
    [finding] = run_rule("ED131", snap(("trl", "0.22.2"), ("transformers", "5.6.0"), ("llamafactory", "0.9.5")))
    assert finding.fixes[0].pins == {"trl": ">=0.23.0"}
    assert "0.23.0" in finding.fixes[0].title


# --- ED120 extension-built-for-other-torch ------------------------------------------------------------

@pytest.mark.parametrize(("torch", "expected"), [("2.6.0", False), ("2.6.0+cu124", False), ("2.7.0", True)])
def test_ed120_vllm_metadata_pin(torch: str, expected: bool) -> None:
    vllm = dist("vllm", "0.8.5", ("torch==2.6.0",))
    assert fired("ED120", vllm, ("torch", torch)) is expected


@pytest.mark.parametrize(("torch", "pin"), [
    ("2.7.0", "==0.9.2"), ("2.9.1", "==0.16.0"), ("2.10.0", "==0.19.1"), ("2.11.0", "==0.26.0"),
    ("2.13.0", "==0.32.0"), ("2.3.1", "==0.5.3.post1"),
])
def test_ed120_suggests_the_vllm_built_for_the_installed_torch(torch: str, pin: str) -> None:
    [f] = run_rule("ED120", snap(dist("vllm", "0.8.5", ("torch==2.6.0",)), ("torch", torch)))
    assert f.fixes[0].pins == {"vllm": pin}
    # no platform owns torch here, so moving torch to vllm's pin is the other side's fix
    assert f.fixes[1].pins == {"torch": "==2.6.0"} and "move torch" in f.fixes[1].title
    assert f.fixes[-1].uninstall == ("vllm",)


def test_ed120_fix_respects_the_release_requires_python() -> None:
    """vllm 0.14.0-0.16.0 (torch 2.9.1) declare Requires-Python <3.14: none fits Python 3.14."""
    [f] = run_rule("ED120", snap(dist("vllm", "0.8.5", ("torch==2.6.0",)), ("torch", "2.9.1"), python="3.14.0"))
    assert f.fixes[0].applicability is Applicability.DISPLAY_ONLY and "none in the release snapshot" in f.fixes[0].title


@pytest.mark.parametrize(("vllm", "torch", "expected"), [
    ("0.8.5", "2.6.0", False), ("0.8.5", "2.7.0", True), ("0.9.2", "2.7.0", False), ("0.10.0", "2.7.0", True),
    # releases the old hand table lacked
    ("0.5.3", "2.3.1", False), ("0.5.3", "2.3.0", True), ("0.14.0", "2.9.1", False), ("0.14.0", "2.9.0", True),
    ("0.16.0", "2.9.1", False), ("0.17.0", "2.9.1", True), ("0.19.1", "2.10.0", False), ("0.19.1", "2.11.0", True),
    ("0.26.0", "2.11.0", False), ("0.27.0", "2.11.0", True),
])
def test_ed120_vllm_pin_from_the_release_snapshot_for_a_lock(vllm: str, torch: str, expected: bool) -> None:
    pins = (dist("vllm", vllm, metadata_known=False), dist("torch", torch, metadata_known=False))
    assert fired("ED120", *pins, source="file:req.txt") is expected


@pytest.mark.parametrize(("name", "version", "torch", "expected"), [
    ("torchaudio", "2.10.0", "2.11.0", True), ("torchaudio", "2.11.0", "2.12.0", False),  # 2.11.0 declares no torch
    ("xformers", "0.0.34", "2.11.0", True), ("xformers", "0.0.35", "2.11.0", False),      # 0.0.35: torch>=2.10
    ("torchvision", "0.29.0", "2.15.0", True), ("torchvision", "0.29.1", "2.15.0", False),  # 0.29.1: torch>=2.14.0
])
def test_ed120_only_exact_pins_are_build_pins(name: str, version: str, torch: str, expected: bool) -> None:
    pins = (dist(name, version, metadata_known=False), dist("torch", torch, metadata_known=False))
    assert fired("ED120", *pins, source="file:req.txt") is expected


@pytest.mark.parametrize(("torch", "expected"), [("2.6.0", False), ("2.6.3", False), ("2.7.0", True)])
def test_ed120_flash_attn_build_tag(torch: str, expected: bool) -> None:
    fa = dist("flash-attn", "2.7.4.post1", direct_url=(
        "https://github.com/Dao-AILab/flash-attention/releases/download/v2.7.4.post1/"
        "flash_attn-2.7.4.post1+cu12torch2.6cxx11abiFALSE-cp311-cp311-linux_x86_64.whl"))
    assert fired("ED120", fa, ("torch", torch)) is expected


def test_ed120_range_pins_are_not_build_pins() -> None:
    assert not fired("ED120", dist("torchvision", "0.21.0", ("torch>=2.0",)), ("torch", "2.7.0"))


# --- ED140 driver-older-than-torch-cuda ------------------------------------------------------------------

@pytest.mark.parametrize(("torch", "driver", "expected"), [
    ("2.9.0+cu130", "12.2", True), ("2.9.0+cu130", "13.0", False), ("2.9.0+cu128", "12.2", False),
    ("2.9.0+cpu", "12.2", False),
])
def test_ed140_driver_cuda_major(torch: str, driver: str, expected: bool) -> None:
    assert fired("ED140", ("torch", torch), hardware=gpu_hardware(cuda_driver=driver)) is expected


def test_ed140_no_driver_no_finding() -> None:
    assert not fired("ED140", ("torch", "2.9.0+cu130"))


# --- ED141 gpu-newer-than-torch-build ------------------------------------------------------------------

@pytest.mark.parametrize(("capability", "torch", "expected"), [
    ("12.0", "2.6.0+cu124", True), ("10.0", "2.6.0+cu124", True), ("9.0", "2.6.0+cu124", False),
    ("12.0", "2.7.0+cu128", False), ("12.0", "2.7.0+cu126", True), ("12.0", "2.8.0+cu129", False),
])
def test_ed141_blackwell(capability: str, torch: str, expected: bool) -> None:
    hw = gpu_hardware(capability=capability, cuda_driver="12.9", name="NVIDIA GeForce RTX 5090")
    assert fired("ED141", ("torch", torch), hardware=hw) is expected


# --- ED001 unmet-requirement ----------------------------------------------------------------------------

@pytest.mark.parametrize(("accelerate", "expected"), [("0.20.3", True), ("0.21.0", False), ("1.3.0", False)])
def test_ed001_version_outside_range(accelerate: str, expected: bool) -> None:
    assert fired("ED001", dist("peft", "0.12.0", ("accelerate>=0.21.0",)), ("accelerate", accelerate)) is expected


def test_ed001_missing_requirement_live_but_not_for_a_lock() -> None:
    [f] = run_rule("ED001", snap(dist("peft", "0.12.0", ("accelerate>=0.21.0",))))
    assert f.message == "peft 0.12.0 requires accelerate>=0.21.0, which is not installed"
    assert f.fixes[0].applicability is Applicability.SAFE
    assert not fired("ED001", dist("peft", "0.12.0", ("accelerate>=0.21.0",)), source="file:req.txt")


def test_ed001_markers_and_extras() -> None:
    a = dist("a", "1.0", ('b>=2; python_version < "3.10"', 'c>=2; extra == "fast"'))
    assert not fired("ED001", a, ("b", "1.0"), ("c", "1.0"))  # neither marker holds
    assert fired("ED001", a, ("b", "1.0"), ("c", "1.0"), python="3.9.18")
    asker = dist("user", "1.0", ("a[fast]",))
    assert fired("ED001", a, asker, ("b", "1.0"), ("c", "1.0"))  # the extra is requested now
    assert not fired("ED001", a, asker, ("b", "1.0"), ("c", "2.0"))


def test_ed001_extra_gate_with_compound_marker_is_evaluated() -> None:
    a = dist("a", "1.0", ('c>=2; extra == "fast" and python_version >= "3.8"',))
    assert not fired("ED001", a, ("c", "1.0"))
    assert fired("ED001", a, dist("user", "1.0", ("a[Fast]",)), ("c", "1.0"))


def test_ed001_offers_both_sides_and_a_kept_side_stays() -> None:
    found = run_rule("ED001", snap(dist("x", "1.0", ("torch<2.5",)), ("torch", "2.6.0")), keep=frozenset({"torch"}))
    assert [fix.pins for fix in found[0].fixes] == [{"x": "!=1.0"}]  # the search picks the x that accepts it
    assert "torch 2.6.0 stays: kept with --keep" in found[0].fixes[0].title
    found = run_rule("ED001", snap(dist("x", "1.0", ("torch<2.5",)), ("torch", "2.6.0")))
    assert [fix.pins for fix in found[0].fixes] == [{"torch": "<2.5"}, {"x": "!=1.0"}]
    found = run_rule("ED001", snap(dist("x", "1.0", ("torch<2.5",)), ("torch", "2.6.0")),
                     keep=frozenset({"torch", "x"}))
    assert found[0].fixes[0].applicability is Applicability.DISPLAY_ONLY and not found[0].fixes[0].pins


def test_ed001_lock_finding_points_at_the_pinned_line() -> None:
    pins = (dist("peft", "0.12.0", ("accelerate>=0.21.0",), location="req.txt:1"),
            dist("accelerate", "0.20.3", location="req.txt:7", metadata_known=False))
    [f] = run_rule("ED001", snap(*pins, source="file:req.txt"))
    assert str(f.locations[0]) == "req.txt:7"


# --- ED002 unsupported-python -------------------------------------------------------------------------------

@pytest.mark.parametrize(("python", "expected"), [("3.10.12", True), ("3.11.0", False), ("3.13.1", False)])
def test_ed002_requires_python(python: str, expected: bool) -> None:
    assert fired("ED002", dist("llamafactory", "0.9.4", requires_python=">=3.11.0"), python=python) is expected


def test_ed002_invalid_specifier_is_ignored() -> None:
    assert not fired("ED002", dist("odd", "1.0", requires_python="not a spec"))


# --- ED003 shadowed-distribution / ED004 incomplete-lock / ED005 pin-not-on-index ----------------------------

def test_ed003_shadowed() -> None:
    assert fired("ED003", dist("bitsandbytes", "0.45.5", shadowed=("0.44.1",), location="/a"))
    assert not fired("ED003", dist("bitsandbytes", "0.45.5", location="/a"))
    assert not fired("ED003", dist("envdoctor", "0.1.0", shadowed=("0.1.0",), location="./envdoctor.egg-info"))


def test_ed004_incomplete_lock() -> None:
    torch = dist("torch", "2.6.0", ("filelock", 'setuptools; python_version >= "3.12"'))
    [f] = run_rule("ED004", snap(torch, source="file:req.txt"))
    assert f.message == "torch 2.6.0 requires filelock, which the lock does not pin"
    assert f.packages == ("torch", "filelock")
    assert fired("ED004", torch, source="file:req.txt", python="3.12.1")  # filelock and setuptools now
    assert not fired("ED004", torch, ("filelock", "3.16.1"), source="file:req.txt")
    assert not fired("ED004", torch, source="live")


def test_ed005_pin_not_on_index() -> None:
    pin = dist("bitsandbytes", "0.44.7", metadata_known=False, location="req.txt:3")
    [f] = run_rule("ED005", snap(pin, source="file:req.txt", not_on_index={"bitsandbytes": "0.44.7"}))
    assert f.severity is Severity.WARNING and str(f.locations[0]) == "req.txt:3"
    assert not fired("ED005", pin, source="file:req.txt")


# --- ED006 unsatisfiable-requirements ----------------------------------------------------------------------

def test_ed006_two_pins_whose_ranges_on_an_unlisted_package_exclude_each_other(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.helpers.index import IndexServer, isolated_pip_env
    from tests.helpers.surface import Dist, Index

    layout = Index(tmp_path / "index")
    for version in ("1.0", "1.5", "2.0"):
        layout.add(Dist("shared", version, {"shared/__init__.py": ""}))
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        old = dist("oldpin", "1.0", ("shared<1.5",), location="req.txt:1")

        def findings(requirement: str) -> list:
            new = dist("newpin", "3.0", (requirement, "absent-helper>=1"), location="req.txt:2")
            return run_rule("ED006", snap(old, new, source=f"file:{tmp_path / 'req.txt'}"))

        [f] = findings("shared>=2.0")
        assert f.message.startswith("newpin 3.0 requires shared>=2.0 and oldpin 1.0 requires shared<1.5: "
                                    "no shared release on the index satisfies both (3 listed)")
        assert f.packages == ("newpin", "oldpin", "shared") and f.severity is Severity.ERROR
        assert [fix.pins for fix in f.fixes] == [{"shared": ">=2.0", "oldpin": "!=1.0"},
                                                 {"shared": "<1.5", "newpin": "!=3.0"}]
        assert findings("shared>=1.0") == []  # 1.0 is in both ranges
        assert findings("shared==2.1rc1") == []  # a pre-release bound: pip looks at pre-releases, this rule does not
        [alone] = findings("shared>=1.2,<1.4")  # no listed release in newpin's own range: oldpin is not to blame
        assert alone.message.startswith("newpin 3.0 requires shared<1.4,>=1.2: no shared release on the index is "
                                        "in that range (3 listed, newest 2.0)")
        assert alone.packages == ("newpin", "shared") and [fix.pins for fix in alone.fixes] == [{"newpin": "!=3.0"}]

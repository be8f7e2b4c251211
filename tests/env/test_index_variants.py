"""Build variants (``+cu128``, ``+cpu``) are judged by their own metadata or not at all, and the
platforms' own published images check clean: Colab's GPU freeze (Python 3.13) and Kaggle's image
(Python 3.12) with the REAL metadata of every pin served by a loopback index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.core import envdoctor
from tests.helpers.index import IndexServer, Release, build_index, metadata_text, real_metadata

FIXTURES = Path(__file__).parents[1] / "fixtures"
PLATFORMS = Path(__file__).parents[2] / "checks" / "platforms"
LINUX = "py3-none-manylinux_2_24_x86_64"


def published_index(root: Path, metadata: Path) -> None:
    """Serve every pin of a published freeze with the metadata PyPI served for it (recorded in
    ``metadata``: Requires-Dist and Requires-Python verbatim); pins PyPI had only as an sdist
    without metadata are served that way; build variants (+cu128) are not served, as on PyPI."""
    releases = []
    for pin, meta in json.loads(metadata.read_text(encoding="utf-8")).items():
        name, version = pin.split("==")
        if meta == "not-on-index":
            continue
        if meta is None:
            releases.append(Release(name, version, "", tag="sdist", metadata_file=False))
            continue
        text = metadata_text(name, version, meta["requires"], meta["requires_python"])
        releases.append(Release(name, version, text, bulk=0))
    build_index(root, releases)


def check(freeze: Path, env: dict[str, str], python: str, *extra: str) -> tuple[int, dict]:
    proc = envdoctor("check", "--env", str(freeze), "--python-version", python, "--platform", "linux_x86_64",
                     "--no-project", "--format", "json", *extra, env=env)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


@pytest.mark.parametrize(("freeze", "metadata", "python", "platform"), [
    ("colab-gpu-2026-08-19.txt", "colab-gpu-2026-08-19.metadata.json", "3.13", "colab"),
    ("kaggle-cpu-2026-06-17.txt", "kaggle-cpu-2026-06-17.metadata.json", "3.12", "kaggle"),
])
def test_a_platforms_published_image_has_no_errors(tmp_path: Path, freeze: str, metadata: str, python: str,
                                                   platform: str) -> None:
    published_index(tmp_path / "idx", FIXTURES / "platforms" / metadata)
    with IndexServer(tmp_path / "idx") as server:
        env = {"ENVDOCTOR_CACHE_DIR": str(tmp_path / "cache"), "PIP_INDEX_URL": server.url}
        code, doc = check(PLATFORMS / freeze, env, python)
    assert code == 0, [f["message"] for f in doc["findings"] if f["severity"] == "error"]
    assert doc["target"]["owner"] == platform
    assert not [f for f in doc["findings"] if f["severity"] == "error"]
    if platform == "colab":  # torch 2.11.0+cu128: PyPI's 2.11.0 is a CUDA 13 build; its requirements are not applied
        assert doc["target"]["torch_cuda"] == "12.8"
        assert any("build variants that no configured index serves" in n and "torch 2.11.0+cu128" in n
                   for n in doc["notes"])
        assert not [f for f in doc["findings"] if "cuda-toolkit" in f["message"]]
    else:  # Kaggle's image ships real conflicts (tensorflow 2.19.0 vs numpy 2.4.6): the platform's, warned
        shipped = [f for f in doc["findings"] if "as shipped in kaggle's published image" in f["message"]]
        assert shipped and {f["severity"] for f in shipped} == {"warning"}


def test_kaggles_image_on_another_python_is_judged_for_that_python(tmp_path: Path) -> None:
    published_index(tmp_path / "idx", FIXTURES / "platforms" / "kaggle-cpu-2026-06-17.metadata.json")
    with IndexServer(tmp_path / "idx") as server:
        env = {"ENVDOCTOR_CACHE_DIR": str(tmp_path / "cache"), "PIP_INDEX_URL": server.url}
        code, doc = check(PLATFORMS / "kaggle-cpu-2026-06-17.txt", env, "3.13", "--select", "ED002")
    assert code == 1  # tensorflow-io 0.37.1 declares Python <3.13: Kaggle's image runs 3.12
    assert any(f["message"].startswith("tensorflow-io 0.37.1 requires Python <3.13") for f in doc["findings"])


CU128 = real_metadata("torch", "2.8.0+cu128")


@pytest.fixture()
def indexes(tmp_path: Path):
    """A PyPI-like index with the public torch 2.11.0 (CUDA 13) and 2.8.0 builds, and a second index
    (PyTorch's, in real life) serving torch 2.8.0+cu128."""
    build_index(tmp_path / "pypi", [Release("torch", "2.11.0", real_metadata("torch", "2.11.0"), tag=LINUX),
                                    Release("torch", "2.8.0", real_metadata("torch", "2.8.0"), tag=LINUX)])
    build_index(tmp_path / "pytorch", [Release("torch", "2.8.0+cu128", CU128, tag=LINUX)])
    with IndexServer(tmp_path / "pypi") as pypi, IndexServer(tmp_path / "pytorch") as pytorch:
        yield pypi, pytorch


def write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "freeze.txt"
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def test_a_variant_no_index_serves_is_not_judged_by_the_public_build(tmp_path: Path, indexes) -> None:
    pypi, _ = indexes
    env = {"ENVDOCTOR_CACHE_DIR": str(tmp_path / "cache"), "PIP_INDEX_URL": pypi.url}
    freeze = write(tmp_path, ["torch==2.11.0+cu128", "nvidia-cuda-runtime-cu12==12.8.90", "cuda-toolkit==12.8.1"])
    code, doc = check(freeze, env, "3.11")
    assert code == 0 and not [f for f in doc["findings"] if f["code"] == "ED001"]
    assert doc["target"]["torch_cuda"] == "12.8"  # from the label
    assert any("torch 2.11.0+cu128" in n and "not checked" in n for n in doc["notes"])
    # the public build itself is judged by its own metadata: CUDA 13's cuda-toolkit pin
    code, doc = check(write(tmp_path, ["torch==2.11.0", "cuda-toolkit==12.8.1"]), env, "3.11")
    assert code == 1 and any("requires cuda-toolkit" in f["message"] for f in doc["findings"])


@pytest.mark.parametrize("how", ["extra-index-url", "find-links"])
def test_a_cu128_torch_next_to_its_nvidia_wheels(tmp_path: Path, indexes, how: str) -> None:
    pypi, pytorch = indexes
    env = {"ENVDOCTOR_CACHE_DIR": str(tmp_path / "cache"), "PIP_INDEX_URL": pypi.url}
    option = (f"--extra-index-url {pytorch.url}" if how == "extra-index-url"
              else f"--find-links {tmp_path / 'pytorch' / 'files'}")
    good = write(tmp_path, [option, "torch==2.8.0+cu128", "nvidia-cuda-runtime-cu12==12.8.90"])
    code, doc = check(good, env, "3.11", "--select", "ED001")
    assert code == 0, doc["findings"]
    assert not any("not checked" in n and "torch 2.8.0+cu128" in n for n in doc["notes"])  # its metadata was read
    bad = write(tmp_path, [option, "torch==2.8.0+cu128", "nvidia-cuda-runtime-cu12==12.6.77"])
    code, doc = check(bad, env, "3.11", "--select", "ED001")
    assert code == 1
    assert any(f["message"].startswith("torch 2.8.0+cu128 requires nvidia-cuda-runtime-cu12==12.8.90")
               for f in doc["findings"])

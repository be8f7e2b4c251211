"""The issue's acceptance: torch 2.6.0 + triton 3.2.0 + bitsandbytes 0.44.1 in a freeze file.

`envdoctor check --env FILE` must exit 1 with ED101 pinning bitsandbytes>=0.45.1, and exit 0 once
the file holds bitsandbytes 0.45.1 — offline (knowledge base only) and online against a loopback
index that serves the REAL metadata of those releases (tests/fixtures/metadata/).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from tests.helpers.core import envdoctor
from tests.helpers.index import IndexServer, Release, build_index, real_metadata

REAL = [("torch", "2.6.0", "cp311-cp311-manylinux1_x86_64"),
        ("triton", "3.2.0", "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64"),
        ("bitsandbytes", "0.44.1", "py3-none-manylinux_2_24_x86_64"),
        ("bitsandbytes", "0.45.1", "py3-none-manylinux_2_24_x86_64")]


def freeze(tmp_path: Path, bnb: str) -> Path:
    path = tmp_path / f"freeze-{bnb}.txt"
    path.write_text(f"torch==2.6.0\ntriton==3.2.0\nbitsandbytes=={bnb}\n", encoding="utf-8")
    return path


@pytest.fixture()
def base_env(tmp_path: Path) -> dict[str, str]:
    return {"ENVDOCTOR_CACHE_DIR": str(tmp_path / "cache")}


def check_json(lock: Path, env: dict[str, str], *extra: str) -> tuple[int, dict]:
    proc = envdoctor("check", "--env", str(lock), "--python-version", "3.11", "--platform", "linux_x86_64",
                     "--no-project", "--format", "json", *extra, env=env)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def assert_ed101_for_bnb_0441(code: int, doc: dict, lock: Path, online: bool) -> None:
    assert code == 1
    ed101 = [f for f in doc["findings"] if f["code"] == "ED101"]
    assert len(ed101) == 1
    assert "bitsandbytes 0.44.1" in ed101[0]["message"] and "triton 3.2.0" in ed101[0]["message"]
    # online the fix search names the release; offline the rule's range stays (releases not searched)
    wanted = "==0.45.1" if online else ">=0.45.1"
    assert ed101[0]["fixes"][0]["pins"] == {"bitsandbytes": wanted}
    assert ["{python}", "-m", "pip", "install", f"bitsandbytes{wanted}"] in ed101[0]["fixes"][0]["commands"]


def test_offline_knowledge_base_only(tmp_path: Path, base_env: dict[str, str]) -> None:
    env = {**base_env, "PIP_INDEX_URL": "http://127.0.0.1:9/must-not-be-asked/"}
    lock = freeze(tmp_path, "0.44.1")
    code, doc = check_json(lock, env, "--offline")
    assert_ed101_for_bnb_0441(code, doc, lock, online=False)
    assert any(n.startswith("offline: metadata for 3 pinned packages not in the cache") for n in doc["notes"])
    code, doc = check_json(freeze(tmp_path, "0.45.1"), env, "--offline")
    assert code == 0, doc["findings"]
    assert doc["findings"] == []


def test_online_against_a_loopback_index_with_real_metadata(tmp_path: Path, base_env: dict[str, str]) -> None:
    build_index(tmp_path / "idx", [Release(n, v, real_metadata(n, v), tag=t) for n, v, t in REAL])
    with IndexServer(tmp_path / "idx") as server:
        env = {**base_env, "PIP_INDEX_URL": server.url}
        code, doc = check_json(freeze(tmp_path, "0.44.1"), env)
        assert_ed101_for_bnb_0441(code, doc, tmp_path, online=True)
        # torch's real metadata was read: its CUDA build and exact triton pin are known now
        assert doc["target"]["torch_build"] == "cuda" and doc["target"]["torch_cuda"] == "12.4"
        assert not [f for f in doc["findings"] if f["code"] in ("ED001", "ED102")]
        incomplete = {p for f in doc["findings"] if f["code"] == "ED004" for p in f["packages"][1:]}
        assert {"numpy", "filelock"} <= incomplete
        assert "setuptools" not in incomplete  # torch needs it only on Python >= 3.12
        # torch's exact pins are inferred (implied), and still reported as not pinned by the lock
        [torch_ed004] = [f for f in doc["findings"] if f["code"] == "ED004" and f["packages"][0] == "torch"]
        assert "nvidia-cudnn-cu12 9.1.0.70" in torch_ed004["message"] and "which envdoctor inferred" in torch_ed004["message"]
        assert not any(n.startswith("metadata unknown") for n in doc["notes"]), doc["notes"]

        code, doc = check_json(freeze(tmp_path, "0.45.1"), env)
        assert code == 0
        assert {f["severity"] for f in doc["findings"]} == {"warning"}  # only ED004: the lock is partial

        text = envdoctor("check", "--env", str(freeze(tmp_path, "0.44.1")), "--python-version", "3.11",
                         "--platform", "linux_x86_64", "--no-project", env=env)
        assert text.returncode == 1
        assert "ED101 bitsandbytes 0.44.1 imports triton.ops" in text.stdout
        assert "bitsandbytes==0.45.1" in text.stdout
        asked = len(server.requests)
    # the cache now answers offline with the real metadata
    code, doc = check_json(freeze(tmp_path, "0.44.1"), env, "--offline")
    assert_ed101_for_bnb_0441(code, doc, tmp_path, online=False)
    assert doc["target"]["torch_cuda"] == "12.4"
    assert not any(n.startswith("offline: metadata for 3 pinned") for n in doc["notes"])
    assert asked > 0


def test_pin_missing_from_the_index_is_ed005(tmp_path: Path, base_env: dict[str, str]) -> None:
    build_index(tmp_path / "idx", [Release(n, v, real_metadata(n, v), tag=t) for n, v, t in REAL])
    lock = tmp_path / "requirements.txt"
    lock.write_text("triton==3.2.0\nbitsandbytes==0.44.7\n", encoding="utf-8")
    with IndexServer(tmp_path / "idx") as server:
        code, doc = check_json(lock, {**base_env, "PIP_INDEX_URL": server.url}, "--strict")
    ed005 = [f for f in doc["findings"] if f["code"] == "ED005"]
    assert code == 1 and len(ed005) == 1  # a warning: exit 1 only with --strict
    assert ed005[0]["severity"] == "warning"
    assert ed005[0]["message"].startswith("bitsandbytes==0.44.7 is pinned, but no configured package index")
    assert ed005[0]["locations"] == [{"path": str(lock), "line": 2, "column": None}]


def test_progress_shows_on_a_terminal_only(tmp_path: Path, base_env: dict[str, str]) -> None:
    import os
    import pty
    import subprocess

    build_index(tmp_path / "idx", [Release(n, v, real_metadata(n, v), tag=t) for n, v, t in REAL])
    script = Path(sys.executable).with_name("envdoctor")
    argv = [str(script)] if script.exists() else [sys.executable, "-m", "envdoctor"]
    lock = freeze(tmp_path, "0.44.1")
    with IndexServer(tmp_path / "idx") as server:
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("PIP_")}, **base_env,
               "PIP_CONFIG_FILE": os.devnull, "PIP_INDEX_URL": server.url}
        master, slave = pty.openpty()
        proc = subprocess.run([*argv, "check", "--env", str(lock), "--no-project"], stdout=subprocess.DEVNULL,
                              stderr=slave, env=env, timeout=120, check=False)
        os.close(slave)
        shown = os.read(master, 65536).decode()
        os.close(master)
        assert proc.returncode == 1
        assert "fetching metadata 3/3" in shown
        env["ENVDOCTOR_CACHE_DIR"] = str(tmp_path / "cache2")
        piped = envdoctor("check", "--env", str(lock), "--no-project", env=env)
    assert piped.returncode == 1 and "fetching metadata" not in piped.stderr

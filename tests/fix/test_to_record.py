"""`fix --to RECORD` and `lock --from RECORD` with real venvs, real pip, stand-in wheels and a loopback index."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from tests.helpers.fix import build_seed_wheels, envdoctor, freeze, make_venv, pip, pip_env
from tests.helpers.index import IndexServer, Release, build_index, metadata_text

from envdoctor.env.lockfile import parse_file


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_seed_wheels(tmp_path_factory.mktemp("wheels"))


@pytest.fixture
def env(wheels: Path, tmp_path: Path) -> dict[str, str]:
    return {**pip_env(wheels), "XDG_STATE_HOME": str(tmp_path / "state"), "ENVDOCTOR_CACHE_DIR": str(tmp_path / "c")}


def _venv(path: Path, env: dict[str, str], *pins: str) -> Path:
    python = make_venv(path)
    pip(python, env, "install", *pins)
    return python


def _record(snapshot: Path, out: Path, sources: dict[str, object] | None = None) -> Path:
    """A run record (schema 2) around a snapshot written by `envdoctor snapshot`."""
    snap = json.loads(snapshot.read_text(encoding="utf-8"))
    out.write_text(json.dumps({"schema_version": 2, "environment": snap,
                               "reproduce": {"pip_sources": sources or {}}}, indent=2), encoding="utf-8")
    return out


@pytest.fixture
def recorded(tmp_path: Path, env: dict[str, str]) -> Path:
    """The record of a healthy venv: bitsandbytes 0.45.1 with triton 3.2.0."""
    good = _venv(tmp_path / "good", env, "bitsandbytes==0.45.1", "triton==3.2.0")
    snap = tmp_path / "snap.json"
    done = envdoctor(env, "snapshot", "--python", str(good), "-o", str(snap))
    assert done.returncode == 0, done.stderr
    return _record(snap, tmp_path / "training_info.json")


def test_fix_to_a_record_installs_its_exact_pins_and_rolls_back(tmp_path: Path, env: dict[str, str],
                                                               recorded: Path) -> None:
    broken = _venv(tmp_path / "broken", env, "bitsandbytes==0.44.1", "triton==3.2.0")
    before = freeze(broken, env)
    shown = envdoctor(env, "fix", "--to", str(recorded), "--python", str(broken))
    assert shown.returncode == 0 and "bitsandbytes==0.45.1" in shown.stdout, shown.stdout + shown.stderr
    done = envdoctor(env, "fix", "--to", str(recorded), "--python", str(broken), "--apply", "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "bitsandbytes==0.45.1" in freeze(broken, env)
    undone = envdoctor(env, "rollback", "--python", str(broken), "--yes")
    assert "bitsandbytes 0.45.1 -> 0.44.1 (restored)" in undone.stdout
    assert freeze(broken, env) == before


def test_fix_to_a_record_of_another_python_names_the_interpreter(tmp_path: Path, env: dict[str, str],
                                                                recorded: Path) -> None:
    data = json.loads(recorded.read_text(encoding="utf-8"))
    data["environment"]["python_version"] = "3.99.1"
    other = tmp_path / "other.json"
    other.write_text(json.dumps(data), encoding="utf-8")
    python = make_venv(tmp_path / "v")
    done = envdoctor(env, "fix", "--to", str(other), "--python", str(python), "--apply", "--yes")
    assert done.returncode == 2
    assert "the pins need Python 3.99: make a venv with it (`python3.99 -m venv DIR`)" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_lock_from_a_record_hashes_the_find_links_files_and_pip_installs_it(
        tmp_path: Path, env: dict[str, str], recorded: Path, wheels: Path) -> None:
    lock = tmp_path / "record.lock"
    done = envdoctor(env, "lock", "--from", str(recorded), "-o", str(lock))
    assert done.returncode == 0, done.stdout + done.stderr
    pins = {p.name: p for p in parse_file(lock)}
    assert set(pins) == {"bitsandbytes", "triton"}  # pip itself is left out, as pip-compile does
    wheel = wheels / "bitsandbytes-0.45.1-py3-none-any.whl"
    assert pins["bitsandbytes"].hashes == ("sha256:" + hashlib.sha256(wheel.read_bytes()).hexdigest(),)
    assert "target: python=" in lock.read_text(encoding="utf-8") and "cuda=none" in lock.read_text(encoding="utf-8")
    verified = envdoctor(env, "lock", "verify", "--offline", str(lock))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    fresh = make_venv(tmp_path / "fresh")
    pip(fresh, env, "install", "--require-hashes", "--no-deps", "-r", str(lock))
    assert "bitsandbytes==0.45.1" in freeze(fresh, env)
    recorded.write_text(recorded.read_text(encoding="utf-8").replace("0.45.1", "0.45.2"), encoding="utf-8")
    stale = envdoctor(env, "lock", "verify", "--offline", str(lock))
    assert stale.returncode == 1 and "ED404" in stale.stdout


def test_lock_from_a_record_takes_hashes_from_an_index(tmp_path: Path, env: dict[str, str], recorded: Path) -> None:
    root = tmp_path / "index"
    build_index(root, [Release("bitsandbytes", "0.45.1", metadata_text("bitsandbytes", "0.45.1", [])),
                       Release("bitsandbytes", "0.44.1", metadata_text("bitsandbytes", "0.44.1", [])),
                       Release("triton", "3.2.0", metadata_text("triton", "3.2.0", []))])
    served = {p.name: "sha256:" + hashlib.sha256(p.read_bytes()).hexdigest() for p in (root / "files").glob("*.whl")}
    with IndexServer(root) as server:
        local = {k: v for k, v in env.items() if k not in ("PIP_NO_INDEX", "PIP_FIND_LINKS")}
        local["PIP_INDEX_URL"] = server.url
        lock = tmp_path / "record.lock"
        done = envdoctor(local, "lock", "--from", str(recorded), "-o", str(lock))
    assert done.returncode == 0, done.stdout + done.stderr
    pins = {p.name: p for p in parse_file(lock)}
    assert pins["bitsandbytes"].hashes == (served["bitsandbytes-0.45.1-py3-none-any.whl"],)
    assert pins["triton"].hashes == (served["triton-3.2.0-py3-none-any.whl"],)


def test_lock_from_names_the_pins_no_source_offers(tmp_path: Path, env: dict[str, str], recorded: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    done = envdoctor({**env, "PIP_FIND_LINKS": str(empty)}, "lock", "--from", str(recorded), "-o",
                     str(tmp_path / "x.lock"))
    assert done.returncode == 2 and "no installable file of bitsandbytes==0.45.1" in done.stderr
    assert not (tmp_path / "x.lock").exists()

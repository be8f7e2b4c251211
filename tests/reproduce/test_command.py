"""`envdoctor reproduce RECORD` on a real (tiny, CPU) run of the bundled pipeline: identical losses on a
re-run; a changed database row is data drift; one package at another version is environment drift."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from tests.helpers.pipeline import make_project, read_json, run_cli


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("run")
    make_project(folder, max_steps=2)
    done = run_cli(folder, "run", timeout=600)
    assert done.returncode == 0, done.stderr
    return folder


def test_the_record_holds_what_reproduce_needs(project: Path) -> None:
    info = read_json(project / "out" / "adapter" / "training_info.json")
    section = info["reproduce"]
    assert info["schema_version"] == 2
    assert section["config_file"]["text"] == (project / "envdoctor.yaml").read_text(encoding="utf-8")
    assert section["data"]["db_sha256"] and section["data"]["jsonl_sha256"] == info["data"]["sha256"]
    assert section["model"]["kind"] == "builtin" and section["seeds"] == {"data": 7, "train": 7}
    assert section["determinism"]["device"] == "cpu" and section["determinism"]["loss_tolerance"] == 0.0
    assert "find_links" in section["pip_sources"]


def test_a_rerun_reaches_the_identical_losses(project: Path) -> None:
    done = run_cli(project, "reproduce", "out/adapter/training_info.json", "--format", "json", timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    recorded = read_json(project / "out" / "adapter" / "training_info.json")["metrics"]["losses"]
    rerun = read_json(project / "out" / "adapter" / "reproduce" / "adapter" / "train_result.json")["losses"]
    assert rerun == recorded
    assert [s["status"] for s in report["steps"]] == ["ok", "ok", "ok", "ok"] and report["cause"] is None


def test_one_package_at_another_version_is_environment_drift_with_its_fix(project: Path) -> None:
    record = project / "out" / "adapter" / "training_info.json"
    data = json.loads(record.read_text(encoding="utf-8"))
    click = next(d for d in data["environment"]["distributions"] if d["name"] == "click")
    installed, click["version"] = click["version"], "8.0.0"
    drifted = project / "drifted.json"
    drifted.write_text(json.dumps(data), encoding="utf-8")
    done = run_cli(project, "reproduce", str(drifted), "--check-only")
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"click: recorded 8.0.0, here {installed}" in done.stdout
    assert f"will not reproduce: environment drift; fix: envdoctor fix --to {drifted} --apply --yes" in done.stdout


def test_a_changed_database_row_is_data_drift(project: Path) -> None:
    db = project / "finance_analysis.db"
    original = db.read_bytes()
    try:
        with sqlite3.connect(db) as connection:
            connection.execute("update news set title = title || ' (edited)' where id = (select min(id) from news)")
        done = run_cli(project, "reproduce", "out/adapter/training_info.json", "--check-only")
    finally:
        db.write_bytes(original)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "✗ data" in done.stdout and f"{db}: sha256" in done.stdout
    assert "will not reproduce: data drift" in done.stdout


def test_a_schema_1_record_is_a_one_line_error(project: Path, tmp_path: Path) -> None:
    data = read_json(project / "out" / "adapter" / "training_info.json")
    del data["reproduce"], data["schema_version"]
    old = tmp_path / "old.json"
    old.write_text(json.dumps(data), encoding="utf-8")
    done = run_cli(project, "reproduce", str(old))
    assert done.returncode == 2 and "schema 1 record without a `reproduce` section" in done.stderr


def test_venv_builds_a_new_venv_with_exactly_the_recorded_pins(project: Path, tmp_path: Path) -> None:
    """The record's environment is a stand-in venv's snapshot (so pip installs from a local wheel folder,
    fast and offline); --venv must create a new venv and install exactly those pins into it."""
    from tests.helpers.fix import build_seed_wheels, envdoctor, freeze, make_venv, pip, pip_env

    wheels = build_seed_wheels(tmp_path / "wheels")
    env = {**pip_env(wheels), "XDG_STATE_HOME": str(tmp_path / "state")}
    source = make_venv(tmp_path / "source")
    pip(source, env, "install", "bitsandbytes==0.45.1", "triton==3.2.0")
    assert envdoctor(env, "snapshot", "--python", str(source), "-o", str(tmp_path / "snap.json")).returncode == 0
    data = read_json(project / "out" / "adapter" / "training_info.json")
    data["environment"] = read_json(tmp_path / "snap.json")
    record = tmp_path / "training_info.json"
    record.write_text(json.dumps(data), encoding="utf-8")
    done = envdoctor(env, "reproduce", str(record), "--venv", str(tmp_path / "new"), "--check-only",
                     "--workdir", str(tmp_path / "work"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "installed 2 change(s)" in done.stdout and "✓ environment" in done.stdout
    assert freeze(tmp_path / "new" / "bin" / "python", env) == freeze(source, env)
    again = envdoctor(env, "reproduce", str(record), "--venv", str(tmp_path / "new"), "--check-only")
    assert again.returncode == 2 and "exists and is not empty" in again.stderr

"""Paths envdoctor.yaml names: missing (with a same-named file found nearby), unusable, disk space."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from envdoctor.engine.check import CheckRequest, build_context
from envdoctor.findings import Applicability
from envdoctor.project.config import parse_config
from envdoctor.project.facts import ProjectFacts
from envdoctor.project.locate import find_nearby, probe
from envdoctor.rules.base import Context
from envdoctor.rules.paths import (
    adapter_parameters,
    checkpoint_bytes,
    output_disk_space,
)
from tests.helpers.files import KB, codes, run_rules, seed_db, snapshot, write_config


def test_seed_case_missing_datasets_level_is_found(tmp_path: Path) -> None:
    drive = tmp_path / "MyDrive" / "Graduation_Project"
    seed_db(drive / "datasets" / "finance_analysis.db")
    (drive / "qlora_output").mkdir()
    write_config(tmp_path, f"data:\n  db: {drive / 'finance_analysis.db'}  # copied from Drive\n")
    [finding] = run_rules(tmp_path, select=("ED210",))
    assert str(drive / "datasets" / "finance_analysis.db") in finding.message
    fix = finding.fixes[0]
    assert fix.applicability is Applicability.UNSAFE
    [edit] = fix.edits
    assert edit.old == f"  db: {drive / 'finance_analysis.db'}  # copied from Drive"
    assert edit.new == f"  db: {drive / 'datasets' / 'finance_analysis.db'}  # copied from Drive"
    assert finding.locations[0].line == 2


def test_suggestion_is_relative_when_inside_the_config_folder(tmp_path: Path) -> None:
    seed_db(tmp_path / "datasets" / "finance_analysis.db")
    write_config(tmp_path, "data:\n  db: finance_analysis.db\n")
    [finding] = run_rules(tmp_path, select=("ED210",))
    assert finding.fixes[0].edits[0].new == "  db: datasets/finance_analysis.db"


def test_nothing_nearby_still_says_what_to_do(tmp_path: Path) -> None:
    write_config(tmp_path, "data:\n  db: nowhere/finance_analysis_unique_name.db\n")
    [finding] = run_rules(tmp_path, select=("ED210",))
    assert "no file of that name is nearby" in finding.message
    assert [f.applicability for f in finding.fixes] == [Applicability.DISPLAY_ONLY]


def test_search_depth_boundary(tmp_path: Path) -> None:
    missing = tmp_path / "a" / "x.db"
    (tmp_path / "a").mkdir()
    deep = tmp_path / "a" / "1" / "2" / "3"
    deep.mkdir(parents=True)
    (deep / "x.db").write_bytes(b"")
    found, _ = find_nearby(missing)
    assert deep / "x.db" in found  # depth 3 below the anchor
    deeper = deep / "4"
    deeper.mkdir()
    (deep / "x.db").rename(deeper / "x.db")
    found, _ = find_nearby(missing)
    assert deeper / "x.db" not in found


def test_search_stops_at_its_time_budget(tmp_path: Path) -> None:
    for index in range(30):
        (tmp_path / f"d{index}").mkdir()
    found, note = find_nearby(tmp_path / "missing" / "x.db", time_s=0.0)
    assert found == () and note is not None and "stopped" in note


def test_folder_where_a_file_is_expected(tmp_path: Path) -> None:
    (tmp_path / "datasets" / "finance_analysis.db").mkdir(parents=True)
    write_config(tmp_path, "data:\n  db: datasets/finance_analysis.db\n")
    findings = run_rules(tmp_path, select=("ED21", "ED22"))
    assert codes(findings) == ["ED211"] and "is a folder, but a file is expected" in findings[0].message


def test_output_dir_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("not a folder")
    write_config(tmp_path, "train:\n  output_dir: out\n")
    findings = run_rules(tmp_path, select=("ED211",))  # out/ is also data.output's folder
    assert sorted(f.message.split(":")[0] for f in findings) == ["data.output", "train.output_dir"]
    assert all("is a file, but the run writes a folder there" in f.message for f in findings)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_output_dir_without_write_permission(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    write_config(tmp_path, "train:\n  output_dir: locked/adapter\n")
    assert "cannot be written" in run_rules(tmp_path, select=("ED211",))[0].message


def test_local_model_folder_missing(tmp_path: Path) -> None:
    write_config(tmp_path, "model:\n  name_or_path: ./models/chatts\n")
    [finding] = run_rules(tmp_path, select=("ED210",))
    assert "model.name_or_path: the folder" in finding.message


def test_adapter_size_formula() -> None:
    shape = {"hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
             "num_attention_heads": 32, "num_key_value_heads": 32}
    assert adapter_parameters(shape, 8, ("q_proj", "v_proj")) == 8 * (8192 + 8192) * 32  # 4.19M, PEFT's count
    gqa = {**shape, "num_key_value_heads": 8}
    assert adapter_parameters(gqa, 8, ("v_proj",)) == 8 * (4096 + 1024) * 32


def _disk_context(tmp_path: Path, free: int) -> Context:
    config = parse_config("train:\n  epochs: 3\n", tmp_path / "envdoctor.yaml")
    facts = replace(probe("train.output_dir", tmp_path / "out", "output"), free_bytes=free)
    project = ProjectFacts(root=tmp_path, config=config, paths=(facts,),
                           model_shape={"hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
                                        "num_attention_heads": 32})
    return Context(snapshot=snapshot(), kb=KB, project=project)


def test_disk_space_boundary(tmp_path: Path) -> None:
    entry = KB.rules["ED212"]
    need = checkpoint_bytes(parse_config("", tmp_path / "e.yaml"),
                            {"hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
                             "num_attention_heads": 32})
    assert list(output_disk_space(_disk_context(tmp_path, need), entry)) == []
    [finding] = output_disk_space(_disk_context(tmp_path, need - 1), entry)
    assert "4 checkpoints" in finding.message


def test_real_disk_is_measured(tmp_path: Path) -> None:
    write_config(tmp_path, "train:\n  output_dir: out/adapter\n")
    project = build_context(CheckRequest(project_path=tmp_path), kb=KB, snap=snapshot()).project
    [facts] = [p for p in project.paths if p.key == "train.output_dir"]
    assert facts.free_bytes == pytest.approx(shutil.disk_usage(tmp_path).free, rel=0.05)


def test_missing_file_under_a_missing_top_folder_searches_no_disk(tmp_path: Path) -> None:
    found, note = find_nearby(Path("/content-does-not-exist/drive/finance_analysis.db"))
    assert found == () and note is None  # the only existing ancestor is "/", which is never searched
    seed_db(tmp_path / "datasets" / "finance_analysis.db")
    found, _ = find_nearby(Path("/content-does-not-exist/drive/finance_analysis.db"), extra_roots=(tmp_path,))
    assert found == (tmp_path / "datasets" / "finance_analysis.db",)


def test_nearby_search_never_leaves_the_project(tmp_path: Path) -> None:
    """A same-named database in a sibling folder is not proposed (and --unsafe cannot write it in)."""
    project = tmp_path / "project"
    project.mkdir()
    seed_db(tmp_path / "other-project" / "datasets" / "finance_analysis.db")
    write_config(project, "data:\n  db: datasets/finance_analysis.db\n")
    [finding] = run_rules(project, select=("ED210",))
    assert "other-project" not in finding.message and "no file of that name is nearby" in finding.message
    assert all(not fix.edits for fix in finding.fixes)
    seed_db(project / "data" / "finance_analysis.db")  # inside: found
    [inside] = run_rules(project, select=("ED210",))
    assert inside.fixes[0].edits[0].new == "  db: data/finance_analysis.db"

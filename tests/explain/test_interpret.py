"""Confidence: each cause is confirmed (high), not checkable (medium) or ruled out (low) by the target.

Targets are real: pip-freeze files (`--env`), throwaway venvs with real *.dist-info folders
(`--python`), real SQLite files and real folder trees.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from tests.helpers.explain import explain_text, freeze, make_venv, run_cli

from envdoctor.engine.check import CheckRequest
from envdoctor.findings import Applicability, Severity

TRITON_OPS = "ModuleNotFoundError: No module named 'triton.ops'\n"


def only(result, code):  # noqa: ANN001, ANN201 - test shorthand
    found = [f for f in result.findings if f.code == code]
    assert len(found) == 1, [(f.code, f.message) for f in result.findings]
    return found[0]


@pytest.mark.parametrize(("bnb", "triton", "confidence"), [
    ("0.44.1", "3.2.0", "high"),   # the seeds' Colab
    ("0.45.0", "3.2.0", "high"),   # last release that imports triton.ops
    ("0.45.1", "3.2.0", "low"),    # vendors it: the log is stale
    ("0.44.1", "3.1.0", "low"),    # triton 3.1 still has triton.ops
])
def test_triton_ops_against_a_lock(tmp_path: Path, bnb: str, triton: str, confidence: str) -> None:
    request = freeze(tmp_path, {"torch": "2.6.0", "triton": triton, "bitsandbytes": bnb})
    finding = only(explain_text(TRITON_OPS, tmp_path, request), "ED101")
    assert finding.confidence == confidence
    if confidence == "high":
        assert finding.severity is Severity.ERROR
        assert finding.fixes[0].pins == {"bitsandbytes": ">=0.45.1"}
        assert finding.fixes[0].applicability is Applicability.SAFE
    else:
        assert finding.severity is Severity.INFO and "stale" in finding.message
        assert f"bitsandbytes {bnb}" in finding.message


def test_triton_ops_from_the_text_alone_says_so(tmp_path: Path) -> None:
    finding = only(explain_text(TRITON_OPS, tmp_path), "ED101")
    assert finding.confidence == "medium" and "from the log text alone" in finding.message
    assert finding.locations[0].line == 1 and finding.quotes == (TRITON_OPS.strip(),)


LF_LINE = ("ImportError: transformers>=4.45.0,<=4.52.4,!=4.46.0,!=4.46.1,!=4.46.2,!=4.46.3,!=4.47.0,!=4.47.1,"
           "!=4.48.0,!=4.52.0 is required for a normal functioning of this module, but found transformers==4.57.0.\n"
           "To fix: run `pip install transformers>=4.45.0,<=4.52.4` or set `DISABLE_VERSION_CHECK=1` "
           "to skip this check.\n")


@pytest.mark.parametrize(("transformers", "confidence"), [("4.57.0", "high"), ("4.52.4", "low"), ("4.52.0", "high")])
def test_llamafactory_bound_against_a_lock(tmp_path: Path, transformers: str, confidence: str) -> None:
    request = freeze(tmp_path, {"llamafactory": "0.9.3", "transformers": transformers})
    finding = only(explain_text(LF_LINE, tmp_path, request), "ED110")
    assert finding.confidence == confidence
    if confidence == "high":
        assert any(fix.env == {"DISABLE_VERSION_CHECK": "1"} for fix in finding.fixes)


PIP_LINE = "torchvision 0.16.2 requires torch==2.1.2, but you have torch 2.3.1+cu121 which is incompatible.\n"


@pytest.mark.parametrize(("torch", "confidence"), [("2.3.1", "high"), ("2.1.2", "low")])
def test_pip_resolver_line_against_a_lock(tmp_path: Path, torch: str, confidence: str) -> None:
    request = freeze(tmp_path, {"torchvision": "0.16.2", "torch": torch})
    finding = only(explain_text(PIP_LINE, tmp_path, request), "ED001")
    assert finding.confidence == confidence
    if confidence == "high":  # no platform detected: moving torch into the requirer's range is a fix
        assert any(fix.pins.get("torch") == "==2.1.2" for fix in finding.fixes)
        # on Colab (google-colab in the freeze) torch is the platform's: never moved for a requirer
        request = freeze(tmp_path, {"torchvision": "0.16.2", "torch": torch, "google-colab": "1.0.0"})
        finding = only(explain_text(PIP_LINE, tmp_path, request), "ED001")
        assert all(fix.applicability is Applicability.DISPLAY_ONLY for fix in finding.fixes)
        assert not any("torch" in fix.pins for fix in finding.fixes)


VLLM_SYMBOL = ("ImportError: {site}/vllm/_C.abi3.so: undefined symbol: _ZN5torch3jit17parseSchemaOrNameERKSsb\n")


@pytest.mark.parametrize(("torch", "confidence"), [("2.8.0", "high"), ("2.6.0", "low")])
def test_undefined_symbol_names_the_owner_and_its_torch(tmp_path: Path, torch: str, confidence: str) -> None:
    python = make_venv(tmp_path / "venv", {
        "vllm": ("0.8.5", ["torch==2.6.0"], ["vllm/__init__.py", "vllm/_C.abi3.so"]),
        "torch": (torch, [], ["torch/__init__.py"])})
    site = next((tmp_path / "venv" / "lib").glob("python3*/site-packages"))
    request = CheckRequest(python=str(python), include_project=False, quiet=True)
    finding = only(explain_text(VLLM_SYMBOL.format(site=site), tmp_path, request), "ED120")
    assert finding.confidence == confidence
    assert "vllm" in finding.packages
    if confidence == "high":
        assert "torch==2.6.0" in finding.message and f"torch {torch}" in finding.message
        assert any(fix.uninstall == ("vllm",) for fix in finding.fixes)


def test_missing_module_is_checked_in_the_target_interpreter(tmp_path: Path) -> None:
    python = make_venv(tmp_path / "venv", {"peft": ("0.18.1", [], ["peft/__init__.py"])})
    request = CheckRequest(python=str(python), include_project=False, quiet=True)
    missing = only(explain_text("ModuleNotFoundError: No module named 'trl'\n", tmp_path, request), "ED601")
    assert missing.confidence == "high" and "trl, which is not installed" in missing.message
    present = only(explain_text("ModuleNotFoundError: No module named 'peft'\n", tmp_path, request), "ED601")
    assert present.confidence == "low" and "peft 0.18.1" in present.message


@pytest.fixture
def finance_db(tmp_path: Path) -> Path:
    db = tmp_path / "finance_analysis.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE news (id INTEGER PRIMARY KEY, title TEXT, published_at TEXT)")
        conn.execute("CREATE TABLE event_impacts (news_id INTEGER, star_level INTEGER, pre_ret_120m REAL, "
                     "ret_post_15m REAL, ret_post_60m REAL)")
    conn.close()
    return db


def test_no_such_column_suggests_the_closest_name_read_only(tmp_path: Path, finance_db: Path) -> None:
    before = hashlib.sha256(finance_db.read_bytes()).hexdigest()
    request = freeze(tmp_path, {})
    finding = only(explain_text("? 提取新闻样本失败: no such column: ei.ret_post_15\n", tmp_path, request,
                                db=finance_db), "ED221")
    assert finding.confidence == "high"
    assert "event_impacts.ret_post_15m" in finding.message
    assert "`ei.ret_post_15m`" in finding.fixes[0].title
    assert hashlib.sha256(finance_db.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("finance")) == ["finance_analysis.db"]


def test_no_such_column_that_exists_now_is_stale(tmp_path: Path, finance_db: Path) -> None:
    finding = only(explain_text("no such column: ei.ret_post_15m\n", tmp_path, freeze(tmp_path, {}), db=finance_db),
                   "ED221")
    assert finding.confidence == "low" and finding.severity is Severity.INFO


def test_no_such_table_without_a_database_gives_schema_advice(tmp_path: Path) -> None:
    finding = only(explain_text("sqlite3.OperationalError: no such table: events\n", tmp_path, freeze(tmp_path, {})),
                   "ED221")
    assert finding.confidence == "medium" and "--db" in finding.fixes[0].title


def test_missing_file_finds_the_copy_one_folder_down(tmp_path: Path) -> None:
    project = tmp_path / "MyDrive" / "Graduation_Project"
    (project / "datasets").mkdir(parents=True)
    (project / "datasets" / "finance_analysis.db").write_bytes(b"")
    line = f"cp: cannot stat '{project}/finance_analysis.db': No such file or directory\n"
    finding = only(explain_text(line, tmp_path, freeze(tmp_path, {})), "ED210")
    assert finding.confidence == "high"
    assert str(project / "datasets" / "finance_analysis.db") in finding.message
    text_only = only(explain_text(line, tmp_path), "ED210")
    assert text_only.confidence == "medium" and "datasets" not in text_only.message
    (project / "finance_analysis.db").write_bytes(b"")
    assert only(explain_text(line, tmp_path, freeze(tmp_path, {})), "ED210").confidence == "low"


@pytest.mark.parametrize(("log", "confidence", "fragment"), [
    ("model: ChatTS-14B\nnproc_per_node=2 ... --nproc_per_node 2\nhost: 46GB System RAM\nExit Code 247\n",
     "high", "2 processes × 28.0 GB"),
    ("model: Qwen2.5-7B\nhost: 46GB System RAM\nKilled\n", "medium", "fits in 46 GB RAM"),
    ("Killed\n", "medium", "not in the log"),
])
def test_sigkill_load_arithmetic(tmp_path: Path, log: str, confidence: str, fragment: str) -> None:
    finding = only(explain_text(log, tmp_path), "ED605")
    assert finding.confidence == confidence and fragment in finding.message


def test_sigkill_uses_the_snapshot_ram_when_the_log_has_none(tmp_path: Path) -> None:
    log = "loading deepseek-llm-67b-chat\n[rank0]: loading\n[rank3]: loading\nexitcode  : -9\n"
    finding = only(explain_text(log, tmp_path, CheckRequest(include_project=False, quiet=True)), "ED605")
    assert "4 processes × 134.0 GB" in finding.message and "(this machine)" in finding.message
    assert finding.confidence == "high"


@pytest.mark.parametrize(("line", "code", "confidence", "fragment"), [
    ("UnicodeDecodeError: 'gbk' codec can't decode byte 0x80 in position 21: illegal multibyte sequence",
     "ED606", "medium", "'gbk'"),
    ("UnicodeDecodeError: 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte",
     "ED201", "high", "UTF-16"),
    ("UnicodeDecodeError: 'utf-8' codec can't decode byte 0xb2 in position 7: invalid start byte",
     "ED203", "medium", "GBK"),
])
def test_encoding_errors(tmp_path: Path, line: str, code: str, confidence: str, fragment: str) -> None:
    finding = only(explain_text(line + "\n", tmp_path), code)
    assert finding.confidence == confidence and fragment in finding.message
    if code == "ED606":
        assert finding.fixes[0].env == {"PYTHONUTF8": "1"}


@pytest.mark.parametrize(("value", "name"), [("False", "disabled"), ("True", "fa2"), ("false", "disabled")])
def test_flash_attn_bool_maps_to_a_name(tmp_path: Path, value: str, name: str) -> None:
    line = (f"error: argument --flash_attn: invalid choice: '{value}' "
            "(choose from 'auto', 'disabled', 'sdpa', 'fa2')\n")
    finding = only(explain_text(line, tmp_path), "ED240")
    assert f"--flash_attn {name}" in finding.fixes[0].title and finding.confidence == "high"


def test_other_invalid_choices_list_the_choices(tmp_path: Path) -> None:
    line = "train.py: error: argument --stage: invalid choice: 'sft2' (choose from 'pt', 'sft', 'rm')\n"
    finding = only(explain_text(line, tmp_path), "ED607")
    assert "'pt', 'sft', 'rm'" in finding.message and "flash" not in finding.message


def test_no_such_column_reads_the_database_named_in_envdoctor_yaml(tmp_path: Path, finance_db: Path) -> None:
    (tmp_path / "envdoctor.yaml").write_text(f"data:\n  db: {finance_db.name}\n", encoding="utf-8")
    (tmp_path / "run.log").write_text("no such column: ei.pre_ret_120\n", encoding="utf-8")
    proc = run_cli("run.log", "--format", "json", cwd=tmp_path)
    finding = next(f for f in json.loads(proc.stdout)["findings"] if f["code"] == "ED221")
    assert finding["confidence"] == "high" and "event_impacts.pre_ret_120m" in finding["message"]

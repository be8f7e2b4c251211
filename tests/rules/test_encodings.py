"""Encodings of real bytes in real files: detection (envdoctor.project.encoding) and rules ED201-ED208."""

from __future__ import annotations

import codecs
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from envdoctor.env.snapshot import Hardware, live
from envdoctor.findings import Applicability, Severity
from envdoctor.project.encoding import analyse
from envdoctor.project.scan import MAX_FILES, file_kind, scan
from tests.helpers.files import codes, run_rules

DATA = Path(__file__).resolve().parents[1] / "fixtures"
CHINESE = "# 训练数据：新闻样本与事件影响\n数据库路径 = datasets/finance_analysis.db\n模型 = deepseek\n"
CHINESE_PY = "# 训练数据：新闻样本\nTITLE = '新闻样本与事件影响，数据库路径'\nprint(TITLE)\n"
REQUIREMENTS = "torch>=2.4\ntransformers>=4.51\npeft  # 参数高效微调\n"


@pytest.mark.parametrize(("data", "encoding", "bom"), [
    (REQUIREMENTS.encode("utf-16"), "utf-16", "utf-16-le"),
    (codecs.BOM_UTF16_BE + REQUIREMENTS.encode("utf-16-be"), "utf-16", "utf-16-be"),
    (REQUIREMENTS.encode("utf-16-le"), "utf-16-le", None),
    (REQUIREMENTS.encode("utf-16-be"), "utf-16-be", None),
    (REQUIREMENTS.encode("utf-32"), "utf-32", "utf-32-le"),
    (REQUIREMENTS.encode("utf-32-le"), "utf-32-le", None),
    (codecs.BOM_UTF8 + REQUIREMENTS.encode(), "utf-8-sig", "utf-8-sig"),
    (REQUIREMENTS.encode(), "utf-8", None),
])
def test_unicode_forms_are_identified_and_round_trip(data: bytes, encoding: str, bom: str | None) -> None:
    facts = analyse(data)
    assert (facts.encoding, facts.bom) == (encoding, bom)
    assert facts.lossless and facts.confident
    assert facts.is_wide == encoding.startswith(("utf-16", "utf-32"))


@pytest.mark.parametrize(("text", "codec", "detected"), [
    (CHINESE, "gbk", "gb18030"),
    ("# 訓練資料：新聞樣本與事件影響\n資料庫路徑\n", "big5", "big5"),
    ("# 学習データ：ニュースのサンプル\nモデルの設定ファイル\n", "shift_jis", "cp932"),
])
def test_legacy_code_pages_are_detected_confidently(text: str, codec: str, detected: str) -> None:
    facts = analyse(text.encode(codec))
    assert facts.encoding == detected and facts.confident and facts.lossless
    assert facts.encoding is not None and text.encode(codec).decode(facts.encoding) == text


def test_ambiguous_short_text_is_not_confident() -> None:
    facts = analyse("name,comment\nJosé,“café” naïve – résumé\n".encode("cp1252"))
    assert facts.encoding is not None and not facts.confident and facts.alternatives


def test_real_seed_mojibake_is_found_and_not_exactly_repairable() -> None:
    facts = analyse((DATA / "mojibake_seed_003.txt").read_bytes())
    assert facts.encoding == "utf-8" and facts.mojibake_preview is not None
    before, after = facts.mojibake_preview
    assert "微调".encode("utf-8").decode("cp1252") in before and "微调" in after
    assert not facts.mojibake_lossless  # bytes such as 0x81 were lost when the seed was saved


def test_exact_mojibake_is_marked_repairable_and_clean_chinese_is_not_mojibake() -> None:
    mangled = CHINESE.encode("utf-8").decode("latin-1").encode("utf-8")
    assert analyse(mangled).mojibake_lossless
    assert analyse(CHINESE.encode("utf-8")).mojibake_preview is None


def test_nul_runs_are_not_taken_for_utf16_and_crlf_is_counted() -> None:
    assert analyse(b"\0" * 4096).encoding == "utf-8" and analyse(b"\0" * 4096).nul_bytes == 4096
    assert analyse(b"#!/bin/sh\r\necho hi\r\n").crlf_lines == 2


def test_python_coding_cookie_is_read() -> None:
    facts = analyse(b"# -*- coding: gbk -*-\n" + CHINESE.encode("gbk"), python_source=True)
    assert facts.coding_cookie == "gbk"


@pytest.mark.parametrize(("name", "parent", "kind"), [
    ("requirements.txt", "", "requirements"), ("requirements-dev.txt", "", "requirements"),
    ("base.txt", "requirements", "requirements"), ("notes.txt", "", None), ("train.jsonl", "", "jsonl"),
    ("run.sh", "", "shell"), ("pyproject.toml", "", "toml"), ("README.md", "", None),
])
def test_file_kinds(name: str, parent: str, kind: str | None) -> None:
    assert file_kind(name, parent) == kind


# --- rules on real project folders -------------------------------------------------------------

def test_utf16_requirements_with_bom_is_a_warning_with_a_safe_reencode(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_bytes(REQUIREMENTS.encode("utf-16"))
    [finding] = run_rules(tmp_path)
    assert finding.code == "ED201" and finding.severity is Severity.WARNING
    [fix] = finding.fixes
    assert fix.applicability is Applicability.SAFE
    assert fix.edits[0].action == "reencode" and fix.edits[0].encoding == "utf-16"
    # the fix's codec really turns the file into the intended text
    assert (tmp_path / "requirements.txt").read_bytes().decode(fix.edits[0].encoding) == REQUIREMENTS


@pytest.mark.parametrize("data", [REQUIREMENTS.encode("utf-16-le"), REQUIREMENTS.encode("utf-16-be"),
                                  REQUIREMENTS.encode("utf-32")])
def test_requirements_pip_cannot_read_are_errors(tmp_path: Path, data: bytes) -> None:
    (tmp_path / "requirements.txt").write_bytes(data)
    [finding] = run_rules(tmp_path)
    assert finding.code == "ED201" and finding.severity is Severity.ERROR


@pytest.mark.parametrize("codec", ["utf-16", "utf-32"])
def test_the_rule_agrees_with_the_pip_of_the_target(tmp_path: Path, codec: str) -> None:
    """The real pip of this environment decides: an error exactly when it cannot read the file."""
    data = "pytest\n".encode(codec)  # with its BOM; pytest is installed, so a read file installs nothing
    path = tmp_path / "requirements.txt"
    path.write_bytes(data)
    done = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-index",
                           "--disable-pip-version-check", "-r", str(path)],
                          capture_output=True, text=True, timeout=120)
    [finding] = run_rules(tmp_path, snap=live(Hardware()))
    assert finding.code == "ED201"
    assert (finding.severity is Severity.ERROR) == (done.returncode != 0), done.stderr
    assert "pip " + version("pip") in finding.message


def test_utf8_bom_matters_only_where_the_reader_chokes(tmp_path: Path) -> None:
    bom = codecs.BOM_UTF8
    (tmp_path / "data.json").write_bytes(bom + b'{"a": 1}')
    (tmp_path / "train.csv").write_bytes(bom + b"id,title\n1,x\n")
    (tmp_path / "requirements.txt").write_bytes(bom + b"pytest\n")
    (tmp_path / "config.yaml").write_bytes(bom + b"a: 1\n")
    (tmp_path / "tool.py").write_bytes(bom + b"print(1)\n")
    found = {Path(f.locations[0].path).name: f for f in run_rules(tmp_path)}
    assert set(found) == {"data.json", "train.csv"}
    assert {f.code for f in found.values()} == {"ED202"}
    assert found["data.json"].severity is Severity.ERROR and found["train.csv"].severity is Severity.WARNING
    assert found["data.json"].fixes[0].applicability is Applicability.SAFE
    assert found["data.json"].fixes[0].edits[0].encoding == "utf-8-sig"


def test_gbk_python_is_an_error_unless_its_cookie_declares_it(tmp_path: Path) -> None:
    (tmp_path / "build.py").write_bytes(CHINESE_PY.encode("gbk"))
    (tmp_path / "declared.py").write_bytes(b"# -*- coding: gbk -*-\n" + CHINESE_PY.encode("gbk"))
    [finding] = run_rules(tmp_path)
    assert finding.code == "ED203" and "build.py" in finding.message and "gb18030" in finding.message
    assert finding.fixes[0].applicability is Applicability.SAFE
    # Python agrees: the undeclared file does not compile, the declared one does
    assert subprocess.run([sys.executable, str(tmp_path / "build.py")], capture_output=True).returncode != 0
    assert subprocess.run([sys.executable, str(tmp_path / "declared.py")], capture_output=True).returncode == 0


def test_ambiguous_legacy_file_gets_a_display_only_fix(tmp_path: Path) -> None:
    (tmp_path / "notes.csv").write_bytes("name,comment\nJosé,“café” naïve – résumé\n".encode("cp1252"))
    [finding] = run_rules(tmp_path)
    assert finding.code == "ED203"
    assert finding.fixes[0].applicability is Applicability.DISPLAY_ONLY and "also read as" in finding.fixes[0].title


def test_seed_mojibake_file_is_reported_display_only(tmp_path: Path) -> None:
    (tmp_path / "review.py").write_bytes((DATA / "mojibake_seed_003.txt").read_bytes())
    [finding] = run_rules(tmp_path)
    assert finding.code == "ED204" and "微调" in finding.message and "not every character maps back" in finding.message
    assert finding.fixes[0].applicability is Applicability.DISPLAY_ONLY


def test_crlf_shell_script_gets_a_safe_line_ending_fix_and_bash_agrees(tmp_path: Path) -> None:
    script = tmp_path / "train.sh"
    script.write_bytes(b"set -e\r\ncd /tmp\r\necho ok\r\n")
    [finding] = run_rules(tmp_path)
    assert finding.code == "ED206" and "3 CRLF" in finding.message
    [edit] = finding.fixes[0].edits
    assert finding.fixes[0].applicability is Applicability.SAFE and (edit.old, edit.new) == ("\r\n", "\n")
    assert b"$'/tmp\\r': No such file or directory" in subprocess.run(["bash", str(script)], capture_output=True).stderr
    script.write_bytes(script.read_bytes().replace(edit.old.encode(), edit.new.encode()))
    fixed = subprocess.run(["bash", str(script)], capture_output=True)
    assert fixed.returncode == 0 and fixed.stderr == b""
    assert run_rules(tmp_path) == []


def test_nul_bytes_and_a_2gb_sparse_file_are_findings_not_hangs(tmp_path: Path) -> None:
    (tmp_path / "part.jsonl").write_bytes(b'{"a": 1}\n\x00\x00\x00')
    with open(tmp_path / "big.csv", "wb") as handle:
        handle.truncate(2 << 30)  # sparse: no disk used
    found = {Path(f.locations[0].path).name: f for f in run_rules(tmp_path)}
    assert found["part.jsonl"].code == "ED205" and "3 NUL" in found["part.jsonl"].message
    assert found["big.csv"].code == "ED205" and "first 1 MiB" in found["big.csv"].message


def test_unreadable_things_with_tool_names_are_findings(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").mkdir()
    os.mkfifo(tmp_path / "data.json")  # opening it would block: it must never be opened
    (tmp_path / "loop.yaml").symlink_to(tmp_path / "loop2.yaml")
    (tmp_path / "loop2.yaml").symlink_to(tmp_path / "loop.yaml")
    (tmp_path / "cycle").symlink_to(tmp_path)  # a folder loop: never followed
    found = {f.message.split(" ", 1)[0]: f for f in run_rules(tmp_path)}
    assert set(found) == {"requirements.txt", "data.json", "loop.yaml", "loop2.yaml"}
    assert all(f.code == "ED207" for f in found.values())
    assert "is a folder" in found["requirements.txt"].message
    assert "not a regular file" in found["data.json"].message
    assert "Too many levels of symbolic links" in found["loop.yaml"].message


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files without read permission")
def test_file_without_read_permission_is_a_finding(tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text("pytest\n")
    path.chmod(0)
    [finding] = run_rules(tmp_path)
    assert finding.code == "ED207" and "Permission denied" in finding.message


def test_gitignored_and_virtualenv_files_are_skipped(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("out/\n*.bak.json\n")
    for rel in ("out/data.json", "x.bak.json", "venv2/lib/data.json", "sub/ignored.json"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(codecs.BOM_UTF8 + b"{}")
    (tmp_path / "venv2" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (tmp_path / "sub" / ".gitignore").write_text("ignored.json\n")
    (tmp_path / "kept.json").write_bytes(codecs.BOM_UTF8 + b"{}")
    assert [Path(f.locations[0].path).name for f in run_rules(tmp_path)] == ["kept.json"]


def test_scan_bound_is_reported(tmp_path: Path) -> None:
    for index in range(5):
        (tmp_path / f"f{index}.json").write_text("{}")
    result = scan(tmp_path, max_files=3)
    assert result.stopped == "more than 3 files to examine" and len(result.files) == 3
    assert scan(tmp_path, max_files=5).stopped is None


def test_scan_bound_finding(tmp_path: Path) -> None:
    for index in range(MAX_FILES):
        (tmp_path / f"f{index:04}.json").write_text("{}")
    assert run_rules(tmp_path, select=("ED208",)) == []
    (tmp_path / "one-more.json").write_text("{}")
    [finding] = run_rules(tmp_path, select=("ED208",))
    assert finding.severity is Severity.INFO and f"more than {MAX_FILES} files" in finding.message


def test_clean_project_has_no_findings(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("pytest\n", encoding="utf-8")
    (tmp_path / "build.py").write_text("# 构建数据集\nprint('ok')\n", encoding="utf-8")
    (tmp_path / "run.sh").write_text("#!/bin/sh\necho ok\n", encoding="utf-8")
    assert codes(run_rules(tmp_path)) == []

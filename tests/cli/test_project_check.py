"""`envdoctor check` end to end on the issue's "Done when" folder, through the real console script."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from tests.helpers.files import BAD_NEWS_SQL, seed_db

REQUIREMENTS = "torch>=2.4\ntransformers>=4.51\npeft\n"


def done_when_folder(root: Path) -> Path:
    """A UTF-16 requirements.txt, a config whose DB path misses `datasets/`, SQL naming ei.ret_post_15."""
    project = root / "Graduation_Project"
    seed_db(project / "datasets" / "finance_analysis.db")
    (project / "requirements.txt").write_bytes(REQUIREMENTS.encode("utf-16"))
    sql = BAD_NEWS_SQL.replace("\n", "\n      ")
    (project / "envdoctor.yaml").write_text(
        f"model:\n  name_or_path: builtin:tiny-llama\ndata:\n  db: finance_analysis.db\n"
        f"  queries:\n    news: |\n      {sql}\n", encoding="utf-8")
    return project


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def envdoctor(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "envdoctor", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_done_when_scenario_reports_all_three_with_fixes_and_changes_nothing(tmp_path: Path) -> None:
    project = done_when_folder(tmp_path)
    before = digests(project)
    done = envdoctor("check", "--select", "ED2", "--format", "json", cwd=project)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    by_code: dict[str, list[dict]] = {}  # type: ignore[type-arg]
    for finding in report["findings"]:
        by_code.setdefault(finding["code"], []).append(finding)
    # 1. the re-encode
    [encoding] = by_code["ED201"]
    assert encoding["locations"][0]["path"] == "requirements.txt"
    assert encoding["fixes"][0]["applicability"] == "safe"
    assert encoding["fixes"][0]["edits"][0] == {"path": str(project / "requirements.txt"), "action": "reencode",
                                                "encoding": "utf-16", "old": None, "new": None}
    # 2. the found path
    [path] = by_code["ED210"]
    assert str(project / "datasets" / "finance_analysis.db") in path["message"]
    assert path["fixes"][0]["edits"][0]["new"] == "  db: datasets/finance_analysis.db"
    # 3. ret_post_15m (and pre_ret_120m), checked against the database found nearby
    renames = {f["fixes"][0]["edits"][0]["new"].strip(" ,\n") for f in by_code["ED221"]}
    assert renames == {"ei.ret_post_15m", "ei.pre_ret_120m"}
    assert all(f["locations"][0] == {"path": "envdoctor.yaml", "line": 7, "column": None} for f in by_code["ED221"])
    assert any("checked against datasets/finance_analysis.db" in note for note in report["notes"])
    assert digests(project) == before  # no file or database modified, nothing created


def test_text_output_without_select_also_runs_environment_rules(tmp_path: Path) -> None:
    project = done_when_folder(tmp_path)
    before = digests(project)
    done = envdoctor("check", cwd=project)
    assert done.returncode == 1, done.stderr + done.stdout
    assert "Traceback" not in done.stderr and "ED000" not in done.stdout
    for expected in ("ED201 requirements.txt is UTF-16 LE", "ED210 data.db:", "ei.ret_post_15m",
                     "fix (safe): re-encode requirements.txt"):
        assert expected in done.stdout
    assert digests(project) == before


def test_sarif_and_explicit_path_and_config(tmp_path: Path) -> None:
    project = done_when_folder(tmp_path)
    config = project / "envdoctor.yaml"
    done = envdoctor("check", "--select", "ED2", "--format", "sarif", "--path", str(project),
                     "--config", str(config), cwd=tmp_path)
    sarif = json.loads(done.stdout)
    ids = {r["ruleId"] for r in sarif["runs"][0]["results"]}
    assert {"ED201", "ED210", "ED221"} <= ids and done.returncode == 1


def test_bad_config_is_a_one_line_error_with_exit_2(tmp_path: Path) -> None:
    (tmp_path / "envdoctor.yaml").write_text("train:\n  bath_size: 4\n", encoding="utf-8")
    done = envdoctor("check", "--select", "ED2", cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip() == ("envdoctor: error: envdoctor.yaml:2: train.bath_size: unknown key; "
                                   "did you mean 'batch_size'?")
    missing = envdoctor("check", "--config", "nope.yaml", cwd=tmp_path)
    assert missing.returncode == 2 and "nope.yaml: no such file" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_init_then_check_is_clean(tmp_path: Path) -> None:
    assert envdoctor("init", cwd=tmp_path).returncode == 0
    again = envdoctor("init", cwd=tmp_path)
    assert again.returncode == 2 and "--force" in again.stderr
    done = envdoctor("check", "--select", "ED2", cwd=tmp_path)
    assert done.returncode == 0, done.stdout
    assert "no problems found" in done.stdout


def test_no_config_notes_what_was_skipped(tmp_path: Path) -> None:
    done = envdoctor("check", "--select", "ED2", "--format", "json", cwd=tmp_path)
    assert done.returncode == 0
    assert any("no envdoctor.yaml" in note for note in json.loads(done.stdout)["notes"])


def test_path_that_is_not_a_folder_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "file.txt").write_text("x")
    done = envdoctor("check", "--path", "file.txt", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.strip() == (
        "envdoctor: error: file.txt: not a folder; pass the project folder with --path")

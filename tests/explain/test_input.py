"""`envdoctor explain` input handling and output: encodings, cleaning, stdin, notebooks, bad input,
formats, exit codes, and a 500 MB log in flat memory."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.helpers.explain import explain_text, run_cli

OOM = "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB. GPU 0 has a total capacity of 14.74 GiB"


def codes(result) -> list[str]:  # noqa: ANN001
    return [f.code for f in result.findings]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig", "gbk", "utf-8"])
def test_log_encodings(tmp_path: Path, encoding: str) -> None:
    text = "训练开始：加载模型权重，请稍候……\n" * 40 + f"{OOM}\n"
    result = explain_text(text.encode(encoding), tmp_path)
    assert codes(result) == ["ED604"]
    assert result.findings[0].locations[0].line == 41
    assert result.findings[0].quotes[0].startswith("torch.OutOfMemoryError")


def test_ansi_colours_and_progress_bars_are_cleaned(tmp_path: Path) -> None:
    bar = "".join(f"\rLoading checkpoint shards:  {i}%|\x1b[32m{'█' * i}\x1b[0m| {i}/100" for i in range(100))
    text = f"{bar}\n\x1b[31mModuleNotFoundError: No module named 'triton.ops'\x1b[0m\n"
    result = explain_text(text, tmp_path)
    assert codes(result) == ["ED101"]
    assert result.findings[0].quotes == ("ModuleNotFoundError: No module named 'triton.ops'",)
    assert result.findings[0].locations[0].line == 2


def test_a_line_without_end_keeps_memory_and_the_next_lines(tmp_path: Path) -> None:
    text = "\r".join(f"step {i}/200000 loss=1.0" for i in range(200_000)) + "\nKilled\n"
    result = explain_text(text, tmp_path)
    assert codes(result) == ["ED605"] and result.findings[0].locations[0].line == 2


def test_notebook_outputs_are_explained(tmp_path: Path) -> None:
    notebook = {"cells": [
        {"cell_type": "code", "source": ["!pip install bitsandbytes==0.44.1"], "outputs": [
            {"output_type": "stream", "name": "stdout", "text": ["Successfully installed bitsandbytes-0.44.1\n"]}]},
        {"cell_type": "code", "source": ["import bitsandbytes"], "outputs": [
            {"output_type": "error", "ename": "ModuleNotFoundError", "evalue": "No module named 'triton.ops'",
             "traceback": ["\x1b[0;31m" + "-" * 75 + "\x1b[0m",
                           "\x1b[0;31mModuleNotFoundError\x1b[0m: No module named 'triton.ops'"]}]}],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    result = explain_text(json.dumps(notebook), tmp_path, name="train.ipynb")
    finding = result.findings[0]
    assert finding.code == "ED101"
    assert finding.locations[0].path.endswith("train.ipynb#cell2") and finding.locations[0].line == 2
    assert result.log.kind == "notebook"


def test_stdin(tmp_path: Path) -> None:
    proc = run_cli("-", "--no-env", "--format", "json", stdin=f"{OOM}\n".encode())
    doc = json.loads(proc.stdout)
    assert proc.returncode == 1
    assert doc["findings"][0]["locations"] == [{"path": "<stdin>", "line": 1, "column": None}]


@pytest.mark.parametrize(("content", "says"), [
    (gzip.compress(b"Killed\n"), "gzip archive"),
    (bytes(range(256)) * 64, "binary file"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "PNG image"),
])
def test_binary_input_is_a_one_line_error(tmp_path: Path, content: bytes, says: str) -> None:
    log = tmp_path / "run.log"
    log.write_bytes(content)
    proc = run_cli(str(log), "--no-env")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and str(log) in proc.stderr and says in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_file_and_folder_are_one_line_errors(tmp_path: Path) -> None:
    for target in (tmp_path / "nope.log", tmp_path):
        proc = run_cli(str(target), "--no-env")
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_clean_log_and_lookalike_warnings_are_nothing_known(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_text("\n".join([
        "UserWarning: The installed version of bitsandbytes was compiled without GPU support.",
        "[W socket.cpp:663] [c10d] The client socket has failed to connect to [localhost]:29500 (errno: 99).",
        "    except torch.cuda.OutOfMemoryError as e:",
        "warnings.warn('Killed workers are restarted automatically')",
        "0 errors, 0 failures; eval_loss=1.234",
        "{'train_runtime': 120.5, 'train_loss': 1.02, 'epoch': 3.0}",
    ]) + "\n", encoding="utf-8")
    proc = run_cli(str(log), "--no-env")
    assert proc.returncode == 0, proc.stdout
    assert "nothing known in this log" in proc.stdout and "no problems found" in proc.stdout


def test_json_output_schema(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_text("starting\nModuleNotFoundError: No module named 'triton.ops'\n", encoding="utf-8")
    proc = run_cli(str(log), "--no-env", "--format", "json")
    doc = json.loads(proc.stdout)
    assert proc.returncode == 1 == doc["exit_code"]
    assert doc["target"]["source"] == "none (--no-env)"
    assert doc["target"]["log"] == {"path": str(log), "lines": 2, "encoding": "utf-8", "kind": "text"}
    finding = doc["findings"][0]
    assert {"code", "name", "severity", "message", "confidence", "quotes", "locations", "fixes",
            "evidence", "packages"} <= set(finding)
    assert finding["code"] == "ED101" and finding["confidence"] == "medium"
    assert finding["quotes"] == ["ModuleNotFoundError: No module named 'triton.ops'"]
    assert finding["locations"] == [{"path": str(log), "line": 2, "column": None}]


def test_sarif_points_at_the_log_line(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_text("x\ny\nKilled\n", encoding="utf-8")
    doc = json.loads(run_cli(str(log), "--no-env", "--format", "sarif").stdout)
    result = doc["runs"][0]["results"][0]
    assert result["ruleId"] == "ED605"
    assert result["locations"][0]["physicalLocation"]["region"] == {"startLine": 3}


def test_stale_causes_exit_zero(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text("torch==2.6.0\ntriton==3.2.0\nbitsandbytes==0.45.1\n", encoding="utf-8")
    log = tmp_path / "run.log"
    log.write_text("ModuleNotFoundError: No module named 'triton.ops'\n", encoding="utf-8")
    proc = run_cli(str(log), "--env", str(lock), "--offline")
    assert proc.returncode == 0 and "stale" in proc.stdout


def test_check_does_not_report_log_rules(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.lock"
    lock.write_text("torch==2.6.0\ntriton==3.2.0\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "envdoctor", "check", "--env", str(lock), "--offline",
                           "--format", "json"], capture_output=True, text=True, timeout=120, check=False)
    doc = json.loads(proc.stdout)
    assert not [f for f in doc["findings"] if f["code"].startswith("ED6") or f["code"] == "ED000"]


@pytest.mark.slow
def test_500_mb_log_streams_in_flat_memory(tmp_path: Path) -> None:
    """500 MB of training output with one error at the end: found, in bounded memory (speed is in bench/)."""
    block = "".join(f"{{'loss': 1.{i % 97:02d}, 'learning_rate': 0.0002, 'epoch': 0.{i % 10}}}\r"
                    f"  {i % 100}%|{'█' * (i % 100 // 4)}| {i}/100000 [00:01<00:59]\n" for i in range(4096)).encode()
    log = tmp_path / "big.log"
    with log.open("wb") as handle:
        for _ in range(500 * 2**20 // len(block) + 1):
            handle.write(block)
        handle.write(b"RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB\n")
    assert log.stat().st_size > 500 * 2**20
    out_path = tmp_path / "out.json"
    start = time.monotonic()
    # A small launcher starts explain and reads its peak RSS: a child forked straight from this
    # (large) pytest process would count the parent's pages in its high-water mark before exec.
    launcher = ("import os, subprocess, sys\n"
                "out = open(sys.argv[1], 'wb')\n"
                "proc = subprocess.Popen(sys.argv[2:], stdout=out, stderr=subprocess.DEVNULL)\n"
                "_, status, usage = os.wait4(proc.pid, 0)\n"
                "print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)\n")
    measured = subprocess.run([sys.executable, "-c", launcher, str(out_path), sys.executable, "-m", "envdoctor",
                               "explain", str(log), "--no-env", "--format", "json"],
                              capture_output=True, text=True, check=True)
    elapsed = time.monotonic() - start
    exit_code, max_rss_kib = (int(x) for x in measured.stdout.split())
    assert exit_code == 1
    doc = json.loads(out_path.read_text(encoding="utf-8"))
    assert [f["code"] for f in doc["findings"]] == ["ED604"]
    assert doc["findings"][0]["locations"][0]["line"] == doc["target"]["log"]["lines"]
    peak_mib = max_rss_kib / 1024  # Linux reports KiB
    print(f"500 MB log: {elapsed:.1f} s, peak RSS {peak_mib:.0f} MiB")
    assert peak_mib < 150, f"peak RSS {peak_mib:.0f} MiB"


@pytest.mark.parametrize(("name", "content", "extra", "says"), [
    ("broken.ipynb", b"{not json", (), "not a valid notebook"),
    ("run.log", b"Killed\n", ("--env", "requirements.lock"), "--no-env explains from the text alone"),
])
def test_bad_arguments_are_one_line_errors(tmp_path: Path, name: str, content: bytes, extra: tuple[str, ...],
                                           says: str) -> None:
    (tmp_path / name).write_bytes(content)
    (tmp_path / "requirements.lock").write_text("torch==2.6.0\n", encoding="utf-8")
    proc = run_cli(name, "--no-env", *extra, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and says in proc.stderr

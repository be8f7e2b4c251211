"""`envdoctor run` end to end on the tiny NF4 model, as a user runs it (subprocesses, real files).

Slow: each run starts a training child process (torch import) on CPU.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from envdoctor.engine import check as checking
from envdoctor.errors import ExitCode
from envdoctor.pipeline import modeling, runner
from tests.helpers.pipeline import (
    envdoctor_argv,
    make_project,
    read_json,
    run_cli,
    tree_digest,
)

pytestmark = pytest.mark.slow
STEPS = 6
RUN = ("run", "envdoctor.yaml", "--checkpoint-every", "2")


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project that ran the whole flow uninterrupted."""
    project = tmp_path_factory.mktemp("uninterrupted")
    make_project(project, max_steps=STEPS)
    proc = run_cli(project, *RUN)
    assert proc.returncode == 0, proc.stderr
    return project


def _start(project: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(envdoctor_argv(*RUN, *args), cwd=project, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env={**os.environ, "PYTHONWARNINGS": "ignore"})


def _wait_for_checkpoint(project: Path, proc: subprocess.Popen[str], newer_than: str = "") -> str:
    pointer = project / "out/adapter/checkpoints/latest"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if pointer.is_file() and (name := pointer.read_text().strip()) > newer_than:
            return name
        assert proc.poll() is None, proc.communicate()[1]
        time.sleep(0.02)
    raise AssertionError("no checkpoint appeared")


def _worker(proc: subprocess.Popen[str]) -> psutil.Process:
    for child in psutil.Process(proc.pid).children(recursive=True):
        if "envdoctor.pipeline.worker" in " ".join(child.cmdline()):
            return child
    raise AssertionError("no training child process")


def test_whole_flow_writes_a_tested_adapter_and_a_record_without_drift(finished: Path) -> None:
    out = finished / "out/adapter"
    for name in ("adapter_model.safetensors", "adapter_config.json", "training_info.json", "eval.json",
                 "eval.md", "loss_curve.png"):
        assert (out / name).is_file(), name
    assert (out / "loss_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    info = read_json(out / "training_info.json")
    assert info["metrics"]["steps"] == STEPS and len(info["metrics"]["losses"]) == STEPS
    assert info["metrics"]["tokens_per_s"] > 0 and info["metrics"]["peak_memory_mib"]
    assert info["data"]["source"] == "database"
    assert info["data"]["counts"] == {"news": 24, "market": 8, "earnings": 8}
    assert info["data"]["sha256"] == hashlib.sha256((finished / "out/instructions.jsonl").read_bytes()).hexdigest()
    assert info["seeds"] == {"data": 7, "train": 7} and info["check"]["forced"] is False
    assert info["hardware"]["precision"] == "fp32" and info["environment"]["distributions"]
    evaluation = read_json(out / "eval.json")
    assert evaluation["adapter"]["loss"] < evaluation["base"]["loss"]
    assert evaluation["generations"][0]["input"] == "美联储宣布加息25个基点"
    diff = run_cli(finished, "diff", str(out / "training_info.json"), "live")
    assert diff.returncode == 0 and "no drift" in diff.stdout


def test_adapter_changed_and_base_did_not(finished: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    weights = load_file(str(finished / "out/adapter/adapter_model.safetensors"))
    assert weights and all("lora_" in key for key in weights)
    assert all(weights[k].abs().sum() > 0 for k in weights if "lora_B" in k)  # B starts at zero
    used = finished / "out/adapter/run/models/tiny-llama-seed7/model.safetensors"
    fresh = modeling.materialise_builtin("tiny-llama", tmp_path / "fresh", seed=7) / "model.safetensors"
    assert used.read_bytes() == fresh.read_bytes()


def test_sigint_then_sigkill_then_resume_matches_the_uninterrupted_run(finished: Path, tmp_path: Path) -> None:
    make_project(tmp_path, max_steps=STEPS)
    first = _start(tmp_path)
    _wait_for_checkpoint(tmp_path, first)
    os.killpg(first.pid, signal.SIGINT)  # what Ctrl-C on a terminal does
    _, err = first.communicate(timeout=120)
    assert first.returncode == 130, err
    stopped = (tmp_path / "out/adapter/checkpoints/latest").read_text()
    assert "checkpoint written" in err and "--resume" in err

    second = _start(tmp_path, "--stage", "train")
    _wait_for_checkpoint(tmp_path, second, newer_than=stopped)
    _worker(second).send_signal(signal.SIGKILL)
    _, err = second.communicate(timeout=60)
    assert second.returncode == 1 and "killed by signal 9" in err

    third = run_cli(tmp_path, *RUN, "--stage", "train")
    assert third.returncode == 0, third.stderr
    assert "resumed from step-" in third.stderr
    resumed = read_json(tmp_path / "out/adapter/train_result.json")
    reference = read_json(finished / "out/adapter/train_result.json")
    assert resumed["step"] == reference["step"] == STEPS
    assert resumed["losses"] == pytest.approx(reference["losses"], rel=1e-6)
    assert resumed["final_loss"] == pytest.approx(reference["final_loss"], rel=1e-6)


def test_run_refuses_a_broken_environment_unless_forced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    config = make_project(tmp_path)
    broken = tmp_path / "requirements.txt"
    broken.write_text("torch==2.6.0\ntriton==3.2.0\nbitsandbytes==0.44.1\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    request = checking.CheckRequest(env_file=broken, offline=True)
    with pytest.raises(ExitCode) as refused:
        runner.run(runner.RunOptions(config_file=config, check=request))
    assert refused.value.code == 1
    captured = capsys.readouterr()
    assert "ED101" in captured.out and "refused" in captured.err
    assert not (tmp_path / "out").exists()
    runner.run(runner.RunOptions(config_file=config, check=request, force=True, stage="data"))
    record = read_json(tmp_path / "out/adapter/run/run_record.json")
    assert record["check"] == {"errors": ["ED101"], "warnings": record["check"]["warnings"], "forced": True}


@pytest.fixture
def checkpoints_kept(finished: Path) -> Iterator[Path]:
    """The finished run's checkpoints, asserted unchanged after the test."""
    folder = finished / "out/adapter/checkpoints"
    before = tree_digest(folder)
    yield finished
    assert tree_digest(folder) == before


@pytest.mark.parametrize("case", ["missing-db", "empty-db", "bad-value"])
def test_bad_input_is_one_clear_line_and_keeps_checkpoints(checkpoints_kept: Path, case: str) -> None:
    project = checkpoints_kept
    text = (project / "envdoctor.yaml").read_text(encoding="utf-8")
    if case == "missing-db":
        text, expected = text.replace("db: finance_analysis.db", "db: missing.db"), "missing.db"
    elif case == "empty-db":
        (project / "empty.db").write_bytes(b"")
        text, expected = text.replace("db: finance_analysis.db", "db: empty.db"), "empty.db"
    else:
        text = text.replace("batch_size: 2", "batch_size: 0")
        expected = "bad.yaml:15: train.batch_size: 0 is below the minimum 1"
    (project / "bad.yaml").write_text(text, encoding="utf-8")
    proc = run_cli(project, "run", "bad.yaml")
    assert proc.returncode in (1, 2), proc.stderr
    assert expected in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr


def test_full_disk_keeps_the_earlier_checkpoint(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)],
                             capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        make_project(disk, max_steps=STEPS)
        refused = run_cli(disk, *RUN)  # `envdoctor check` sees the small disk up front (ED212)
        assert refused.returncode == 1 and "ED212" in refused.stdout, refused.stdout + refused.stderr
        proc = _start(disk, "--force")  # and when the disk fills during training anyway:
        first = _wait_for_checkpoint(disk, proc)
        kept = tree_digest(disk / "out/adapter/checkpoints" / first)
        with (disk / "filler").open("wb") as filler:  # the disk fills up during training
            try:
                while True:
                    filler.write(b"\0" * 65536)
                    filler.flush()
            except OSError:
                pass
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 2, err
        assert "No space left on device" in err and f"{first} is intact" in err
        assert "Traceback" not in err
        assert (disk / "out/adapter/checkpoints/latest").read_text() == first
        assert tree_digest(disk / "out/adapter/checkpoints" / first) == kept
        assert not list((disk / "out/adapter/checkpoints").glob("*.partial"))
    finally:
        subprocess.run(["umount", str(disk)], check=False)
        shutil.rmtree(disk, ignore_errors=True)


def test_two_processes_train_data_parallel_over_gloo(tmp_path: Path) -> None:
    make_project(tmp_path, max_steps=2)
    assert run_cli(tmp_path, "run", "envdoctor.yaml", "--stage", "data").returncode == 0
    proc = run_cli(tmp_path, "run", "envdoctor.yaml", "--stage", "train", "--gpus", "2", "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    assert "on 2 process(es)" in proc.stderr
    result = read_json(tmp_path / "out/adapter/train_result.json")
    assert result["world_size"] == 2 and result["step"] == 2

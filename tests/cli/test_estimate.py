"""`envdoctor estimate` and `envdoctor check --gpu T4 --select ED7`, end to end through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers.memory import envdoctor, project

SEEDS = ("--model", "builtin:deepseek-7b-config", "--batch-size", "4", "--max-length", "512",
         "--lora-r", "8", "--gpu", "T4")


def test_estimate_on_the_seeds_settings_prints_breakdown_and_verdict(tmp_path: Path) -> None:
    proc = envdoctor("estimate", *SEEDS, "--style", "seed", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for part in ("4-bit weights", "unquantized weights", "fp32 after prepare_model_for_kbit_training",
                 "optimizer (adamw_torch)", "activations kept", "logits + loss", "CUDA context",
                 "weights-only arithmetic", "verdict: fits", "Tesla T4", "host RAM while loading"):
        assert part in proc.stdout


def test_estimate_exit_1_when_it_does_not_fit_with_proposals(tmp_path: Path) -> None:
    proc = envdoctor("estimate", *SEEDS, "--style", "seed", "--batch-size", "16", "--max-length", "2048",
                     "--format", "json", cwd=tmp_path)
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    assert not data["verdict"]["fits"] and data["verdict"]["options"]
    assert all(o["peak_mib"] <= data["verdict"]["budget_mib"] for o in data["verdict"]["options"])


def test_estimate_bad_input_is_one_line_exit_2(tmp_path: Path) -> None:
    for args in (("--params", "lots"), ("--model", "nope/config.json"), ("--model", "x", "--params", "7B"),
                 ("--params", "7B", "--gpu", "Voodoo 2"), ()):
        proc = envdoctor("estimate", *args, cwd=tmp_path)
        assert proc.returncode == 2, (args, proc.stdout)
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_check_exits_1_with_a_fix_that_fits_and_applying_it_passes(tmp_path: Path) -> None:
    root = project(tmp_path, "  batch_size: 16\n  max_length: 1024\n  gradient_checkpointing: false\n"
                             "  style: seed\n")
    proc = envdoctor("check", "--gpu", "T4", "--select", "ED7", "--format", "json", cwd=root)
    assert proc.returncode == 1, proc.stderr
    finding = json.loads(proc.stdout)["findings"][0]
    assert finding["code"] == "ED700" and "does NOT fit" in finding["message"]
    assert finding["locations"][0]["path"].endswith("envdoctor.yaml")
    fix = finding["fixes"][0]
    config = root / "envdoctor.yaml"
    text = config.read_text(encoding="utf-8")
    for edit in fix["edits"]:
        assert text.count(edit["old"]) == 1
        text = text.replace(edit["old"], edit["new"])
    config.write_text(text, encoding="utf-8")
    again = envdoctor("check", "--gpu", "T4", "--select", "ED7", cwd=root)
    assert again.returncode == 0, again.stdout
    assert "ED700" not in again.stdout


def test_check_passes_when_it_fits_and_warns_when_tight(tmp_path: Path) -> None:
    fits = project(tmp_path / "fits", "  batch_size: 4\n  max_length: 512\n")
    assert envdoctor("check", "--gpu", "T4", "--select", "ED7", cwd=fits).returncode == 0
    tight = project(tmp_path / "tight", "  batch_size: 1\n  max_length: 512\n  style: seed\n"
                                        "  gradient_checkpointing: false\n")
    proc = envdoctor("check", "--gpu", "T4", "--select", "ED7", "--format", "json", cwd=tight)
    findings = json.loads(proc.stdout)["findings"]
    assert [f["severity"] for f in findings] == ["warning"] and proc.returncode == 0
    assert envdoctor("check", "--gpu", "T4", "--select", "ED7", "--strict", cwd=tight).returncode == 1


def test_check_does_not_import_torch(tmp_path: Path) -> None:
    root = project(tmp_path, "  batch_size: 16\n")
    code = ("import sys\nfrom envdoctor.cli.app import main\nsys.argv = ['envdoctor', 'check', '--gpu', 'T4', "
            "'--select', 'ED7']\ntry:\n    main()\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('torch', 'transformers', 'bitsandbytes') if m in sys.modules]\n"
            "print('HEAVY', heavy)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120,
                          check=False)
    assert "HEAVY []" in proc.stdout, proc.stdout + proc.stderr


def test_estimate_reads_envdoctor_yaml_and_flags_override_it(tmp_path: Path) -> None:
    root = project(tmp_path, "  batch_size: 8\n  max_length: 1024\n  style: seed\n")
    from_config = json.loads(envdoctor("estimate", "--gpu", "T4", "--format", "json", cwd=root).stdout)
    overridden = json.loads(envdoctor("estimate", "--gpu", "T4", "--batch-size", "2", "--format", "json",
                                      cwd=root).stdout)
    assert overridden["peak_mib"] < from_config["peak_mib"]
    assert not from_config["verdict"]["fits"] and overridden["verdict"]["fits"]
    on_a100 = json.loads(envdoctor("estimate", "--gpu", "A100-80", "--format", "json", cwd=root).stdout)
    assert on_a100["verdict"]["fits"] and "A100 80 GB" in on_a100["verdict"]["gpu"]


def test_estimate_judges_this_hosts_ram_unless_planning_for_another_gpu(tmp_path: Path) -> None:
    ranks = ("--params", "14B", "--processes", "8", "--strategy", "deepspeed-zero3")
    here = envdoctor("estimate", *ranks, cwd=tmp_path)  # 8 x 26 GiB: more than any test machine has
    assert here.returncode == 1 and "host RAM verdict: does NOT fit" in here.stdout
    assert "single-process QLoRA (processes 1, strategy none)" in here.stdout
    elsewhere = envdoctor("estimate", *ranks, "--gpu", "H100", cwd=tmp_path)
    assert elsewhere.returncode == 0 and "host RAM verdict" not in elsewhere.stdout


def test_a_gpu_by_size_and_a_planned_machines_ram(tmp_path: Path) -> None:
    proc = envdoctor("estimate", "--params", "7B", "--gpu", "24GB", "--host-ram", "64GB", "--format", "json",
                     cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["verdict"]["budget_mib"] == 23028 and data["verdict"]["fits"]  # the least 24 GB card in the table
    assert data["host_ram_available_mib"] == int(64e9 / 2**20) and data["host_ram_fits"]
    small = envdoctor("estimate", "--params", "7B", "--gpu", "24GB", "--host-ram", "1GB", cwd=tmp_path)
    assert small.returncode == 1 and "does NOT fit" in small.stdout and "planned machine" in small.stdout


def test_params_far_from_any_public_shape_is_refused_with_what_to_pass(tmp_path: Path) -> None:
    proc = envdoctor("estimate", "--params", "20B", cwd=tmp_path)
    assert proc.returncode == 2 and "config.json" in proc.stderr and "Traceback" not in proc.stderr
    bad = envdoctor("estimate", "--params", "7B", "--host-ram", "lots", cwd=tmp_path)
    assert bad.returncode == 2 and "--host-ram" in bad.stderr

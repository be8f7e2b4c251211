"""`envdoctor fix --apply` / `rollback` on a real throwaway venv with real pip and local stand-in wheels."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from tests.helpers.fix import (
    build_seed_wheels,
    build_wheel,
    copy_venv,
    envdoctor,
    freeze,
    make_venv,
    pip,
    pip_env,
)

from envdoctor.findings import FileEdit
from envdoctor.fix import transaction
from envdoctor.fix.plan import Plan


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_seed_wheels(tmp_path_factory.mktemp("wheels"))


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("template") / "venv"
    make_venv(folder)
    return folder


@pytest.fixture
def env(wheels: Path, tmp_path: Path) -> dict[str, str]:
    return {**pip_env(wheels), "XDG_STATE_HOME": str(tmp_path / "state")}


@pytest.fixture
def broken(template: Path, tmp_path: Path, env: dict[str, str]) -> Path:
    """A venv holding the seeds' broken pair: bitsandbytes 0.44.1 with triton 3.2.0."""
    python = copy_venv(template, tmp_path / "venv")
    pip(python, env, "install", "bitsandbytes==0.44.1", "triton==3.2.0")
    return python


def imports(python: Path, module: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), "-c", f"import {module}"], capture_output=True, text=True, check=False)


def test_apply_moves_to_working_pin_and_rollback_restores_exact_freeze(broken: Path, env: dict[str, str]) -> None:
    assert "No module named 'triton.ops'" in imports(broken, "bitsandbytes").stderr
    before = freeze(broken, env)
    assert envdoctor(env, "check", "--no-project", "--python", str(broken)).returncode == 1

    shown = envdoctor(env, "fix", "--python", str(broken))
    assert shown.returncode == 0, shown.stderr
    # the fix search names the nearest release in >=0.45.1 that the configured index (the test's wheels) has
    assert "pip install -c '<state>/constraints.txt' bitsandbytes==0.45.1" in shown.stdout, shown.stdout
    assert "kept (pip constraints)" not in shown.stdout  # no platform detected: nothing is held but --keep
    assert freeze(broken, env) == before  # showing the plan changes nothing

    applied = envdoctor(env, "fix", "--apply", "--yes", "--python", str(broken))
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "bitsandbytes==0.44.1 -> bitsandbytes==0.45.1" in applied.stdout
    assert "RESTART" not in applied.stdout  # not a notebook runtime
    after = freeze(broken, env)
    assert "bitsandbytes==0.45.1" in after and "triton==3.2.0" in after
    assert imports(broken, "bitsandbytes").returncode == 0
    assert envdoctor(env, "check", "--no-project", "--python", str(broken)).returncode == 0
    state = Path(env["XDG_STATE_HOME"]) / "envdoctor" / "transactions"
    (folder,) = state.iterdir()
    assert (folder / "freeze.txt").read_text().splitlines() == before

    undone = envdoctor(env, "rollback", "--yes", "--python", str(broken))
    assert undone.returncode == 0, undone.stdout + undone.stderr
    assert freeze(broken, env) == before
    again = envdoctor(env, "rollback", "--yes", "--python", str(broken))
    assert again.returncode == 2 and "no applied" in again.stderr


def test_apply_without_yes_off_a_terminal_refuses_and_changes_nothing(broken: Path, env: dict[str, str]) -> None:
    before = freeze(broken, env)
    refused = envdoctor(env, "fix", "--apply", "--python", str(broken))
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[-1].endswith("pass --yes to apply without asking")
    assert freeze(broken, env) == before


def test_new_error_on_recheck_rolls_back_to_exact_freeze(template: Path, tmp_path: Path, wheels: Path) -> None:
    """bitsandbytes 0.45.1 here pulls numpy 2, which breaks the installed scipy 1.12 (ED111)."""
    other = tmp_path / "wheels"
    other.mkdir()
    build_wheel(other, "bitsandbytes", "0.45.1", {"bitsandbytes/__init__.py": ""}, requires=("numpy>=2",))
    build_wheel(other, "bitsandbytes", "0.44.1", {"bitsandbytes/__init__.py": "import triton.ops\n"})
    build_wheel(other, "triton", "3.2.0", {"triton/__init__.py": ""})
    build_wheel(other, "numpy", "2.0.0", {"numpy/__init__.py": ""})
    build_wheel(other, "scipy", "1.12.0", {"scipy/__init__.py": ""})
    env = {**pip_env(other), "XDG_STATE_HOME": str(tmp_path / "state")}
    python = copy_venv(template, tmp_path / "venv")
    pip(python, env, "install", "bitsandbytes==0.44.1", "triton==3.2.0", "scipy==1.12.0")
    before = freeze(python, env)

    result = envdoctor(env, "fix", "--apply", "--yes", "--python", str(python))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "rolled back automatically: the re-check found new errors: ED111" in result.stdout
    assert "back to its exact previous `pip freeze`" in result.stdout
    assert freeze(python, env) == before
    assert envdoctor(env, "rollback", "--yes", "--python", str(python)).returncode == 2  # nothing left applied


def test_failing_step_restores_packages_and_file_bytes(broken: Path, env: dict[str, str], tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A step fails after pip already moved a package and a file was re-encoded: both come back."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    data = tmp_path / "train.jsonl"
    original = '{"instruction": "你好"}\n'.encode("gbk")
    data.write_bytes(original)
    before = freeze(broken, env)
    plan = Plan(python=str(broken), install=("bitsandbytes==0.45.1",),
                commands=(("{python}", "-m", "pip", "install", "no-such-package==1.0"),),
                edits=(FileEdit(path="train.jsonl", action="reencode", encoding="gbk"),))
    from envdoctor.env.snapshot import Snapshot

    snap = Snapshot(source="test", python_version="3.11")
    outcome = transaction.apply(plan, snap, [], list, lambda _: None, base=tmp_path)

    assert outcome.status == transaction.ROLLED_BACK
    assert "no-such-package" in (outcome.reason or "")
    assert "bitsandbytes: bitsandbytes==0.44.1 -> bitsandbytes==0.45.1" in outcome.changes
    assert freeze(broken, env) == before
    assert data.read_bytes() == original
    assert (outcome.folder / "backups" / "0").read_bytes() == original


def test_fix_to_lock_moves_to_its_pins(broken: Path, env: dict[str, str], tmp_path: Path) -> None:
    lock = tmp_path / "good.txt"
    lock.write_text("bitsandbytes==0.45.1\ntriton==3.2.0\n")
    result = envdoctor(env, "fix", "--to", str(lock), "--apply", "--yes", "--python", str(broken))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "bitsandbytes==0.45.1" in freeze(broken, env)
    loose = tmp_path / "loose.txt"
    loose.write_text("bitsandbytes>=0.45\n")
    refused = envdoctor(env, "fix", "--to", str(loose), "--python", str(broken))
    assert refused.returncode == 2 and f"{loose}:1: bitsandbytes>=0.45 is not pinned with ==" in refused.stderr


def test_colab_runtime_is_told_to_restart(broken: Path, env: dict[str, str]) -> None:
    """The probe sees COLAB_RELEASE_TAG in the target, so the runtime is Colab: say restart, plainly."""
    colab = {**env, "COLAB_RELEASE_TAG": "release-colab-test"}
    result = envdoctor(colab, "fix", "--apply", "--yes", "--python", str(broken))
    assert result.returncode == 0, result.stdout + result.stderr
    assert ("RESTART the kernel or process now (Colab: Runtime > Restart session; Jupyter: Kernel > Restart): "
            "bitsandbytes changed on disk, but the notebook runtime's kernel") in result.stdout

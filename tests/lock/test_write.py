"""`envdoctor lock` and `envdoctor lock verify` with real pip-compile / pip against a local wheel folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers.fix import build_seed_wheels, build_wheel, envdoctor, pip_env

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return pip_env(build_seed_wheels(tmp_path_factory.mktemp("wheels")), cache=tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]) -> Path:
    """A lock written by `envdoctor lock --generate-hashes` (pip-compile) from a .in with a -c include."""
    folder = tmp_path_factory.mktemp("made")
    (folder / "platform.txt").write_text("triton==3.2.0\n")
    (folder / "stack.in").write_text("-c platform.txt\nbitsandbytes\ntriton\n")
    result = envdoctor(env, "lock", "stack.in", "--generate-hashes", cwd=folder)
    assert result.returncode == 0, result.stdout + result.stderr
    return folder


def copy_lock(made: Path, tmp_path: Path) -> Path:
    for name in ("platform.txt", "stack.in", "stack.txt"):
        (tmp_path / name).write_bytes((made / name).read_bytes())
    return tmp_path / "stack.txt"


def verify(env: dict[str, str], *paths: Path) -> tuple[int, str]:
    result = envdoctor(env, "lock", "verify", "--offline", *map(str, paths))
    return result.returncode, result.stdout + result.stderr



def test_written_lock_is_pinned_hashed_headed_and_verifies(made: Path, env: dict[str, str]) -> None:
    text = (made / "stack.txt").read_text()
    assert text.startswith("# envdoctor lock:")
    assert "# source: stack.in sha256=" in text and "pip-compile (pip-tools" in text
    assert re.search(r"^bitsandbytes==0\.45\.1 \\\n    --hash=sha256:[0-9a-f]{64}$", text, re.MULTILINE)
    assert re.search(r"^triton==3\.2\.0 \\\n    --hash=sha256:[0-9a-f]{64}$", text, re.MULTILINE)
    code, out = verify(env, made)
    assert code == 0 and "✓ no problems found" in out, out


def test_stale_lock_after_in_or_include_changes(made: Path, env: dict[str, str], tmp_path: Path) -> None:
    lock = copy_lock(made, tmp_path)
    (tmp_path / "platform.txt").write_text("triton==3.1.0\n")  # an included constraints file changed
    code, out = verify(env, lock)
    assert code == 1
    assert "ED404" in out and "stack.in changed since stack.txt was made" in out
    assert "platform.txt:1 constrains triton==3.1.0, but stack.txt pins triton 3.2.0" in out


def test_in_requirement_not_met_by_pins_is_stale(made: Path, env: dict[str, str], tmp_path: Path) -> None:
    lock = copy_lock(made, tmp_path)
    (tmp_path / "stack.in").write_text("-c platform.txt\nbitsandbytes>=0.46\ntriton\n")
    code, out = verify(env, lock)
    assert code == 1 and "stack.in:2 asks for bitsandbytes>=0.46, but stack.txt pins bitsandbytes 0.45.1" in out


def test_unpinned_line(made: Path, env: dict[str, str], tmp_path: Path) -> None:
    lock = copy_lock(made, tmp_path)
    text = lock.read_text()
    lock.write_text(re.sub(r"bitsandbytes==0\.45\.1 \\\n    --hash=\S+", "bitsandbytes>=0.45", text))
    code, out = verify(env, lock)
    assert code == 1 and "ED402 bitsandbytes>=0.45 is not pinned to one version with ==" in out


def test_missing_hash(made: Path, env: dict[str, str], tmp_path: Path) -> None:
    lock = copy_lock(made, tmp_path)
    lock.write_text(re.sub(r"triton==3\.2\.0 \\\n    --hash=\S+", "triton==3.2.0", lock.read_text()))
    code, out = verify(env, lock)
    assert code == 1 and "ED403 triton==3.2.0 has no --hash while other lines do" in out
    assert "ED402" not in out and "ED404" not in out


def test_rule_violation_in_pins_and_in_the_in(made: Path, env: dict[str, str], tmp_path: Path) -> None:
    lock = copy_lock(made, tmp_path)
    lock.write_text(lock.read_text().replace("bitsandbytes==0.45.1", "bitsandbytes==0.44.1"))
    code, out = verify(env, lock)
    assert code == 1 and "ED101 bitsandbytes 0.44.1 imports triton.ops" in out
    assert "ED401" not in out  # the .in does not ask for the broken version
    (tmp_path / "stack.in").write_text("-c platform.txt\nbitsandbytes==0.44.1\ntriton\n")
    code, out = verify(env, lock)
    assert "ED401" in out and "stack.in:2 asks for bitsandbytes==0.44.1, which conflicts with ED101" in out


def test_lock_refuses_a_resolution_that_breaks_a_rule(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "bad.in").write_text("bitsandbytes<0.45\ntriton==3.2.0\n")
    result = envdoctor(env, "lock", "bad.in", cwd=tmp_path)
    assert result.returncode == 1
    assert ("ED401 bad.in:1 asks for bitsandbytes<0.45, which conflicts with ED101: it needs "
            "bitsandbytes>=0.45.1 when triton>=3.2.0 (ED101)") in result.stdout
    assert not (tmp_path / "bad.txt").exists()


def test_lock_adds_the_floor_a_first_resolution_violates(tmp_path: Path) -> None:
    """The newest `tool` caps bitsandbytes below the fix; with the ED101 floor pip backtracks to tool 1.0."""
    wheels = build_seed_wheels(tmp_path / "wheels")
    build_wheel(wheels, "tool", "1.0", {"tool/__init__.py": ""})
    build_wheel(wheels, "tool", "2.0", {"tool/__init__.py": ""}, requires=("bitsandbytes<0.45",))
    (tmp_path / "floor.in").write_text("tool\nbitsandbytes\ntriton==3.2.0\n")
    result = envdoctor(pip_env(wheels), "lock", "floor.in", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    text = (tmp_path / "floor.txt").read_text()
    assert "bitsandbytes==0.45.1" in text and "tool==1.0" in text
    assert "# kb constraints: bitsandbytes>=0.45.1 when triton>=3.2.0 (ED101)" in text


def test_foreign_target_uses_pips_resolver(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "x.in").write_text("bitsandbytes\ntriton==3.2.0\n")
    result = envdoctor(env, "lock", "x.in", "--python-version", "3.12", "--platform", "linux_x86_64",
                       "--cuda", "12.8", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    text = (tmp_path / "x.txt").read_text()
    assert "# target: python=3.12 platform=linux_x86_64 cuda=12.8" in text
    assert "install --dry-run --report" in text and "--python-version 3.12" in text
    assert verify(env, tmp_path)[0] == 0


def test_shipped_lockfiles_verify_offline() -> None:
    result = envdoctor(pip_env(Path("/nonexistent")), "lock", "verify", "--offline", str(REPO / "lockfiles"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("✓ no problems found") == 3


def test_foreign_lock_follows_the_targets_markers_not_the_running_pythons(tmp_path: Path) -> None:
    """pip evaluates dependency markers for the running Python; the lock must hold the target's."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    build_wheel(wheels, "tool", "1.0", {"tool/__init__.py": ""},
                requires=('backport>=1; python_version < "3.12"', 'newdep>=2; python_version >= "3.12"'))
    build_wheel(wheels, "backport", "1.0", {"backport/__init__.py": ""})
    build_wheel(wheels, "newdep", "2.0", {"newdep/__init__.py": ""})
    (tmp_path / "x.in").write_text("tool\n")
    for version, present, absent in (("3.12", "newdep==2.0", "backport"), ("3.10", "backport==1.0", "newdep")):
        out = f"x{version}.txt"
        result = envdoctor(pip_env(wheels), "lock", "x.in", "-o", out, "--python-version", version,
                           "--platform", "linux_x86_64", cwd=tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
        text = (tmp_path / out).read_text()
        assert present in text and absent not in text.split("# excluded")[1], (version, text)


def test_pinned_cuda_reads_what_the_resolution_pinned() -> None:
    from envdoctor.lock.write import pinned_cuda

    assert pinned_cuda([("torch", "2.6.0", ()), ("nvidia-cuda-runtime-cu12", "12.4.127", ())]) == "12.4"
    assert pinned_cuda([("torch", "2.6.0+cu118", ())]) == "11.8"
    assert pinned_cuda([("torch", "2.6.0+cpu", ())]) is None
    assert pinned_cuda([("torch", "2.6.0", ()), ("nvidia-nccl-cu12", "2.21.5", ())]) is None


def test_a_lock_that_pins_cuda_wheels_says_so_in_its_header(tmp_path: Path) -> None:
    """A CPU box resolving `torch` from the index gets its CUDA wheels: the header must not say cuda=none."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    build_wheel(wheels, "nvidia-cuda-runtime-cu12", "12.4.127", {"nvidia/cuda_runtime/__init__.py": ""})
    build_wheel(wheels, "torch", "2.6.0", {"torch/__init__.py": ""},
                requires=("nvidia-cuda-runtime-cu12==12.4.127; platform_system == 'Linux'",))
    folder = tmp_path / "made"
    folder.mkdir()
    (folder / "stack.in").write_text("torch\n")
    result = envdoctor(pip_env(wheels), "lock", "stack.in", "--exclude", "nvidia-*", cwd=folder)
    assert result.returncode == 0, result.stdout + result.stderr
    header = (folder / "stack.txt").read_text().splitlines()[1]
    assert header.endswith("cuda=12.4") and "CUDA 12.4" in result.stderr
    assert "--cuda" not in (folder / "stack.txt").read_text()  # the re-make command stays as given
@pytest.mark.parametrize(("args", "message"), [
    (["requirements.txt"], "requirements.txt: is an input of this lock, so it is not overwritten; rename the input "
                           "to requirements.in (the convention) or pass -o requirements.lock.txt"),
    (["stack.in", "-o", "platform.txt"], "platform.txt: is an input of this lock, so it is not overwritten; "
                                         "pass -o stack.txt"),
    (["stack.in", "-o", "/dev/null"],
     "/dev/null: not a regular file (a device, FIFO or folder); pass -o with a file name"),
])
def test_lock_never_writes_over_an_input_or_a_device(env: dict[str, str], tmp_path: Path, args: list[str],
                                                      message: str) -> None:
    (tmp_path / "requirements.txt").write_text("bitsandbytes\n")
    (tmp_path / "platform.txt").write_text("triton==3.2.0\n")
    (tmp_path / "stack.in").write_text("-c platform.txt\nbitsandbytes\n")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    result = envdoctor(env, "lock", *args, "--offline", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip() == f"envdoctor: error: {message}"
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_a_locks_check_runs_again_until_the_cross_package_check_is_complete(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from envdoctor.env.lock_header import foreign_header
    from envdoctor.lock.write import check_lock
    from envdoctor.surface import crosscheck
    from tests.helpers.index import IndexServer, isolated_pip_env
    from tests.helpers.surface import Dist, Index

    layout = Index(tmp_path / "index")
    for version in ("1.0", "2.0", "3.0"):  # `helper` and `other` go away in 3.0
        layout.add(Dist("tools", version, {"tools/__init__.py": "" if version == "3.0" else
                                           "def helper(): ...\ndef other(): ...\n"}))
    layout.add(Dist("user", "1.0", {"user/__init__.py": "from tools import helper\nfrom . import more\n",
                                    "user/more.py": "from tools import other\n"}, requires=("tools",)))
    lock = tmp_path / "requirements.txt"
    lock.write_text("tools==3.0\nuser==1.0\n", encoding="utf-8")
    monkeypatch.setattr(crosscheck, "MAX_BISECTIONS", 1)  # one boundary a run: two runs to bisect both
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        once = check_lock(lock, foreign_header(lock, None), offline=False)
        assert not once.complete and sum("removed in 3.0" in f.message for f in once.findings) == 1
        isolated_pip_env(monkeypatch, tmp_path / "cache-2", server.url)
        done = check_lock(lock, foreign_header(lock, None), offline=False, budget_s=60)
        # a pin the index does not have stays unreadable: the second run learns nothing and is the last
        lock.write_text("tools==3.0\nuser==1.0\nnowhere==1.0\n", encoding="utf-8")
        stuck = check_lock(lock, foreign_header(lock, None), offline=False, budget_s=600)
    assert done.complete and sum("removed in 3.0" in f.message for f in done.findings) == 2
    assert "cross-package API check: 2 runs, complete" in done.notes
    assert not stuck.complete and "cross-package API check: 2 runs, still incomplete (the notes say what waits)" \
        in stuck.notes

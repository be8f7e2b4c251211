"""Fault and hostile-state tests of the transaction: real venvs, real pip, wheels built here, no network."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from envdoctor.env.snapshot import Snapshot
from envdoctor.errors import InputError
from envdoctor.fix import journal, transaction
from envdoctor.fix.plan import Plan
from envdoctor.fix.transaction import state_root
from tests.helpers.fix import (
    build_seed_wheels,
    build_wheel,
    copy_venv,
    freeze,
    make_venv,
    pip,
    pip_env,
)

SNAP = Snapshot(source="test", python_version="3.11")
STEP = """import pathlib, signal, sys, time
marker = pathlib.Path(sys.argv[1])
got = []
signal.signal(signal.SIGINT, lambda *_: got.append(1))
marker.with_suffix(".started").write_text("1")
end = time.time() + float(sys.argv[2])
while time.time() < end:
    time.sleep(0.05)
marker.write_text(f"sigint={len(got)} finished")
"""


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = build_seed_wheels(tmp_path_factory.mktemp("wheels"))
    build_wheel(folder, "extra-dist", "1.0", {"extra_dist/__init__.py": ""})
    return folder


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory, wheels: Path) -> Path:
    folder = tmp_path_factory.mktemp("template") / "venv"
    python = make_venv(folder)
    pip(python, pip_env(wheels), "install", "bitsandbytes==0.44.1", "triton==3.2.0")
    return folder


@pytest.fixture
def venv(template: Path, tmp_path: Path, wheels: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key, value in pip_env(wheels).items():
        monkeypatch.setenv(key, value)
    return copy_venv(template, tmp_path / "venv")


def _root(tmp_path: Path) -> Path:
    return tmp_path / "state" / "envdoctor" / "transactions"


def _apply(python: Path, tmp_path: Path) -> transaction.Outcome:
    plan = Plan(python=str(python), install=("bitsandbytes==0.45.1",))
    outcome = transaction.apply(plan, SNAP, [], list, lambda _: None, base=tmp_path, root=_root(tmp_path))
    assert outcome.status == transaction.APPLIED, outcome
    return outcome


def _undo(python: Path | None, tmp_path: Path) -> list[str]:
    _, left = transaction.undo(None if python is None else str(python), lambda _: None, lambda _: None,
                               root=_root(tmp_path))
    return left


def _edit_journal(folder: Path, change: Callable[[dict[str, object]], None]) -> None:
    path = folder / journal.JOURNAL
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_apply_state_is_private_and_checksummed(venv: Path, tmp_path: Path) -> None:
    outcome = _apply(venv, tmp_path)
    assert oct(os.stat(outcome.folder).st_mode & 0o777) == "0o700"
    assert {oct(os.stat(p).st_mode & 0o777) for p in outcome.folder.iterdir() if p.is_file()} == {"0o600"}
    record = journal.load(outcome.folder)
    assert record.prefix == os.path.realpath(venv.parent.parent) and record.changed == ["bitsandbytes"]


def _truncate_freeze(folder: Path) -> None:
    path = folder / journal.FREEZE
    path.write_text(path.read_text().splitlines()[0] + "\n")


def _truncate_freeze_and_checksum(folder: Path) -> None:
    """A hostile edit that also fixes the checksum: only bitsandbytes listed, so pip would go."""
    (folder / journal.FREEZE).write_text("bitsandbytes==0.44.1\ntriton==3.2.0\n")
    digest = hashlib.sha256((folder / journal.FREEZE).read_bytes()).hexdigest()
    _edit_journal(folder, lambda d: d.update(freeze_sha256=digest))


def _plant_outside_backup(folder: Path) -> None:
    _edit_journal(folder, lambda d: d.update(files=[{"path": str(folder.parent / "victim.txt"),
                                                       "backup": "../../victim-src", "mode": 420, "uid": 0,
                                                       "gid": 0, "sha256": "0" * 64, "sha256_after": None}]))


def _null_backup(folder: Path) -> None:
    _edit_journal(folder, lambda d: d.update(files=[{"path": str(folder.parent / "victim.txt"), "backup": None,
                                                       "mode": 420, "uid": 0, "gid": 0, "sha256": "0" * 64}]))


def _writable_by_others(folder: Path) -> None:
    folder.chmod(0o777)


def _not_json(folder: Path) -> None:
    (folder / journal.JOURNAL).write_text("[" * 100_000)


@pytest.mark.parametrize(("tamper", "message"), [
    (_truncate_freeze, "the saved freeze changed since the apply"),
    (_truncate_freeze_and_checksum, "it would uninstall pip"),
    (_plant_outside_backup, "is not of the form backups/N"),
    (_null_backup, "'backup' missing or of the wrong type"),
    (_not_json, "not a valid envdoctor journal (RecursionError)"),
    (_writable_by_others, "writable by others"),
])
def test_hostile_state_folder_is_refused_and_changes_nothing(venv: Path, tmp_path: Path,
                                                             tamper: Callable[[Path], None], message: str) -> None:
    folder = _apply(venv, tmp_path).folder
    applied = freeze(venv, dict(os.environ))
    victim = folder.parent / "victim.txt"
    victim.write_text("precious\n")
    tamper(folder)
    with pytest.raises(InputError, match="refused|not trusted|not a valid") as caught:
        _undo(venv, tmp_path)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert freeze(venv, dict(os.environ)) == applied
    assert victim.read_text() == "precious\n"


def test_rollback_refuses_to_uninstall_what_the_transaction_did_not_change(venv: Path, tmp_path: Path) -> None:
    _apply(venv, tmp_path)
    pip(venv, dict(os.environ), "install", "extra-dist==1.0")
    applied = freeze(venv, dict(os.environ))
    with pytest.raises(InputError, match="would uninstall extra-dist, which the transaction did not change"):
        _undo(venv, tmp_path)
    assert freeze(venv, dict(os.environ)) == applied


def test_journal_python_is_never_run_and_other_interpreters_are_left_alone(venv: Path, tmp_path: Path) -> None:
    before = freeze(venv, dict(os.environ))
    folder = _apply(venv, tmp_path).folder
    marker = tmp_path / "ran"
    evil = tmp_path / "evil.sh"
    evil.write_text(f"#!/bin/sh\ntouch {marker}\n")
    evil.chmod(0o755)
    _edit_journal(folder, lambda d: d.update(python=str(evil)))
    with pytest.raises(InputError, match="no applied"):
        _undo(None, tmp_path)  # this interpreter has another sys.prefix: the venv's transaction is not used
    assert _undo(venv, tmp_path) == []
    assert freeze(venv, dict(os.environ)) == before
    assert not marker.exists()
    assert journal.load(folder).status == transaction.ROLLED_BACK


def test_a_second_apply_on_one_environment_waits_for_the_lock(venv: Path, tmp_path: Path) -> None:
    before = freeze(venv, dict(os.environ))
    prefix = journal.interpreter_prefix(str(venv))
    with journal.env_lock(_root(tmp_path), prefix):
        with pytest.raises(InputError, match="another `envdoctor fix --apply` or `rollback`"):
            _apply(venv, tmp_path)
    assert freeze(venv, dict(os.environ)) == before


def _driver(venv: Path, tmp_path: Path, marker: Path, seconds: float) -> subprocess.Popen[str]:
    """envdoctor applying (pip install, then a slow step) in a child process, as the CLI would."""
    step = tmp_path / "step.py"
    step.write_text(STEP)
    plan = {"python": str(venv), "install": ["bitsandbytes==0.45.1"],
            "commands": [["{python}", str(step), str(marker), str(seconds)]]}
    code = ("import json, sys; from pathlib import Path; from envdoctor.fix import transaction; "
            "from envdoctor.fix.plan import Plan; from envdoctor.env.snapshot import Snapshot; "
            "p = json.loads(sys.argv[1]); plan = Plan(python=p['python'], install=tuple(p['install']), "
            "commands=tuple(tuple(c) for c in p['commands'])); "
            "o = transaction.apply(plan, Snapshot(source='t', python_version='3'), [], list, print, "
            "root=Path(sys.argv[2])); print(json.dumps(o.to_dict()))")
    proc = subprocess.Popen([sys.executable, "-c", code, json.dumps(plan), str(_root(tmp_path))],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not marker.with_suffix(".started").exists():
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.05)
    return proc


def test_ctrl_c_is_forwarded_once_waited_for_then_rolled_back(venv: Path, tmp_path: Path) -> None:
    before = freeze(venv, dict(os.environ))
    marker = tmp_path / "step.done"
    proc = _driver(venv, tmp_path, marker, 1.5)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)  # a second Ctrl-C is not passed on and does not stop the rollback
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    result = json.loads(out.splitlines()[-1])
    assert result["status"] == transaction.ROLLED_BACK and result["reason"].startswith("interrupted (Ctrl-C)")
    assert marker.read_text() == "sigint=1 finished"
    assert freeze(venv, dict(os.environ)) == before


def test_killed_envdoctor_leaves_a_started_journal_that_rolls_back(venv: Path, tmp_path: Path) -> None:
    before = freeze(venv, dict(os.environ))
    marker = tmp_path / "step.done"
    proc = _driver(venv, tmp_path, marker, 2.0)
    proc.kill()
    proc.wait()
    with pytest.raises(InputError, match="still changing this environment"):
        _undo(venv, tmp_path)  # the step it started still holds the lock
    deadline = time.time() + 30
    while not marker.exists():
        assert time.time() < deadline
        time.sleep(0.05)
    time.sleep(0.3)
    assert "bitsandbytes==0.45.1" in freeze(venv, dict(os.environ))
    assert _undo(venv, tmp_path) == []
    assert freeze(venv, dict(os.environ)) == before
    (folder,) = (p for p in _root(tmp_path).iterdir())
    assert journal.load(folder).status == transaction.ROLLED_BACK
    shutil.rmtree(folder)


def test_state_root_prefers_envdoctor_state_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert state_root() == tmp_path / "xdg" / "envdoctor" / "transactions"
    monkeypatch.setenv("ENVDOCTOR_STATE_DIR", str(tmp_path / "own"))
    assert state_root() == tmp_path / "own" / "transactions"

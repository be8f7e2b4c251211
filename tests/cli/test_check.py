"""The CLI in subprocesses: exit codes, --python against a real second venv, snapshot/diff, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from tests.helpers.core import envdoctor


def lock(tmp_path: Path, text: str, name: str = "requirements.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def check(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return envdoctor("check", "--offline", "--no-project", *args, cwd=cwd,
                     env={"ENVDOCTOR_CACHE_DIR": str(cwd / "cache")})


def test_exit_codes_clean_error_strict(tmp_path: Path) -> None:
    clean = check("--env", str(lock(tmp_path, "torch==2.6.0\ntriton==3.2.0\n")), cwd=tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "✓ no problems found" in clean.stdout
    broken = check("--env", str(lock(tmp_path, "torch==2.6.0\ntriton==3.1.0\n")), cwd=tmp_path)
    assert broken.returncode == 1 and "ED102" in broken.stdout
    # a warning only (ED110 under DISABLE_VERSION_CHECK is one; here: a snapshot with a shadowed package)
    snap = tmp_path / "snap.json"
    data = json.loads(envdoctor("snapshot", "--env", str(lock(tmp_path, "numpy==2.1.3\n"))).stdout)
    data["distributions"][0]["shadowed"] = ["1.26.4"]
    snap.write_text(json.dumps(data), encoding="utf-8")
    assert check("--env", str(snap), cwd=tmp_path).returncode == 0
    strict = check("--env", str(snap), "--strict", cwd=tmp_path)
    assert strict.returncode == 1 and "ED003" in strict.stdout
    assert check("--env", str(snap), "--strict", "--ignore", "ED003", cwd=tmp_path).returncode == 0


@pytest.mark.parametrize("make", ["missing", "binary", "malformed", "directory", "bad-json", "not-snapshot",
                                  "no-python"])
def test_bad_input_is_one_line_exit_2(tmp_path: Path, make: str) -> None:
    target = tmp_path / "input.txt"
    args = ["--env", str(target)]
    expected = str(target)
    if make == "binary":
        target.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00")
    elif make == "malformed":
        target.write_text("torch==2.6.0\nbitsandbytes=0.44.1\n", encoding="utf-8")
        expected = f"{target}:2: not a requirement"
    elif make == "directory":
        target.mkdir()
    elif make == "bad-json":
        target.write_text('{"schema_version": 1,\n "oops"\n}', encoding="utf-8")
        expected = f"{target}:3: invalid JSON (Expecting ':' delimiter)"
    elif make == "not-snapshot":
        target.write_text('{"schema_version": 1, "distributions": [], "hardware": [1]}', encoding="utf-8")
        expected = f"{target}: not an envdoctor snapshot"
    elif make == "no-python":
        args, expected = ["--python", str(tmp_path / "nope" / "python")], "no such interpreter"
    proc = check(*args, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith("envdoctor: error: ") and expected in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_rule_and_json_format(tmp_path: Path) -> None:
    proc = envdoctor("rules", "ED999")
    assert proc.returncode == 2 and proc.stderr.strip() == "envdoctor: error: no rule 'ED999'; `envdoctor rules` lists them all"
    docs = envdoctor("rules", "pin-not-on-index")
    assert docs.returncode == 0 and docs.stdout.startswith("ED005 pin-not-on-index (warning)")
    out = check("--env", str(lock(tmp_path, "torch==2.6.0\ntriton==3.1.0\n")), "--format", "json", cwd=tmp_path)
    doc = json.loads(out.stdout)
    assert doc["exit_code"] == out.returncode == 1
    assert [f["code"] for f in doc["findings"]] == ["ED102"]
    assert doc["findings"][0]["locations"] == []


def build_wheel(folder: Path, name: str, version: str, requires: list[str]) -> Path:
    """A tiny pure-Python wheel that pip can install."""
    stem = f"{name}-{version}"
    path = folder / f"{stem}-py3-none-any.whl"
    meta = "\n".join(["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}",
                      *[f"Requires-Dist: {r}" for r in requires]]) + "\n"
    files = {f"{name}/__init__.py": "VALUE = 1\n", f"{stem}.dist-info/METADATA": meta,
             f"{stem}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = "".join(f"{p},,\n" for p in files) + f"{stem}.dist-info/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as wheel:
        for rel, text in {**files, f"{stem}.dist-info/RECORD": record}.items():
            wheel.writestr(rel, text)
    return path


def test_python_option_checks_a_second_real_venv(tmp_path: Path) -> None:
    venv = tmp_path / "other-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    build_wheel(wheels, "tinypkg", "1.0", ["definitely-missing-dep>=1.0"])
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-index",
                    "--no-deps", "--find-links", str(wheels), "tinypkg"], check=True, timeout=300,
                   capture_output=True)
    proc = envdoctor("check", "--python", str(python), "--no-project", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["target"]["source"] == f"python:{python}"
    assert [f["message"] for f in doc["findings"] if f["code"] == "ED001"] == [
        "tinypkg 1.0 requires definitely-missing-dep>=1.0, which is not installed"]


def test_snapshot_and_diff(tmp_path: Path) -> None:
    first = lock(tmp_path, "torch==2.6.0\nnumpy==2.1.3\n", "a.txt")
    saved = tmp_path / "a.json"
    wrote = envdoctor("snapshot", "--env", str(first), "-o", str(saved))
    assert wrote.returncode == 0 and f"wrote {saved} (2 packages)" in wrote.stderr
    same = envdoctor("diff", str(saved), str(first))
    assert same.returncode == 0 and same.stdout.startswith("✓ no drift")
    drift = envdoctor("diff", str(saved), str(lock(tmp_path, "torch==2.7.0\nscipy==1.13.0\n", "b.txt")),
                      "--format", "json")
    assert drift.returncode == 1
    assert json.loads(drift.stdout) | {"system": {}} == {
        "added": {"scipy": "1.13.0"}, "removed": {"numpy": "2.1.3"},
        "changed": {"torch": {"from": "2.6.0", "to": "2.7.0"}}, "system": {}, "drift": True}


def test_live_snapshot_round_trip(tmp_path: Path) -> None:
    saved = tmp_path / "live.json"
    assert envdoctor("snapshot", "-o", str(saved)).returncode == 0
    proc = envdoctor("diff", str(saved), "live")
    assert proc.returncode == 0, proc.stdout

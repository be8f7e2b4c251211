"""Every flag value is validated: unknown rule codes/names, GPUs and versions are usage errors (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.helpers.core import envdoctor


def lock(tmp_path: Path) -> Path:
    path = tmp_path / "requirements.txt"
    path.write_text("torch==2.6.0\ntriton==3.2.0\nbitsandbytes==0.44.1\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(("args", "says"), [
    (("--select", "ED999"), "did you mean"),
    (("--ignore", "bogus-name"), "no rule has this code or name"),
    (("--ignore", "unmet-requirment"), "did you mean unmet-requirement"),
    (("--select", "ED101,ED9x9"), "'ED9X9'"),
    (("--gpu", "foo"), "is not a GPU envdoctor knows"),
    (("--gpu", "t44"), "did you mean t4"),
    (("--python-version", "3.x"), "not a version"),
    (("--python-version", "3"), "X.Y or X.Y.Z"),
    (("--llamafactory", "nonexist.yaml"), "nonexist.yaml: no such file"),
])
def test_bad_values_are_usage_errors(args: tuple[str, ...], says: str, tmp_path: Path) -> None:
    result = envdoctor("check", "--offline", "--env", str(lock(tmp_path)), *args, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert says.lower() in result.stderr.lower() and "Traceback" not in result.stderr


def test_project_file_with_no_project_is_a_contradiction(tmp_path: Path) -> None:
    (tmp_path / "train.yaml").write_text("flash_attn: False\n", encoding="utf-8")
    result = envdoctor("check", "--offline", "--no-project", "--llamafactory", "train.yaml", cwd=tmp_path)
    assert result.returncode == 2 and "--no-project" in result.stderr


def test_comma_lists_and_good_values_are_accepted(tmp_path: Path) -> None:
    base = ("check", "--offline", "--no-project", "--env", str(lock(tmp_path)), "--python-version", "3.12")
    both = envdoctor(*base, "--select", "ED101,ED102", cwd=tmp_path)
    assert both.returncode == 1 and "ED101" in both.stdout, both.stdout + both.stderr
    ignored = envdoctor(*base, "--select", "ED101,ED102", "--ignore", "ED001,bitsandbytes-imports-removed-triton-ops",
                        cwd=tmp_path)
    assert ignored.returncode == 0 and "ED101" not in ignored.stdout, ignored.stdout + ignored.stderr
    assert envdoctor(*base, "--gpu", "A100-80", "--select", "ED1", cwd=tmp_path).returncode == 1

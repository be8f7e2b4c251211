"""Done-when of issue 6: every error line quoted in the seed documents is explained right.

The lines are extracted from /work/shared/seeds/*.txt themselves (not copied here): a line is an
error line when it carries one of the error texts the seeds report.  The expected cause of each
line follows from the text it contains.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.helpers.explain import freeze

from envdoctor.explain.command import explain_log
from envdoctor.findings import Severity

SEEDS = Path("/work/shared/seeds")
# error text seen in the seeds -> the rule that explains it
EXPECTED = {
    r"No module named 'triton\.ops'": "ED101",
    r"no such column": "ED221",
    r"cannot stat": "ED210",
    r"CUDA out of memory": "ED604",
    r"Exit Code 247": "ED605",
    r"undefined symbol": "ED120",
    r"ImportError: `?(?:transformers|datasets)": "ED110",
    r"--flash_attn False": "ED240",
    r"trust_remote_code=True`": "ED230",
    r"Could not find a version that satisfies": "ED609",
    "(?:\ufffd\ufffd|\u00ef\u00bf\u00bd\u00ef\u00bf\u00bd)t o r c h": "ED201",
}
ERROR_LINE = re.compile("|".join(f"(?:{p})" for p in EXPECTED))

pytestmark = pytest.mark.skipif(not SEEDS.is_dir(), reason="the seed documents are not on this machine")


def seed_error_lines() -> list[tuple[Path, int, str]]:
    """(file, line number, expected rule) for every error line in the seeds."""
    found = []
    for path in sorted(SEEDS.glob("*.txt")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if match := ERROR_LINE.search(line):
                code = next(c for p, c in EXPECTED.items() if re.fullmatch(p, match.group(0)))
                found.append((path, number, code))
    return found


def test_the_seeds_quote_every_kind_of_error_of_the_issue() -> None:
    lines = seed_error_lines()
    assert {code for _, _, code in lines} == set(EXPECTED.values())
    assert len(lines) >= 15


@pytest.mark.parametrize("seed", sorted(SEEDS.glob("*.txt")) if SEEDS.is_dir() else [], ids=lambda p: p.name[:3])
def test_each_seed_error_line_is_explained_by_the_right_rule(seed: Path, tmp_path: Path) -> None:
    result = explain_log(seed, None, None, None)  # type: ignore[arg-type]
    located = {(loc.line, f.code) for f in result.findings for loc in f.locations}
    expected = [(n, code) for path, n, code in seed_error_lines() if path == seed]
    for number, code in expected:
        assert (number, code) in located, f"{seed.name}:{number} not explained as {code}"
    error_lines = {n for n, _ in expected}
    for finding in result.findings:  # nothing else is reported as an error
        if finding.severity is Severity.ERROR:
            assert {loc.line for loc in finding.locations} & error_lines, finding


def test_seed_000_against_the_colab_environment_it_describes(tmp_path: Path) -> None:
    """bitsandbytes 0.44.1 with torch 2.6's triton 3.2.0: ED101 is confirmed, with its safe fix."""
    request = freeze(tmp_path, {"torch": "2.6.0", "triton": "3.2.0", "bitsandbytes": "0.44.1"})
    result = explain_log(SEEDS / "000_a3806a095ddd2aa0.txt", None, request, None)  # type: ignore[arg-type]
    ed101 = next(f for f in result.findings if f.code == "ED101")
    assert ed101.confidence == "high" and ed101.severity is Severity.ERROR
    assert ed101.fixes[0].pins == {"bitsandbytes": ">=0.45.1"}
    triton = next(f for f in result.findings if f.code == "ED609")
    assert triton.fixes[0].pins == {"triton": "==3.2.0"}  # torch 2.6.0's own pin, never 2.1.0


def test_seed_004_memory_arithmetic() -> None:
    result = explain_log(SEEDS / "004_485ed39d6f043569.txt", None, None, None)  # type: ignore[arg-type]
    killed = next(f for f in result.findings if f.code == "ED605")
    assert "2 processes × 28.0 GB" in killed.message and "> 46 GB RAM (the log)" in killed.message
    assert killed.confidence == "high"

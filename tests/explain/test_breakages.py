"""The real-breakage corpus (tests/fixtures/breakages/): every case that passes keeps passing, in both modes.

A case passes when explain names one of its culprit distributions and proposes a fitting
fix (tests/helpers/breakages.py scores it).  Cases the engine does not explain yet are
listed in tests/fixtures/breakages/expected_failures.toml with the reason; a listed case
that starts passing fails this test too, so the list stays exact.  bench/corpus_rates.py
prints the rates per family.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from tests.helpers.breakages import MODES, expected_failures, load_cases, names_boundary, run_case, specs_overlap

CASES = load_cases()
EXPECTED = expected_failures()
FIELDS = {"id", "source", "family", "error", "culprit", "fix"}


def test_corpus_is_real_and_well_formed() -> None:
    ids = [case["id"] for case in CASES]
    assert len(CASES) >= 150
    assert len(set(ids)) == len(ids)
    for case in CASES:
        assert FIELDS <= set(case), case["id"]
        assert case["source"].startswith("https://github.com/"), case["id"]
        assert case["culprit"], case["id"]
    assert {case_id for case_id, _ in EXPECTED} <= set(ids)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_case(case: dict, mode: str, tmp_path: Path) -> None:
    outcome = run_case(case, mode, tmp_path)
    reason = EXPECTED.get((case["id"], mode))
    if reason is None:
        assert outcome.passed, f"culprit {outcome.culprit}, fix {outcome.fix}: {outcome.summary}"
    else:
        assert not outcome.passed, f"{case['id']} [{mode}] passes now: drop it from expected_failures.toml"


@pytest.mark.parametrize(("ours", "theirs", "fits"), [
    (">=4.43", ">=4.43.0", True), ("<0.14", "==0.13.2", True), ("<2.0", "==2.0.1", False),
    ("==2.10.0+cu126", "==2.10.0+cu126", True), ("<2.11", ">=2.10,<2.11", True), ("", ">=0.45.1", True),
    ("", "==0.45.1", False), (">=2.7", "==2.7.0+cu128", True), ("<=2.1", "<2.2", True), (">=3", "<2", False),
    ("<4.52.1", "<4.52", True), ("<2.0.1", "<2", True), (">=4.52", "<4.52", False),
])
def test_fix_fitting_is_a_real_overlap(ours: str, theirs: str, fits: bool) -> None:
    assert specs_overlap(SpecifierSet(ours), SpecifierSet(theirs)) is fits


def test_a_named_boundary_needs_the_distribution_and_the_version() -> None:
    fixes = [Requirement("numpy<2")]
    assert names_boundary("numpy removed `np.NaN` in 2.0", fixes)
    assert not names_boundary("scipy removed it in 2.0", fixes)
    assert not names_boundary("numpy removed it in 1.24", fixes)

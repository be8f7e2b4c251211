"""`envdoctor explain` on real error texts from public issue threads (tests/fixtures/explain_corpus.toml)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from tests.helpers.explain import DATA, explain_text

from envdoctor.knowledge import base as knowledge

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CASES = tomllib.loads((DATA / "explain_corpus.toml").read_text(encoding="utf-8"))["case"]
# explained only from release sources or release lists on an index (these tests run offline with an
# empty cache): tests/explain/test_families.py serves one on loopback for each
NEEDS_INDEX = frozenset({"ED615", "ED616"})


def test_corpus_covers_every_log_rule_and_cites_sources() -> None:
    kb = knowledge.load()
    log_rules = {code for code, entry in kb.rules.items() if entry.check == "log"} - NEEDS_INDEX
    assert log_rules <= {case["code"] for case in CASES}
    assert all(case["source"].startswith("https://") for case in CASES)


@pytest.mark.parametrize("case", CASES, ids=[f"{c['code']}-{c['source'].split('/')[-1][:20]}" for c in CASES])
def test_real_error_text_is_explained_by_its_rule(case: dict, tmp_path: Path) -> None:
    result = explain_text(case["text"], tmp_path)
    matching = [f for f in result.findings if f.code == case["code"]]
    assert matching, [(f.code, f.message) for f in result.findings]
    finding = matching[0]
    lines = case["text"].splitlines()
    for location, quote in zip(finding.locations, finding.quotes, strict=True):
        assert location.path.endswith("run.log")
        assert lines[location.line - 1].strip().startswith(quote.rstrip("…"))
    assert finding.confidence in ("high", "medium")
    for fragment in case.get("contains", []):
        assert fragment in finding.message + " ".join(fix.title for fix in finding.fixes)

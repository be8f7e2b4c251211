"""The rule engine (crash isolation, selection, order, ED001 de-duplication) and the report formats."""

from __future__ import annotations

import json
import random

from tests.helpers.core import dist, kb, snap

from envdoctor.engine import core as engine
from envdoctor.engine import report
from envdoctor.engine.check import CheckResult, describe_target, render
from envdoctor.findings import Finding, Location, Severity
from envdoctor.knowledge import base as knowledge
from envdoctor.rules.base import Context, implements

CRASHY = '''
[[rule]]
code = "ED990"
name = "always-crashes"
severity = "warning"
check = "python"
module = "requirements"
summary = "s"
what = "w"
why = "y"
fix_safety = "f"
evidence = ["e"]

[[rule]]
code = "ED991"
name = "has-no-implementation"
severity = "warning"
check = "python"
module = "requirements"
summary = "s"
what = "w"
why = "y"
fix_safety = "f"
evidence = ["e"]
'''


@implements("ED990")
def _always_crashes(ctx: Context, entry: knowledge.RuleEntry) -> list[Finding]:
    raise KeyError("boom")


def test_a_crashing_rule_is_an_internal_error_finding_and_exit_2() -> None:
    test_kb = knowledge.load_texts({"t.toml": CRASHY})
    ctx = Context(snapshot=snap(("torch", "2.6.0")), kb=test_kb)
    findings = engine.run(ctx, list(test_kb.rules.values()))
    assert [f.code for f in findings] == ["ED000", "ED000"]
    assert "rule ED990 always-crashes crashed: KeyError: 'boom' (at test_core.py:" in findings[0].message
    assert "ED991" in findings[1].message and "does not implement it" in findings[1].message
    assert report.exit_code(findings) == 2


def test_select_and_ignore_by_code_prefix_and_name() -> None:
    codes = lambda rules: [r.code for r in rules]
    assert codes(engine.select_rules(kb(), ["ED10"])) == ["ED101", "ED102", "ED103", "ED104"]
    assert codes(engine.select_rules(kb(), ["unmet-requirement", "ed140"])) == ["ED001", "ED140"]
    assert "ED004" not in codes(engine.select_rules(kb(), (), ["incomplete-lock"]))
    assert codes(engine.select_rules(kb(), ["ED1"], ["ED11", "ED12", "ED13", "ED14", "ED15"])) == ["ED101", "ED102", "ED103", "ED104"]


BROKEN = snap(dist("bitsandbytes", "0.44.1", ("triton<3.2", "torch")), ("triton", "3.2.0"), ("torch", "2.6.0"),
              dist("peft", "0.17.1", ("accelerate>=0.21",)), ("accelerate", "0.20.0"), ("transformers", "5.0.0"),
              dist("old", "1.0", requires_python="<3.8"))


def test_findings_are_sorted_and_deterministic() -> None:
    rules = engine.select_rules(kb())
    first = engine.run(Context(snapshot=BROKEN, kb=kb()), rules)
    for seed in range(3):
        shuffled = rules[:]
        random.Random(seed).shuffle(shuffled)
        assert engine.run(Context(snapshot=BROKEN, kb=kb()), shuffled) == first
    assert [f.sort_key() for f in first] == sorted(f.sort_key() for f in first)
    assert [f.code for f in first] == ["ED001", "ED002", "ED101", "ED130", "ED103"]


def test_generic_ed001_is_dropped_when_a_specific_rule_covers_the_pair() -> None:
    both = engine.run(Context(snapshot=BROKEN, kb=kb()), engine.select_rules(kb(), ["ED001", "ED101"]))
    assert [(f.code, f.packages) for f in both] == [("ED001", ("peft", "accelerate")),
                                                    ("ED101", ("bitsandbytes", "triton"))]
    alone = engine.run(Context(snapshot=BROKEN, kb=kb()), engine.select_rules(kb(), ["ED001"]))
    assert ("ED001", ("bitsandbytes", "triton")) in [(f.code, f.packages) for f in alone]


def test_exit_codes() -> None:
    warning = Finding(code="ED003", name="n", severity=Severity.WARNING, message="m")
    error = Finding(code="ED001", name="n", severity=Severity.ERROR, message="m")
    info = Finding(code="ED009", name="n", severity=Severity.INFO, message="m")
    assert report.exit_code([]) == 0
    assert report.exit_code([warning, info]) == 0
    assert report.exit_code([warning], strict=True) == 1
    assert report.exit_code([info], strict=True) == 0
    assert report.exit_code([error, warning]) == 1


def _result() -> CheckResult:
    rules = engine.select_rules(kb())
    findings = engine.run(Context(snapshot=BROKEN, kb=kb()), rules)
    findings.append(Finding(code="ED004", name="incomplete-lock", severity=Severity.WARNING, message="x",
                            locations=(Location("req.txt", 3),)))
    return CheckResult(findings=findings, snapshot=BROKEN, rules=rules, notes=["a note"])


def test_json_output_schema() -> None:
    doc = json.loads(render(_result(), "json", strict=False))
    assert set(doc) == {"schema_version", "tool", "target", "notes", "summary", "exit_code", "findings"}
    assert doc["schema_version"] == report.JSON_SCHEMA_VERSION == 1
    assert doc["tool"]["name"] == "envdoctor"
    assert doc["target"] == describe_target(BROKEN)
    assert doc["summary"] == {"error": 4, "warning": 2, "info": 0}
    assert doc["exit_code"] == 1 and doc["notes"] == ["a note"]
    finding = doc["findings"][0]
    assert set(finding) == {"code", "name", "severity", "message", "packages", "locations", "evidence", "fixes",
                            "covers", "confidence", "quotes", "inferred"}
    assert set(finding["fixes"][0]) == {"title", "applicability", "pins", "uninstall", "commands", "edits", "env",
                                         "within"}


def test_sarif_output_structure() -> None:
    result = _result()
    doc = json.loads(render(result, "sarif", strict=False))
    assert doc["version"] == "2.1.0" and doc["$schema"].endswith("sarif-2.1.0.json")
    [run] = doc["runs"]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert rule_ids == sorted({f.code for f in result.findings})
    for rule in run["tool"]["driver"]["rules"]:
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
    assert len(run["results"]) == len(result.findings)
    for item in run["results"]:
        assert item["ruleId"] in rule_ids
        assert item["level"] in ("error", "warning", "note")
        assert item["message"]["text"]
        assert item["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    located = next(r for r in run["results"] if r["ruleId"] == "ED004")
    assert located["locations"][0]["physicalLocation"] == {"artifactLocation": {"uri": "req.txt"},
                                                           "region": {"startLine": 3}}


def test_text_output_lists_fixes_and_summary() -> None:
    text = render(_result(), "text", strict=False)
    assert text.splitlines()[0].startswith("envdoctor check · live · Python 3.11.7")
    assert "  note: a note" in text
    assert "✗ ED101 bitsandbytes 0.44.1 imports triton.ops" in text
    assert "$ python -m pip install 'bitsandbytes>=0.45.1'" in text
    assert text.splitlines()[-1].startswith("4 error(s), 2 warning(s), 0 note(s)")


def test_a_rule_that_needs_project_facts_is_skipped_without_them() -> None:
    text = CRASHY.split("[[rule]]")[1].replace('module = "requirements"', 'module = "requirements"\nneeds = ["project"]')
    test_kb = knowledge.load_texts({"t.toml": "[[rule]]" + text})
    rules = list(test_kb.rules.values())
    assert engine.run(Context(snapshot=snap(("torch", "2.6.0")), kb=test_kb), rules) == []
    with_project = Context(snapshot=snap(("torch", "2.6.0")), kb=test_kb, project=object())
    assert [f.code for f in engine.run(with_project, rules)] == ["ED000"]

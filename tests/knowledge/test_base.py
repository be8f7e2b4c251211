"""Knowledge-base loading: the bundled TOML is valid; every problem names the file and the entry."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from envdoctor.errors import InputError
from envdoctor.knowledge import base as knowledge

GOOD = '''
[[rule]]
code = "ED901"
name = "test-rule"
severity = "warning"
check = "declarative"
summary = "s"
what = "w"
why = "y"
fix_safety = "f"
evidence = ["https://example.org/evidence"]
signatures = ["boom (?P<x>\\\\d+)"]
[[rule.case]]
when = { packages = { Foo_Bar = ">=1.0" }, python = ">=3.10" }
message = "foo {foo-bar}"
[[rule.case.fix]]
title = "upgrade"
applicability = "safe"
pins = { Foo_Bar = ">=2" }
'''


def test_the_bundled_knowledge_base_loads_and_documents_every_rule() -> None:
    kb = knowledge.load()
    assert {"ED001", "ED005", "ED101", "ED141"} <= set(kb.rules)
    for entry in kb.rules.values():
        assert entry.evidence and entry.summary and entry.what.strip() and entry.fix_safety.strip()
        assert entry.docs().startswith(f"{entry.code} {entry.name} ({entry.severity.value})")
    assert kb.by_name_or_code("ed101") is kb.by_name_or_code("bitsandbytes-imports-removed-triton-ops")
    assert "torch_extensions" in kb.tables


def test_a_good_entry_is_normalised() -> None:
    kb = knowledge.load_texts({"x.toml": GOOD})
    entry = kb.rules["ED901"]
    case = entry.cases[0]
    assert set(case.when.packages) == {"foo-bar"}
    assert case.fixes[0].pins == {"foo-bar": ">=2"}
    assert case.fixes[0].commands == (("{python}", "-m", "pip", "install", "foo-bar>=2"),)
    assert entry.signatures[0].search("boom 12")


@pytest.mark.parametrize(("old", "new", "message"), [
    ('summary = "s"', 'summary = "s"\ncolour = "red"', "x.toml: rule ED901: rule: unknown key 'colour'"),
    ('python = ">=3.10"', 'python = ">=3.10", gpu = "yes"', "x.toml: rule ED901: when.gpu: expected true or false"),
    ('foo {foo-bar}"', 'foo"\nwhen2 = 1', "x.toml: rule ED901: case: unknown key 'when2'"),
    ('python = ">=3.10"', 'python = ">=3.10", gpus = 1', "x.toml: rule ED901: when: unknown key 'gpus'"),
    ('Foo_Bar = ">=1.0"', 'Foo_Bar = ">>1.0"', "x.toml: rule ED901: when.packages.Foo_Bar: invalid version specifier '>>1.0'"),
    ('python = ">=3.10"', 'python = 3.10', "x.toml: rule ED901: when.python: expected a version specifier string"),
    ('pins = { Foo_Bar = ">=2" }', 'pins = { Foo_Bar = "two" }', "x.toml: rule ED901: fix.pins.Foo_Bar: invalid version specifier 'two'"),
    ('applicability = "safe"', 'applicability = "maybe"', "x.toml: rule ED901: fix.applicability: must be one of"),
    ('code = "ED901"', 'code = "E901"', "x.toml: rule E901: code 'E901' is not of the form ED123"),
    ('name = "test-rule"', 'name = "Test_Rule"', "x.toml: rule ED901: name 'Test_Rule' is not kebab-case"),
    ('severity = "warning"', 'severity = "fatal"', "x.toml: rule ED901: severity 'fatal' is not error, warning or info"),
    ('check = "declarative"', 'check = "magic"', "x.toml: rule ED901: check must be one of declarative, python, log"),
    ('evidence = ["https://example.org/evidence"]', 'evidence = []', "x.toml: rule ED901: every rule cites its evidence"),
    ('signatures = ["boom (?P<x>\\\\d+)"]', 'signatures = ["(unclosed"]', "x.toml: rule ED901: signature '(unclosed' is not a valid regular expression"),
    ('why = "y"', '', "x.toml: rule ED901: missing or non-string 'why'"),
    ('title = "upgrade"', '', "x.toml: rule ED901: fix: missing 'title'"),
    ('summary = "s"', 'summary = "s"\nmodule = "requirements"', "x.toml: rule ED901: module names the envdoctor.rules module"),
    ('summary = "s"', 'summary = "s"\nneeds = ["gpu"]', "x.toml: rule ED901: needs: unknown 'gpu' (allowed: project, lockfile)"),
    ('check = "declarative"', 'check = "python"\nmodule = "Rules.X"', "x.toml: rule ED901: module 'Rules.X' is not a module name"),
    ('check = "declarative"', 'check = "python"', "x.toml: rule ED901: module names the envdoctor.rules module"),
])
def test_bad_entries_name_file_and_entry(old: str, new: str, message: str) -> None:
    assert old in GOOD
    with pytest.raises(InputError, match=re.escape(message)):
        knowledge.load_texts({"x.toml": GOOD.replace(old, new, 1)})


def test_file_level_problems() -> None:
    with pytest.raises(InputError, match=r"^x.toml: invalid TOML"):
        knowledge.load_texts({"x.toml": "[[rule]\n"})
    with pytest.raises(InputError, match=r"^x.toml: unknown top-level key 'rules'"):
        knowledge.load_texts({"x.toml": "[rules]\n"})
    with pytest.raises(InputError, match=r"^y.toml: rule ED901: duplicate code or name"):
        knowledge.load_texts({"x.toml": GOOD, "y.toml": GOOD})
    with pytest.raises(InputError, match=r"^x.toml: rule ED901: a declarative rule needs at least one"):
        knowledge.load_texts({"x.toml": GOOD.split("[[rule.case]]")[0]})
    with pytest.raises(InputError, match=r"^y.toml: table 't' defined twice"):
        knowledge.load_texts({"x.toml": "[table.t]\na = 1\n", "y.toml": "[table.t]\nb = 1\n"})


def test_extra_directories_are_loaded_and_validated(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text(GOOD, encoding="utf-8")
    assert "ED901" in knowledge.load((tmp_path,)).rules
    (tmp_path / "mine.toml").write_text(GOOD.replace('severity = "warning"', 'severity = "loud"'), encoding="utf-8")
    with pytest.raises(InputError, match=re.escape(f"{tmp_path / 'mine.toml'}: rule ED901: severity 'loud'")):
        knowledge.load((tmp_path,))



@pytest.fixture
def kept_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache of this test's own, and the folder the parsed texts are kept in."""
    monkeypatch.setenv("ENVDOCTOR_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "knowledge"


def test_validated_texts_are_read_back_from_the_cache_and_any_edit_is_a_miss(kept_dir: Path) -> None:
    first = knowledge.load_texts({"x.toml": GOOD})
    kept = list(kept_dir.glob("*.json"))
    assert len(kept) == 1
    again = knowledge.load_texts({"x.toml": GOOD})  # from the parsed form: same entries
    assert again.rules["ED901"] == first.rules["ED901"]
    assert again.rules["ED901"].signatures[0].search("boom 12")
    kept[0].write_text(kept[0].read_text(encoding="utf-8").replace('"summary": "s"', '"summary": "kept"'),
                       encoding="utf-8")
    assert knowledge.load_texts({"x.toml": GOOD}).rules["ED901"].summary == "kept"  # read, not re-parsed
    edited = GOOD.replace('summary = "s"', 'summary = "t"')
    assert knowledge.load_texts({"x.toml": edited}).rules["ED901"].summary == "t"
    assert len(list(kept_dir.glob("*.json"))) == 2


def test_texts_that_fail_validation_are_never_kept(kept_dir: Path) -> None:
    bad = GOOD.replace('signatures = ["boom (?P<x>\\\\d+)"]', 'signatures = ["(unclosed"]')
    for _ in range(2):  # the second load validates again and fails again
        with pytest.raises(InputError, match="not a valid regular expression"):
            knowledge.load_texts({"x.toml": bad})
    assert not list(kept_dir.glob("*.json"))


def test_an_unwritable_or_corrupt_cache_only_costs_a_parse(kept_dir: Path) -> None:
    knowledge.load_texts({"x.toml": GOOD})
    kept = next(kept_dir.glob("*.json"))
    kept.write_text("{not json", encoding="utf-8")
    assert "ED901" in knowledge.load_texts({"x.toml": GOOD}).rules
    assert kept.read_text(encoding="utf-8").startswith('{"x.toml"')


def test_a_cache_root_that_is_a_file_only_costs_a_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "cache"
    root.write_text("not a folder\n", encoding="utf-8")
    monkeypatch.setenv("ENVDOCTOR_CACHE_DIR", str(root))
    assert "ED901" in knowledge.load_texts({"x.toml": GOOD}).rules
    assert root.read_text(encoding="utf-8") == "not a folder\n"  # nothing written, nothing lost

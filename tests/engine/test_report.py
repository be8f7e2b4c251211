"""SARIF output is valid SARIF 2.1.0 (the OASIS schema) and usable by code scanning."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from tests.helpers.core import envdoctor

from envdoctor.knowledge.docs import DOCS_BASE_URL, REPOSITORY_URL

jsonschema = pytest.importorskip("jsonschema")  # the `test` extra installs it
REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "tests" / "fixtures" / "sarif" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))


def sarif(*args: str, cwd: Path) -> dict:
    result = envdoctor("check", "--offline", "--format", "sarif", *args, cwd=cwd)
    assert result.returncode in (0, 1), result.stderr
    doc: dict = json.loads(result.stdout)
    return doc


def test_sarif_validates_and_points_to_rule_pages(tmp_path: Path) -> None:
    (tmp_path / "my lock.txt").write_text("torch==2.6.0\ntriton==3.2.0\nbitsandbytes==0.44.1\n", encoding="utf-8")
    (tmp_path / "train.yaml").write_text("model_name_or_path: x\nflash_attn: False\n", encoding="utf-8")
    doc = sarif("--env", "my lock.txt", "--llamafactory", "train.yaml", cwd=tmp_path)
    jsonschema.Draft7Validator(SCHEMA).validate(doc)
    run = doc["runs"][0]
    assert run["tool"]["driver"]["informationUri"] == REPOSITORY_URL
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert {"ED101", "ED240"} <= set(rules)
    for code, rule in rules.items():
        uri = urlsplit(rule["helpUri"])
        assert uri.scheme == "https" and rule["helpUri"] == f"{DOCS_BASE_URL}{code}.md"
        assert (REPO / "docs" / "rules" / f"{code}.md").is_file()
        assert rule["properties"]["evidence"], code
    uris = {loc["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"] for loc in r["locations"]}
    assert "my%20lock.txt" in uris or any(u.startswith("file:///") and u.endswith("my%20lock.txt") for u in uris)
    assert all(" " not in u for u in uris)


def test_a_clean_check_is_valid_sarif_too(tmp_path: Path) -> None:
    (tmp_path / "r.txt").write_text("numpy==2.1.3\n", encoding="utf-8")
    doc = sarif("--env", "r.txt", "--no-project", cwd=tmp_path)
    jsonschema.Draft7Validator(SCHEMA).validate(doc)
    assert doc["runs"][0]["results"] == []

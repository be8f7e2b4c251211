"""The shipped rule pages (docs/rules/) are what the knowledge base generates."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.core import kb

from envdoctor.knowledge.docs import help_uri, pages, write

DOCS = Path(__file__).resolve().parents[2] / "docs" / "rules"


def test_shipped_pages_match_the_knowledge_base() -> None:
    wanted = pages(kb())
    shipped = {p.name: p.read_text(encoding="utf-8") for p in DOCS.glob("*.md")}
    stale = sorted(name for name in wanted.keys() | shipped.keys() if wanted.get(name) != shipped.get(name))
    assert not stale, f"regenerate with `python -m envdoctor.knowledge.docs docs/rules`: {stale}"


def test_every_rule_has_a_page_with_its_evidence(tmp_path: Path) -> None:
    (tmp_path / "ED999.md").write_text("a rule that is gone\n", encoding="utf-8")
    write(tmp_path, kb())
    assert not (tmp_path / "ED999.md").exists()
    for entry in kb().rules.values():
        page = (tmp_path / f"{entry.code}.md").read_text(encoding="utf-8")
        assert page.startswith(f"# {entry.code} {entry.name}\n") and all(url in page for url in entry.evidence)
        assert help_uri(entry.code).endswith(f"/docs/rules/{entry.code}.md")

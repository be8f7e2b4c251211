"""Each rule's documentation page, generated from the knowledge base into ``docs/rules/<CODE>.md``.

The pages are shipped in the repository and addressed by a stable URL (:func:`help_uri`), which
SARIF's ``helpUri`` points at.  :data:`DOCS_BASE_URL` is the one place that says where the
repository lives (a placeholder until the project has its public home; see the README).

Regenerate after editing the knowledge base: ``python -m envdoctor.knowledge.docs docs/rules``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from envdoctor.knowledge.base import KnowledgeBase, RuleEntry

REPOSITORY_URL = "https://github.com/envdoctor/envdoctor"
DOCS_BASE_URL = f"{REPOSITORY_URL}/blob/main/docs/rules/"


def help_uri(code: str) -> str:
    """The documentation URL of rule ``code``."""
    return f"{DOCS_BASE_URL}{code}.md"


def rule_page(entry: RuleEntry) -> str:
    """The Markdown page of one rule: its `envdoctor rules CODE` text under a title."""
    body = entry.docs().split("\n", 2)[2]  # drop the "CODE name (severity)" line and the blank after it
    return f"# {entry.code} {entry.name}\n\nSeverity: {entry.severity.value}.\n\n{body}"


def pages(kb: KnowledgeBase) -> dict[str, str]:
    """File name -> content for every rule, plus an index page."""
    entries = sorted(kb.rules.values(), key=lambda e: e.code)
    out = {f"{e.code}.md": rule_page(e) for e in entries}
    index = ["# envdoctor rules", "", "Generated from the knowledge base by "
             "`python -m envdoctor.knowledge.docs docs/rules`; do not edit by hand.", ""]
    index += [f"- [{e.code}]({e.code}.md) `{e.name}` ({e.severity.value}): {e.summary}" for e in entries]
    out["README.md"] = "\n".join(index) + "\n"
    return out


def write(folder: Path, kb: KnowledgeBase) -> list[Path]:
    """Write every page into ``folder`` (made if missing) and remove pages of rules that are gone."""
    folder.mkdir(parents=True, exist_ok=True)
    wanted = pages(kb)
    for stale in folder.glob("*.md"):
        if stale.name not in wanted:
            stale.unlink()
    written = []
    for name, text in wanted.items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    """``python -m envdoctor.knowledge.docs FOLDER``: (re)generate the rule pages."""
    from envdoctor.knowledge import base

    if len(argv) != 1:
        print("usage: python -m envdoctor.knowledge.docs FOLDER", file=sys.stderr)
        return 2
    written = write(Path(argv[0]), base.load())
    print(f"wrote {len(written)} pages to {argv[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

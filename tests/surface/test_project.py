"""The user's scripts against installed libraries: a removed keyword with its successor, and the
absorbed or guarded uses that are not reported."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from envdoctor.surface.project import script_breakages
from envdoctor.surface.query import Query
from tests.helpers.core import dist, snap
from tests.helpers.index import IndexServer
from tests.helpers.surface import Dist, install, serve

VERSIONS = ["4.40.0", "4.41.0", "4.45.0", "4.46.0", "4.50.0"]


def trainlib(version: str) -> Dist:
    """``TrainingArguments`` (a dataclass) renames ``evaluation_strategy`` to ``eval_strategy`` in
    4.41 (both accepted, with a warning) and drops the old name in 4.46; ``QuantConfig`` takes **kwargs."""
    minor = int(version.split(".")[1])
    fields = ["output_dir: str = None"]
    if minor < 46:
        fields.append("evaluation_strategy: str = None")
    if minor >= 41:
        fields.append("eval_strategy: str = None")
    post = ""
    if 41 <= minor < 46:
        post = textwrap.dedent("""
            def __post_init__(self):
                if self.evaluation_strategy is not None:
                    warnings.warn("`evaluation_strategy` is deprecated and will be removed in version 4.46 of "
                                  "trainlib. Use `eval_strategy` instead", FutureWarning)
                    self.eval_strategy = self.evaluation_strategy
        """)
    body = "\n".join("    " + line for line in [*fields, *post.splitlines()])
    source = (f"import warnings\nfrom dataclasses import dataclass\n\n@dataclass\nclass TrainingArguments:\n{body}\n\n"
              "class QuantConfig:\n    def __init__(self, load_in_4bit=False, **kwargs): ...\n")
    return Dist("trainlib", version, {"trainlib/__init__.py": "from .args import *\n", "trainlib/args.py": source})


SCRIPT = textwrap.dedent("""
    from trainlib import TrainingArguments, QuantConfig

    def main():
        quant = QuantConfig(load_in_4bit=True, bnb_4bit_compute_dtype="bf16")
        return TrainingArguments(output_dir="out", evaluation_strategy="steps")

    try:
        from trainlib import gone_helper
    except ImportError:
        gone_helper = None
""")


@pytest.fixture()
def index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[IndexServer]:
    yield from serve(tmp_path, monkeypatch, (trainlib(version) for version in VERSIONS))


def run(tmp_path: Path, installed: str) -> list:
    info = install(tmp_path / "site", trainlib(installed))
    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text(SCRIPT, encoding="utf-8")
    return script_breakages([project / "train.py"], project, snap(dist("trainlib", installed, location=str(info))),
                            offline=False)


def test_removed_keyword_with_release_and_successor(index: IndexServer, tmp_path: Path) -> None:
    found = run(tmp_path, "4.46.0")
    assert [b.reference.query for b in found] == [Query("trainlib", "TrainingArguments", kwarg="evaluation_strategy")]
    b = found[0]
    assert b.reference.line == 6 and b.version == "4.46.0"
    assert b.boundary is not None and (b.boundary.removed_in, b.boundary.last_with) == ("4.46.0", "4.45.0")
    assert b.successor == "eval_strategy"  # 4.45.0's own deprecation warning says so


def test_nothing_when_the_keyword_is_still_accepted(index: IndexServer, tmp_path: Path) -> None:
    assert run(tmp_path, "4.45.0") == []  # deprecated, still a field; QuantConfig absorbs the rest

"""Curated version ranges agree with the releases' own source recorded under tests/fixtures/source/.

ED130 and ED131 say which peft and trl releases import a transformers name at module level; each
recorded release is on the side of the range its source puts it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from tests.helpers.core import kb

SOURCE = Path(__file__).resolve().parents[1] / "fixtures" / "source"


def top_level_names(path: Path, module: str) -> set[str]:
    """Names a file imports at module level (not inside functions or guards) from ``module`` or below."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {alias.name for node in tree.body if isinstance(node, ast.ImportFrom)
            and node.module and (node.module == module or node.module.startswith(module + "."))
            for alias in node.names}


def case_range(code: str, name: str, package: str) -> SpecifierSet:
    """The range of ``package`` in the case of rule ``code`` whose message names ``name``."""
    [case] = [c for c in kb().rules[code].cases if name in c.message]
    return case.when.packages[package]


@pytest.mark.parametrize(("release", "path", "code", "name"), [
    ("trl-0.9.4", "trl/trainer/dpo_trainer.py", "ED131", "MODEL_FOR_VISION_2_SEQ_MAPPING_NAMES"),
    ("trl-0.9.6", "trl/trainer/dpo_trainer.py", "ED131", "MODEL_FOR_VISION_2_SEQ_MAPPING_NAMES"),
    ("trl-0.22.2", "trl/trainer/dpo_trainer.py", "ED131", "MODEL_FOR_VISION_2_SEQ_MAPPING_NAMES"),
    ("trl-0.23.0", "trl/trainer/dpo_trainer.py", "ED131", "MODEL_FOR_VISION_2_SEQ_MAPPING_NAMES"),
    ("peft-0.13.2", "peft/peft_model.py", "ED130", "EncoderDecoderCache"),
    ("peft-0.14.0", "peft/peft_model.py", "ED130", "EncoderDecoderCache"),
    ("peft-0.21.2", "peft/peft_model.py", "ED130", "EncoderDecoderCache"),
])
def test_curated_range_follows_the_release_source(release: str, path: str, code: str, name: str) -> None:
    package, version = release.split("-", 1)
    imports = name in top_level_names(SOURCE / release / path, "transformers")
    assert case_range(code, name, package).contains(version) is imports


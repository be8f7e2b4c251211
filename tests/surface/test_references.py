"""References into other packages: the column-0 reader (releases) and the whole-file reader (scripts)."""

from __future__ import annotations

import ast
import textwrap

from envdoctor.surface.query import Query
from envdoctor.surface.references import snippet_references, tree_references

SOURCE = '''
"""A module docstring with code at column 0:

from other import never_imported
other.never_used()
"""
import other
import other.sub as sub_alias
from other.models import Model, gone as renamed
from . import sibling
from .local import thing
import json

try:
    from other import optional
except ImportError:
    optional = None

if TYPE_CHECKING:
    from other import typing_only

X = other.CONSTANT
Y = other.fast if hasattr(other, "fast") else None
CONFIG = other.make_config(rank=8, alpha=16)
json.dumps({}, indent=2)

@other.decorate
class Layer(other.nn.Module):
    """from other import in_docstring"""
    size = other.SIZE

def helper(dtype=other.float32):
    from other import inside_function
    return other.inside_function_attr

Z = renamed
'''


def queries(found: list) -> set[Query]:
    return {r.query for r in found if r.guard is None}


def test_module_level_references_only() -> None:
    found = snippet_references(textwrap.dedent(SOURCE), "pkg/mod.py", frozenset({"pkg"}), "pkg.mod")
    got = queries(found)
    expected = {
        Query("other"), Query("other.sub"), Query("other.models", "Model"), Query("other.models", "gone"),
        Query("other", "CONSTANT"), Query("other", "make_config"), Query("other", "make_config", kwarg="rank"),
        Query("other", "make_config", kwarg="alpha"), Query("other", "decorate"), Query("other", "nn"),
        Query("other", "float32"),
    }
    assert expected <= got
    for missing in ("never_imported", "never_used", "optional", "typing_only", "in_docstring",
                    "inside_function", "inside_function_attr", "SIZE"):
        assert all(missing not in (q.name, q.attr) for q in got), missing
    assert Query("other", "fast") not in got  # guarded by hasattr in the expression
    assert not any(q.module.startswith(("json", "pkg")) for q in got)  # stdlib and own modules


def test_line_numbers_are_the_source_lines() -> None:
    text = textwrap.dedent(SOURCE)
    found = snippet_references(text, "pkg/mod.py", frozenset({"pkg"}), "pkg.mod")
    lines = text.splitlines()
    for ref in found:
        assert ref.query.module.split(".")[0] in lines[ref.line - 1] or "other" in lines[ref.line - 1]


def test_whole_files_mark_guards_and_read_function_bodies() -> None:
    tree = ast.parse(textwrap.dedent('''
        import numpy as np
        from transformers import TrainingArguments
        try:
            from peft import prepare_model_for_int8_training
        except ImportError:
            pass
        if version.parse(np.__version__) < version.parse("1.24"):
            x = np.float
        def main():
            args = TrainingArguments(output_dir="o", evaluation_strategy="steps")
            return np.float(1)
    '''))
    found = tree_references(tree, "train.py")
    unguarded = {r.query for r in found if r.guard is None}
    guarded = {r.query: r.guard for r in found if r.guard is not None}
    assert Query("transformers", "TrainingArguments", kwarg="evaluation_strategy") in unguarded
    assert Query("numpy", "float") in unguarded  # in main()
    assert guarded[Query("peft", "prepare_model_for_int8_training")].startswith("try/except ImportError")
    assert any(q == Query("numpy", "float") and "version" in g for q, g in guarded.items())

"""Fixtures shared by the pipeline tests: the real NF4 tiny Llama on CPU."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    """(model, tokenizer): builtin:tiny-llama quantised to NF4 with fp32 compute, on CPU."""
    pytest.importorskip("bitsandbytes")
    from envdoctor.pipeline import modeling

    path = modeling.materialise_builtin("tiny-llama", tmp_path_factory.mktemp("m") / "tiny", seed=0)
    tokenizer = modeling.load_tokenizer(str(path), None, False)
    model = modeling.load_quantized(str(path), modeling.Precision("fp32", "test"), "cpu", "sdpa")
    return model, tokenizer

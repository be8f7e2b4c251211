"""Parameter counts from config.json alone, checked against a meta-device build by transformers."""

from __future__ import annotations

from typing import Any

import pytest
from tests.helpers.memory import config

from envdoctor.errors import InputError
from envdoctor.memory.shapes import (
    LINEAR_NAMES,
    PARAMS_TOLERANCE,
    PUBLIC_CONFIGS,
    resolve_targets,
    shape_from_config,
    shape_from_params,
)

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

EXTRA = {
    # mistral-style: explicit head_dim narrower than hidden / heads, grouped KV, untied
    "mistral-like": {"model_type": "mistral", "hidden_size": 1024, "intermediate_size": 2816, "num_hidden_layers": 4,
                     "num_attention_heads": 16, "num_key_value_heads": 4, "head_dim": 48, "vocab_size": 32000,
                     "tie_word_embeddings": False},
    # qwen3-style: q/k norms per head, no attention bias
    "qwen3-like": {"model_type": "qwen3", "hidden_size": 512, "intermediate_size": 1536, "num_hidden_layers": 3,
                   "num_attention_heads": 8, "num_key_value_heads": 2, "head_dim": 64, "vocab_size": 5000,
                   "tie_word_embeddings": True},
}


def meta_model(values: dict[str, Any]) -> Any:
    raw = dict(values)
    cfg = transformers.AutoConfig.for_model(raw.pop("model_type"), **raw)
    with torch.device("meta"):
        return transformers.AutoModelForCausalLM.from_config(cfg)


def configs() -> list[tuple[str, dict[str, Any]]]:
    return [(name, config(name)) for name in ("qwen2-0.5b", "qwen2-1.5b", "deepseek-llm-7b")] + list(EXTRA.items())


@pytest.mark.parametrize(("name", "values"), configs(), ids=[n for n, _ in configs()])
def test_arithmetic_matches_a_meta_device_build(name: str, values: dict[str, Any]) -> None:
    model = meta_model(values)
    shape = shape_from_config(values, name)
    assert shape.total_params == sum(p.numel() for p in model.parameters())  # tied weights counted once
    linear = sum(m.weight.numel() for n, m in model.named_modules()
                 if isinstance(m, torch.nn.Linear) and n.rsplit(".", 1)[-1] in LINEAR_NAMES)
    assert shape.quantized_params == linear
    lora_q_v = sum(8 * (m.in_features + m.out_features) for n, m in model.named_modules()
                   if isinstance(m, torch.nn.Linear) and n.endswith(("q_proj", "v_proj")))
    assert shape.lora_params(8, ("q_proj", "v_proj")) == lora_q_v


def test_deepseek_7b_counts_are_the_known_ones() -> None:
    shape = shape_from_config(config("deepseek-llm-7b"), "deepseek")
    assert shape.total_params == 6_910_365_696
    assert shape.embedding_params == 2 * 102400 * 4096  # untied lm_head: not quantized


def test_params_only_shape_is_the_nearest_public_config_and_marked_approximate() -> None:
    for text, count, public in (("7B", 7e9, "deepseek-llm-7b"), ("1.5b", 1.5e9, "qwen2.5-1.5b"),
                                ("500M", 5e8, "qwen2.5-0.5b"), ("14B", 14e9, "qwen2.5-14b"),
                                ("13B", 13e9, "llama-2-13b"), ("70B", 70e9, "llama-3.1-70b")):
        shape = shape_from_params(text)
        real = shape_from_config(PUBLIC_CONFIGS[public], public)
        assert (shape.layers, shape.hidden, shape.vocab) == (real.layers, real.hidden, real.vocab)  # a real shape
        assert abs(shape.total_params - count) / count <= PARAMS_TOLERANCE
        assert not shape.exact and public in shape.name


def test_public_configs_count_their_published_sizes() -> None:
    """Parameter counts the model cards state (B): the table's sizes are the real ones."""
    published = {"qwen2.5-7b": 7.62, "llama-3.1-8b": 8.03, "mistral-7b": 7.24, "qwen2.5-14b": 14.77,
                 "llama-3.1-70b": 70.55, "qwen2.5-0.5b": 0.49, "llama-3.2-1b": 1.24}
    for name, billions in published.items():
        assert shape_from_config(PUBLIC_CONFIGS[name], name).total_params / 1e9 == pytest.approx(billions, abs=0.01)


@pytest.mark.parametrize("text", ["20B", "100B", "50M"])
def test_params_far_from_every_public_shape_ask_for_a_config(text: str) -> None:
    with pytest.raises(InputError, match="config.json"):
        shape_from_params(text)


@pytest.mark.parametrize("text", ["7", "seven B", "0B", "-3B"])
def test_bad_params_are_input_errors(text: str) -> None:
    with pytest.raises(InputError, match="--params"):
        shape_from_params(text)


def test_moe_and_incomplete_configs_are_input_errors() -> None:
    with pytest.raises(InputError, match="mixture-of-experts"):
        shape_from_config({**config("deepseek-llm-7b"), "n_routed_experts": 64}, "moe")
    values = config("deepseek-llm-7b")
    del values["intermediate_size"]
    with pytest.raises(InputError, match="intermediate_size"):
        shape_from_config(values, "broken")


def test_targets() -> None:
    assert resolve_targets("all-linear") == LINEAR_NAMES
    assert resolve_targets(["q_proj", "v_proj", "q_proj"]) == ("q_proj", "v_proj")
    with pytest.raises(InputError, match="lm_head"):
        resolve_targets(["lm_head"])

"""A decoder model's shape and parameter counts, from its config.json alone (no weights, no torch).

The counts are exact for dense Llama-family decoders (llama, mistral, qwen2,
qwen3, deepseek-llm, ...): embeddings, per-layer attention and gated MLP
projections, norms and biases, tied or untied lm_head.  When only a name is
known, ``--params 7B`` gives an approximate shape (Llama proportions).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from envdoctor.errors import InputError
from envdoctor.userfiles import bounded_number, expand, load_json
from envdoctor.project.builtin_models import BUILTIN_PREFIX, builtin_config

LINEAR_NAMES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
MAX_DIM = 100_000_000  # no real model has a dimension (or vocabulary, or layer count) this large
MOE_KEYS = ("num_local_experts", "n_routed_experts", "num_experts", "moe_intermediate_size")
_PARAMS_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([bBmM])\s*$")


@dataclass(frozen=True)
class ModelShape:
    """What the memory estimator needs to know about a model.

    ``exact`` is False when the shape was guessed from a parameter count.
    """

    name: str
    vocab: int
    hidden: int
    layers: int
    intermediate: int
    heads: int
    kv_heads: int
    head_dim: int
    tied_embeddings: bool
    attention_bias: bool = False
    qk_norm: bool = False
    exact: bool = True

    def linear_dims(self) -> dict[str, tuple[int, int]]:
        """(in, out) features of each 4-bit projection in one decoder layer."""
        q, kv = self.heads * self.head_dim, self.kv_heads * self.head_dim
        return {"q_proj": (self.hidden, q), "k_proj": (self.hidden, kv), "v_proj": (self.hidden, kv),
                "o_proj": (q, self.hidden), "gate_proj": (self.hidden, self.intermediate),
                "up_proj": (self.hidden, self.intermediate), "down_proj": (self.intermediate, self.hidden)}

    @property
    def quantized_params(self) -> int:
        """Weights of the decoder projections, which load in 4-bit."""
        return self.layers * sum(i * o for i, o in self.linear_dims().values())

    @property
    def embedding_params(self) -> int:
        """Input embeddings plus an untied lm_head: kept in 16-bit (never quantized)."""
        return self.vocab * self.hidden * (1 if self.tied_embeddings else 2)

    @property
    def other_params(self) -> int:
        """Norms, q/k norms and attention biases: small, never quantized."""
        per_layer = 2 * self.hidden
        if self.qk_norm:
            per_layer += 2 * self.head_dim
        if self.attention_bias:
            dims = self.linear_dims()
            per_layer += dims["q_proj"][1] + dims["k_proj"][1] + dims["v_proj"][1]
        return self.layers * per_layer + self.hidden

    @property
    def total_params(self) -> int:
        """Every parameter, counted as a meta-device build of the config counts them."""
        return self.quantized_params + self.embedding_params + self.other_params

    def lora_params(self, r: int, targets: tuple[str, ...]) -> int:
        """Trainable LoRA parameters (A and B) for rank ``r`` on the named projections."""
        dims = self.linear_dims()
        return self.layers * sum(r * (dims[t][0] + dims[t][1]) for t in targets)

    def lora_input_width(self, targets: tuple[str, ...]) -> int:
        """Sum of the input widths of the targeted projections (what LoRA dropout copies per token)."""
        dims = self.linear_dims()
        return sum(dims[t][0] for t in targets)


def resolve_targets(target_modules: tuple[str, ...] | list[str] | str) -> tuple[str, ...]:
    """LoRA target names as projections of :data:`LINEAR_NAMES` ("all-linear" means all seven)."""
    if isinstance(target_modules, str):
        if target_modules == "all-linear":
            return LINEAR_NAMES
        target_modules = [target_modules]
    unknown = [t for t in target_modules if t not in LINEAR_NAMES]
    if unknown:
        raise InputError(f"LoRA target {unknown[0]!r} is not a projection the estimator knows "
                         f"({', '.join(LINEAR_NAMES)} or all-linear)")
    return tuple(dict.fromkeys(target_modules))


def shape_from_config(config: dict[str, Any], name: str) -> ModelShape:
    """The shape of a dense decoder from its config.json dict; InputError for what it cannot model."""
    text = config.get("text_config")
    if isinstance(text, dict):  # multimodal wrappers keep the language model's config inside
        config = {**text, "tie_word_embeddings": config.get("tie_word_embeddings", text.get("tie_word_embeddings"))}
    if any(config.get(key) for key in MOE_KEYS):
        raise InputError(f"{name}: mixture-of-experts configs are not modelled; pass --params with the "
                         f"total parameter count for an approximate estimate")
    def dim(key: str, default: int | None = None) -> int:
        value = (config.get(key) or default) if default is not None else config[key]
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int):
            raise TypeError(f"{key} is {str(value)[:40]!r}")
        return int(bounded_number(value, key, name, low=1, high=MAX_DIM))

    try:
        hidden = dim("hidden_size")
        heads = dim("num_attention_heads")
        model_type = str(config.get("model_type", ""))
        return ModelShape(
            name=name, vocab=dim("vocab_size"), hidden=hidden, layers=dim("num_hidden_layers"),
            intermediate=dim("intermediate_size"), heads=heads,
            kv_heads=dim("num_key_value_heads", heads),
            head_dim=dim("head_dim", max(1, hidden // heads)),
            tied_embeddings=bool(config.get("tie_word_embeddings", False)),
            attention_bias=bool(config.get("attention_bias", model_type == "qwen2")),
            qk_norm=model_type.startswith("qwen3"))
    except KeyError as exc:
        raise InputError(f"{name}: config has no {exc.args[0]!r}; is it a decoder-only model's config.json?")
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name}: a size in the config is not a number ({exc})")


# The shape fields of public models' config.json files on the hub (dense decoders, 0.5B-70B).
PUBLIC_CONFIGS: dict[str, dict[str, Any]] = {
    "qwen2.5-0.5b": {"model_type": "qwen2", "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24,
                     "num_attention_heads": 14, "num_key_value_heads": 2, "vocab_size": 151936,
                     "tie_word_embeddings": True, "rope_theta": 1000000.0, "rms_norm_eps": 1e-6},
    "llama-3.2-1b": {"model_type": "llama", "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16,
                     "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 64, "vocab_size": 128256,
                     "tie_word_embeddings": True, "rope_theta": 500000.0, "rms_norm_eps": 1e-5},
    "tinyllama-1.1b": {"model_type": "llama", "hidden_size": 2048, "intermediate_size": 5632, "num_hidden_layers": 22,
                       "num_attention_heads": 32, "num_key_value_heads": 4, "vocab_size": 32000,
                       "tie_word_embeddings": False, "rms_norm_eps": 1e-5},
    "qwen2.5-1.5b": {"model_type": "qwen2", "hidden_size": 1536, "intermediate_size": 8960, "num_hidden_layers": 28,
                     "num_attention_heads": 12, "num_key_value_heads": 2, "vocab_size": 151936,
                     "tie_word_embeddings": True, "rope_theta": 1000000.0, "rms_norm_eps": 1e-6},
    "qwen2.5-3b": {"model_type": "qwen2", "hidden_size": 2048, "intermediate_size": 11008, "num_hidden_layers": 36,
                   "num_attention_heads": 16, "num_key_value_heads": 2, "vocab_size": 151936,
                   "tie_word_embeddings": True, "rope_theta": 1000000.0, "rms_norm_eps": 1e-6},
    "qwen3-4b": {"model_type": "qwen3", "hidden_size": 2560, "intermediate_size": 9728, "num_hidden_layers": 36,
                 "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 151936,
                 "tie_word_embeddings": True, "rope_theta": 1000000.0, "rms_norm_eps": 1e-6},
    "yi-6b": {"model_type": "llama", "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
              "num_attention_heads": 32, "num_key_value_heads": 4, "vocab_size": 64000,
              "tie_word_embeddings": False, "rope_theta": 5000000.0, "rms_norm_eps": 1e-5},
    "deepseek-llm-7b": {"model_type": "llama", "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 30,
                        "num_attention_heads": 32, "num_key_value_heads": 32, "vocab_size": 102400,
                        "tie_word_embeddings": False, "rms_norm_eps": 1e-6},
    "mistral-7b": {"model_type": "mistral", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
                   "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 32000,
                   "tie_word_embeddings": False, "rope_theta": 10000.0, "rms_norm_eps": 1e-5, "sliding_window": None},
    "qwen2.5-7b": {"model_type": "qwen2", "hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28,
                   "num_attention_heads": 28, "num_key_value_heads": 4, "vocab_size": 152064,
                   "tie_word_embeddings": False, "rope_theta": 1000000.0, "rms_norm_eps": 1e-6},
    "llama-3.1-8b": {"model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
                     "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256,
                     "tie_word_embeddings": False, "rope_theta": 500000.0, "rms_norm_eps": 1e-5},
    "qwen3-8b": {"model_type": "qwen3", "hidden_size": 4096, "intermediate_size": 12288, "num_hidden_layers": 36,
                 "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 151936,
                 "tie_word_embeddings": False, "rope_theta": 1000000.0, "rms_norm_eps": 1e-6},
    "llama-2-13b": {"model_type": "llama", "hidden_size": 5120, "intermediate_size": 13824, "num_hidden_layers": 40,
                    "num_attention_heads": 40, "num_key_value_heads": 40, "vocab_size": 32000,
                    "tie_word_embeddings": False, "rms_norm_eps": 1e-5},
    "qwen2.5-14b": {"model_type": "qwen2", "hidden_size": 5120, "intermediate_size": 13824, "num_hidden_layers": 48,
                    "num_attention_heads": 40, "num_key_value_heads": 8, "vocab_size": 152064,
                    "tie_word_embeddings": False, "rope_theta": 1000000.0, "rms_norm_eps": 1e-6},
    "qwen2.5-32b": {"model_type": "qwen2", "hidden_size": 5120, "intermediate_size": 27648, "num_hidden_layers": 64,
                    "num_attention_heads": 40, "num_key_value_heads": 8, "vocab_size": 152064,
                    "tie_word_embeddings": False, "rope_theta": 1000000.0, "rms_norm_eps": 1e-6},
    "llama-3.1-70b": {"model_type": "llama", "hidden_size": 8192, "intermediate_size": 28672, "num_hidden_layers": 80,
                      "num_attention_heads": 64, "num_key_value_heads": 8, "vocab_size": 128256,
                      "tie_word_embeddings": False, "rope_theta": 500000.0, "rms_norm_eps": 1e-5},
}
# --params picks the public shape nearest in parameter count, if one is this close.
PARAMS_TOLERANCE = 0.15


def shape_from_params(count: str) -> ModelShape:
    """The public model shape (:data:`PUBLIC_CONFIGS`) nearest to a count like ``7B`` or ``500M``, marked approximate.

    InputError when none is within :data:`PARAMS_TOLERANCE`: then only the model's config.json can tell.
    """
    m = _PARAMS_RE.match(count)
    if not m:
        raise InputError(f"--params {count!r}: expected a count like 7B, 1.5B or 500M")
    total = float(m.group(1)) * (1e9 if m.group(2) in "bB" else 1e6)
    if total <= 0:
        raise InputError(f"--params {count!r}: must be positive")
    shapes = [shape_from_config(config, name) for name, config in PUBLIC_CONFIGS.items()]
    best = min(shapes, key=lambda s: abs(s.total_params - total))
    if abs(best.total_params - total) / total > PARAMS_TOLERANCE:
        raise InputError(f"--params {count!r}: no public model shape within {PARAMS_TOLERANCE:.0%} of that size "
                         f"(nearest: {best.name}, {best.total_params / 1e9:.2f}B); pass --model with the model's "
                         "config.json")
    return replace(best, name=f"~{count} (shape of {best.name}, {best.total_params / 1e9:.2f}B)", exact=False)


def read_config_file(path: Path) -> dict[str, Any]:
    """config.json at ``path`` (a file or a model folder), as a dict."""
    file = path / "config.json" if path.is_dir() else path
    data = load_json(file, "json", "pass a model folder with config.json, a config.json, a builtin: name, "
                                   "or --params")
    if not isinstance(data, dict):
        raise InputError(f"{file}: expected a JSON object")
    return data


def load_shape(model: str, base: Path | None = None) -> ModelShape:
    """The shape of ``model``: a ``builtin:`` name, a config.json, or a local model folder.

    A hub id that is not on disk cannot be read offline: InputError asking for --params.
    """
    if model.startswith(BUILTIN_PREFIX):
        return shape_from_config(builtin_config(model), model)
    path = expand(Path(model))
    if not path.is_absolute() and base is not None:
        path = base / path
    if not path.exists():
        raise InputError(f"{model}: not a local folder or config.json (hub models are not downloaded); "
                         f"pass --params with its size, e.g. --params 7B")
    return shape_from_config(read_config_file(path), model)

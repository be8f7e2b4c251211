"""Load the base model in 4-bit NF4 (double quantisation) and attach LoRA, without fp32 upcasts.

``builtin:<name>`` models are random-init Llamas built from a bundled config JSON
(``model_<name>.json``) and a seed; they are written once as a bf16/fp32 checkpoint so
that every stage and every process loads the same weights through the ordinary
``from_pretrained(..., quantization_config=...)`` path.  Heavy imports stay inside functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envdoctor.errors import InputError
from envdoctor.project.builtin_models import BUILTIN_PREFIX, builtin_config

SPECIAL_TOKENS = ("<pad>", "<s>", "</s>")  # ids 0, 1, 2 in the builtin byte-level tokenizer


def byte_tokenizer() -> Any:
    """A byte-level BPE tokenizer with no merges: UTF-8 bytes plus <pad>, <s>, </s> (ids 0-2).

    Needs no download and covers any text (Chinese characters are three tokens each).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS)}
    vocab.update({char: len(SPECIAL_TOKENS) + i for i, char in enumerate(sorted(alphabet))})
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    core.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", bos_token="<s>", eos_token="</s>")


def materialise_builtin(name: str, folder: Path, seed: int) -> Path:
    """Write the random-init ``builtin:<name>`` model (fp32) and its tokenizer to ``folder`` once."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    marker = folder / "config.json"
    if marker.exists():
        return folder
    partial = folder.with_name(folder.name + ".partial")
    config = LlamaConfig(**{k: v for k, v in builtin_config(name).items() if k not in ("architectures", "model_type")})
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    model.save_pretrained(partial, safe_serialization=True)
    byte_tokenizer().save_pretrained(partial)
    partial.replace(folder)
    return folder


@dataclass(frozen=True)
class Precision:
    """The compute dtype chosen for a run and why."""

    name: str  # bf16 | fp16 | fp32
    reason: str

    @property
    def torch_dtype(self) -> Any:
        import torch

        return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[self.name]


def choose_precision(requested: str, device: str) -> Precision:
    """``auto``: bf16 where the GPU supports it, fp16 on older GPUs (T4), fp32 on CPU."""
    import torch

    if requested != "auto":
        if requested == "bf16" and device == "cuda" and not torch.cuda.is_bf16_supported():
            raise InputError("train.precision: bf16 is not supported by this GPU; use fp16 or auto")
        return Precision(requested, "requested in the config")
    if device == "cuda":
        if torch.cuda.is_bf16_supported():
            return Precision("bf16", "auto: the GPU supports bf16")
        return Precision("fp16", "auto: the GPU has no bf16 (e.g. T4)")
    return Precision("fp32", "auto: CPU")


def resolve_model_path(name_or_path: str, cache_dir: Path, seed: int) -> str:
    """A local folder or hub id to load; builtin models are materialised under ``cache_dir``."""
    if name_or_path.startswith(BUILTIN_PREFIX):
        name = name_or_path[len(BUILTIN_PREFIX):]
        builtin_config(name)
        return str(materialise_builtin(name, cache_dir / f"{name}-seed{seed}", seed))
    return name_or_path


def load_tokenizer(path: str, revision: str | None, trust_remote_code: bool) -> Any:
    """The model's tokenizer, with a pad token (EOS where the model has none)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path, revision=revision, trust_remote_code=trust_remote_code)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_quantized(path: str, precision: Precision, device: str, attn_implementation: str,
                   revision: str | None = None, trust_remote_code: bool = False) -> Any:
    """The base model with every decoder Linear in 4-bit NF4 + double quantisation.

    Embeddings, norms and lm_head stay in the compute dtype: nothing is upcast to fp32
    (``prepare_model_for_kbit_training`` would add ~3 GiB at a 102k vocabulary); the base is frozen.
    """
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    quantization = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                      bnb_4bit_use_double_quant=True,
                                      bnb_4bit_compute_dtype=precision.torch_dtype,
                                      bnb_4bit_quant_storage=torch.uint8)
    device_map = {"": torch.cuda.current_device()} if device == "cuda" else {"": "cpu"}
    model = AutoModelForCausalLM.from_pretrained(
        path, quantization_config=quantization, dtype=precision.torch_dtype, device_map=device_map,
        attn_implementation=attn_implementation, revision=revision, trust_remote_code=trust_remote_code)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    model.config.use_cache = False
    return model


def attach_lora(model: Any, r: int, alpha: int, dropout: float, target_modules: Any,
                gradient_checkpointing: bool) -> Any:
    """Wrap ``model`` with fresh LoRA adapters; checkpointing is non-reentrant (no input-grad hooks).

    The model is returned in training mode: transformers only checkpoints (and LoRA only
    applies dropout) in training mode, and ``from_pretrained`` returns eval mode.
    Under bf16 the adapter weights are kept in bf16 too (as TRL does for QLoRA): no fp32↔bf16
    casts around every adapted Linear.  Under fp16 they stay fp32, as the gradient scaler needs.
    """
    import torch
    from peft import LoraConfig, get_peft_model

    if gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    targets = target_modules if isinstance(target_modules, str) else list(target_modules)
    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=targets,
                        bias="none", task_type="CAUSAL_LM")
    peft_model = get_peft_model(model, config)
    if getattr(model.config, "dtype", None) == torch.bfloat16 or model.dtype == torch.bfloat16:
        for parameter in peft_model.parameters():
            if parameter.requires_grad:
                parameter.data = parameter.data.to(torch.bfloat16)
    return peft_model.train()

"""Load the base model in 4-bit NF4 (double quantisation) and attach LoRA, without fp32 upcasts.

``builtin:<name>`` models are random-init Llamas built from a bundled config JSON
(``model_<name>.json``) and a seed; they are written once as a bf16/fp32 checkpoint so
that every stage and every process loads the same weights through the ordinary
``from_pretrained(..., quantization_config=...)`` path.  Heavy imports stay inside functions.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
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
                gradient_checkpointing: bool, checkpoint_layers: int | None = None) -> Any:
    """Wrap ``model`` with fresh LoRA adapters; checkpointing is non-reentrant (no input-grad hooks).

    ``checkpoint_layers`` (with checkpointing on) limits it to the first that many decoder layers.

    The model is returned in training mode: transformers only checkpoints (and LoRA only
    applies dropout) in training mode, and ``from_pretrained`` returns eval mode.
    Under bf16 the adapter weights are kept in bf16 too (as TRL does for QLoRA): no fp32↔bf16
    casts around every adapted Linear.  Under fp16 they stay fp32, as the gradient scaler needs.
    """
    import torch
    from peft import LoraConfig, get_peft_model

    if gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        if checkpoint_layers is not None:  # only the first ``checkpoint_layers`` decoder layers recompute
            for layer in decoder_layers(model)[checkpoint_layers:]:
                layer.gradient_checkpointing = False
    targets = target_modules if isinstance(target_modules, str) else list(target_modules)
    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=targets,
                        bias="none", task_type="CAUSAL_LM")
    peft_model = get_peft_model(model, config)
    if getattr(model.config, "dtype", None) == torch.bfloat16 or model.dtype == torch.bfloat16:
        for parameter in peft_model.parameters():
            if parameter.requires_grad:
                parameter.data = parameter.data.to(torch.bfloat16)
    return peft_model.train()


def decoder_layers(model: Any) -> list[Any]:
    """The decoder layers transformers can checkpoint, in order."""
    from transformers.modeling_layers import GradientCheckpointingLayer

    return [m for m in model.modules() if isinstance(m, GradientCheckpointingLayer)]


def apply_kernels(model: Any, kernels: str, device: str) -> str:
    """Swap in Liger's fused RMSNorm, RoPE and SwiGLU for ``kernels: liger`` on CUDA; returns what runs.

    The loss stays the pipeline's chunked loss (Liger's fused linear cross-entropy is not used).
    """
    if kernels != "liger" or device != "cuda":
        return "torch"
    try:
        from liger_kernel.transformers import _apply_liger_kernel_to_instance  # type: ignore[import-not-found]
    except ImportError:
        raise InputError("train.kernels: liger needs the liger-kernel package; "
                         "`pip install 'envdoctor[fast]'` or set train.kernels: torch") from None
    _apply_liger_kernel_to_instance(model=model, rope=True, rms_norm=True, swiglu=True, cross_entropy=False,
                                    fused_linear_cross_entropy=False)
    return "liger"


def memory_plan(model: Any, config: Any, precision: Precision, device: str) -> Any:
    """``train.gradient_checkpointing: auto`` resolved against this GPU (a CheckpointChoice), or None.

    The budget is the free GPU memory now (this process's context included, as the estimate counts it).
    """
    from envdoctor.memory.estimate import OUTSIDE_TORCH_MIB
    from envdoctor.memory.headroom import CheckpointChoice, choose_checkpointing, plan_from_config
    from envdoctor.memory.shapes import shape_from_config

    if config.train.gradient_checkpointing != "auto":
        return None
    shape = shape_from_config(model.config.to_dict(), config.model.name_or_path)
    if device != "cuda":
        return CheckpointChoice(shape.layers, shape.layers, 0.0, 0.0, "auto: checkpointing on (CPU: host memory is "
                                                                       "not estimated)")
    import torch

    free, total = torch.cuda.mem_get_info()
    used_by_weights = torch.cuda.memory_reserved()
    budget = min(total, free + used_by_weights + OUTSIDE_TORCH_MIB * 2**20) / 2**20
    plan = replace(plan_from_config(config), precision=precision.name)
    return choose_checkpointing(shape, plan, budget)

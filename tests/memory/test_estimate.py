"""Behaviour of the estimator, the GPU table, host RAM and the fitting proposals (pure arithmetic)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from tests.helpers.memory import config

from envdoctor.env.snapshot import GPU
from envdoctor.errors import InputError
from envdoctor.memory.estimate import TrainingPlan, estimate, fitting_options, host_ram
from envdoctor.memory.gpus import find_gpu, supports_bf16
from envdoctor.memory.headroom import Budget, budget_for, judge, precision_for
from envdoctor.memory.shapes import shape_from_config, shape_from_params

SHAPE = shape_from_config(config("deepseek-llm-7b"), "deepseek-llm-7b")
SEED = TrainingPlan(batch_size=4, max_length=512, lora_r=8, style="seed", precision="fp16")


def peak(**changes: object) -> float:
    return estimate(SHAPE, replace(SEED, **changes)).peak_mib  # type: ignore[arg-type]


def test_peak_grows_with_batch_length_rank_and_targets() -> None:
    assert peak(batch_size=2) < peak() < peak(batch_size=8)
    assert peak(max_length=256) < peak() < peak(max_length=1024)
    assert peak(lora_r=8, targets=("q_proj", "v_proj")) < peak(lora_r=64, targets=("q_proj", "v_proj"))
    assert peak(lora_r=64) < peak(lora_r=64, targets=("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                       "up_proj", "down_proj"))


def test_levers_lower_the_peak() -> None:
    assert peak(gradient_checkpointing=True) < peak(gradient_checkpointing=False)
    assert peak(style="pipeline") < peak(style="seed")
    assert peak(lora_r=64, optimizer="adamw_8bit") < peak(lora_r=64, optimizer="adamw_torch")
    assert peak(attn="sdpa", gradient_checkpointing=False) < peak(attn="eager", gradient_checkpointing=False)
    assert peak(attn="flash_attention_2") == peak(attn="sdpa")


def test_eager_attention_grows_with_the_square_of_the_length() -> None:
    no_ckpt = {"gradient_checkpointing": False, "batch_size": 1}
    extra = [peak(attn="eager", max_length=s, **no_ckpt) - peak(attn="sdpa", max_length=s, **no_ckpt)
             for s in (512, 1024)]
    assert extra[1] / extra[0] == pytest.approx(4.0, rel=0.15)


def test_breakdown_names_every_component_and_sums_to_the_peak() -> None:
    result = estimate(SHAPE, SEED)
    names = [c.name for c in result.components]
    assert names[:4] == ["4-bit weights", "unquantized weights", "LoRA weights + grads", "optimizer (adamw_torch)"]
    assert "CUDA context + workspaces" in names and "allocator slack" in names
    assert result.peak_mib == pytest.approx(sum(c.mib for c in result.components))
    unquantized = next(c for c in result.components if c.name == "unquantized weights")
    assert unquantized.mib == pytest.approx(SHAPE.embedding_params * 4 / 2**20, rel=0.01)  # fp32 after the upcast
    assert result.weights_only_mib == pytest.approx(SHAPE.total_params * 0.5 / 2**20)


def test_gpu_table_lookup() -> None:
    assert find_gpu("T4").memory_mib == 15360 and not find_gpu("Tesla T4").supports_bf16
    assert find_gpu("NVIDIA GeForce RTX 2080 Ti 22GB").key == "2080ti-22"
    assert find_gpu("2080ti").memory_mib == 11264
    assert find_gpu("A100-80").memory_mib == 81920 and find_gpu("a100").key == "a100-40"
    assert find_gpu("RTX 3090").supports_bf16
    with pytest.raises(InputError, match="unknown GPU"):
        find_gpu("Voodoo 2")


@pytest.mark.parametrize(("capability", "bf16"), [("7.5", False), ("7.0", False), ("8.0", True), ("8.9", True),
                                                   (None, False)])
def test_bf16_boundary(capability: str | None, bf16: bool) -> None:
    assert supports_bf16(capability) is bf16


def test_auto_precision_is_fp16_on_a_t4_and_bf16_on_ampere() -> None:
    assert precision_for("auto", "7.5") == "fp16" and precision_for("auto", "8.0") == "bf16"
    assert precision_for("fp32", "8.0") == "fp32"


def test_live_budget_is_the_least_free_gpu_among_those_used() -> None:
    gpus = (GPU(0, "NVIDIA A10G", "8.6", 23028, 20000), GPU(1, "NVIDIA A10G", "8.6", 23028, 9000))
    assert budget_for(None, gpus, processes=1).free_mib == 20000  # type: ignore[union-attr]
    assert budget_for(None, gpus, processes=2).free_mib == 9000  # type: ignore[union-attr]
    assert budget_for(None, ()) is None
    assert budget_for("T4", gpus).free_mib == 15360  # type: ignore[union-attr]


def test_verdict_boundaries() -> None:
    need = estimate(SHAPE, SEED).peak_mib
    t4 = find_gpu("T4")
    assert not judge(SHAPE, SEED, Budget(t4, need - 1, live=False)).fits
    inside = judge(SHAPE, SEED, Budget(t4, need + 1, live=False))
    assert inside.fits and inside.tight
    roomy = judge(SHAPE, SEED, Budget(t4, need / 0.89, live=False))
    assert roomy.fits and not roomy.tight and roomy.options == ()


def test_every_proposal_fits_and_batch_keeps_the_effective_batch() -> None:
    plan = replace(SEED, batch_size=16, max_length=1024)
    budget = 15360 * 0.9
    options = fitting_options(SHAPE, plan, budget)
    assert options
    for option in options:
        assert option.peak_mib <= budget
        assert estimate(SHAPE, option.plan).peak_mib == pytest.approx(option.peak_mib)
        assert plan.batch_size % option.plan.batch_size == 0


def test_proposal_is_the_largest_batch_that_fits() -> None:
    plan = replace(SEED, batch_size=16, style="pipeline", precision="bf16")
    budget = estimate(SHAPE, replace(plan, batch_size=8)).peak_mib + 1
    batch = [o for o in fitting_options(SHAPE, plan, budget) if o.title.startswith("batch_size")]
    assert [o.plan.batch_size for o in batch] == [8]


def test_host_ram_seed_case_zero3_ranks_vs_single_process() -> None:
    chatts = shape_from_params("14B")  # the seed's ChatTS-14B on a 46 GB machine
    two_ranks = host_ram(chatts, TrainingPlan(processes=2, strategy="deepspeed-zero3"))
    single = host_ram(chatts, TrainingPlan(processes=1, strategy="none"))
    assert two_ranks.peak_mib > 46 * 1024 > 20 * 1024 > single.peak_mib
    assert host_ram(chatts, TrainingPlan(processes=2, strategy="ddp", weights_format="bin")).peak_mib > \
        host_ram(chatts, TrainingPlan(processes=2, strategy="ddp")).peak_mib

"""ED242 unknown-config-key: the keys LLaMA-Factory and accelerate configs accept, read from the
target's installed releases (real ``*.dist-info`` folders), where a key went read from the
release history on a loopback index."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from envdoctor.engine import core as engine
from envdoctor.env.snapshot import Snapshot
from envdoctor.findings import Applicability, Finding
from envdoctor.project.facts import ProjectRequest, collect
from envdoctor.rules.base import Context
from tests.helpers.core import dist, kb, snap
from tests.helpers.index import IndexServer, isolated_pip_env
from tests.helpers.surface import Dist, Index, install


def transformers(version: str) -> Dist:
    """``evaluation_strategy`` is a field before 2.0 (deprecated for ``eval_strategy``), gone from 2.0."""
    old = version < "2.0"
    args = textwrap.dedent(f"""
        import warnings
        from dataclasses import dataclass, field

        @dataclass
        class TrainingArguments:
            output_dir: str = None
            eval_strategy: str = "no"
            {'evaluation_strategy: str = None' if old else ''}
            _n_gpu: int = field(init=False, default=0)

            def __post_init__(self):
                {'''if self.evaluation_strategy is not None:
                    warnings.warn("`evaluation_strategy` is deprecated and will be removed in version 2.0 of transformers. Use `eval_strategy` instead", FutureWarning)''' if old else 'pass'}
    """)
    return Dist("transformers", version, {
        "transformers/__init__.py": "from .training_args_seq2seq import Seq2SeqTrainingArguments\n",
        "transformers/training_args.py": args,
        "transformers/training_args_seq2seq.py": textwrap.dedent("""
            from dataclasses import dataclass
            from .training_args import TrainingArguments

            @dataclass
            class Seq2SeqTrainingArguments(TrainingArguments):
                predict_with_generate: bool = False
        """),
    })


LLAMAFACTORY = Dist("llamafactory", "1.0", {
    "llamafactory/__init__.py": "",
    "llamafactory/hparams/__init__.py": "from .parser import get_train_args\n",
    "llamafactory/hparams/model_args.py": textwrap.dedent("""
        from dataclasses import dataclass, field

        @dataclass
        class QuantizationArguments:
            quantization_bit: int = None

        @dataclass
        class ModelArguments(QuantizationArguments):
            model_name_or_path: str = None
            compute_dtype: str = field(default=None, init=False)
    """),
    "llamafactory/hparams/data_args.py": textwrap.dedent("""
        from dataclasses import dataclass

        @dataclass
        class DataArguments:
            template: str = None
            dataset: str = None
    """),
    "llamafactory/hparams/finetuning_args.py": textwrap.dedent("""
        from dataclasses import dataclass

        @dataclass
        class FinetuningArguments:
            stage: str = "sft"
            finetuning_type: str = "lora"
            lora_rank: int = 8
    """),
    "llamafactory/hparams/training_args.py": textwrap.dedent("""
        import os
        from dataclasses import dataclass
        from transformers import Seq2SeqTrainingArguments

        if os.environ.get("USE_MCA"):
            BaseTrainingArguments = object
        else:
            BaseTrainingArguments = Seq2SeqTrainingArguments

        @dataclass
        class TrainingArguments(BaseTrainingArguments):
            overwrite_output_dir: bool = False
    """),
    "llamafactory/hparams/parser.py": textwrap.dedent("""
        from .data_args import DataArguments
        from .finetuning_args import FinetuningArguments
        from .model_args import ModelArguments
        from .training_args import TrainingArguments

        _TRAIN_ARGS = [
            ModelArguments,
            DataArguments,
            TrainingArguments,
            FinetuningArguments,
        ]

        def get_train_args(args=None): ...
    """),
}, requires=("transformers",))

ACCELERATE = Dist("accelerate", "1.0", {
    "accelerate/__init__.py": "",
    "accelerate/commands/__init__.py": "",
    "accelerate/commands/config/__init__.py": "",
    "accelerate/commands/config/config_args.py": textwrap.dedent("""
        import os
        from dataclasses import dataclass

        @dataclass
        class BaseConfig:
            compute_environment: str
            distributed_type: str
            mixed_precision: str = None

            @classmethod
            def process_config(cls, config_dict):
                if "fp16" in config_dict:
                    del config_dict["fp16"]
                if "dynamo_backend" in config_dict:
                    config_dict.pop("dynamo_backend")
                os.environ.pop("ACCELERATE_NOT_A_KEY", None)
                return config_dict

        @dataclass
        class ClusterConfig(BaseConfig):
            num_processes: int = -1
            machine_rank: int = 0
    """),
})

TRAIN_YAML = textwrap.dedent("""\
    model_name_or_path: ./model
    stage: sft
    finetuning_type: lora
    lora_rnak: 8
    quantization_bit: 4
    dataset: alpaca
    template: qwen
    output_dir: saves/out
    evaluation_strategy: steps   # a YAML written for an older transformers
    predict_with_generate: true
    overwrite_output_dir: true
""")
ACCELERATE_YAML = textwrap.dedent("""\
    compute_environment: LOCAL_MACHINE
    distributed_type: MULTI_GPU
    fp16: true
    dynamo_backend: "NO"
    num_procs: 2
""")


@pytest.fixture()
def index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> IndexServer:
    layout = Index(tmp_path / "index")
    for version in ("1.0", "1.5", "2.0", "2.1"):
        layout.add(transformers(version))
    layout.add(LLAMAFACTORY)
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        yield server


def target(site: Path, transformers_version: str = "2.0", with_transformers: bool = True) -> Snapshot:
    dists = [dist("llamafactory", "1.0", ("transformers",), location=str(install(site, LLAMAFACTORY))),
             dist("accelerate", "1.0", location=str(install(site, ACCELERATE)))]
    if with_transformers:
        info = install(site, transformers(transformers_version))
        dists.append(dist("transformers", transformers_version, location=str(info)))
    return snap(*dists)


def findings(snapshot: Snapshot, project_root: Path) -> dict[str, Finding]:
    (project_root / "train.yaml").write_text(TRAIN_YAML, encoding="utf-8")
    (project_root / "accelerate.yaml").write_text(ACCELERATE_YAML, encoding="utf-8")
    project = collect(ProjectRequest(project_path=project_root), snapshot)
    ctx = Context(snapshot=snapshot, kb=kb(), project=project)
    return {f.message.split("`")[1]: f for f in engine.run(ctx, [kb().rules["ED242"]])}


def test_keys_come_from_the_loaders_classes_and_their_bases(index: IndexServer, tmp_path: Path) -> None:
    (tmp_path / "proj").mkdir()
    found = findings(target(tmp_path / "site"), tmp_path / "proj")
    # fields along the bases (quantization_bit), into transformers (output_dir, predict_with_generate),
    # through `BaseTrainingArguments = Seq2SeqTrainingArguments`, and the loader's legacy keys (fp16)
    assert set(found) == {"lora_rnak", "evaluation_strategy", "num_procs"}
    typo = found["lora_rnak"]
    assert "proj/train.yaml:4: `lora_rnak` is not an argument llamafactory 1.0 takes" in typo.message
    assert "with transformers 2.0" in typo.message
    assert "Some keys are not used by the HfArgumentParser: ['lora_rnak', 'evaluation_strategy']" in typo.message
    assert typo.fixes[0].title.startswith("did you mean lora_rank:?")
    assert typo.fixes[0].applicability is Applicability.UNSAFE
    assert typo.fixes[0].edits[0].new == "lora_rank: 8"
    renamed = found["evaluation_strategy"]
    assert "removed in 2.0" in renamed.message and "its successor is `eval_strategy`" in renamed.message
    assert renamed.fixes[0].applicability is Applicability.SAFE  # the library's own message names it
    assert renamed.fixes[0].edits[0].new == "eval_strategy: steps   # a YAML written for an older transformers"
    acc = found["num_procs"]
    assert "had unknown keys (['num_procs'])" in acc.message
    assert acc.fixes[0].edits[0].new == "num_processes: 2"


def test_the_other_side_of_the_boundary_takes_the_key(index: IndexServer, tmp_path: Path) -> None:
    (tmp_path / "proj").mkdir()
    found = findings(target(tmp_path / "site", transformers_version="1.5"), tmp_path / "proj")
    assert set(found) == {"lora_rnak", "num_procs"}


def test_nothing_is_claimed_when_a_base_cannot_be_read(index: IndexServer, tmp_path: Path) -> None:
    (tmp_path / "proj").mkdir()
    found = findings(target(tmp_path / "site", with_transformers=False), tmp_path / "proj")
    assert set(found) == {"num_procs"}  # LLaMA-Factory's TrainingArguments extends a class the target lacks

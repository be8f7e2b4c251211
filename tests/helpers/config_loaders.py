"""Releases of the config loaders' packages for the ED242/ED614 tests: a transformers whose
``evaluation_strategy`` field is deprecated for ``eval_strategy`` before 2.0 and gone from 2.0, a
LLaMA-Factory laid out as the real one (``_TRAIN_ARGS`` in ``hparams/parser.py``, a
``TrainingArguments`` that extends transformers' through an alias), and an accelerate
``ClusterConfig`` whose loader pops legacy keys."""

from __future__ import annotations

import textwrap

from tests.helpers.surface import Dist


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

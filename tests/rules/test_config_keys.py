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
from tests.helpers.config_loaders import ACCELERATE, LLAMAFACTORY, transformers
from tests.helpers.surface import Index, install


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

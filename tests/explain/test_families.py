"""The error families (envdoctor.explain.families), each on both sides of its boundary."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

import pytest

from envdoctor.engine.check import CheckRequest
from envdoctor.env.cuda_arch import ArchList, capability
from envdoctor.env.snapshot import GPU, Distribution, Hardware, Snapshot, save
from envdoctor.explain.demangle import namespace, qualified_name
from envdoctor.explain.families.attribute import named_bases
from envdoctor.explain.families.missing_library import same_minor
from envdoctor.explain.families.version_gate import parse_gate
from envdoctor.explain.frames import blame, parse_frames, site_module
from envdoctor.surface.bisect import find_boundary
from envdoctor.surface.providers import definers as providers_definers
from envdoctor.surface.providers import providers
from envdoctor.surface.query import Query
from tests.helpers.config_loaders import transformers
from envdoctor.explain.command import explain_log
from tests.helpers.explain import explain_text, freeze, make_venv
from tests.helpers.index import IndexServer, isolated_pip_env
from tests.helpers.surface import Dist, Index, install

SITE = "/usr/local/lib/python3.11/site-packages"


def _only(result, code: str):  # type: ignore[no-untyped-def]
    found = [f for f in result.findings if f.code == code]
    assert len(found) == 1, [(f.code, f.message) for f in result.findings]
    return found[0]


def explain_online(log: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
                   code: str):
    """The one ``code`` finding of explaining ``log`` (text only) online, against ``tmp_path/index``."""
    (tmp_path / "run.log").write_text(log, encoding="utf-8")
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        return _only(explain_log(tmp_path / "run.log", None, None, None, offline=False), code)


def _pins(finding) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {name: spec for fix in finding.fixes for name, spec in fix.pins.items()}


def _snapshot(tmp_path: Path, pins: dict[str, str], gpu: tuple[str, str] | None = None) -> CheckRequest:
    gpus = (GPU(0, gpu[0], gpu[1], 16000, 16000),) if gpu else ()
    snap = Snapshot(source="snapshot", python_version="3.11",
                    distributions={n: Distribution(n, v, metadata_known=False) for n, v in pins.items()},
                    hardware=Hardware(gpus=gpus))
    save(snap, tmp_path / "snap.json")
    return CheckRequest(env_file=tmp_path / "snap.json", offline=True, include_project=False, quiet=True)


# --- traceback frames -------------------------------------------------------------------------

def test_frames_in_cpython_ipython_and_colab_forms_name_raiser_and_caller() -> None:
    lines = [f'  File "{SITE}/trl/trainer/sft_trainer.py", line 12, in <module>',
             "    from peft import PeftConfig",
             f'  File "{SITE}/peft/__init__.py", line 22, in <module>',
             "    from .auto import AutoPeftModel",
             f"[{SITE}/peft/peft_model.py](https://localhost:8080/#) in <module>",
             "---> 38 from transformers import Cache, EncoderDecoderCache"]
    frames = parse_frames(lines)
    assert [f.module for f in frames] == ["trl.trainer.sft_trainer", "peft", "peft.peft_model"]
    assert frames[-1].code == "from transformers import Cache, EncoderDecoderCache"
    who = blame(frames, lambda top: top)
    assert (who.raiser, who.caller) == ("peft", "trl")
    assert site_module("/home/me/train.py") is None


def test_an_ipython_frame_keeps_the_line_it_ran_not_its_numbered_context() -> None:
    lines = [f"{SITE}/transformers/utils/notebook.py in on_train_begin(self, args, state, control, **kwargs)",
             "    293 ", "    294     def on_train_begin(self, args, state, control, **kwargs):",
             '--> 295         self.first_column = "Epoch" if args.eval_strategy == IntervalStrategy.EPOCH else "Step"',
             "    296         self.training_loss = 0"]
    assert [f.code for f in parse_frames(lines)] == [
        'self.first_column = "Epoch" if args.eval_strategy == IntervalStrategy.EPOCH else "Step"']
    cpython = [f'  File "{SITE}/x/m.py", line 3, in f', "    42"]  # CPython's source line is whatever it is
    assert [f.code for f in parse_frames(cpython)] == ["42"]


def test_demangled_names_say_whose_library_a_symbol_is() -> None:
    assert qualified_name("_ZN3c104cuda9SetDeviceEi") == "c10::cuda::SetDevice"
    assert qualified_name("_ZNK3c1010TensorImpl4sizeEl") == "c10::TensorImpl::size"
    assert namespace("_ZN2at4_ops15to_dtype_layout4callERKNS_6TensorE") == "at"
    assert namespace("cudaGetDevice") is None


# --- runtime version gates --------------------------------------------------------------------

@pytest.mark.parametrize(("line", "name", "spec", "found"), [
    ("ImportError: tokenizers>=0.13.3 is required for a normal functioning of this module, but found "
     "tokenizers==0.13.2.", "tokenizers", ">=0.13.3", "0.13.2"),
    ("Using the `Trainer` with `PyTorch` requires `accelerate>=0.26.0`: Please run `pip install "
     "transformers[torch]`", "accelerate", ">=0.26.0", None),
    ("ValueError: Flash Attention 2 requires torch version 2.1.0 or higher", "torch", ">=2.1.0", None),
    ("Please upgrade torch to 2.1 or later", "torch", ">=2.1", None),
    ("ImportError: Numba needs NumPy 2.1 or less. Got NumPy 2.2.", "numpy", "<=2.1", "2.2"),
    ("Unsloth: Your transformers version of 4.57.6 does not support Qwen3.5. The minimum required version "
     "is 5.2.0.", "transformers", ">=5.2.0", "4.57.6"),
    ("Using `bitsandbytes` 4-bit quantization requires the latest version of bitsandbytes", "bitsandbytes", "",
     None),
    ("ValueError: `org/model-0.8B` is not supported yet in `transformers==4.57.6`.", "transformers", "", "4.57.6"),
    ("RuntimeError: Dataset scripts are no longer supported for datasets>=4.0", "datasets", "<4.0", None),
    ("FutureWarning: this flag no longer works since accelerate 1.0", "accelerate", "<1.0", None),
])
def test_gates_in_any_wording(line: str, name: str, spec: str, found: str | None) -> None:
    gate = parse_gate(line)
    assert gate is not None and (gate.name, gate.specifier, gate.found) == (name, spec, found)


def test_a_line_without_a_requirement_is_no_gate() -> None:
    assert parse_gate("RuntimeError: FlashAttention only supports Ampere GPUs or newer.") is None
    assert parse_gate("requires a different Python: 3.11.8 not in '<3.10,>=3.8'") is None
    assert parse_gate("DeprecationWarning: the imp module is no longer supported since Python 3.12") is None


@pytest.mark.parametrize(("numpy", "confidence"), [("2.2.0", "high"), ("2.0.2", "low")])
def test_gate_against_the_target(tmp_path: Path, numpy: str, confidence: str) -> None:
    finding = _only(explain_text("ImportError: Numba needs NumPy 2.1 or less. Got NumPy 2.2.\n", tmp_path,
                                 freeze(tmp_path, {"numpy": numpy})), "ED613")
    assert finding.confidence == confidence
    assert set(finding.packages) == {"numpy", "numba"}
    if confidence == "high":
        assert _pins(finding) == {"numpy": "<=2.1"}


@pytest.mark.parametrize(("installed", "confidence"), [("4.57.6", "high"), ("5.2.0", "low")])
def test_a_refused_release_is_upgraded_past_and_a_newer_target_makes_the_log_stale(
        tmp_path: Path, installed: str, confidence: str) -> None:
    log = ("ValueError: `org/model-0.8B` is not supported yet in `transformers==4.57.6`.\n"
           "Please update transformers via `pip install --upgrade transformers` and try again.\n")
    text = _only(explain_text(log, tmp_path), "ED613")
    assert "refuses transformers 4.57.6" in text.message and _pins(text) == {"transformers": ">4.57.6"}
    env = _only(explain_text(log, tmp_path, freeze(tmp_path, {"transformers": installed}), name="b.log"), "ED613")
    assert env.confidence == confidence


# --- no kernel image: both directions ---------------------------------------------------------

OLD_GPU = ("CUDA error: no kernel image is available for execution on the device\n"
           "Found GPU0 NVIDIA GeForce GTX 1060 6GB which is of compute capability (CC) 6.1. "
           "Your installed torch==2.14.0+cu130 does not include kernels for this GPU.\n")
NEW_GPU = ("NVIDIA GeForce RTX 5090 with CUDA capability sm_120 is not compatible with the current PyTorch "
           "installation.\nThe current PyTorch install supports CUDA capabilities sm_50 sm_60 sm_70 sm_75 sm_80 "
           "sm_86 sm_90.\nRuntimeError: CUDA error: no kernel image is available for execution on the device\n")


def test_capabilities_and_arch_lists() -> None:
    arches = ArchList.parse("sm_75 sm_80 sm_86 sm_90 sm_100 sm_120 compute_120")
    assert arches.direction(capability("6.1")) == "too-old"  # type: ignore[arg-type]
    assert arches.direction(capability("8.9")) is None  # type: ignore[arg-type]  # sm_86 cubins run on 8.9
    assert ArchList.parse("sm_50 sm_90").direction(capability("sm_120")) == "too-new"  # type: ignore[arg-type]
    assert arches.runs_on(capability("12.1"))  # type: ignore[arg-type]  # PTX


def test_an_old_gpu_gets_an_older_cuda_build_not_a_newer_torch(tmp_path: Path) -> None:
    finding = _only(explain_text(OLD_GPU, tmp_path), "ED142")
    assert "older than every architecture" in finding.message
    assert _pins(finding) == {"torch": "==2.14.0+cu126"}


def test_a_new_gpu_gets_a_newer_torch(tmp_path: Path) -> None:
    finding = _only(explain_text(NEW_GPU, tmp_path), "ED142")
    assert "newer than every architecture" in finding.message
    assert _pins(finding) == {"torch": ">=2.7"}


@pytest.mark.parametrize(("torch", "pins"), [
    ("2.7.1+cu126", {"torch": "==2.7.1+cu128"}),  # the release has a build with sm_120: that build
    ("2.7.1", {"torch": "==2.7.1+cu128"}),  # no tag (a freeze, or implied by vllm's pin): the same
    ("2.6.0+cu124", {"torch": ">=2.7"}),  # no build of 2.6 has it: the first release with one
])
def test_a_new_gpu_gets_the_release_built_for_a_newer_cuda_when_it_has_one(tmp_path: Path, torch: str,
                                                                          pins: dict[str, str]) -> None:
    finding = _only(explain_text(NEW_GPU, tmp_path, _snapshot(tmp_path, {"torch": torch})), "ED142")
    assert "newer than every architecture" in finding.message
    assert _pins(finding) == pins
    assert "--index-url" in finding.fixes[0].commands[0]


def test_an_older_torch_for_a_cuda_build_that_dropped_the_gpu(tmp_path: Path) -> None:
    log = "torch.AcceleratorError: CUDA error: no kernel image is available for execution on the device\n"
    finding = _only(explain_text(log, tmp_path, _snapshot(tmp_path, {"torch": "2.10.0+cu128"},
                                                           ("Tesla P100-PCIE-16GB", "6.0"))), "ED142")
    assert [fix.pins for fix in finding.fixes] == [{"torch": "==2.10.0+cu126"}, {"torch": "<2.8"}]
    assert "--index-url" in finding.fixes[0].commands[0]


def test_a_build_that_has_the_gpu_rules_the_cause_out(tmp_path: Path) -> None:
    log = "RuntimeError: CUDA error: no kernel image is available for execution on the device\n"
    finding = _only(explain_text(log, tmp_path, _snapshot(tmp_path, {"torch": "2.7.0+cu126"},
                                                           ("Tesla P100-PCIE-16GB", "6.0"))), "ED142")
    assert finding.confidence == "low"


# --- symbols: attribute, import name, call arguments ------------------------------------------

def test_a_removal_the_message_states_is_the_boundary(tmp_path: Path) -> None:
    log = ("  File \"/opt/venv/lib/python3.11/site-packages/mistat/data.py\", line 3, in <module>\n"
           "    x = np.NaN\n"
           "AttributeError: `np.NaN` was removed in the NumPy 2.0 release. Use `np.nan` instead.\n")
    finding = _only(explain_text(log, tmp_path), "ED610")
    assert _pins(finding) == {"numpy": "<2.0"}
    assert set(finding.packages) == {"numpy", "mistat"}
    assert "np.nan" in finding.message


def test_the_importer_is_the_frame_that_ran_the_import(tmp_path: Path) -> None:
    log = (f'  File "{SITE}/peft/peft_model.py", line 37, in <module>\n'
           "    from transformers import Cache, DynamicCache, EncoderDecoderCache, PreTrainedModel\n"
           f"ImportError: cannot import name 'EncoderDecoderCache' from 'transformers' ({SITE}/transformers/"
           "__init__.py)\n")
    finding = _only(explain_text(log, tmp_path, freeze(tmp_path, {"peft": "0.14.0", "transformers": "4.42.4"})),
                    "ED130")  # the curated rule stays on top of the family
    assert "peft" in finding.message
    other = "ImportError: cannot import name 'soft_unicode' from 'markupsafe'\n"
    finding = _only(explain_text(other, tmp_path), "ED601")
    assert "markupsafe" in finding.packages and "boundary unknown" in finding.message


def test_the_caller_of_a_renamed_keyword_is_named(tmp_path: Path) -> None:
    log = (f'  File "{SITE}/llamafactory/train/sft/workflow.py", line 80, in run_sft\n'
           "    trainer = CustomSeq2SeqTrainer(\n"
           "TypeError: Seq2SeqTrainer.__init__() got an unexpected keyword argument 'tokenizer'\n")
    finding = _only(explain_text(log, tmp_path), "ED611")
    assert "llamafactory" in finding.packages and "`tokenizer`" in finding.message


def test_stale_module_in_a_notebook_means_restart(tmp_path: Path) -> None:
    python = make_venv(tmp_path / "venv", {"bitsandbytes": ("0.45.1", [], ["bitsandbytes/__init__.py",
                                                                           "bitsandbytes/functional.py"])})
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "bitsandbytes", "functional.py").write_text("def has_avx512bf16():\n    return False\n")
    notebook = {"cells": [{"cell_type": "code", "source": ["import bitsandbytes.functional as F"], "outputs": [
        {"output_type": "error", "ename": "ImportError",
         "evalue": "cannot import name 'has_avx512bf16' from 'bitsandbytes.functional'",
         "traceback": ["\x1b[0;31mImportError\x1b[0m: cannot import name 'has_avx512bf16' from "
                       "'bitsandbytes.functional'"]}]}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    request = CheckRequest(python=str(python), include_project=False, quiet=True, offline=True)
    finding = _only(explain_text(json.dumps(notebook), tmp_path, request, name="colab.ipynb"), "ED601")
    assert finding.confidence == "high" and "stale module" in finding.message
    assert "restart the kernel" in finding.fixes[0].title
    assert len(finding.quotes) == 1  # the traceback is read once


# --- weights_only, Requires-Python -----------------------------------------------------------

@pytest.mark.parametrize(("torch", "confidence"), [("2.6.0", "high"), ("2.5.1", "low")])
def test_weights_only_default_flip(tmp_path: Path, torch: str, confidence: str) -> None:
    log = (f'  File "{SITE}/transformers/trainer.py", line 2910, in _load_rng_state\n'
           "    checkpoint_rng_state = torch.load(rng_file)\n"
           f'  File "{SITE}/torch/serialization.py", line 1470, in load\n'
           "    raise pickle.UnpicklingError(_get_wo_message(str(e))) from None\n"
           "_pickle.UnpicklingError: Weights only load failed. WeightsUnpickler error: Unsupported global: GLOBAL "
           "numpy.core.multiarray._reconstruct\n")
    finding = _only(explain_text(log, tmp_path, freeze(tmp_path, {"torch": torch})), "ED612")
    assert finding.confidence == confidence
    if confidence == "high":
        assert set(finding.packages) == {"torch", "transformers"}
        assert _pins(finding) == {"torch": "<2.6"}


def test_releases_pip_skipped_bound_the_answer(tmp_path: Path) -> None:
    log = ("ERROR: Ignored the following versions that require a different python version: 8.2.0 Requires-Python "
           ">=3.10; 8.2.1 Requires-Python >=3.10\n"
           "ERROR: Could not find a version that satisfies the requirement click==8.2.1 (from versions: 8.1.7, 8.1.8)\n"
           "ERROR: No matching distribution found for click==8.2.1\n")
    finding = _only(explain_text(log, tmp_path), "ED609")
    assert _pins(finding) == {"click": "==8.1.8"}


# --- notebooks ---------------------------------------------------------------------------------

def test_envdoctor_own_report_in_a_cell_is_not_evidence(tmp_path: Path) -> None:
    report = ("envdoctor check · live · Python 3.12.11 · 40 packages\n"
              "✗ ED101 bitsandbytes 0.44.1 imports triton.ops, which triton 3.2.0 no longer has\n"
              "    > No module named 'triton.ops'\n"
              "    fix (safe): upgrade bitsandbytes\n"
              "1 error(s), 0 warning(s), 0 note(s); read a rule with `envdoctor rules CODE`\n")
    notebook = {"cells": [{"cell_type": "code", "source": ["!envdoctor check"], "outputs": [
        {"output_type": "stream", "name": "stdout", "text": report}]}], "metadata": {}, "nbformat": 4,
        "nbformat_minor": 5}
    assert explain_text(json.dumps(notebook), tmp_path, name="nb.ipynb").findings == []


def test_a_missing_notebook_is_a_one_line_error(tmp_path: Path) -> None:
    from tests.helpers.explain import run_cli

    proc = run_cli("/content/drive/MyDrive/train.ipynb", "--no-env")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "no such notebook" in proc.stderr and "mount Drive" in proc.stderr


def test_the_gpu_less_form_runs_through_the_known_broken_import_path(tmp_path: Path) -> None:
    log = (f'  File "{SITE}/bitsandbytes/nn/triton_based_modules.py", line 8, in <module>\n'
           "    from bitsandbytes.triton.dequantize_rowwise import dequantize_rowwise\n"
           f'  File "{SITE}/bitsandbytes/triton/dequantize_rowwise.py", line 36, in <module>\n'
           "    @triton.autotune(\n"
           f'  File "{SITE}/triton/runtime/driver.py", line 8, in _create_driver\n'
           "    raise RuntimeError(f\"{len(actives)} active drivers ({actives}). There should only be one.\")\n"
           "RuntimeError: 0 active drivers ([]). There should only be one.\n")
    finding = _only(explain_text(log, tmp_path, freeze(tmp_path, {"bitsandbytes": "0.44.1", "triton": "3.2.0"})),
                    "ED101")
    assert finding.confidence == "high" and _pins(finding) == {"bitsandbytes": ">=0.45.1"}


def test_the_file_a_decode_error_read_is_named_and_detected(tmp_path: Path) -> None:
    data = tmp_path / "train.jsonl"
    data.write_bytes('{"text": "中文训练数据，用于微调模型"}\n'.encode("gbk") * 20)
    log = (f'  File "{tmp_path}/prep.py", line 3, in <module>\n'
           f'    rows = open("{data}", encoding="utf-8").readlines()\n'
           "UnicodeDecodeError: 'utf-8' codec can't decode byte 0xd6 in position 10: invalid continuation byte\n")
    finding = _only(explain_text(log, tmp_path, freeze(tmp_path, {})), "ED203")
    assert str(data) in finding.message and "gb" in finding.message.lower()


def test_rejected_config_keys_are_looked_up_in_the_release_history(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    layout = Index(tmp_path / "index")
    for version in ("1.0", "1.5", "2.0", "2.1"):
        layout.add(transformers(version))
    query = Query("transformers", "Seq2SeqTrainingArguments", kwarg="evaluation_strategy")
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        assert find_boundary("transformers", query) is not None  # online once; explain below is offline
        for key in ("lora_rnak", "output_dir"):
            find_boundary("transformers", Query("transformers", "Seq2SeqTrainingArguments", kwarg=key))
    log = (f'  File "{SITE}/transformers/hf_argparser.py", line 386, in parse_dict\n'
           "ValueError: Some keys are not used by the HfArgumentParser: ['evaluation_strategy', 'lora_rnak']\n")
    finding = _only(explain_text(log, tmp_path), "ED614")
    assert "`evaluation_strategy`: `transformers.Seq2SeqTrainingArguments(evaluation_strategy=...)`" in finding.message
    assert "removed in 2.0" in finding.message and "`lora_rnak` is in no release checked" in finding.message
    assert finding.fixes[0].title.startswith("rename `evaluation_strategy` to `eval_strategy`")
    assert _pins(finding) == {"transformers": "<2.0"}
    # training keys handed to a command that does not parse training arguments (chat, eval)
    chat = _only(explain_text("ValueError: Some keys are not used by the HfArgumentParser: ['output_dir']\n",
                              tmp_path), "ED614")
    assert "`output_dir` is a Seq2SeqTrainingArguments field" in chat.message
    assert chat.fixes[0].title.startswith("run this config with `llamafactory-cli train`")


def test_a_missing_module_names_the_distributions_the_index_says_ship_it(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    layout = Index(tmp_path / "index")
    layout.add(Dist("jwt", "1.3.1", {"jwt/__init__.py": ""}))
    layout.add(Dist("pyjwt", "2.9.0", {"jwt/__init__.py": ""}))
    layout.add(Dist("python-magic", "0.4.27", {"magic/__init__.py": ""}))
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        providers("jwt"), providers("magic")  # online once; explain below is offline
    magic = _only(explain_text("ModuleNotFoundError: No module named 'magic'\n", tmp_path), "ED601")
    assert magic.packages == ("python-magic",) and _pins(magic) == {"python-magic": ""}
    jwt = _only(explain_text("ModuleNotFoundError: No module named 'jwt'\n", tmp_path), "ED601")
    assert "jwt and pyjwt ship a `jwt` package on the index" in jwt.message
    assert [list(f.pins) for f in jwt.fixes] == [["jwt"], ["pyjwt"]]


def test_the_importer_gets_the_first_release_that_no_longer_imports_the_name(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    layout = Index(tmp_path / "index")
    layout.add(Dist("prov", "2.0", {"prov/__init__.py": "def kept(): ...\n"}))
    for version, source in (("1.0", "from prov import gone\n"), ("1.1", "from prov import gone\n"),
                            ("1.2", "from prov import kept\n"), ("1.3", "from prov import kept\n")):
        layout.add(Dist("userpkg", version, {"userpkg/__init__.py": "", "userpkg/mod.py": source},
                        requires=("prov",)))
    log = (f'  File "{SITE}/userpkg/mod.py", line 1, in <module>\n'
           "    from prov import gone\n"
           "ImportError: cannot import name 'gone' from 'prov' (/x/site-packages/prov/__init__.py)\n")
    (tmp_path / "run.log").write_text(log, encoding="utf-8")
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        target = dataclasses.replace(freeze(tmp_path, {"userpkg": "1.0", "prov": "2.0"}), offline=False)
        result = explain_log(tmp_path / "run.log", None, target, None, offline=False)
    finding = _only(result, "ED601")
    assert finding.fixes[0].pins == {"userpkg": "==1.2"}  # >=1.2, the nearest release that fits the target
    assert "the first release whose userpkg/mod.py no longer imports `prov.gone`" in finding.fixes[0].title


@pytest.mark.parametrize("guarded", [False, True])
def test_an_importer_the_log_does_not_show_is_found_among_the_freezes_releases(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, guarded: bool) -> None:
    layout = Index(tmp_path / "index")
    layout.add(Dist("prov", "2.0", {"prov/__init__.py": "def kept(): ...\n"}))
    layout.add(Dist("bystander", "3.0", {"bystander/__init__.py": "from prov import kept\n"}, requires=("prov",)))
    old = "try:\n    from prov import gone\nexcept ImportError:\n    gone = None\n" if guarded else "from prov import gone\n"
    for version, source in (("1.0", old), ("1.1", "from prov import kept\n")):
        layout.add(Dist("userpkg", version, {"userpkg/__init__.py": "", "userpkg/mod.py": source}))  # undeclared
    log = "ImportError: cannot import name 'gone' from 'prov' (/x/site-packages/prov/__init__.py)\n"
    (tmp_path / "run.log").write_text(log, encoding="utf-8")
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        target = dataclasses.replace(freeze(tmp_path, {"userpkg": "1.0", "bystander": "3.0", "prov": "2.0"}),
                                     offline=False)
        finding = _only(explain_log(tmp_path / "run.log", None, target, None, offline=False), "ED601")
    if guarded:  # a guarded import does not fail: no importer is named
        assert "userpkg" not in finding.packages and "imported by" not in finding.message
        return
    assert finding.packages[0] == "userpkg" and "imported by userpkg 1.0" in finding.message
    assert finding.fixes[0].pins == {"userpkg": "==1.1"}
    assert "userpkg/mod.py no longer imports `prov.gone`" in finding.fixes[0].title


def test_an_importer_neither_the_log_nor_the_target_shows_is_looked_for_among_widely_used_libraries(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout = Index(tmp_path / "index")
    layout.add(Dist("prov", "1.0", {"prov/__init__.py": "def gone(): ...\ndef kept(): ...\n"}))
    layout.add(Dist("prov", "2.0", {"prov/__init__.py": "def kept(): ...\n"}))
    # peft, a library of the knowledge base's table: 1.0 and 1.1 import the name prov 2.0 removed
    for version, source in (("1.0", "from prov import gone\n"), ("1.1", "from prov import gone\n"),
                            ("1.2", "from prov import kept\n"), ("1.3", "from prov import kept\n")):
        layout.add(Dist("peft", version, {"peft/__init__.py": source}, requires=("prov",)))
    # trl's old release imports it too, but its newest does not require prov: not read
    layout.add(Dist("trl", "1.0", {"trl/__init__.py": "from prov import gone\n"}, requires=("prov",)))
    layout.add(Dist("trl", "1.1", {"trl/__init__.py": ""}))
    # accelerate requires prov and never imported the name
    layout.add(Dist("accelerate", "1.0", {"accelerate/__init__.py": "from prov import kept\n"}, requires=("prov",)))
    (tmp_path / "run.log").write_text("ImportError: cannot import name 'gone' from 'prov' "
                                      "(/x/site-packages/prov/__init__.py)\n", encoding="utf-8")
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        finding = _only(explain_log(tmp_path / "run.log", None, None, None, offline=False), "ED601")
        offline = _only(explain_log(tmp_path / "run.log", None, None, None, offline=True), "ED601")
    assert finding.packages == ("prov", "peft")
    assert "peft releases before 1.2 import it (the log does not show the importer)" in finding.message
    assert finding.fixes[0].pins == {"peft": ">=1.2"} and "upgrade peft to 1.2+" in finding.fixes[0].title
    assert {"prov": "<2.0"} in [dict(f.pins) for f in finding.fixes]  # the provider's side stays
    assert "peft" not in offline.packages  # offline nothing is read


def test_a_numpy1_build_loaded_under_numpy2_is_named_from_its_traceback_and_its_binaries(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    so = "ext/_core.cpython-311-x86_64-linux-gnu.so"
    layout = Index(tmp_path / "index")
    for version, mark in (("1.0", "numpy.core._multiarray_umath"), ("1.1", "numpy.core._multiarray_umath"),
                          ("2.0", "numpy._core._multiarray_umath numpy.core._multiarray_umath"),
                          ("2.1", "numpy._core._multiarray_umath numpy.core._multiarray_umath")):
        layout.add(Dist("ext", version, {"ext/__init__.py": "", so: f"\x7fELF {mark}"},
                        tag="cp311-cp311-manylinux_2_17_x86_64"))
    (tmp_path / "run.log").write_text(
        "A module that was compiled using NumPy 1.x cannot be run in\n"
        "NumPy 2.0.0 as it may crash. To support both 1.x and 2.x\n\n"
        "Traceback (most recent call last):\n"
        '  File "/home/u/train.py", line 3, in <module>\n    import ext\n'
        f'  File "{SITE}/ext/__init__.py", line 2, in <module>\n    from . import _core\n', encoding="utf-8")
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        result = explain_log(tmp_path / "run.log", None, None, None, offline=False)
    assert [f.code for f in result.findings] == ["ED113"]  # its traceback is not a failed import of its own
    (finding,) = result.findings
    assert finding.packages == ("ext", "numpy")
    assert "ext was built against NumPy 1, and the process ran NumPy 2.0.0" in finding.message
    assert [dict(f.pins) for f in finding.fixes] == [{"ext": ">=2.0"}, {"numpy": "<2"}]


def test_too_many_positional_arguments_name_the_definer_and_its_first_release_that_takes_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout = Index(tmp_path / "index")
    for version, params in (("1.0", "a, b"), ("1.1", "a, b"), ("1.2", "a, b, c"), ("1.3", "a, b, c=None")):
        layout.add(Dist("peft", version, {"peft/__init__.py": "", "peft/utils.py": f"def _helper({params}):\n    pass\n"
                                          f"class Box:\n    def put(self, {params}):\n        pass\n"}))
    layout.add(Dist("trl", "1.0", {"trl/__init__.py": "def other():\n    pass\n"}))

    def explain(line: str):  # type: ignore[no-untyped-def]
        (tmp_path / "run.log").write_text(f"TypeError: {line}\n", encoding="utf-8")
        return _only(explain_log(tmp_path / "run.log", None, None, None, offline=False), "ED611")

    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        function = explain("_helper() takes 2 positional arguments but 3 were given")
        method = explain("Box.put() takes 3 positional arguments but 4 were given")  # self counts
        generic = explain("forward() takes 2 positional arguments but 3 were given")
    assert function.packages[0] == "peft" and [dict(f.pins) for f in function.fixes] == [{"peft": ">=1.2"}]
    assert "peft 1.2 is its first release whose `_helper` takes 3" in function.message
    assert [dict(f.pins) for f in method.fixes] == [{"peft": ">=1.2"}]
    assert not any(f.pins for f in generic.fixes) and "does not say whose method" in generic.message


def test_a_traceback_cut_above_the_importing_file_still_gets_the_importers_fix(tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    layout = Index(tmp_path / "index")
    layout.add(Dist("prov", "2.0", {"prov/__init__.py": "def kept(): ...\n"}))
    for version, source in (("1.0", "from prov import gone\n"), ("1.1", "from prov import gone\n"),
                            ("1.2", "from prov import kept\n"), ("1.3", "from prov import kept\n")):
        layout.add(Dist("userpkg", version, {"userpkg/__init__.py": "from .deep.agent import run\n",
                                             "userpkg/deep/__init__.py": "", "userpkg/deep/agent.py": source},
                        requires=("prov",)))
    # the last frame of userpkg is its __init__, which never imported the name itself
    log = (f'  File "{SITE}/userpkg/__init__.py", line 1, in <module>\n'
           "ImportError: cannot import name 'gone' from 'prov' (/x/site-packages/prov/__init__.py)\n")
    (tmp_path / "run.log").write_text(log, encoding="utf-8")
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        result = explain_log(tmp_path / "run.log", None, None, None, offline=False)
    finding = _only(result, "ED601")
    fix = next(f for f in finding.fixes if "userpkg" in f.pins)
    assert fix.pins == {"userpkg": ">=1.2"}
    assert "the first release none of whose files imports `prov.gone`" in fix.title


def test_code_that_came_with_the_attribute_reading_it_off_another_packages_object_pins_the_reader(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout = Index(tmp_path / "index")
    for version, field, reads in (("4.39.0", "evaluation_strategy", "args.evaluation_strategy"),
                                  ("4.40.2", "evaluation_strategy", "args.evaluation_strategy"),
                                  ("4.41.0", "eval_strategy", "args.eval_strategy"),
                                  ("4.42.0", "eval_strategy", "args.eval_strategy")):
        layout.add(Dist("transformers", version, {
            "transformers/__init__.py": "from .training_args import TrainingArguments\n",
            "transformers/training_args.py": f"class TrainingArguments:\n    def __init__(self):\n"
                                             f"        self.{field} = 'no'\n",
            "transformers/utils/__init__.py": "",
            "transformers/utils/notebook.py": f"def on_train_begin(args):\n    first = 'Epoch' if {reads} else 1\n"}))
    log = (f"{SITE}/transformers/utils/notebook.py in on_train_begin(args)\n"
           "      1 def on_train_begin(args):\n"
           "----> 2     first = 'Epoch' if args.eval_strategy else 1\n\n"
           "AttributeError: 'TrainingArguments' object has no attribute 'eval_strategy'\n")
    finding = explain_online(log, tmp_path, monkeypatch, "ED610")
    # transformers' own TrainingArguments has it wherever notebook.py reads it: the object is another's
    assert "the object is another package's `TrainingArguments`" in finding.message, finding.message
    assert finding.fixes[0].pins == {"transformers": "<4.41.0"}
    assert "the last release before is 4.40.2" in finding.fixes[0].title


def test_a_class_named_without_its_module_is_found_among_the_targets_distributions(tmp_path: Path) -> None:
    site = tmp_path / "site"
    info = install(site, Dist("peft", "0.9.0", {"peft/__init__.py": "from .config import LoraConfig\n",
                                                "peft/config.py": "class LoraConfig:\n    r = 8\n"}))
    other = install(site, Dist("tqdm", "4.66.0", {"tqdm/__init__.py": "class tqdm: ...\n"}))
    snap = Snapshot(source="snapshot", python_version="3.11", distributions={
        "peft": Distribution("peft", "0.9.0", location=str(info)),
        "tqdm": Distribution("tqdm", "4.66.0", location=str(other))})
    save(snap, tmp_path / "snap.json")
    request = CheckRequest(env_file=tmp_path / "snap.json", offline=True, include_project=False, quiet=True)
    finding = _only(explain_text("AttributeError: 'LoraConfig' object has no attribute 'use_dora'\n", tmp_path,
                                 request), "ED610")
    assert "peft" in finding.packages  # no traceback, no module in the message: peft's own source says
    assert "peft release than 0.9.0" in finding.message


@pytest.mark.parametrize(("cls", "bases"), [
    ("HybridMambaAttentionDynamicCache", ["MambaAttentionDynamicCache", "AttentionDynamicCache", "DynamicCache",
                                          "Cache"]),
    ("Qwen2TokenizerFast", ["TokenizerFast", "Fast"]),
    ("Cache", []),
])
def test_the_trailing_parts_of_a_class_name_longest_first(cls: str, bases: list[str]) -> None:
    assert named_bases(cls) == bases


@pytest.mark.parametrize("had", [True, False])
def test_a_remote_code_class_is_looked_up_as_the_library_class_its_name_ends_with(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, had: bool) -> None:
    layout = Index(tmp_path / "index")
    method = "    def get_max_length(self): ...\n" if had else "    def other(self): ...\n"
    for version, body in (("1.0", method), ("1.1", method), ("2.0", "    def get_seq_length(self): ...\n")):
        layout.add(Dist("cachelib", version, {"cachelib/__init__.py": f"class DynamicCache:\n{body}"}))
    log = "AttributeError: 'HybridMambaAttentionDynamicCache' object has no attribute 'get_max_length'\n"
    (tmp_path / "run.log").write_text(log, encoding="utf-8")
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        target = dataclasses.replace(freeze(tmp_path, {"cachelib": "2.0"}), offline=False)
        finding = _only(explain_log(tmp_path / "run.log", None, target, None, offline=False), "ED610")
    if not had:  # the library's class never had it: its name is no evidence
        assert "cachelib" not in finding.packages and "does not say which package" in finding.message
        return
    assert finding.packages == ("cachelib",) and "ends in cachelib's `DynamicCache`" in finding.message
    assert "removed in 2.0" in finding.message and _pins(finding) == {"cachelib": "==1.1"}


def test_a_keyword_of_a_class_named_without_its_module_is_resolved_from_the_index(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout = Index(tmp_path / "index")
    config = "from dataclasses import dataclass\n\n@dataclass\nclass LoraConfig:\n    r: int = 8\n"
    layout.add(Dist("peft", "0.8.0", {"peft/__init__.py": "from .config import LoraConfig\n", "peft/config.py": config}))
    for version in ("0.9.0", "0.10.0"):
        layout.add(Dist("peft", version, {"peft/__init__.py": "from .config import LoraConfig\n",
                                          "peft/config.py": config + "    use_dora: bool = False\n"}))
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        assert providers_definers("LoraConfig", ["peft"]) == [("peft", "peft")]  # online once
        find_boundary("peft", Query("peft", "LoraConfig", kwarg="use_dora"))
    log = "TypeError: LoraConfig.__init__() got an unexpected keyword argument 'use_dora'\n"
    finding = _only(explain_text(log, tmp_path), "ED611")  # text only, offline: the cache answers
    assert "`peft.LoraConfig(use_dora=...)` is in peft 0.9.0 and later" in finding.message
    assert _pins(finding) == {"peft": ">=0.9.0"}


def test_a_removed_keyword_whose_source_names_its_successor_is_renamed_in_the_users_code(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout = Index(tmp_path / "index")
    bodies = {"0.8.0": "    def __init__(self, r=8, old_name=False): ...\n",
              "0.9.0": "    def __init__(self, r=8, old_name=None, new_name=False):\n        if old_name is not None:\n"
                       "            warnings.warn('`old_name` is deprecated, use `new_name` instead')\n",
              "0.10.0": "    def __init__(self, r=8, new_name=False): ...\n"}
    for version, body in bodies.items():
        layout.add(Dist("peft", version, {"peft/__init__.py": "from .config import LoraConfig\n",
                                          "peft/config.py": f"import warnings\nclass LoraConfig:\n{body}"}))
    log = "TypeError: LoraConfig.__init__() got an unexpected keyword argument 'old_name'\n"
    finding = explain_online(log, tmp_path, monkeypatch, "ED611")
    assert "removed in 0.10.0" in finding.message and _pins(finding) == {"peft": "<0.10.0"}
    assert finding.fixes[-1].title.startswith("in your code, pass `new_name` instead of `old_name`")


def test_a_required_argument_of_a_method_pins_the_release_before_the_callee_required_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`Cls.forward() missing ... 'position_ids'`: the class is found where its module's words match its name,
    the method's named parameter is bisected (``**kwargs`` does not count), the callee is pinned before it."""
    old = "class LlamaRotaryEmbedding:\n    def forward(self, x, seq_len=None, **kwargs): ...\n"
    new = "class LlamaRotaryEmbedding:\n    def forward(self, x, position_ids, **kwargs): ...\n"
    layout = Index(tmp_path / "index")
    for version, source in (("4.36.0", old), ("4.37.2", old), ("4.38.0", new), ("4.39.0", new)):
        layout.add(Dist("transformers", version, {"transformers/__init__.py": "", "transformers/models/__init__.py": "",
                                                  "transformers/models/llama/__init__.py": "",
                                                  "transformers/models/llama/modeling_llama.py": source}))
    module = "transformers.models.llama.modeling_llama"
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        assert providers_definers("LlamaRotaryEmbedding", ["transformers"]) == [("transformers", module)]
        found = find_boundary("transformers", Query(module, "LlamaRotaryEmbedding", "forward", "position_ids", True))
        assert found is not None and found.added_in == "4.38.0"
    log = "TypeError: LlamaRotaryEmbedding.forward() missing 1 required positional argument: 'position_ids'\n"
    finding = _only(explain_text(log, tmp_path), "ED611")  # text only, offline: the cache answers
    assert "transformers" in finding.packages and "added in 4.38.0" in finding.message
    assert _pins(finding) == {"transformers": "==4.37.2"}


def test_an_unknown_model_type_pins_the_release_that_added_its_package(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    layout = Index(tmp_path / "index")
    for version in ("4.40.0", "4.44.2", "4.45.0", "4.46.0"):
        files = {"transformers/__init__.py": "", "transformers/models/__init__.py": "",
                 "transformers/models/llama/__init__.py": ""}
        if version >= "4.45.0":
            files["transformers/models/qwen2_vl/__init__.py"] = ""
        layout.add(Dist("transformers", version, files))
    log = ("ValueError: The checkpoint you are trying to load has model type `qwen2_vl` but Transformers does not "
           "recognize this architecture. This could be because of an issue with the checkpoint.\n")
    (tmp_path / "run.log").write_text(log, encoding="utf-8")
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        text = _only(explain_log(tmp_path / "run.log", None, None, None, offline=False), "ED231")
        older = dataclasses.replace(freeze(tmp_path, {"transformers": "4.44.2"}), offline=False)
        env = _only(explain_log(tmp_path / "run.log", None, older, None, offline=False), "ED231")
        newer = dataclasses.replace(freeze(tmp_path, {"transformers": "4.46.0"}), offline=False)
        stale = _only(explain_log(tmp_path / "run.log", None, newer, None, offline=False), "ED231")
    assert _pins(text) == {"transformers": ">=4.45.0"}
    assert "added `transformers.models.qwen2_vl` in 4.45.0" in text.message
    assert _pins(env) == {"transformers": "==4.45.0"} and "4.44.2 lacks it, confirmed" in env.message
    assert "has the architecture `qwen2_vl`" in stale.message and not _pins(stale)


def test_an_unknown_message_is_pinned_below_the_release_whose_source_started_raising_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout = Index(tmp_path / "index")
    for version in ("3.5.0", "3.6.0", "4.0.0", "4.1.0"):
        body = "def load(name):\n    raise FileNotFoundError('no such dataset here at all')\n"
        if version >= "4.0.0":
            body += ("def script(filename):\n"
                     "    raise RuntimeError(f'Dataset scripts are no longer supported, but found {filename}')\n")
        layout.add(Dist("datasets", version, {"datasets/__init__.py": "", "datasets/load.py": body}))
    log = (f'  File "{SITE}/datasets/load.py", line 4, in script\n'
           "RuntimeError: Dataset scripts are no longer supported, but found code_generation_lite.py\n"
           f'  File "{SITE}/datasets/load.py", line 2, in load\n'
           "FileNotFoundError: no such dataset here at all, sorry\n")
    (tmp_path / "run.log").write_text(log, encoding="utf-8")
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        result = explain_log(tmp_path / "run.log", None, None, None, offline=False)
    finding = _only(result, "ED615")  # the message every release raises gets no finding
    assert finding.packages == ("datasets",) and _pins(finding) == {"datasets": "<4.0.0"}
    assert "from release 4.0.0 on" in finding.message and "3.6.0 does not" in finding.message
    offline = _only(explain_text(log, tmp_path), "ED615")  # --offline: the probes the search cached
    assert _pins(offline) == {"datasets": "<4.0.0"}


def test_a_traceback_cut_at_its_import_line_finds_the_name_the_release_lacks(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    layout = Index(tmp_path / "index")
    for version, names in (("4.30.0", "class PreTrainedModel: ...\n"),
                           ("4.36.0", "class PreTrainedModel: ...\nclass DynamicCache: ...\n"),
                           ("4.43.0", "class PreTrainedModel: ...\nclass DynamicCache: ...\n"
                                      "class EncoderDecoderCache: ...\n")):
        layout.add(Dist("transformers", version, {"transformers/__init__.py": names}))
    log = (f'  File "{SITE}/peft/peft_model.py", line 37, in <module>\n'
           "    from transformers import DynamicCache, EncoderDecoderCache, PreTrainedModel\n")
    (tmp_path / "run.log").write_text(log, encoding="utf-8")
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        text = _only(explain_log(tmp_path / "run.log", None, None, None, offline=False), "ED601")
        target = dataclasses.replace(freeze(tmp_path, {"transformers": "4.36.0", "peft": "0.14.0"}), offline=False)
        env = _only(explain_log(tmp_path / "run.log", None, target, None, offline=False), "ED601")
    for finding in (text, env):  # the name added last is the one an older release lacks
        assert "`transformers` has no `EncoderDecoderCache` (imported by peft" in finding.message
        assert set(finding.packages) == {"peft", "transformers"}
    assert _pins(text) == {"transformers": ">=4.43.0"} and _pins(env) == {"transformers": "==4.43.0"}


def test_a_run_time_check_names_the_checkers_release_that_changed_it(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    layout = Index(tmp_path / "index")
    for version, spec in (("0.9.0", "vllm>=0.4.3,<=0.6.2"), ("0.9.1", "vllm>=0.4.3,<=0.6.2"),
                          ("0.9.2", "vllm>=0.4.3,<=0.7.3"), ("0.9.3", "vllm>=0.4.3,<=0.8.2")):
        body = f'def check_dependencies():\n    check_version("{spec}")\n'
        layout.add(Dist("llamafactory", version, {"llamafactory/__init__.py": "",
                                                  "llamafactory/extras/misc.py": body}))
    log = (f'  File "{SITE}/llamafactory/extras/misc.py", line 2, in check_dependencies\n'
           "ImportError: vllm>=0.4.3,<=0.6.2 is required for a normal functioning of this module, but found "
           "vllm==0.6.3.\nTo fix: run `pip install vllm>=0.4.3,<=0.6.2` or set `DISABLE_VERSION_CHECK=1` to skip "
           "this check.\n")
    finding = explain_online(log, tmp_path, monkeypatch, "ED110")  # one, not two
    assert "LLaMA-Factory checks vllm>=0.4.3,<=0.6.2 at import, but vllm 0.6.3 was installed" in finding.message
    relaxed = next(fix for fix in finding.fixes if "llamafactory" in fix.pins)
    assert relaxed.pins == {"llamafactory": ">=0.9.2"} and "no longer asks for vllm>=0.4.3,<=0.6.2" in relaxed.title
    hint = _only(explain_text("To fix: pip install accelerate>=0.30.1,<=0.33.0\n", tmp_path), "ED110")
    assert _pins(hint)["accelerate"] == "<=0.33.0,>=0.30.1"  # the hint alone is LLaMA-Factory's check


def test_a_check_a_release_introduced_pins_the_checker_below_that_release(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    layout = Index(tmp_path / "index")
    check = ('def check_torch_load_is_safe():\n    if not is_torch_greater_or_equal("2.6"):\n'
             '        raise ValueError(\n'
             '            "Due to a serious vulnerability issue in `torch.load`, even with `weights_only=True`, "\n'
             '            "we now require users to upgrade torch to at least v2.6 in order to use the function."\n'
             '        )\n')
    for version in ("4.50.0", "4.51.3", "4.52.1", "4.53.0"):
        body = "def load(): ...\n" + (check if version >= "4.52" else "")
        layout.add(Dist("transformers", version, {"transformers/__init__.py": "",
                                                  "transformers/utils/import_utils.py": body}))
    log = (f'  File "{SITE}/transformers/trainer.py", line 2803, in _load_rng_state\n'
           f'  File "{SITE}/transformers/utils/import_utils.py", line 3, in check_torch_load_is_safe\n'
           "ValueError: Due to a serious vulnerability issue in `torch.load`, even with `weights_only=True`, we now "
           "require users to upgrade torch to at least v2.6 in order to use the function.\n")
    finding = explain_online(log, tmp_path, monkeypatch, "ED613")
    assert finding.packages == ("torch", "transformers") and "transformers checks torch>=2.6" in finding.message
    assert [fix.pins for fix in finding.fixes] == [{"torch": ">=2.6"}, {"transformers": "<4.52.1"}]
    assert "the last before it is 4.51.3" in finding.fixes[1].title


def test_a_requirement_whose_every_release_needs_another_python_says_which(tmp_path: Path) -> None:
    versions = ", ".join([f"0.{minor}.0" for minor in range(60)] + ["1.0.0", "1.0.1"])  # a list past 300 characters
    log = ("ERROR: Ignored the following versions that require a different python version: 1.7.0 Requires-Python "
           ">=3.9.0; 1.8.0 Requires-Python >=3.9.0; 1.9.0 Requires-Python >=3.9.0\n"
           "ERROR: Could not find a version that satisfies the requirement accelerate>=1.7.0 "
           f"(from versions: {versions})\n"
           "ERROR: No matching distribution found for accelerate>=1.7.0\n")
    finding = _only(explain_text(log, tmp_path), "ED609")
    assert "every accelerate release in >=1.7.0 requires Python >=3.9.0" in finding.message
    assert _pins(finding) == {"accelerate": "==1.0.1"}  # the newest pip listed: pip's list is for its Python
    plain = _only(explain_text(log.replace(">=1.7.0", "==0.59.1"), tmp_path), "ED609")  # in pip's list's range
    assert "requires Python" not in plain.message and _pins(plain) == {"accelerate": "==1.0.1"}



def test_an_extension_whose_declared_torch_range_excludes_the_installed_torch_is_pinned_into_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout = Index(tmp_path / "index")
    layout.add(Dist("vllm", "0.2.2", {"vllm/__init__.py": ""}, requires=("torch>=2.1.0",)))
    for version in ("2.0.1", "2.1.0", "2.1.2"):
        layout.add(Dist("torch", version, {"torch/__init__.py": ""}))
    log = f"{SITE}/vllm/quantization_ops.cpython-39-x86_64-linux-gnu.so: undefined symbol: _ZN3c104cuda9SetDeviceEi\n"
    text = _only(explain_text(log, tmp_path), "ED120")
    assert set(text.packages) == {"vllm", "torch"}  # a c10:: symbol: the other side is torch
    (tmp_path / "run.log").write_text(log, encoding="utf-8")
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        target = dataclasses.replace(freeze(tmp_path, {"vllm": "0.2.2", "torch": "2.0.1"}), offline=False)
        env = _only(explain_log(tmp_path / "run.log", None, target, None, offline=False), "ED120")
    assert "vllm 0.2.2 declares torch>=2.1.0" in env.message and "torch 2.0.1 is installed" in env.message
    assert _pins(env) == {"torch": "==2.1.0"}  # the nearest release in the declared range


def test_an_extension_under_a_pre_release_torch_gets_that_lines_final_release(tmp_path: Path) -> None:
    log = f"{SITE}/torch_scatter/_version_cuda.so: undefined symbol: _ZN5torch3jit17parseSchemaOrNameERKSsb\n"
    pre = _only(explain_text(log, tmp_path, freeze(tmp_path, {"torch-scatter": "2.1.2",
                                                             "torch": "2.4.0a0+07cecf4168.nv24.05"}),
                             name="a.log"), "ED120")
    assert "pre-release build" in pre.message and _pins(pre) == {"torch": "==2.4.0"}
    final = _only(explain_text(log, tmp_path, freeze(tmp_path, {"torch-scatter": "2.1.2", "torch": "2.4.0"}),
                               name="b.log"), "ED120")
    assert "pre-release" not in final.message and "torch" not in _pins(final)  # a final torch: rebuild the extension


EXT_LOG = f"ImportError: {SITE}/ext/_C.cpython-311-x86_64-linux-gnu.so: undefined symbol: _ZN3c104cuda9SetDeviceEi\n"


@pytest.mark.parametrize(("pins", "first", "then"), [
    ({"ext": "1.0", "torch": "2.3.0"}, {"ext": "==1.1"}, {"torch": "==2.2.0"}),  # the extension is older: move it
    ({"ext": "1.1", "torch": "2.2.0"}, {"torch": "==2.3.0"}, {"ext": "==1.0"}),  # torch is older: move torch
    ({"ext": "1.0+cu118"}, {"torch": "==2.2.0"}, None),  # no torch listed: the line the build was made in
])
def test_an_extension_that_names_no_torch_is_dated_by_its_upload_into_a_torch_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pins: dict[str, str], first: dict[str, str],
        then: dict[str, str] | None) -> None:
    layout = Index(tmp_path / "index")
    for version, when in (("2.2.0", "2024-01-30T17:00:00Z"), ("2.3.0", "2024-04-24T17:00:00Z")):
        layout.add(Dist("torch", version, {"torch/__init__.py": ""}, uploaded=when))
    for version, when in (("1.0", "2024-04-08T00:00:00Z"), ("1.1", "2024-04-26T00:00:00Z")):
        layout.add(Dist("ext", version, {"ext/__init__.py": ""}, requires=("torch",), uploaded=when))
    (tmp_path / "run.log").write_text(EXT_LOG, encoding="utf-8")
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        target = dataclasses.replace(freeze(tmp_path, pins), offline=False)
        finding = _only(explain_log(tmp_path / "run.log", None, target, None, offline=False), "ED120")
        same = _only(explain_log(tmp_path / "run.log", None, dataclasses.replace(
            freeze(tmp_path, {"ext": "1.1", "torch": "2.3.0"}), offline=False), None, offline=False), "ED120")
    built_in = "2.2 (2024-01-30 to 2024-04-24)" if pins["ext"].startswith("1.0") else "2.3 (2024-04-24 on)"
    assert f"ext {pins['ext']} was uploaded on 2024-04-" in finding.message and built_in in finding.message
    moves = [fix.pins for fix in finding.fixes if fix.pins]
    assert moves == [first, then] if then else moves == [first]
    assert "uploaded" not in same.message and "reinstall ext" in same.fixes[0].title  # the same line: another cause


def test_a_wrapped_undefined_symbol_line_and_windows_missing_procedure_are_undefined_symbols(tmp_path: Path) -> None:
    wrapped = ("flash_attn_2_cuda.cpython-310-x86_64-linux-gnu.so: undefined\n"
               " symbol: _ZN3c104impl3cow11cow_deleterEPv\n")
    finding = _only(explain_text(wrapped, tmp_path), "ED120")
    assert "c10::impl::cow::cow_deleter(void*)" in finding.message and "flash-attn" in finding.packages
    windows = ("  File \"C:\\py\\Lib\\site-packages\\exllamav2\\ext.py\", line 19, in <module>\n"
               "    import exllamav2_ext\n"
               "ImportError: DLL load failed while importing exllamav2_ext: The specified procedure could not be found.\n")
    dll = _only(explain_text(windows, tmp_path, freeze(tmp_path, {"exllamav2": "0.0.20", "torch": "2.2.1"}),
                             name="b.log"), "ED120")
    assert dll.packages[0] == "exllamav2"  # the top-level module beside the listed distribution
    for line in (" symbol: table 3\n", "DLL load failed while importing foo: Access is denied.\n"):
        assert not [f for f in explain_text(line, tmp_path, name="c.log").findings if f.code == "ED120"]


def test_macos_dyld_wording_is_an_undefined_symbol_with_its_leading_underscore_off(tmp_path: Path) -> None:
    log = (f"ImportError: dlopen({SITE}/torchaudio/lib/libtorchaudio.so, 0x0006): "
           "Symbol not found: __ZN3c1017RegisterOperatorsD1Ev\n")
    finding = _only(explain_text(log, tmp_path), "ED120")
    assert set(finding.packages) == {"torchaudio", "torch"}  # the path names the extension, c10:: names torch
    assert "c10::RegisterOperators::~RegisterOperators()" in finding.message  # demangled once `_` is off
    assert "dlopen(" not in finding.message
    assert not [f for f in explain_text("Symbol not found in the table: 42\n", tmp_path, name="b.log").findings
                if f.code == "ED120"]


def test_a_top_level_module_named_after_a_listed_distribution_is_that_distributions(tmp_path: Path) -> None:
    log = f"ImportError: {SITE}/exllamav2_ext.cpython-310-x86_64-linux-gnu.so: undefined symbol: _ZN3c104cuda9SetDeviceEi\n"
    listed = _only(explain_text(log, tmp_path, freeze(tmp_path, {"exllamav2": "0.0.19", "torch": "2.1.2"}),
                                name="a.log"), "ED120")
    assert listed.packages[0] == "exllamav2"  # its wheel ships exllamav2_ext beside the exllamav2 package
    other = _only(explain_text(log, tmp_path, freeze(tmp_path, {"exllama": "0.1", "torch": "2.1.2"}),
                               name="b.log"), "ED120")
    assert other.packages[0] == "exllamav2-ext"  # no listed name starts the module's: the name stands


NCCL_LOG = f"ImportError: {SITE}/torch/lib/libtorch_cuda.so: undefined symbol: ncclCommRegister\n"


@pytest.mark.parametrize(("pins", "confidence", "said"), [
    ({"torch": "2.2.0", "nvidia-nccl-cu12": "2.18.1"}, "high", "nvidia-nccl-cu12 2.18.1 is installed"),
    ({"torch": "2.2.0"}, "medium", "another release of nvidia-nccl-cu12"),  # implied by torch: the loaded copy is not it
])
def test_a_c_symbol_names_the_library_the_modules_distribution_declares(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pins: dict[str, str], confidence: str, said: str) -> None:
    layout = Index(tmp_path / "index")
    layout.add(Dist("torch", "2.2.0", {"torch/__init__.py": ""},
                    requires=("nvidia-nccl-cu12==2.19.3; platform_system == 'Linux'", "filelock")))
    for version in ("2.18.1", "2.19.3"):
        layout.add(Dist("nvidia-nccl-cu12", version, {"nvidia/nccl/lib/libnccl.so.2": ""}))
    layout.add(Dist("filelock", "3.13.1", {"filelock/__init__.py": ""}))
    (tmp_path / "run.log").write_text(NCCL_LOG, encoding="utf-8")
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        target = dataclasses.replace(freeze(tmp_path, pins), offline=False)
        finding = _only(explain_log(tmp_path / "run.log", None, target, None, offline=False), "ED120")
    assert finding.packages[0] == "nvidia-nccl-cu12" and "torch" in finding.packages
    assert "torch 2.2.0 declares nvidia-nccl-cu12==2.19.3" in finding.message and said in finding.message
    assert finding.confidence == confidence and _pins(finding) == {"nvidia-nccl-cu12": "==2.19.3"}


def test_a_library_required_without_a_version_is_upgraded_past_the_installed_release(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout = Index(tmp_path / "index")
    layout.add(Dist("torch", "2.2.0", {"torch/__init__.py": ""}, requires=("nvidia-cusparse-cu12==12.1.0.106",)))
    layout.add(Dist("nvidia-cusparse-cu12", "12.1.0.106", {"nvidia/cusparse/lib/libcusparse.so.12": ""},
                    requires=("nvidia-nvjitlink-cu12",)))
    for version in ("12.1.105", "12.4.127"):
        layout.add(Dist("nvidia-nvjitlink-cu12", version, {"nvidia/nvjitlink/lib/libnvJitLink.so.12": ""}))
    log = (f"ImportError: {SITE}/nvidia/cusparse/lib/libcusparse.so.12: undefined symbol: __nvJitLinkAddData_12_1, "
           "version libnvJitLink.so.12\n")
    (tmp_path / "run.log").write_text(log, encoding="utf-8")
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        target = dataclasses.replace(freeze(tmp_path, {"torch": "2.2.0", "nvidia-cusparse-cu12": "12.1.0.106",
                                                       "nvidia-nvjitlink-cu12": "12.1.105"}), offline=False)
        finding = _only(explain_log(tmp_path / "run.log", None, target, None, offline=False), "ED120")
    assert finding.packages == ("nvidia-nvjitlink-cu12", "nvidia-cusparse-cu12")
    assert _pins(finding) == {"nvidia-nvjitlink-cu12": "==12.4.127"}  # past 12.1.105, the nearest newer


def test_a_c_symbol_no_declared_requirement_is_named_after_stays_a_torch_build_question(tmp_path: Path) -> None:
    text = _only(explain_text(NCCL_LOG, tmp_path), "ED120")  # no target: torch's own library, no pin guessed
    assert text.packages == ("torch",) and "a library torch loads" in text.message and not _pins(text)
    log = f"ImportError: {SITE}/vllm/_C.so: undefined symbol: ncclCommRegister\n"
    env = _only(explain_text(log, tmp_path, freeze(tmp_path, {"vllm": "0.3.2", "nvidia-nccl-cu12": "2.18.1"}),
                             name="b.log"), "ED120")  # offline: no metadata says vllm needs that wheel
    assert "nvidia-nccl-cu12" not in env.packages


CUDART_LOG = "from vllm import cuda_utils\nImportError: libcudart.so.12: cannot open shared object file: No such file or directory\n"


@pytest.mark.parametrize(("torch", "confidence", "said"), [
    ("2.1.0+cu118", "high", "torch 2.1.0+cu118 is built for CUDA 11.8"),
    ("2.1.0+cu121", "medium", "had another torch build"),
])
def test_a_cuda_library_of_another_major_is_torchs_cuda_build(tmp_path: Path, torch: str, confidence: str,
                                                              said: str) -> None:
    finding = _only(explain_text(CUDART_LOG, tmp_path, freeze(tmp_path, {"vllm": "0.2.2", "torch": torch})), "ED617")
    assert finding.packages == ("vllm", "torch") and "libcudart.so.12" in finding.message
    assert said in finding.message and finding.confidence == confidence
    assert _pins(finding) == {"torch": "==2.1.0"}


def test_a_cuda_library_from_the_text_alone_names_both_sides_and_no_version(tmp_path: Path) -> None:
    finding = _only(explain_text(CUDART_LOG, tmp_path), "ED617")
    assert finding.packages == ("vllm", "torch") and "CUDA 12" in finding.message and not _pins(finding)
    other = _only(explain_text("ImportError: libsndfile.so.1: cannot open shared object file: No such file\n",
                               tmp_path, name="b.log"), "ED617")  # not a CUDA library: no torch build question
    assert "torch" not in other.packages and other.confidence == "low"


@pytest.mark.parametrize(("declared", "kept"), [(">=2.1.0", ">=2.1.0,<2.2"), ("==2.1.2", "==2.1.2"),
                                                 (">=2.1,<3", ">=2.1,<3")])
def test_a_declared_torch_floor_is_kept_to_its_minor(declared: str, kept: str) -> None:
    assert same_minor(declared) == kept


XFORMERS_BUILD = ("WARNING[XFORMERS]: xFormers can't load C++/CUDA extensions. xFormers was built for:\n"
                  "    PyTorch 2.4.1+cu124 with CUDA 1204 (you have 2.5.0+cu124)\n"
                  "    Python  3.11.9 (you have 3.11.9)\n")


def test_an_extensions_report_of_the_torch_it_was_built_for_names_both_sides(tmp_path: Path) -> None:
    text = _only(explain_text(XFORMERS_BUILD, tmp_path), "ED120")
    assert set(text.packages) == {"xformers", "torch"} and "built for torch 2.4.1+cu124" in text.message
    # each side: xformers' release whose (snapshot-recorded) metadata pins torch 2.5.0, or the build's torch
    assert [fix.pins for fix in text.fixes if fix.pins] == [{"xformers": "==0.0.28.post2"}, {"torch": "==2.4.1"}]
    # against a freeze the release snapshot's metadata names the xformers release built for the installed torch
    env = _only(explain_text(XFORMERS_BUILD, tmp_path, freeze(tmp_path, {"xformers": "0.0.28.post1",
                                                                         "torch": "2.5.0"}), name="b.log"), "ED120")
    assert "compiled against torch==2.4.1" in env.message
    assert any(fix.pins == {"xformers": "==0.0.28.post2"} for fix in env.fixes)
    matched = explain_text(XFORMERS_BUILD.replace("(you have 2.5.0+cu124)", "(you have it)"), tmp_path, name="c.log")
    assert not [f for f in matched.findings if f.code == "ED120"]  # no version found: not this report


def test_a_bare_init_names_the_class_the_calling_line_constructs(tmp_path: Path) -> None:
    from envdoctor.explain.extractors import HitGroup, Occurrence
    from envdoctor.explain.families.kwarg import constructed

    def group(*context: str) -> HitGroup:
        error = Occurrence("run.log", len(context) + 1, "TypeError: __init__() got an unexpected keyword argument 'x'")
        return HitGroup(code="ED611", groups={}, matched="", occurrences=[error], context=context)

    trimmed = group("    self.model = AsyncLLMEngine.from_engine_args(AsyncEngineArgs(**engine_args))")
    assert constructed(trimmed) == "AsyncEngineArgs"  # the innermost class the line calls
    assert constructed(group(f'  File "{SITE}/app/run.py", line 3, in main', "    run(Config(**kw))")) == "Config"
    assert constructed(group("    run(**kw)")) is None
    wording = _only(explain_text("TypeError: EngineArgs.__init__() got unexpected keyword 'worker_cls'\n",
                                 tmp_path), "ED611")
    assert "`EngineArgs()` does not take the argument `worker_cls`" in wording.message  # a paraphrase of the message


def test_a_lock_that_does_not_list_the_package_the_log_ran_does_not_rule_the_cause_out(tmp_path: Path) -> None:
    log = ("ImportError: vllm>=0.4.3,<=0.7.3 is required for a normal functioning of this module, but found "
           "vllm==0.8.1.\nTo fix: run `pip install vllm>=0.4.3,<=0.7.3` or set `DISABLE_VERSION_CHECK=1`.\n")
    partial = _only(explain_text(log, tmp_path, freeze(tmp_path, {"vllm": "0.8.1"})), "ED110")
    assert partial.confidence == "medium" and "the file does not list llamafactory" in partial.message
    assert _pins(partial)["vllm"] == "<=0.7.3,>=0.4.3" and "llamafactory" in partial.packages


def test_a_top_level_module_its_distribution_stopped_shipping_gets_the_last_release_with_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout = Index(tmp_path / "index")  # this index's own setuptools drops pkg_resources in 3.0, as 82.0.0 did
    for version in ("1.0", "2.0", "3.0"):
        files = {"setuptools/__init__.py": "", **({"pkg_resources/__init__.py": ""} if version != "3.0" else {})}
        layout.add(Dist("setuptools", version, files))
    log = "ModuleNotFoundError: No module named 'pkg_resources'\n"
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        find_boundary("setuptools", Query("pkg_resources"), index_urls=(server.url,))  # online once
        (tmp_path / "run.log").write_text(log, encoding="utf-8")
        target = dataclasses.replace(freeze(tmp_path, {"wheel": "0.45.1"}), offline=False)
        against = _only(explain_log(tmp_path / "run.log", None, target, None, offline=False), "ED601")
    text = _only(explain_text(log, tmp_path), "ED601")
    assert "`pkg_resources` is in setuptools up to 2.0" in text.message and "removed in 3.0" in text.message
    assert _pins(text) == {"setuptools": "<3.0"}
    # a target without setuptools: installing the newest would not bring it back
    assert "an install without a pin gets a setuptools release without it" in against.message
    assert _pins(against) == {"setuptools": "==2.0"}


def test_an_attribute_an_instance_lost_is_bisected_among_what_the_class_sets_on_self(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout = Index(tmp_path / "index")
    init = "__version__ = '4'\n"  # as in transformers: the attention classes are not exported at the top
    for version, body in (("4.46.0", "self.rotary_emb = None"), ("4.47.1", "self.rotary_emb = None"),
                          ("4.48.0", "self.head_dim = 8"), ("4.49.0", "self.head_dim = 8")):
        layout.add(Dist("transformers", version, {
            "transformers/__init__.py": init, "transformers/models/__init__.py": "",
            "transformers/models/llama/__init__.py": "",
            "transformers/models/llama/modeling_llama.py":
                f"from torch import nn\nclass LlamaAttention(nn.Module):\n    def __init__(self):\n        {body}\n"}))
    log = "AttributeError: 'LlamaAttention' object has no attribute 'rotary_emb'\n"
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        module = "transformers.models.llama.modeling_llama"
        assert providers_definers("LlamaAttention", ["transformers"]) == [("transformers", module)]  # online once
        boundary = find_boundary("transformers", Query(module, "LlamaAttention", attr="rotary_emb", instance=True))
        assert boundary is not None and boundary.removed_in == "4.48.0"
        # asked of the class, torch's nn.Module (not on this index) keeps every answer open
        assert find_boundary("transformers", Query(module, "LlamaAttention", attr="rotary_emb")) is None
    finding = _only(explain_text(log, tmp_path), "ED610")  # text only, offline: the cache answers
    assert "removed in 4.48.0" in finding.message, finding.message
    assert _pins(finding) == {"transformers": "<4.48.0"}


def test_pythons_did_you_mean_is_a_spelling_not_a_successor(tmp_path: Path) -> None:
    near = explain_text("AttributeError: 'Widget' object has no attribute 'get_max_length'. "
                        "Did you mean: 'get_seq_length'?\n", tmp_path, None, name="a.log")
    assert "successor" not in _only(near, "ED610").message
    stated = explain_text("AttributeError: 'Widget' object has no attribute 'get_max_length'. "
                          "Use `get_max_cache_shape` instead\n", tmp_path, None, name="b.log")
    assert "its successor is `get_max_cache_shape`" in _only(stated, "ED610").message


# --- a release the log says works ---------------------------------------------------------------

@pytest.mark.parametrize(("line", "name", "works"), [
    ("VLLM 0.8.2 OOM error (No error in 0.7.3 version)", None, "0.7.3"),
    ("with vllm 0.8.0 it runs out of memory. But I can run it successfully with vllm 0.7.3.", "vllm", "0.7.3"),
    ("With transformers==4.37.2 it works", "transformers", "4.37.2"),
    ("peft 0.10.0 works fine", "peft", "0.10.0"),
])
def test_a_line_that_says_which_release_works_is_read(line: str, name: str | None, works: str) -> None:
    from envdoctor.explain.families.works_in import parse_statement

    said = parse_statement(line)
    assert said is not None and (said.name, said.works) == (name, works)


@pytest.mark.parametrize("line", ["it works with 1.5 GB more", "tested on Python 3.10 works", "works with batch size 8",
                                  "works fine in 2.5 seconds"])
def test_lines_that_name_no_package_release_get_no_finding(line: str, tmp_path: Path) -> None:
    from envdoctor.explain.families.works_in import parse_statement

    said = parse_statement(line)
    assert said is None or said.name is None
    assert not [f for f in explain_text(line + "\n", tmp_path).findings if f.code == "ED616"]


def test_the_release_the_log_says_works_is_the_pin_when_the_index_lists_both(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout = Index(tmp_path / "index")
    for version in ("0.7.3", "0.8.2"):
        layout.add(Dist("enginepkg", version, {"enginepkg/__init__.py": ""}))
    finding = explain_online("EnginePkg 0.8.2 OOM error (No error in 0.7.3 version)\n", tmp_path, monkeypatch,
                             "ED616")
    assert finding.packages == ("enginepkg",)
    assert _pins(finding) == {"enginepkg": "==0.7.3"}
    assert "0.8.2 fails" in finding.message and "downgrade enginepkg to 0.7.3" in finding.fixes[0].title


def test_a_name_the_index_does_not_list_is_no_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout = Index(tmp_path / "index")
    layout.add(Dist("enginepkg", "0.7.3", {"enginepkg/__init__.py": ""}))
    (tmp_path / "run.log").write_text("It works on Ubuntu 22.04 but not with enginepkg 0.7.3\n", encoding="utf-8")
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        result = explain_log(tmp_path / "run.log", None, None, None, offline=False)
    assert not [f for f in result.findings if f.code == "ED616"]


def test_the_targets_release_is_the_one_that_fails(tmp_path: Path) -> None:
    later = _only(explain_text("it works with enginepkg 0.7.3\n", tmp_path, freeze(tmp_path, {"enginepkg": "0.8.2"}),
                               name="a.log"), "ED616")
    assert "enginepkg 0.7.3 works and 0.8.2 fails" in later.message and _pins(later) == {"enginepkg": "==0.7.3"}
    newer = _only(explain_text("it works with enginepkg 0.9.0\n", tmp_path, freeze(tmp_path, {"enginepkg": "0.8.2"}),
                               name="b.log"), "ED616")
    assert "downgrade" not in newer.fixes[0].title  # a newer release that works is an upgrade
    same = _only(explain_text("it works with enginepkg 0.8.2\n", tmp_path, freeze(tmp_path, {"enginepkg": "0.8.2"}),
                              name="c.log"), "ED616")
    assert same.confidence == "low" and not same.fixes

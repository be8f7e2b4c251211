"""Model folders (config.json, tokenizer files, custom code) and LLaMA-Factory YAML: ED230-ED241."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from envdoctor.env.snapshot import Distribution, Snapshot
from envdoctor.errors import InputError
from envdoctor.findings import Applicability
from envdoctor.project.models import known_model_types
from tests.helpers.core import kb
from tests.helpers.files import codes, run_rules, snapshot, write_config

LLAMA = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
         "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4}
CHATTS = {"architectures": ["Qwen2TSForCausalLM"], "model_type": "chatts",
          "auto_map": {"AutoConfig": "configuration_qwen2.Qwen2TSConfig",
                       "AutoModelForCausalLM": "modeling_qwen2.Qwen2TSForCausalLM"}}


def model_dir(root: Path, config: dict | None, files: dict[str, str] | None = None) -> Path:  # type: ignore[type-arg]
    folder = root / "models" / "m"
    folder.mkdir(parents=True)
    if config is not None:
        (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    for name, text in (files if files is not None else {"tokenizer.json": "{}"}).items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def fake_transformers(root: Path, version: str, source: str) -> Snapshot:
    """A real transformers source tree (only the auto mapping file) with its dist-info folder."""
    auto = root / "site" / "transformers" / "models" / "auto"
    auto.mkdir(parents=True)
    (auto / "configuration_auto.py").write_text(source, encoding="utf-8")
    info = root / "site" / f"transformers-{version}.dist-info"
    info.mkdir()
    return Snapshot(source="test", python_version="3.11.7", distributions={
        "transformers": Distribution(name="transformers", version=version, location=str(info))})


OLD_STYLE = 'CONFIG_MAPPING_NAMES = OrderedDict(\n    [\n        ("llama", "LlamaConfig"),\n        ("qwen2", "Qwen2Config"),\n    ]\n)\n__all__ = ["CONFIG_MAPPING", "AutoConfig"]\n'


def test_model_types_read_from_source_in_both_layouts(tmp_path: Path) -> None:
    types, version = known_model_types(fake_transformers(tmp_path, "4.51.3", OLD_STYLE))
    assert types == {"llama", "qwen2"} and version == "4.51.3"
    installed = metadata.distribution("transformers")
    real, _ = known_model_types(Snapshot(source="live", python_version="3.11.7", distributions={
        "transformers": Distribution(name="transformers", version=installed.version,
                                     location=str(installed._path))}))  # type: ignore[attr-defined]
    assert real is not None and {"llama", "qwen2", "mistral", "kosmos-2.5"} <= real
    assert "CONFIG_MAPPING" not in real and "AutoConfig" not in real


def test_no_transformers_means_no_model_type_verdict(tmp_path: Path) -> None:
    model_dir(tmp_path, {**LLAMA, "model_type": "nonexistent"})
    write_config(tmp_path, "model:\n  name_or_path: models/m\n")
    assert run_rules(tmp_path, select=("ED231",)) == []


@pytest.mark.parametrize(("model_type", "found"), [("qwen2", []), ("qwen9", ["ED231"])])
def test_unknown_model_type(tmp_path: Path, model_type: str, found: list[str]) -> None:
    snap = fake_transformers(tmp_path, "4.51.3", OLD_STYLE)
    model_dir(tmp_path, {**LLAMA, "model_type": model_type})
    write_config(tmp_path, "model:\n  name_or_path: models/m\n")
    findings = run_rules(tmp_path, select=("ED23",), snap=snap)
    assert codes(findings) == found
    if found:
        assert "'qwen9', which transformers 4.51.3 does not know" in findings[0].message


def test_custom_code_needs_trust_and_the_fix_edits_the_config_line(tmp_path: Path) -> None:
    model_dir(tmp_path, CHATTS)
    config = write_config(tmp_path, "model:\n  name_or_path: models/m\n  trust_remote_code: false\n")
    [finding] = run_rules(tmp_path, select=("ED23",))
    assert finding.code == "ED230" and "config.json auto_map" in finding.message
    assert finding.locations[0].line == 3
    [edit] = finding.fixes[0].edits
    assert finding.fixes[0].applicability is Applicability.UNSAFE
    config.write_text(config.read_text().replace(edit.old or "", edit.new or ""))
    assert run_rules(tmp_path, select=("ED23",)) == []


def test_plain_model_without_auto_map_needs_no_trust(tmp_path: Path) -> None:
    model_dir(tmp_path, LLAMA)
    write_config(tmp_path, "model:\n  name_or_path: models/m\n")
    assert run_rules(tmp_path, select=("ED23",)) == []


def test_tokenizer_needs_and_missing_files(tmp_path: Path) -> None:
    model_dir(tmp_path, LLAMA, {"tokenizer.model": "spm", "tokenizer_config.json": "{}"})
    write_config(tmp_path, "model:\n  name_or_path: models/m\n")
    [finding] = run_rules(tmp_path, select=("ED232",))
    assert "sentencepiece is not installed" in finding.message
    assert finding.fixes[0].applicability is Applicability.SAFE
    assert run_rules(tmp_path, select=("ED232",), snap=snapshot(sentencepiece="0.2.0")) == []


def test_tokenizer_json_makes_sentencepiece_optional_and_code_imports_count(tmp_path: Path) -> None:
    model_dir(tmp_path, CHATTS, {"tokenizer.json": "{}", "tokenizer.model": "spm",
                                 "tokenization_qwen.py": "import base64\nimport tiktoken\n"})
    write_config(tmp_path, "model:\n  name_or_path: models/m\n  trust_remote_code: true\n")
    [finding] = run_rules(tmp_path, select=("ED232",))
    assert "imports tiktoken" in finding.message and "sentencepiece" not in finding.message


def test_no_tokenizer_files_and_no_config(tmp_path: Path) -> None:
    model_dir(tmp_path, LLAMA, {})
    write_config(tmp_path, "model:\n  name_or_path: models/m\n")
    assert "has no tokenizer files" in run_rules(tmp_path, select=("ED232",))[0].message
    (tmp_path / "models" / "m" / "config.json").write_text("{not json")
    [finding] = run_rules(tmp_path, select=("ED233",))
    assert "config.json is not valid JSON" in finding.message


# --- LLaMA-Factory YAML ---------------------------------------------------------------------------

def lf_yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "train_qlora.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("version", "value", "expected"), [
    ("0.9.4", "fa2", None), ("0.9.3", "fa3", "fa2"), ("0.9.3", "fa", "fa2"), ("0.9.4", "fa", "fa2"),
    ("0.9.4", "flash", "fa2"), ("0.9.3", "disabled", None),
    ("0.8.2", "disabled", "off"), ("0.8.3", "disabled", None), ("0.6.3", "false", None),
    ("0.9.4", "false", "disabled"), ("0.9.4", "true", "fa2"), ("0.8.2", "false", "off"),
])
def test_flash_attn_values_per_release(tmp_path: Path, version: str, value: str, expected: str | None) -> None:
    path = lf_yaml(tmp_path, f"model_name_or_path: org/model\nflash_attn: {value}  # attention\n")
    findings = run_rules(tmp_path, select=("ED240",), snap=snapshot(llamafactory=version), llamafactory_file=path)
    if expected is None:
        assert findings == []
        return
    [finding] = findings
    [edit] = finding.fixes[0].edits
    assert edit.new == f"flash_attn: {expected}  # attention"
    boolean = value in ("true", "false")
    same_meaning = boolean or value in ("off", "disabled")
    assert (finding.fixes[0].applicability is Applicability.SAFE) == same_meaning
    if boolean:
        assert "Unknown attention type" in finding.message


@pytest.mark.parametrize(("version", "model_type", "expected"), [
    ("0.9.4", "llama", True), ("0.9.5", "llama", True), ("0.9.5", None, True),  # no fa3 branch in the loader
    ("0.9.5", "gpt_oss", False),                                                  # gpt_oss loads FA3 itself
])
def test_fa3_parses_but_fails_to_load_except_gpt_oss(tmp_path: Path, version: str, model_type: str | None,
                                                      expected: bool) -> None:
    name = "org/model"
    if model_type is not None:
        model_dir(tmp_path, dict(LLAMA, model_type=model_type))
        name = "models/m"
    path = lf_yaml(tmp_path, f"model_name_or_path: {name}\nflash_attn: fa3\n")
    findings = run_rules(tmp_path, select=("ED240",), snap=snapshot(llamafactory=version), llamafactory_file=path)
    assert bool(findings) is expected
    if expected:
        [finding] = findings
        assert "Unknown attention type: fa3" in finding.message
        assert finding.fixes[0].edits[0].new == "flash_attn: fa2"
        assert finding.fixes[0].applicability is Applicability.UNSAFE


def test_yaml_false_really_is_a_boolean_and_not_installed_uses_newest_values(tmp_path: Path) -> None:
    path = lf_yaml(tmp_path, "flash_attn: False\n")
    [finding] = run_rules(tmp_path, select=("ED240",), llamafactory_file=path)
    assert "not installed" in finding.message and "fa3" in finding.message


@pytest.mark.parametrize(("bits", "bnb", "expected"), [
    (4, "0.43.0", []), (4, "0.42.0", ["ED241"]), (8, "0.45.0", ["ED241"]), (4, None, ["ED241"]),
])
def test_zero3_quantization(tmp_path: Path, bits: int, bnb: str | None, expected: list[str]) -> None:
    (tmp_path / "ds_z3_config.json").write_text(json.dumps({"zero_optimization": {"stage": 3}}))
    path = lf_yaml(tmp_path, f"quantization_bit: {bits}\ndeepspeed: ds_z3_config.json\n")
    snap = snapshot(**({"bitsandbytes": bnb} if bnb else {}))
    findings = run_rules(tmp_path, select=("ED241",), snap=snap, llamafactory_file=path)
    assert codes(findings) == expected
    if bits == 8:
        assert "Only 4-bit quantized model" in findings[0].message
        assert findings[0].fixes[0].edits[0].new == "quantization_bit: 4"


@pytest.mark.parametrize(("lf", "wording"), [
    ("0.8.1", "Only 4-bit quantized model can use auto device map."),
    ("0.8.2", "Only 4-bit quantized model can use fsdp+qlora or auto device map."),
])
def test_zero3_8bit_quotes_the_release_wording(tmp_path: Path, lf: str, wording: str) -> None:
    (tmp_path / "ds_z3_config.json").write_text(json.dumps({"zero_optimization": {"stage": 3}}))
    path = lf_yaml(tmp_path, "quantization_bit: 8\ndeepspeed: ds_z3_config.json\n")
    [finding] = run_rules(tmp_path, select=("ED241",), snap=snapshot(llamafactory=lf, bitsandbytes="0.45.0"),
                          llamafactory_file=path)
    assert finding.quotes == (wording,)
    assert kb().rules["ED241"].signatures[0].search(wording)


def test_zero2_is_not_flagged(tmp_path: Path) -> None:
    (tmp_path / "ds_z2_config.json").write_text(json.dumps({"zero_optimization": {"stage": 2}}))
    path = lf_yaml(tmp_path, "quantization_bit: 8\ndeepspeed: ds_z2_config.json\n")
    assert run_rules(tmp_path, select=("ED241",), snap=snapshot(bitsandbytes="0.42.0"), llamafactory_file=path) == []


def test_llamafactory_custom_model_without_trust(tmp_path: Path) -> None:
    model_dir(tmp_path, CHATTS)
    path = lf_yaml(tmp_path, "model_name_or_path: models/m\nflash_attn: sdpa\n")
    [finding] = run_rules(tmp_path, select=("ED230",), llamafactory_file=path)
    assert "train_qlora.yaml does not set trust_remote_code: true" in finding.message
    assert finding.fixes[0].applicability is Applicability.DISPLAY_ONLY  # no line to edit: add the key


@pytest.mark.parametrize(("setup", "expected"), [
    (lambda p: None, "no such file"),
    (lambda p: p.mkdir(), "is a folder"),
    (lambda p: p.write_text("- a\n- b\n"), "expected a mapping"),
    (lambda p: p.write_text("a: [\n"), "not valid YAML"),
])
def test_bad_llamafactory_file_is_an_input_error(tmp_path: Path, setup, expected: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "lf.yaml"
    setup(path)
    with pytest.raises(InputError, match=expected):
        run_rules(tmp_path, llamafactory_file=path)


def test_check_never_imports_transformers(tmp_path: Path) -> None:
    model_dir(tmp_path, CHATTS)
    write_config(tmp_path, "model:\n  name_or_path: models/m\n")
    code = ("import sys; from envdoctor.engine import check as checking; from pathlib import Path; "
            f"checking.run_check(checking.CheckRequest(project_path=Path({str(tmp_path)!r}), select=('ED2',))); "
            "print(sorted(m for m in ('torch', 'transformers', 'bitsandbytes') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "[]", done.stderr


def test_an_unknown_model_type_gets_the_transformers_release_that_ships_it(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.helpers.index import IndexServer, isolated_pip_env
    from tests.helpers.surface import Dist, Index

    layout = Index(tmp_path / "index")
    for version in ("4.51.3", "4.52.0", "4.53.0"):
        files = {"transformers/__init__.py": "", "transformers/models/__init__.py": ""}
        if version != "4.51.3":
            files["transformers/models/qwen9/__init__.py"] = ""
        layout.add(Dist("transformers", version, files))
    snap = fake_transformers(tmp_path, "4.51.3", OLD_STYLE)
    model_dir(tmp_path, {**LLAMA, "model_type": "qwen9"})
    write_config(tmp_path, "model:\n  name_or_path: models/m\n")
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        [finding] = run_rules(tmp_path, select=("ED231",), snap=snap)
    assert finding.fixes[0].pins == {"transformers": ">=4.52.0"}
    assert "the first release that ships `transformers.models.qwen9`" in finding.fixes[0].title
    [offline] = run_rules(tmp_path, select=("ED231",), snap=snap, offline=True)  # answered from the cache
    assert offline.fixes[0].pins == {"transformers": ">=4.52.0"}

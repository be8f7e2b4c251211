"""envdoctor.yaml: loading, precise validation errors and `envdoctor init`."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from envdoctor.cli.init import init_command
from envdoctor.errors import InputError
from envdoctor.project.config import (
    TrainingConfig,
    load_config,
    parse_config,
    starter_text,
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "envdoctor.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(InputError) as info:
        load_config(write(tmp_path, text))
    return str(info.value)


def test_starter_file_loads_to_the_seed_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, starter_text()))
    assert config.lora.r == 8 and config.lora.alpha == 16 and config.lora.dropout == 0.05
    assert config.train.epochs == 3 and config.train.learning_rate == 2e-4
    assert config.train.max_length == 512 and config.train.batch_size == 4
    assert config.model.name_or_path == "builtin:tiny-llama" and config.model.is_builtin
    assert config.data.db is None
    assert config.data.mix == {"news": 0.6, "market": 0.2, "earnings": 0.2}
    assert config.train.output_dir == tmp_path.resolve() / "out" / "adapter"
    assert config.model == TrainingConfig().model and config.lora == TrainingConfig().lora


def test_starter_file_documents_every_knob() -> None:
    text = starter_text()
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("  ") and not line.lstrip().startswith("#"):
            assert lines[index - 1].lstrip().startswith("#"), f"undocumented knob: {line}"


def test_unknown_key_names_line_and_suggestion(tmp_path: Path) -> None:
    text = "train:\n  epochs: 3\n  bath_size: 4\n"
    assert error_of(tmp_path, text) == (
        f"{tmp_path / 'envdoctor.yaml'}:3: train.bath_size: unknown key; did you mean 'batch_size'?")


def test_unknown_section_suggests_the_closest(tmp_path: Path) -> None:
    assert "trian: unknown section; did you mean 'train'?" in error_of(tmp_path, "trian: {}\n")


@pytest.mark.parametrize(("text", "expected"), [
    ("lora:\n  dropout: 1.0\n", ":2: lora.dropout: 1.0 must be below 1.0"),
    ("train:\n  batch_size: true\n", ":2: train.batch_size: expected an integer, got a boolean True"),
    ("train:\n  batch_size: 0\n", ":2: train.batch_size: 0 is below the minimum 1"),
    ("model:\n  attn_implementation: spda\n", "'spda' is not one of eager, sdpa, flash_attention_2; did you mean 'sdpa'?"),
    ("data:\n  mix: {news: 0.5}\n", ":2: data.mix: shares must sum to 1 (they sum to 0.5)"),
    ("lora:\n  target_modules: [q_proj, 3]\n", ":2: lora.target_modules[1]: expected a non-empty string"),
    ("train:\n  seed: 1\n  seed: 2\n", ":3: train.seed: duplicate key (first at line 2)"),
    ("model: [\n", "not valid YAML"),
    ("- 1\n", "expected sections model, data, lora, train, launch at the top, got a list"),
])
def test_bad_values_are_one_line_errors(tmp_path: Path, text: str, expected: str) -> None:
    message = error_of(tmp_path, text)
    assert expected in message and "\n" not in message


def test_boundaries_just_inside_are_accepted(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "lora:\n  dropout: 0.0\ntrain:\n  batch_size: 1\n"
                                         "data:\n  mix: {news: 1}\n  eval_fraction: 0.99\n"))
    assert config.lora.dropout == 0.0 and config.train.batch_size == 1 and config.data.eval_fraction == 0.99


def test_pyyaml_string_exponent_is_read_as_a_number(tmp_path: Path) -> None:
    # PyYAML (YAML 1.1) loads `2e-4` as the string "2e-4"; users write it that way.
    config = load_config(write(tmp_path, "train:\n  learning_rate: 2e-4\n"))
    assert config.train.learning_rate == pytest.approx(2e-4)
    assert "learning_rate: expected a number" in error_of(tmp_path, "train:\n  learning_rate: fast\n")


def test_paths_are_relative_to_the_config_folder_and_lines_are_kept(tmp_path: Path) -> None:
    sub = tmp_path / "proj"
    sub.mkdir()
    path = sub / "envdoctor.yaml"
    path.write_text("data:\n  db: datasets/finance.db\n  queries:\n    news: SELECT 1\n", encoding="utf-8")
    config = load_config(path)
    assert config.data.db == sub.resolve() / "datasets" / "finance.db"
    assert config.data.queries == {"news": "SELECT 1"}
    assert config.line_of("data.queries.news") == 4 and config.line_of("data.db") == 2


def test_model_dir_only_for_local_folders(tmp_path: Path) -> None:
    (tmp_path / "models" / "m").mkdir(parents=True)
    local = load_config(write(tmp_path, "model:\n  name_or_path: models/m\n"))
    assert local.model_dir == tmp_path.resolve() / "models" / "m"
    hub = load_config(write(tmp_path, "model:\n  name_or_path: deepseek-ai/deepseek-llm-7b-base\n"))
    assert hub.model_dir is None
    assert TrainingConfig().model_dir is None  # builtin


@pytest.mark.parametrize(("setup", "expected"), [
    (lambda p: None, "no such file; create one with `envdoctor init"),
    (lambda p: p.mkdir(), "is a folder, not a config file"),
    (lambda p: p.write_bytes("train:\n  seed: 1\n".encode("utf-16")), "not UTF-8"),
])
def test_unreadable_config_files(tmp_path: Path, setup, expected: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "envdoctor.yaml"
    setup(path)
    with pytest.raises(InputError, match=expected):
        load_config(path)


def test_init_writes_the_starter_and_refuses_to_overwrite(tmp_path: Path) -> None:
    runner = CliRunner()
    target = tmp_path / "envdoctor.yaml"
    first = runner.invoke(init_command, [str(target)])
    assert first.exit_code == 0 and target.read_text(encoding="utf-8") == starter_text()
    target.write_text("model: {}\n", encoding="utf-8")
    second = runner.invoke(init_command, [str(target)])
    assert isinstance(second.exception, InputError) and "--force" in str(second.exception)
    assert target.read_text(encoding="utf-8") == "model: {}\n"
    third = runner.invoke(init_command, [str(target), "--force"])
    assert third.exit_code == 0 and target.read_text(encoding="utf-8") == starter_text()


def test_init_into_a_folder_uses_the_default_name(tmp_path: Path) -> None:
    result = CliRunner().invoke(init_command, [str(tmp_path)])
    assert result.exit_code == 0 and (tmp_path / "envdoctor.yaml").is_file()


def test_parse_config_of_empty_text_gives_defaults(tmp_path: Path) -> None:
    assert parse_config("", tmp_path / "envdoctor.yaml").train.epochs == 3

"""Local model folders: ED230 custom code without trust, ED231 unknown model type,
ED232 tokenizer files and their packages, ED233 unreadable config.json.

The folder comes from ``model.name_or_path`` of envdoctor.yaml or from
``model_name_or_path`` of the ``--llamafactory`` YAML.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from envdoctor.findings import (
    Applicability,
    FileEdit,
    Finding,
    Fix,
    Location,
    hint,
    pip_install_fix,
)
from envdoctor.knowledge.base import RuleEntry
from envdoctor.project.facts import ProjectFacts, display_path
from envdoctor.project.models import ModelFolderFacts, architecture_module
from envdoctor.rules.base import Context, implements

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer.model",
    "vocab.json",
    "vocab.txt",
    "spiece.model",
    "sentencepiece.bpe.model",
    "qwen.tiktoken",
    "tokenizer.tiktoken",
)
# Tokenizer packages the folder's files or code need, by import name and distribution.
TOKENIZER_PACKAGES = (("sentencepiece", "sentencepiece"), ("tiktoken", "tiktoken"))
SENTENCEPIECE_FILES = ("tokenizer.model", "spiece.model", "sentencepiece.bpe.model")


@dataclass(frozen=True)
class ModelUse:
    """A model folder and the config that uses it: which file, which key sets trust_remote_code."""

    model: ModelFolderFacts
    source: Path
    trusted: bool
    trust_line: int | None
    trust_line_text: str | None
    key_line: int | None


def model_uses(project: ProjectFacts | None) -> Iterator[ModelUse]:
    """Each local model folder named by envdoctor.yaml or the LLaMA-Factory YAML."""
    if project is None:
        return
    config = project.config
    if project.model is not None and config is not None and config.source is not None:
        yield ModelUse(
            project.model,
            config.source,
            config.model.trust_remote_code,
            config.line_of("model.trust_remote_code"),
            config.line_text("model.trust_remote_code"),
            config.line_of("model.name_or_path"),
        )
    lf = project.llamafactory
    if lf is not None and lf.model is not None:
        line, text = lf.lines.get("trust_remote_code", (None, None))
        yield ModelUse(
            lf.model,
            lf.path.resolve(),
            lf.values.get("trust_remote_code") is True,
            line,
            text,
            lf.lines.get("model_name_or_path", (None, None))[0],
        )


def custom_code(model: ModelFolderFacts) -> list[str]:
    """Where the folder asks for its own Python code (config.json or tokenizer_config.json auto_map)."""
    places = []
    if model.config and model.config.get("auto_map"):
        places.append("config.json auto_map")
    if model.tokenizer_config.get("auto_map"):
        places.append("tokenizer_config.json auto_map")
    return places


def _trust_fix(use: ModelUse) -> Fix:
    title = f"set trust_remote_code: true in {display_path(use.source)} (runs the folder's Python code: only for models you trust)"
    if use.trust_line_text is not None and "false" in use.trust_line_text.lower():
        value = use.trust_line_text.split(":", 1)[1]
        new = use.trust_line_text.split(":", 1)[0] + ":" + value.replace("false", "true").replace("False", "true")
        edit = FileEdit(path=str(use.source), action="replace", old=use.trust_line_text, new=new)
        return Fix(title=title, applicability=Applicability.UNSAFE, edits=(edit,))
    return hint(title)


@implements("ED230")
def model_remote_code_untrusted(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """The model folder ships custom code, but trust_remote_code is not set."""
    for use in model_uses(ctx.project):
        places = custom_code(use.model)
        if not places or use.trusted:
            continue
        architecture = (use.model.config or {}).get("model_type") or use.model.path.name
        yield entry.finding(
            f"{use.model.path} ({architecture}) ships custom code ({', '.join(places)}) but {display_path(use.source)} "
            'does not set trust_remote_code: true: loading stops with "... contains custom code which '
            'must be executed to correctly load the model"',
            locations=(Location(display_path(use.source), use.trust_line or use.key_line),),
            fixes=(_trust_fix(use),),
        )


@implements("ED231")
def model_type_unknown(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """The folder's model_type is not registered in the target's transformers (and it ships no code)."""
    for use in model_uses(ctx.project):
        model = use.model
        if model.config is None or model.known_model_types is None or custom_code(model):
            continue
        model_type = model.config.get("model_type")
        if isinstance(model_type, str) and model_type in model.known_model_types:
            continue
        where = Location(display_path(model.path / "config.json"))
        if not isinstance(model_type, str):
            message = f"{model.path}/config.json has no model_type: AutoConfig cannot tell which class to build"
        else:
            message = (
                f"{model.path}/config.json has model_type {model_type!r}, which transformers "
                f'{model.transformers_version} does not know: loading stops with "... has model type '
                f'`{model_type}` but Transformers does not recognize this architecture"'
            )
        added = _architecture_added(ctx, model_type, model.transformers_version) if isinstance(model_type, str) \
            else None
        fixes = (pip_install_fix(f"upgrade transformers to {added}+, the first release that ships "
                                 f"`{architecture_module(str(model_type))}`", {"transformers": f">={added}"},
                                 Applicability.UNSAFE),) if added else ()
        yield entry.finding(
            message,
            locations=(where,),
            packages=("transformers",),
            fixes=fixes + (
                Fix(
                    title=(
                        ("or " if added else "upgrade transformers to a release that has this architecture "
                         "(`envdoctor check` without --offline finds which), or ")
                        + "use the model's own code with trust_remote_code"
                    ),
                    applicability=Applicability.DISPLAY_ONLY,
                ),
            ),
        )


def _architecture_added(ctx: Context, model_type: str, installed: str | None) -> str | None:
    """The first transformers release that ships the architecture's package (bisected on the index;
    None offline without a cached answer, or when no release ships it)."""
    from envdoctor.surface.api import symbol_boundary

    try:
        found = symbol_boundary("transformers", architecture_module(model_type), around=installed,
                                offline=ctx.offline)
    except Exception:  # the engine's failure leaves the display-only fix
        return None
    return found.added_in if found is not None else None


def _needed_packages(model: ModelFolderFacts) -> list[tuple[str, str]]:
    """(distribution, reason) for each tokenizer package the folder needs."""
    needed = []
    if "tokenizer.json" not in model.files:
        spm = [f for f in SENTENCEPIECE_FILES if f in model.files]
        if spm:
            needed.append(("sentencepiece", f"{spm[0]} without tokenizer.json is a SentencePiece model"))
    if any(f.endswith(".tiktoken") for f in model.files):
        needed.append(("tiktoken", "the folder has a .tiktoken vocabulary"))
    for module, dist in TOKENIZER_PACKAGES:
        if module in model.code_imports and dist not in {d for d, _ in needed}:
            needed.append((dist, f"the folder's code imports {module}"))
    return needed


@implements("ED232")
def tokenizer_files_missing(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """The model folder has no tokenizer files, or they need a package the target lacks."""
    for use in model_uses(ctx.project):
        model = use.model
        if model.error is not None:
            continue
        where = (Location(display_path(model.path)),)
        if not any(f in TOKENIZER_FILES or f.endswith(".tiktoken") for f in model.files):
            yield entry.finding(
                f"{model.path} has no tokenizer files (none of {', '.join(TOKENIZER_FILES[:4])}"
                ", ...): AutoTokenizer.from_pretrained fails",
                locations=where,
                fixes=(hint("copy the tokenizer files from the model's original repository into the folder"),),
            )
            continue
        for dist, reason in _needed_packages(model):
            if ctx.snapshot.version_of(dist) is not None:
                continue
            yield entry.finding(
                f"{model.path}: {reason}, but {dist} is not installed: loading the tokenizer "
                f'stops with "requires the {dist} library but it was not found"',
                locations=where,
                packages=(dist,),
                fixes=(pip_install_fix(f"install {dist}", {dist: ""}, Applicability.SAFE),),
            )


@implements("ED233")
def model_config_unreadable(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """The model folder has no readable config.json."""
    for use in model_uses(ctx.project):
        if use.model.error is None:
            continue
        yield entry.finding(
            f"{use.model.path}: {use.model.error}, so no model can be built from it",
            locations=(Location(display_path(use.source), use.key_line),),
            fixes=(
                hint("point the config at the folder that holds config.json (the snapshot folder of a hub download)"),
            ),
        )

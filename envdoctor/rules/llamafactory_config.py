"""A LLaMA-Factory training YAML (``--llamafactory FILE``): ED240 flash_attn value,
ED241 quantization with DeepSpeed ZeRO-3.

Accepted values and version floors come from the knowledge-base tables
``llamafactory_flash_attn`` (per release) and the rule's evidence.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from envdoctor.env.requirements import parse_version
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
from envdoctor.project.models import LlamaFactoryFacts
from envdoctor.rules.base import Context, implements

ZERO3_BITSANDBYTES_FLOOR = "0.43.0"
FSDP_WORDING_FROM = "0.8.2"  # the ValueError names fsdp+qlora from this release (quantization.py)
OFF_WORDS = ("off", "disabled")  # "off" until 0.8.2, "disabled" from 0.8.3: the same meaning


def _yamls(ctx: Context) -> Iterator[LlamaFactoryFacts]:
    """--llamafactory FILE, then the YAMLs and launch lines found in the project."""
    project: ProjectFacts | None = ctx.project
    if project is None:
        return
    yield from (lf for lf in (project.llamafactory, *project.found_llamafactory) if lf is not None)


def flash_attn_row(ctx: Context) -> tuple[dict[str, Any] | None, str]:
    """The accepted-values row for the target's LLaMA-Factory, and which release it describes."""
    installed = ctx.snapshot.version_of("llamafactory")
    rows = ctx.kb.tables["llamafactory_flash_attn"]["rows"]
    version = parse_version(installed)
    if version is None:
        return rows[0], "LLaMA-Factory is not installed in the target; checked against the newest releases"
    for row in rows:
        if SpecifierSet(row["llamafactory"]).contains(version, prereleases=True):
            return row, f"llamafactory {installed}"
    return None, f"llamafactory {installed}"


def _replace_fix(lf: LlamaFactoryFacts, key: str, new_value: str, applicability: Applicability, title: str) -> Fix:
    line = lf.lines.get(key)
    if line is None:
        return hint(title)
    _, text = line
    if lf.style == "cli":  # a launch line: `--key value` or `--key=value`
        new_text = re.sub(rf"(--{re.escape(key)}(?:=|\s+))(\S+)", lambda m: m.group(1) + new_value, text, count=1)
        return Fix(title=title, applicability=applicability,
                   edits=(FileEdit(path=str(lf.path.resolve()), action="replace", old=text, new=new_text),))
    head = text.split(":", 1)[0]
    comment = re.search(r"\s+#.*$", text)
    edit = FileEdit(
        path=str(lf.path.resolve()),
        action="replace",
        old=text,
        new=f"{head}: {new_value}{comment.group(0) if comment else ''}",
    )
    return Fix(title=title, applicability=applicability, edits=(edit,))


@implements("ED240")
def flash_attn_value(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """flash_attn is a boolean or a word the installed LLaMA-Factory does not accept."""
    for lf in _yamls(ctx):
        yield from _flash_attn_value(ctx, entry, lf)


def _flash_attn_value(ctx: Context, entry: RuleEntry, lf: LlamaFactoryFacts) -> Iterator[Finding]:
    if "flash_attn" not in lf.values:
        return
    row, which = flash_attn_row(ctx)
    if row is None:  # releases before 0.7 took a boolean
        return
    value = lf.values["flash_attn"]
    allowed = list(row["values"])
    parses_only = list(row.get("parses_only", []))  # accepted by the parser, no branch in the loader
    usable = [v for v in allowed if v not in parses_only]
    if isinstance(value, str) and value in usable:
        return
    line = lf.lines.get("flash_attn", (None, ""))[0]
    if isinstance(value, str) and value in parses_only:
        model_type = (lf.model.config or {}).get("model_type") if lf.model is not None else None
        if model_type in row.get("own_attention", []):
            return  # these models pick their attention themselves before flash_attn is read
        yield entry.finding(
            f"flash_attn: {value!r} passes the argument parser of {which}, but its loader has no {value} branch: "
            f"loading the model fails with \"NotImplementedError: Unknown attention type: {value}\" (only "
            f"{', '.join(row.get('own_attention', []))} models, which choose FlashAttention-3 themselves, load)",
            packages=("llamafactory",), locations=(Location(display_path(lf.path), line),),
            fixes=(_replace_fix(lf, "flash_attn", "fa2", Applicability.UNSAFE,
                                "set flash_attn: fa2 (FlashAttention-2; needs an Ampere or newer GPU, else sdpa)"),))
        return
    if isinstance(value, bool):
        replacement = row["on"] if value else row["off"]
        applicability = Applicability.SAFE
        failure = (
            f"YAML {str(value).lower()} is a boolean: it passes the argument parser, then training stops "
            f'with "NotImplementedError: Unknown attention type: {value}" (on the command line: '
            f"\"invalid choice: '{value}'\")"
        )
    elif lf.style == "cli" and str(value).lower() in ("true", "false"):
        replacement = row["on"] if str(value).lower() == "true" else row["off"]
        applicability = Applicability.SAFE
        failure = (f"on the command line it is a string: the argument parser stops with \"invalid choice: "
                   f"'{value}'\" (flash_attn takes a word, not a boolean)")
    elif value in OFF_WORDS:
        replacement = row["off"]
        applicability = Applicability.SAFE
        failure = f"this release spells it {replacement!r}; the argument parser rejects {value!r}"
    else:
        close = difflib.get_close_matches(str(value), usable, n=1, cutoff=0.5)
        replacement = close[0] if close else "auto"
        applicability = Applicability.UNSAFE
        failure = f"the argument parser rejects it (\"invalid choice: '{value}'\")"
    yield entry.finding(
        f"flash_attn: {value!r} is not one of {', '.join(allowed)} ({which}): {failure}",
        packages=("llamafactory",),
        locations=(Location(display_path(lf.path), line),),
        fixes=(_replace_fix(lf, "flash_attn", replacement, applicability,
                            f"pass --flash_attn {replacement}" if lf.style == "cli" else
                            f"set flash_attn: {replacement}"),),
    )


@implements("ED241")
def zero3_quantization(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """quantization_bit with DeepSpeed ZeRO-3: 4-bit only, and bitsandbytes>=0.43.0."""
    for lf in _yamls(ctx):
        yield from _zero3_quantization(ctx, entry, lf)


def _zero3_quantization(ctx: Context, entry: RuleEntry, lf: LlamaFactoryFacts) -> Iterator[Finding]:
    if lf.zero_stage != 3:
        return
    bits = lf.values.get("quantization_bit")
    if bits is None or lf.values.get("quantization_method", "bnb") not in ("bnb", "bitsandbytes"):
        return
    where = (Location(display_path(lf.path), lf.lines.get("quantization_bit", (None, ""))[0]),)
    if bits != 4:
        lf_version = parse_version(ctx.snapshot.version_of("llamafactory"))
        old_wording = lf_version is not None and lf_version < Version(FSDP_WORDING_FROM)
        quote = ("Only 4-bit quantized model can use auto device map." if old_wording
                 else "Only 4-bit quantized model can use fsdp+qlora or auto device map.")
        yield entry.finding(
            f"quantization_bit: {bits} with DeepSpeed ZeRO-3 ({lf.values.get('deepspeed')}): "
            f'LLaMA-Factory stops with "ValueError: {quote}"',
            packages=("llamafactory",),
            locations=where,
            quotes=(quote,),
            fixes=(
                _replace_fix(
                    lf,
                    "quantization_bit",
                    "4",
                    Applicability.UNSAFE,
                    "use quantization_bit: 4 (QLoRA) with ZeRO-3, or drop ZeRO-3",
                ),
            ),
        )
        return
    installed = ctx.snapshot.version_of("bitsandbytes")
    version = parse_version(installed)
    if version is not None and version >= parse_version(ZERO3_BITSANDBYTES_FLOOR):  # type: ignore[operator]
        return
    found = f"bitsandbytes=={installed}" if installed else "no bitsandbytes"
    quote = f"bitsandbytes>={ZERO3_BITSANDBYTES_FLOOR} is required for a normal functioning of this module"
    yield entry.finding(
        f"4-bit quantization with DeepSpeed ZeRO-3 needs bitsandbytes>={ZERO3_BITSANDBYTES_FLOOR} "
        f"(a check DISABLE_VERSION_CHECK cannot skip), but the target has {found}",
        packages=("bitsandbytes", "llamafactory"),
        locations=where,
        quotes=(quote,),
        fixes=(
            pip_install_fix(
                f"install bitsandbytes>={ZERO3_BITSANDBYTES_FLOOR}",
                {"bitsandbytes": f">={ZERO3_BITSANDBYTES_FLOOR}"},
                Applicability.UNSAFE,
            ),
        ),
    )

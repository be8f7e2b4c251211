"""Encodings of the files tools will read: ED201-ED208.

Which bytes are a problem depends on the tool that reads the file (its kind):
pip strips a UTF-8 or UTF-16 byte-order mark, and a UTF-32 one from 25.0 (the
target's pip is asked: envdoctor.env.pip_boms); tomllib and json refuse any BOM; PyYAML skips a UTF-8 BOM; the csv
module keeps it in the first column name; a BOM hides a shell script's shebang.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from envdoctor.env.pip_boms import TargetPip, target_pip
from envdoctor.findings import (
    Applicability,
    FileEdit,
    Finding,
    Fix,
    Location,
    Severity,
    hint,
)
from envdoctor.knowledge.base import RuleEntry
from envdoctor.project.encoding import BOMS, EncodingFacts
from envdoctor.project.facts import ProjectFacts, display_path
from envdoctor.project.scan import MAX_READ_BYTES, ScannedFile
from envdoctor.rules.base import Context, implements


@dataclass(frozen=True)
class Consumer:
    """How the tool that reads one kind of file copes with each encoding problem.

    A severity of None means the tool copes: no finding.
    """

    tool: str
    utf8_bom: Severity | None
    utf8_bom_effect: str
    wide_with_bom: Severity
    legacy: Severity


CONSUMERS: dict[str, Consumer] = {
    "requirements": Consumer("pip", None, "", Severity.WARNING, Severity.ERROR),
    "toml": Consumer(
        "tomllib (pip, build, uv)",
        Severity.ERROR,
        'fails with "Invalid statement (at line 1, column 1)"',
        Severity.ERROR,
        Severity.ERROR,
    ),
    "yaml": Consumer("PyYAML via open() (LLaMA-Factory, envdoctor)", None, "", Severity.ERROR, Severity.ERROR),
    "json": Consumer(
        "json",
        Severity.ERROR,
        'fails with "Unexpected UTF-8 BOM (decode using utf-8-sig)"',
        Severity.ERROR,
        Severity.ERROR,
    ),
    "jsonl": Consumer(
        "json (per line) and datasets",
        Severity.ERROR,
        'fails on the first line with "Unexpected UTF-8 BOM (decode using utf-8-sig)"',
        Severity.ERROR,
        Severity.ERROR,
    ),
    "csv": Consumer(
        "csv / pandas",
        Severity.WARNING,
        "makes Python's csv module name the first column '\\ufeff<name>', so a lookup by name fails",
        Severity.ERROR,
        Severity.ERROR,
    ),
    "python": Consumer("Python", None, "", Severity.ERROR, Severity.ERROR),
    "shell": Consumer(
        "the shell",
        Severity.WARNING,
        "hides the #! line: the kernel cannot exec it and the caller's shell runs it instead",
        Severity.ERROR,
        Severity.WARNING,
    ),
    "sql": Consumer("sqlite3 via open()", None, "", Severity.ERROR, Severity.ERROR),
}
WIDE_NAMES = {
    "utf-16": "UTF-16",
    "utf-32": "UTF-32",
    "utf-16-le": "UTF-16 LE",
    "utf-16-be": "UTF-16 BE",
    "utf-32-le": "UTF-32 LE",
    "utf-32-be": "UTF-32 BE",
}


def _scanned(ctx: Context) -> Iterator[ScannedFile]:
    project: ProjectFacts | None = ctx.project
    if project is None or project.scan is None:
        return
    yield from (f for f in project.scan.files if f.encoding is not None)


def _location(file: ScannedFile) -> tuple[Location, ...]:
    return (Location(display_path(file.path)),)


def reencode_fix(file: ScannedFile, codec: str, reading: str) -> Fix:
    """Re-encode ``file`` from ``codec`` to UTF-8: safe only when lossless, confident and read whole."""
    facts = file.encoding
    assert facts is not None
    edit = FileEdit(path=str(file.path), action="reencode", encoding=codec)
    if facts.lossless and facts.confident and not file.truncated:
        return Fix(
            title=f"re-encode {file.relative} from {reading} to UTF-8 (lossless; the original is kept as a backup)",
            applicability=Applicability.SAFE,
            edits=(edit,),
        )
    why = (
        "only its first MiB was examined"
        if file.truncated
        else f"the bytes also read as {', '.join(facts.alternatives)}"
        if facts.alternatives
        else "the round trip is not exact"
    )
    return Fix(
        title=(
            f"re-save {file.relative} as UTF-8 by hand: it most likely is {reading}, but {why}; "
            f"open it in an editor with that encoding, check the text, save as UTF-8"
        ),
        applicability=Applicability.DISPLAY_ONLY,
        edits=(edit,),
    )


def _pip_misreads(pip: TargetPip, file: ScannedFile, facts: EncodingFacts) -> tuple[bool, str]:
    """For a requirements file with a mark: whether the target's pip takes it for another mark."""
    mark = next(bom for bom, name in BOMS if name == facts.bom)
    return pip.misreads(mark) if file.kind == "requirements" else (False, "")


@implements("ED201")
def wide_encoding_file(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """UTF-16/UTF-32 files, with or without a byte-order mark."""
    pip = target_pip(ctx.snapshot)
    for file in _scanned(ctx):
        facts = file.encoding
        if facts is None or not facts.is_wide:
            continue
        consumer = CONSUMERS[file.kind]
        name = WIDE_NAMES.get(facts.bom or facts.encoding or "", facts.encoding or "?")
        marked = "with a byte-order mark" if facts.bom else "without a byte-order mark"
        misread, reader = _pip_misreads(pip, file, facts) if facts.bom else (False, "")
        severity = Severity.ERROR if facts.bom is None or misread else consumer.wide_with_bom
        if severity is Severity.WARNING:
            effect = (
                f"{reader or consumer.tool} reads it, but other readers (cyclonedx-py, grep, diff, scripts that "
                "open() it) see NUL-separated bytes"
            )
        elif misread:
            effect = (f"{reader} takes its mark for a shorter one (the UTF-16 LE mark starts the UTF-32 LE one), "
                      "so every requirement is garbled")
        elif file.kind == "requirements":
            effect = "pip decodes it as UTF-8 and stops with \"Invalid requirement: 'c\\x00l\\x00...'\""
        else:
            effect = f"{consumer.tool} expects UTF-8 and fails on it"
        yield entry.finding(
            f"{file.relative} is {name} {marked}: {effect}",
            severity=severity,
            locations=_location(file),
            fixes=(reencode_fix(file, facts.encoding or "utf-16", name),),
        )


@implements("ED202")
def utf8_bom_file(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """A UTF-8 byte-order mark in a file whose reader does not strip it."""
    for file in _scanned(ctx):
        facts = file.encoding
        consumer = CONSUMERS[file.kind]
        if facts is None or facts.bom != "utf-8-sig" or consumer.utf8_bom is None:
            continue
        yield entry.finding(
            f"{file.relative} starts with a UTF-8 byte-order mark, which {consumer.utf8_bom_effect}",
            severity=consumer.utf8_bom,
            locations=(Location(display_path(file.path), 1, 1),),
            fixes=(reencode_fix(file, "utf-8-sig", "UTF-8 with a BOM"),),
        )


def _legacy_is_declared(file: ScannedFile, facts: EncodingFacts) -> bool:
    """A Python file whose PEP 263 coding cookie names an encoding that decodes it."""
    if file.kind != "python" or not facts.coding_cookie:
        return False
    import codecs

    try:
        return codecs.lookup(facts.coding_cookie).name != "utf-8" and facts.lossless
    except LookupError:
        return False


@implements("ED203")
def legacy_encoding_file(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """A file in a legacy code page (GBK, Big5, Shift-JIS, cp1252, ...) where UTF-8 is expected."""
    for file in _scanned(ctx):
        facts = file.encoding
        if facts is None or facts.is_utf8 or facts.is_wide or _legacy_is_declared(file, facts):
            continue
        consumer = CONSUMERS[file.kind]
        if facts.encoding is None:
            message = f"{file.relative} is not UTF-8 and no encoding decodes it: {consumer.tool} cannot read it"
            fixes: tuple[Fix, ...] = (hint(f"find out how {file.relative} was written and re-save it as UTF-8"),)
        else:
            guess = facts.encoding + (f" (or {', '.join(facts.alternatives)})" if facts.alternatives else "")
            message = (
                f"{file.relative} is {guess}, not UTF-8: {consumer.tool} reads UTF-8 and fails "
                "with a UnicodeDecodeError"
                if consumer.legacy is Severity.ERROR
                else f"{file.relative} is {guess}, not UTF-8: its non-ASCII text prints garbled"
            )
            fixes = (reencode_fix(file, facts.encoding, facts.encoding),)
        yield entry.finding(message, severity=consumer.legacy, locations=_location(file), fixes=fixes)


@implements("ED204")
def mojibake_text(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """UTF-8 text that was decoded as cp1252/latin-1 and saved again."""
    for file in _scanned(ctx):
        facts = file.encoding
        if facts is None or facts.mojibake_preview is None:
            continue
        before, after = facts.mojibake_preview
        exact = (
            "every character maps back, so the repair is exact"
            if facts.mojibake_lossless
            else "not every character maps back (bytes lost in the bad save, or mixed text), so review the repair"
        )
        yield entry.finding(
            f"{file.relative} holds mojibake (UTF-8 read as cp1252/latin-1 and saved again): "
            f"{before!r} should read {after!r}; {exact}",
            locations=_location(file),
            fixes=(
                Fix(
                    title=(
                        f"repair it with ftfy (`ftfy {file.relative} -o {file.relative}.fixed`), check the "
                        "result, then replace the file; or restore it from the original source"
                    ),
                    applicability=Applicability.DISPLAY_ONLY,
                ),
            ),
        )


@implements("ED205")
def nul_bytes_in_text(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """NUL bytes in a text file that is not UTF-16/32."""
    for file in _scanned(ctx):
        facts = file.encoding
        if facts is None or facts.nul_bytes == 0 or facts.is_wide:
            continue
        sampled = f" in its first {MAX_READ_BYTES >> 20} MiB" if file.truncated else ""
        yield entry.finding(
            f"{file.relative} holds {facts.nul_bytes} NUL byte(s){sampled}: "
            f"{CONSUMERS[file.kind].tool} stops at them (a truncated download, a sparse or "
            "binary file saved under a text name)",
            locations=_location(file),
            fixes=(hint(f"re-create {file.relative} from its source; NUL bytes are not text"),),
        )


@implements("ED206")
def crlf_shell_script(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """Windows line endings in a shell script."""
    for file in _scanned(ctx):
        facts = file.encoding
        if facts is None or file.kind != "shell" or facts.crlf_lines == 0:
            continue
        applicability = Applicability.SAFE if not file.truncated else Applicability.DISPLAY_ONLY
        yield entry.finding(
            f"{file.relative} has {facts.crlf_lines} CRLF line ending(s): bash reads "
            "'\\r' as part of each command (\"$'\\r': command not found\", "
            "\"cd: $'/path\\r': No such file or directory\")",
            locations=_location(file),
            fixes=(
                Fix(
                    title=f"convert {file.relative} to LF line endings (the original is kept as a "
                    "backup); add `*.sh text eol=lf` to .gitattributes so it stays so",
                    applicability=applicability,
                    edits=(FileEdit(path=str(file.path), action="replace", old="\r\n", new="\n"),),
                ),
            ),
        )


@implements("ED207")
def unreadable_project_file(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """A file tools will read that cannot be read (a folder, a pipe, a broken link, no permission)."""
    project: ProjectFacts | None = ctx.project
    if project is None or project.scan is None:
        return
    for file in project.scan.files:
        if file.error is None:
            continue
        yield entry.finding(
            f"{file.relative} {file.error}: {CONSUMERS[file.kind].tool} will fail on it too",
            locations=_location(file),
            fixes=(hint(f"make {file.relative} a readable regular file, or remove it"),),
        )


@implements("ED208")
def project_scan_incomplete(ctx: Context, entry: RuleEntry) -> Iterator[Finding]:
    """The project scan stopped at one of its bounds."""
    project: ProjectFacts | None = ctx.project
    if project is None or project.scan is None or project.scan.stopped is None:
        return
    scan = project.scan
    yield entry.finding(
        f"the file scan of {display_path(scan.root)} stopped at {scan.stopped} after "
        f"{len(scan.files)} files ({scan.elapsed_s:.1f} s): files past that were not checked",
        fixes=(hint("point --path at the project folder itself, or list big data folders in .gitignore"),),
    )

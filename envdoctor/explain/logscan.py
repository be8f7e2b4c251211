"""Read an error log of any size as clean text lines, in constant memory.

A log arrives as a file, on stdin or inside a Jupyter notebook's outputs.  This
module decodes it (UTF-8, UTF-16/32 with a BOM, GBK and the other encodings
charset-normalizer recognises), refuses binary files with a one-line error,
strips ANSI colour codes and keeps only the last state of a carriage-return
progress bar (tqdm), then yields numbered lines.  Nothing here holds more than
one chunk and one (capped) line in memory.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from envdoctor.env.lockfile import BOMS
from envdoctor import userfiles
from envdoctor.errors import InputError

CHUNK_BYTES = 1 << 20
SAMPLE_BYTES = 64 * 1024
MAX_LINE_CHARS = 8192

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
_MAGIC = {b"\x1f\x8b": "a gzip archive; decompress it first (`gunzip -k FILE`)",
          b"PK\x03\x04": "a zip archive; extract the log from it first",
          b"\x7fELF": "an executable, not a log",
          b"\x89PNG": "a PNG image; copy the error text instead of a screenshot",
          b"SQLite format 3": "an SQLite database, not a log; pass the log your command printed"}


# The shapes of envdoctor's text report (envdoctor.engine.report.render_text).
_REPORT_HEADER = re.compile(r"^envdoctor (?:check|explain|fix|rollback|lock|estimate|diff)\b.{0,200}· ")
_REPORT_FINDING = re.compile(r"^[✗!i] ED\d{3} ")
_REPORT_LINE = re.compile(r"^(?:    (?:at |> |fix \()|      (?:\$ |env )|  note: |✓ no problems found|"
                          r"\d+ error\(s\), \d+ warning\(s\))")


@dataclass(frozen=True)
class LogLine:
    """One cleaned line: where it is (a path, or a notebook cell) and its 1-based number there."""

    where: str
    number: int
    text: str


@dataclass
class LogInfo:
    """What reading the log found out: its display name, encoding and line count."""

    name: str
    encoding: str = "utf-8"
    lines: int = 0
    kind: str = "text"


def clean(text: str) -> str:
    """Drop ANSI escapes and all but the last carriage-return segment (a progress bar's final state)."""
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    text = text.rstrip()
    return text.rpartition("\r")[2] if "\r" in text else text


def cap(text: str) -> str:
    """At most MAX_LINE_CHARS characters, keeping a progress bar's last state (after the last \\r)."""
    if len(text) <= MAX_LINE_CHARS:
        return text
    cut = text.rfind("\r", 0, len(text) - 1)
    return text[cut + 1:][:MAX_LINE_CHARS] if cut >= 0 else text[:MAX_LINE_CHARS]


def detect_encoding(sample: bytes, name: str) -> str:
    """The codec to read a log whose first bytes are ``sample``; InputError for a binary file."""
    for bom, codec in BOMS:
        if sample.startswith(bom):
            return codec
    for magic, what in _MAGIC.items():
        if sample.startswith(magic):
            raise InputError(f"{name}: this is {what}")
    mostly_nul = sample.count(0) > len(sample) // 4
    if not mostly_nul:
        try:
            codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
            return "utf-8"
        except UnicodeDecodeError:
            pass
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    if best is None or (mostly_nul and not best.encoding.startswith(("utf_16", "utf_32"))):
        raise InputError(f"{name}: binary file, not a text log; pass the text your command printed "
                         "(for example `cmd 2>&1 | tee run.log`)")
    return best.encoding


def _split_lines(stream: BinaryIO, encoding: str, first: bytes) -> Iterator[str]:
    """Decoded physical lines (split on \\n), each capped at MAX_LINE_CHARS characters."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    pending = ""
    chunk = first
    while True:
        final = not chunk
        pending += decoder.decode(chunk, final=final)
        *complete, pending = pending.split("\n")
        yield from complete
        if len(pending) > MAX_LINE_CHARS:  # an endless progress bar or a line with no end
            pending = cap(pending)
        if final:
            break
        chunk = stream.read(CHUNK_BYTES)
    if pending:
        yield pending


def read_stream(stream: BinaryIO, info: LogInfo) -> Iterator[LogLine]:
    """Numbered, cleaned lines of a byte stream; sets ``info.encoding`` and ``info.lines``."""
    first = stream.read(SAMPLE_BYTES)
    info.encoding = detect_encoding(first, info.name)
    for number, raw in enumerate(_split_lines(stream, info.encoding, first), start=1):
        info.lines = number
        yield LogLine(info.name, number, clean(cap(raw)))


def _cell_outputs(cell: dict) -> Iterator[str]:
    outputs = cell.get("outputs")
    for output in outputs if isinstance(outputs, list) else ():
        if not isinstance(output, dict):
            continue
        kind = output.get("output_type")
        if kind == "error":  # traceback entries are lines without their newline; the last names the error
            entries = [str(entry) for entry in output.get("traceback", ())]
            evalue = str(output.get("evalue", ""))
            if not any(clean(entry).rstrip().endswith(evalue) for entry in entries[-3:]):
                entries.append(f"{output.get('ename')}: {evalue}")
            text = "\n".join(entries)
        else:
            parts = output.get("text", "") if kind == "stream" else output.get("data", {}).get("text/plain", "")
            text = "".join(parts) if isinstance(parts, list) else str(parts)
        yield from text.splitlines()


def read_notebook(path: Path, info: LogInfo) -> Iterator[LogLine]:
    """The text of every cell's outputs (streams, tracebacks, results), numbered per cell."""
    try:
        doc = userfiles.load_json(path, "notebook", "export its output to a text file and explain that")
    except InputError as exc:
        raise InputError(f"{path}: not a valid notebook ({str(exc).split(': ', 1)[-1]}); pass a text log instead") \
            from None
    if not isinstance(doc, dict) or not isinstance(doc.get("cells"), list):
        raise InputError(f"{path}: not a Jupyter notebook (no 'cells' list)")
    info.kind = "notebook"
    for index, cell in enumerate(doc["cells"], start=1):
        if not isinstance(cell, dict):
            continue
        for number, raw in enumerate(_cell_outputs(cell), start=1):
            info.lines += 1
            yield LogLine(f"{info.name}#cell{index}", number, clean(cap(raw)))


def read_log(path: Path | None, stdin: BinaryIO) -> tuple[LogInfo, Iterator[LogLine]]:
    """Open ``path`` (or ``stdin`` when None) and return its info and a lazy line iterator."""
    if path is None:
        info = LogInfo(name="<stdin>")
        return info, own_reports_dropped(read_stream(stdin, info))
    info = LogInfo(name=str(path))
    if path.is_dir():
        raise InputError(f"{path}: is a folder; pass a log file (or - for stdin)")
    if path.suffix == ".ipynb":
        if not path.is_file():
            drive = " (a Drive path: mount Drive first, or download the notebook)" if "drive" in str(path).lower() \
                else ""
            raise InputError(f"{path}: no such notebook{drive}; pass the .ipynb file, or a text log")
        return info, own_reports_dropped(read_notebook(path, info))
    handle = userfiles.open_regular(path, "pass a log file, or - to read stdin")

    def lines() -> Iterator[LogLine]:
        with handle:
            yield from read_stream(handle, info)

    return info, own_reports_dropped(lines())


def own_reports_dropped(lines: Iterable[LogLine]) -> Iterator[LogLine]:
    """``lines`` without envdoctor's own earlier reports (a `!envdoctor check` cell): they are not evidence.

    A report starts with envdoctor's header (``envdoctor check · ...``) and runs while lines have
    its shapes (findings, ``at``/``>``/``fix``/``$``/``env`` lines, notes, the summary); a finding
    line (``✗ ED101 ...``) is dropped wherever it appears.
    """
    inside: str | None = None
    for line in lines:
        if _REPORT_HEADER.match(line.text):
            inside = line.where
            continue
        if _REPORT_FINDING.match(line.text) or (inside == line.where and _REPORT_LINE.match(line.text)):
            continue
        inside = None
        yield line

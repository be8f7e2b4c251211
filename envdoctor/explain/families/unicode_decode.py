"""Family: UnicodeDecodeError and other encoding mix-ups — which file, which encoding, and the fix.

A locale codec reading a UTF-8 file (``'gbk' codec can't decode``), a UTF-16 file read as
UTF-8 (a byte-order mark at position 0), a legacy-encoded file, or mojibake.  The file is the
one the traceback's last frame opened when the log names it; a local file's encoding is
detected (charset-normalizer).
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import ftfy

from envdoctor.explain.blame import group_frames
from envdoctor.explain.diagnosis import (
    HIGH,
    LOW,
    MEDIUM,
    Diagnosis,
    Evidence,
    explains,
    say,
    stale,
)
from envdoctor.explain.extractors import HitGroup
from envdoctor.findings import Applicability, Fix, Severity
from envdoctor.knowledge.base import RuleEntry

_OPENED = re.compile(r"""(?:open|load\w{0,20}|read_\w{1,20})\(\s{0,4}[rbuf]?["'](?P<path>[^"']{1,300})["']""")
MAX_DETECT_BYTES = 1 << 20
_UTF16_AS_BYTES = re.compile(r"(?:[^\s\ufffd] ){4,}")
_UTF8_DECODE = re.compile(r"'utf-8' codec can't decode byte 0x(?P<byte>[0-9a-f]{2}) in position (?P<position>\d+)")


def opened_file(group: HitGroup) -> str | None:
    """The file the failing code opened, when a traceback frame's source line names it."""
    for frame in reversed(group_frames(group)):
        if frame.code and (m := _OPENED.search(frame.code)):
            return m.group("path")
    return None


def detected(path: str | None, ev: Evidence) -> str:
    """``; `P` is ENCODING`` for a local file (charset detection), else ``; the file is `P` ``."""
    if path is None:
        return ""
    where = Path(path)
    if not ev.local or not where.is_file():
        return f" (the file: `{path}`)"
    from charset_normalizer import from_bytes

    with where.open("rb") as handle:
        best = from_bytes(handle.read(MAX_DETECT_BYTES)).best()
    return f" (the file `{path}` reads as {best.encoding})" if best else f" (the file: `{path}`)"


@explains("ED201", "ED203", "ED204", "ED606")
def text_encoding(group: HitGroup, entry: RuleEntry, ev: Evidence) -> Diagnosis:
    """Which encoding mix-up the line shows, and which file: locale codec, UTF-16 file, legacy file, or mojibake."""
    diagnosis = _mix_up(group, entry, ev)
    which = detected(opened_file(group), ev)
    return replace(diagnosis, message=diagnosis.message + which) if which else diagnosis


def _mix_up(group: HitGroup, entry: RuleEntry, ev: Evidence) -> Diagnosis:
    text = group.occurrences[0].text
    resave = say(
        "re-save the file as UTF-8 (`envdoctor check` finds such files in the project; in PowerShell "
        "write files with `-Encoding utf8`)"
    )
    if codec := group.groups.get("codec"):
        utf8_default = Fix(
            title="make UTF-8 Python's default text encoding (PEP 540), or pass encoding='utf-8' to open()",
            applicability=Applicability.SAFE,
            env={"PYTHONUTF8": "1"},
        )
        if ev.ctx is not None and ev.ctx.snapshot.environ.get("PYTHONUTF8") == "1":
            return Diagnosis(
                stale(
                    f"Python read a UTF-8 file with the locale codec {codec}; PYTHONUTF8=1 is set in the target now"
                ),
                LOW,
            )
        windows = ev.ctx is not None and ev.ctx.snapshot.system == "Windows"
        return Diagnosis(
            f"Python read a UTF-8 file with the locale's '{codec}' codec (the default of open() on a "
            "Chinese-locale Windows)",
            HIGH if windows else MEDIUM,
            (utf8_default,),
        )
    if entry.code == "ED204":
        reading = ftfy.fix_encoding(text)
        return Diagnosis(
            "this text is mojibake: UTF-8 that was decoded as cp1252/latin-1 and saved again "
            f"(line {group.occurrences[0].number} reads “{reading[:60]}”); read the original as UTF-8",
            MEDIUM,
            (say("re-export the document as UTF-8 from its source"),),
            severity=Severity.WARNING,
        )
    if m := _UTF8_DECODE.search(text):
        if m.group("byte") in ("ff", "fe") and m.group("position") == "0":
            return Diagnosis(
                f"the file starts with a UTF-16 byte-order mark (0x{m.group('byte')}): it is UTF-16, "
                "not UTF-8 (PowerShell's `>` writes UTF-16)",
                HIGH,
                (resave,),
                rule="ED201",
            )
        return Diagnosis(
            f"the file is not UTF-8 (byte 0x{m.group('byte')}): it was saved in a legacy encoding such as GBK",
            MEDIUM,
            (resave,),
        )
    if entry.code == "ED201":
        shown = " shown as 8-bit text (letters separated by spaces)" if _UTF16_AS_BYTES.search(text) else ""
        return Diagnosis(
            f"a UTF-16 file{shown}: pip and Python read UTF-8, so a UTF-16 requirements file or script fails",
            HIGH,
            (resave,),
        )
    return Diagnosis("a file is in a legacy encoding where UTF-8 is expected", MEDIUM, (resave,))

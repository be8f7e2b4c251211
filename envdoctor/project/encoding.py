"""What encoding a file's bytes are in, and whether re-encoding them to UTF-8 is lossless.

Pure functions of bytes: byte-order marks are read directly, BOM-less UTF-16/32,
legacy code pages (GBK/GB18030, Big5, Shift-JIS, cp1252, ...) are detected with
charset-normalizer, and mojibake (UTF-8 decoded as cp1252/latin-1 and saved
again) with ftfy's badness heuristic.  charset-normalizer is imported only for a
file that is not UTF-8, ftfy only for text holding the Latin-1 characters
that mojibake is made of, so scanning an ASCII or clean Chinese project
costs neither import.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

# Longest first: the UTF-32 LE mark starts with the UTF-16 LE one.
BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Python codec that strips the mark when decoding, per BOM kind.
BOM_CODECS = {"utf-32-le": "utf-32", "utf-32-be": "utf-32", "utf-8-sig": "utf-8-sig",
              "utf-16-le": "utf-16", "utf-16-be": "utf-16"}
CODING_COOKIE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")
# A rival detection within this much chaos (percent) that decodes differently makes the guess unsure.
RIVAL_CHAOS_MARGIN = 1.0
MOJIBAKE_SAMPLE_CHARS = 4000
# UTF-8 lead bytes 0xC2-0xF4 read as cp1252/latin-1 give these characters: no mojibake without one.
MOJIBAKE_LEAD = re.compile("[\u00c2-\u00f4]")


@dataclass(frozen=True)
class EncodingFacts:
    """What the bytes of one file are.

    ``encoding`` is a Python codec name that decodes the whole sample (``utf-8``
    for plain UTF-8, ``utf-16`` for UTF-16 with a BOM, ``gb18030``, ...) or None
    when nothing decodes it.  ``bom`` names a byte-order mark at the start.
    ``lossless``: decoding with ``encoding`` and encoding back gives the same
    bytes.  ``confident``: the detector had no rival reading of the bytes.
    ``alternatives`` are other encodings that fit about as well.
    ``mojibake_preview`` is a short before → after repair when the UTF-8 text
    reads as mojibake; ``mojibake_lossless`` whether that repair is exact.
    """

    encoding: str | None
    bom: str | None = None
    lossless: bool = False
    confident: bool = False
    alternatives: tuple[str, ...] = ()
    nul_bytes: int = 0
    crlf_lines: int = 0
    coding_cookie: str | None = None
    mojibake_preview: tuple[str, str] | None = None
    mojibake_lossless: bool = False

    @property
    def is_wide(self) -> bool:
        """UTF-16 or UTF-32, with or without a BOM."""
        return self.encoding is not None and self.encoding.replace("_", "-").startswith(("utf-16", "utf-32"))

    @property
    def is_utf8(self) -> bool:
        """Plain UTF-8 (ASCII included), with or without a BOM."""
        return self.encoding in ("utf-8", "utf-8-sig")


def _round_trips(data: bytes, codec: str) -> bool:
    try:
        return data.decode(codec).encode(codec) == data
    except (UnicodeError, LookupError):
        return False


def _bom(data: bytes) -> str | None:
    return next((name for mark, name in BOMS if data.startswith(mark)), None)


def _wide_without_bom(data: bytes) -> str | None:
    """UTF-16/32 without a BOM: NULs fall on a fixed byte position of each code unit."""
    if len(data) < 4 or data.count(0) < len(data) // 4:
        return None
    for codec, width, slot in (("utf-32-le", 4, 3), ("utf-32-be", 4, 0), ("utf-16-le", 2, 1), ("utf-16-be", 2, 0)):
        units = len(data) // width
        zeros = sum(1 for i in range(0, units * width, width) if data[i + slot] == 0)
        if zeros < units * 0.6 or not _round_trips(data[: units * width], codec):
            continue
        text = data[: units * width].decode(codec)
        if text.count("\x00") < len(text) * 0.1:  # not just a run of NUL bytes
            return codec
    return None


def _detect_legacy(data: bytes) -> tuple[str | None, bool, tuple[str, ...]]:
    """(codec, confident, rival codecs) from charset-normalizer for bytes that are not UTF-8."""
    import charset_normalizer

    matches = list(charset_normalizer.from_bytes(data))
    if not matches:
        return None, False, ()
    best = matches[0]
    text = str(best)
    rivals = tuple(m.encoding for m in matches[1:]
                   if m.percent_chaos <= best.percent_chaos + RIVAL_CHAOS_MARGIN and str(m) != text)
    return best.encoding, not rivals and best.percent_chaos < 5.0, rivals


def _mojibake(text: str) -> tuple[tuple[str, str] | None, bool]:
    """A (before, after) preview when ``text`` is mojibake, and whether the repair is exact."""
    sample = text[:MOJIBAKE_SAMPLE_CHARS]
    if text.isascii() or not MOJIBAKE_LEAD.search(sample):
        return None, False
    import ftfy
    from ftfy.badness import is_bad

    if not is_bad(sample):
        return None, False
    fixed = ftfy.fix_encoding(sample)
    if fixed == sample:
        return None, False
    before, after = sample.splitlines(), fixed.splitlines()
    pairs = [(b, a) for b, a in zip(before, after) if b != a] if len(before) == len(after) else []
    line, repaired = pairs[0] if pairs else (sample, fixed)
    return (line[:60], repaired[:60]), any(_undoes_mojibake(text, codec) for codec in ("cp1252", "latin-1"))


def _undoes_mojibake(text: str, codec: str) -> bool:
    """Whether ``text`` is exactly some UTF-8 text decoded as ``codec`` (then nothing was lost)."""
    try:
        text.encode(codec).decode("utf-8")
    except UnicodeError:
        return False
    return True


def analyse(data: bytes, python_source: bool = False) -> EncodingFacts:
    """The encoding facts of ``data`` (a whole file or its first bytes).

    ``python_source`` honours a PEP 263 coding cookie on the first two lines.
    """
    nul = data.count(0)
    crlf = data.count(b"\r\n")
    bom = _bom(data)
    if bom is not None:
        codec = BOM_CODECS[bom]
        body = data[len(next(mark for mark, name in BOMS if name == bom)):]
        strict_codec = "utf-8" if bom == "utf-8-sig" else bom
        return EncodingFacts(encoding=codec, bom=bom, lossless=_round_trips(body, strict_codec), confident=True,
                             nul_bytes=0 if codec != "utf-8-sig" else nul,
                             crlf_lines=crlf if codec == "utf-8-sig" else 0)
    wide = _wide_without_bom(data)
    if wide is not None:
        return EncodingFacts(encoding=wide, lossless=True, confident=True)
    cookie = None
    if python_source:
        for line in data.split(b"\n")[:2]:
            found = CODING_COOKIE.match(line)
            if found:
                cookie = found.group(1).decode("ascii", "replace")
                break
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(data) - 3 and exc.reason == "unexpected end of data":
            text = data[: exc.start].decode("utf-8")  # a sample cut inside a character
        else:
            guess, confident, rivals = _detect_legacy(data)
            return EncodingFacts(encoding=guess, lossless=guess is not None and _round_trips(data, guess),
                                 confident=confident, alternatives=rivals, nul_bytes=nul, crlf_lines=crlf,
                                 coding_cookie=cookie)
    preview, exact = _mojibake(text)
    return EncodingFacts(encoding="utf-8", lossless=True, confident=True, nul_bytes=nul, crlf_lines=crlf,
                         coding_cookie=cookie, mojibake_preview=preview, mojibake_lossless=exact)

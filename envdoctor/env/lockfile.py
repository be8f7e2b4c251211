"""Read pip-freeze and requirements-style lock files into pins.

Handles ``name==version`` (local labels such as ``2.3.1+cu121`` included),
``--hash`` options, environment markers, comments, line continuations,
``-r``/``-c`` includes and the pip options that may appear in a lock.  A snapshot JSON or a run
record (``training_info.json``) reads as the exact pins of its distributions.
A malformed line is an :class:`InputError` naming the file and line.
"""

from __future__ import annotations

import codecs
import shlex
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from envdoctor import userfiles
from envdoctor.env.pipconfig import redact_text
from envdoctor.env.probe import canonical_name
from envdoctor.errors import InputError

# pip options that may stand on their own line of a requirements file.
OPTION_LINES = ("-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--no-index",
                "--pre", "--prefer-binary", "--only-binary", "--no-binary", "--trusted-host",
                "--use-feature", "--require-hashes")
BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
MAX_INCLUDE_DEPTH = 20


@dataclass(frozen=True)
class Pin:
    """One requirement line of a lock file."""

    requirement: Requirement
    source: str
    line: int
    hashes: tuple[str, ...] = ()
    constraint: bool = False
    editable: bool = False

    @property
    def name(self) -> str:
        """Canonical project name."""
        return canonical_name(self.requirement.name)

    @property
    def exact_version(self) -> str | None:
        """The version of an ``==``/``===`` pin without wildcards, else None."""
        specs = list(self.requirement.specifier)
        if len(specs) == 1 and specs[0].operator in ("==", "===") and not specs[0].version.endswith("*"):
            return specs[0].version
        return None


def decode_bytes(data: bytes, path: str) -> str:
    """Decode a lock file the way pip does (BOM-aware, else UTF-8); binary data is an error."""
    for bom, encoding in BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise InputError(f"{path}: damaged {encoding.upper()} (byte {exc.start}); re-save the file as "
                                 "UTF-8") from None
    if b"\x00" in data:
        raise InputError(f"{path}: contains NUL bytes (UTF-16 without a BOM, or a binary file); "
                         "re-save it as UTF-8 (`envdoctor check --path` finds and fixes such files)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise InputError(f"{path}:{line}: not UTF-8 (byte 0x{data[exc.start]:02x}); re-save the file as UTF-8")


REQUIREMENT_SUFFIXES = (".txt", ".in", ".pip", ".lock", ".req")


def looks_like_requirements(path: Path) -> bool:
    """Whether ``path`` is named like a requirements file (only then may its lines be quoted in errors)."""
    name = path.name.lower()
    return name.endswith(REQUIREMENT_SUFFIXES) or any(w in name for w in ("requirement", "constraint", "freeze"))


def _shown(path: Path, word: str) -> str:
    """``word`` quoted (credentials hidden, cut short) when ``path`` is a requirements file, else not shown."""
    return repr(redact_text(word)[:80]) if looks_like_requirements(path) else "(not shown)"


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Join backslash continuations; drop comments; keep the first physical line number."""
    out: list[tuple[int, str]] = []
    buffer, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not buffer:
            start = number
        line = raw
        if line.lstrip().startswith("#"):
            line = ""
        elif " #" in line or "\t#" in line:
            line = line[: min(i for i in (line.find(" #"), line.find("\t#")) if i >= 0)]
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        buffer += line
        if buffer.strip():
            out.append((start, buffer.strip()))
        buffer = ""
    if buffer.strip():
        out.append((start, buffer.strip()))
    return out


def _include(words: list[str]) -> tuple[str, bool] | None:
    """(file, is_constraint) for a ``-r``/``-c`` line, else None."""
    head = words[0]
    for flag, is_constraint in (("--requirement", False), ("--constraint", True), ("-r", False), ("-c", True)):
        if head == flag:
            return (words[1] if len(words) > 1 else "", is_constraint)
        if head.startswith(flag + "="):
            return head[len(flag) + 1:], is_constraint
        if len(flag) == 2 and head.startswith(flag):
            return head[2:], is_constraint
    return None


def index_options(path: Path) -> tuple[str | None, tuple[str, ...], bool, tuple[str, ...]]:
    """The ``--index-url``, ``--extra-index-url``, ``--no-index`` and ``--find-links`` options of a
    requirements file (pip applies them like command-line options when installing it); includes
    are not followed.  A relative ``--find-links`` folder is relative to the file, as in pip."""
    index_url: str | None = None
    extras: list[str] = []
    links: list[str] = []
    no_index = False
    for _, line in _logical_lines(decode_bytes(userfiles.read_bytes(path, "requirements"), str(path))):
        if not line.startswith("-"):
            continue
        try:
            words = shlex.split(line, posix=True)
        except ValueError:
            continue  # parse_file reports it
        flag, _, value = words[0].partition("=")
        value = value or (words[1] if len(words) > 1 else "")
        if flag in ("-i", "--index-url") and value:
            index_url = value
        elif flag == "--extra-index-url" and value:
            extras.append(value)
        elif flag == "--no-index":
            no_index = True
        elif flag in ("-f", "--find-links") and value:
            beside = path.parent / value  # pip tries a relative folder beside the file first
            links.append(str(beside.resolve()) if "://" not in value and beside.exists() else value)
    return index_url, tuple(extras), no_index, tuple(links)


def _split_options(line: str) -> tuple[str, list[str]]:
    """A requirement line's specifier and its per-requirement options (``--hash=...``), the way pip
    splits it: options start at the first word beginning with ``-``.  Quotes in markers are kept."""
    words = line.split()
    first_option = next((i for i, word in enumerate(words) if word.startswith("-")), len(words))
    return " ".join(words[:first_option]), words[first_option:]


def json_pins(path: Path, text: str) -> list[Pin]:
    """The exact ``name==version`` pins of a snapshot JSON or a run record (its ``environment``),
    each located at the line that names the distribution."""
    data = userfiles.parse_json(text, path)
    try:
        env = data["environment"] if isinstance(data.get("environment"), dict) else data
        dists = [(str(d["name"]), str(d["version"])) for d in env["distributions"]]
    except (KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"{path}: not a snapshot or run record (missing or bad field {exc}); "
                         "pass a file written by `envdoctor snapshot -o` or `envdoctor run`")
    pins = []
    for name, version in dists:
        at = text.find(f'"name": "{name}"')
        try:
            requirement = Requirement(f"{name}=={version}")
        except InvalidRequirement as exc:
            raise InputError(f"{path}: bad distribution {name} {version} ({exc})")
        line = text.count("\n", 0, at) + 1 if at >= 0 else 1
        pins.append(Pin(requirement=requirement, source=str(path), line=line))
    return pins


def parse_file(path: Path, constraint: bool = False, _depth: int = 0, _from: str = "") -> list[Pin]:
    """Every requirement in ``path`` and the files it includes, in order.

    A file an include names that cannot be read is an error naming the including file and line.
    """
    if _depth > MAX_INCLUDE_DEPTH:
        raise InputError(f"{_from}: -r/-c includes nest deeper than {MAX_INCLUDE_DEPTH} (a cycle?)")
    try:
        data = userfiles.read_bytes(path, "requirements", "pass a requirements or freeze file")
    except InputError as exc:
        raise InputError(userfiles.one_line(f"{_from}: includes {exc}") if _from else str(exc)) from None
    text = decode_bytes(data, str(path))
    if text.lstrip().startswith("{"):
        return json_pins(path, text)
    pins: list[Pin] = []
    for number, line in _logical_lines(text):
        where = f"{path}:{number}"
        if line.startswith("-"):
            try:
                words = shlex.split(line, posix=True)
            except ValueError as exc:
                raise InputError(f"{where}: cannot split the line ({exc})")
            include = _include(words)
            if include is not None:
                target, is_constraint = include
                if not target:
                    raise InputError(f"{where}: {words[0]} needs a file name")
                pins += parse_file(path.parent / target, constraint=constraint or is_constraint, _depth=_depth + 1,
                                   _from=where)
                continue
            if words[0].split("=", 1)[0] in OPTION_LINES:
                continue
            if words[0] not in ("-e", "--editable"):
                raise InputError(f"{where}: unknown option {_shown(path, words[0])} in a requirements file")
            if len(words) < 2:
                raise InputError(f"{where}: -e needs a path or URL")
            spec, options, editable = words[1], words[2:], True
            if ("/" in spec or spec.startswith(".")) and "#egg=" not in spec:
                continue  # a local editable project: nothing to pin
            spec = spec.split("#egg=", 1)[1] if "#egg=" in spec else spec
        else:
            spec, options, editable = *_split_options(line), False
        stray = [w for w in options if not w.startswith("-")]
        if stray:
            raise InputError(f"{where}: unexpected {_shown(path, stray[0])} among the options of a requirement")
        hashes = tuple(w.split("=", 1)[1] if "=" in w else "" for w in options if w.startswith("--hash"))
        if any(not h or ":" not in h for h in hashes):
            raise InputError(f"{where}: malformed --hash (expected --hash=sha256:HEX)")
        try:
            req = Requirement(spec)
        except InvalidRequirement as exc:
            if not looks_like_requirements(path):  # never echo a line of a file that may hold secrets
                raise InputError(f"{where}: not a requirement; is {path.name} a requirements file?") from None
            first = redact_text(str(exc).splitlines()[0])[:120]
            raise InputError(f"{where}: not a requirement: {redact_text(spec)[:120]!r} ({first})") from None
        pins.append(Pin(requirement=req, source=str(path), line=number, hashes=hashes,
                        constraint=constraint, editable=editable))
    return pins

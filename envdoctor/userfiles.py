"""The one policy for the user's files: what envdoctor reads from them and how it writes its own.

Reading (every file reader goes through here): only regular files are read (a FIFO,
device or folder is a one-line error, so ``--env /dev/zero`` or a FIFO never hangs or
eats memory); each kind has a size cap; symlink loops, ``~nosuchuser/`` and other
unreadable paths are one-line errors naming the file; text is decoded BOM-aware
(UTF-8/16/32) with decode errors naming the file and byte; JSON and YAML nesting is
bounded, YAML aliases may expand to a bounded number of values (no alias bomb), and numbers with absurd magnitude are
refused.  Every message is one line, cut to :data:`MAX_MESSAGE` characters.

Writing: files that may hold environment details are created 0600
(:func:`write_private`); an output path that names a device, FIFO or folder is refused
(:func:`check_output`), so ``data.output: /dev/full`` is never replaced by a file.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any, BinaryIO

from envdoctor.errors import InputError

MB = 1 << 20
CAPS = {"config": 1 * MB, "json": 64 * MB, "requirements": 16 * MB, "log": 256 * MB, "notebook": 256 * MB,
        "text": 64 * MB}
MAX_DEPTH = 100
MAX_YAML_NODES = 100_000
MAX_NUMBER_DIGITS = 30
MAX_MESSAGE = 600
BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
        (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


def one_line(message: str) -> str:
    """``message`` on one line, at most :data:`MAX_MESSAGE` characters."""
    flat = " ".join(message.split())
    return flat if len(flat) <= MAX_MESSAGE else flat[:MAX_MESSAGE - 1] + "…"


def fail(path: Path | str, why: str, line: int | None = None) -> InputError:
    """The InputError for ``path`` (and ``line``), one line, cut to length."""
    where = f"{path}:{line}" if line else str(path)
    return InputError(one_line(f"{where}: {why}"))


def expand(path: Path) -> Path:
    """``path`` with a leading ``~`` or ``~user`` expanded; InputError for an unknown user."""
    text = str(path)
    if not text.startswith("~"):
        return path
    expanded = os.path.expanduser(text)
    if expanded.startswith("~"):
        raise fail(path, f"no such user {text[1:].split('/', 1)[0]!r}; write the folder out in full")
    return Path(expanded)


def _open_fd(path: Path, after: str, folder: str) -> int:
    """A read-only, non-blocking descriptor of ``path``; InputError naming it when it cannot be opened."""
    try:
        return os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise fail(path, f"no such file{after}") from None
    except IsADirectoryError:
        raise fail(path, folder) from None
    except OSError as exc:
        why = "a symlink loop" if exc.errno == 40 else (exc.strerror or type(exc).__name__)
        raise fail(path, f"cannot read it ({why}){after}") from None


def read_bytes(path: Path, kind: str = "text", hint: str = "", head: int | None = None) -> bytes:
    """The bytes of the regular file ``path``, at most the cap of ``kind``; InputError otherwise.

    With ``head``, only the first ``head`` bytes are read and a larger file is no error.

    The file is opened without blocking (a FIFO cannot hang the read) and checked with
    ``fstat`` on the open descriptor, so what is checked is what is read.
    """
    cap = CAPS.get(kind, CAPS["text"])
    after = f"; {hint}" if hint else ""
    path = expand(path)
    fd = _open_fd(path, after, f"is a folder, not a {kind} file; pass the file itself")
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise fail(path, f"is a folder, not a {kind} file; pass the file itself")
        if not stat.S_ISREG(info.st_mode):
            raise fail(path, f"not a regular file (a FIFO, socket or device); pass a file{after}")
        if head is not None:
            return os.read(fd, head)
        if info.st_size > cap:
            raise fail(path, f"{info.st_size // MB} MB is more than the {cap // MB} MB this tool reads for a {kind} "
                             "file; pass a smaller file")
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            total += len(chunk)
            if total > cap:
                raise fail(path, f"grew past {cap // MB} MB while being read")
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise fail(path, f"cannot read it ({exc.strerror or type(exc).__name__}){after}") from None
    finally:
        os.close(fd)


def open_regular(path: Path, hint: str = "") -> BinaryIO:
    """``path`` opened for reading as a binary stream, only if it is a regular file (for logs read lazily)."""
    after = f"; {hint}" if hint else ""
    path = expand(path)
    fd = _open_fd(path, after, f"is a folder, not a file{after}")
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = "is a folder, not a file" if stat.S_ISDIR(mode) else "not a regular file (a FIFO, socket or device)"
        raise fail(path, f"{kind}{after}")
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def decode(data: bytes, path: Path | str, any_bom: bool = False) -> str:
    """``data`` as UTF-8 text (a UTF-8 BOM is skipped); with ``any_bom`` also UTF-16/32 by their BOM.

    InputError naming the file, line and byte when it does not decode.
    """
    boms = BOMS if any_bom else BOMS[:1]
    encoding = next((enc for bom, enc in boms if data.startswith(bom)), "utf-8")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        name = encoding.removesuffix("-sig").upper()
        raise fail(path, f"not {name} (byte {exc.start}); save it as UTF-8", line) from None


def read_text(path: Path, kind: str = "text", hint: str = "", any_bom: bool = False) -> str:
    """:func:`read_bytes` then :func:`decode`."""
    return decode(read_bytes(path, kind, hint), expand(path), any_bom)


def _number(text: str) -> int | float:
    digits = text.lstrip("-+")
    if len(digits.split(".")[0].split("e")[0].split("E")[0]) > MAX_NUMBER_DIGITS:
        raise ValueError(f"a number of {len(digits)} digits")
    value = float(text) if any(c in text for c in ".eE") else int(text)
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        raise ValueError("a number too large for a float")
    return value


def _depth(value: Any, limit: int = MAX_DEPTH) -> None:
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            raise ValueError(f"nesting deeper than {limit} levels")
        if isinstance(item, dict):
            stack += [(v, depth + 1) for v in item.values()]
        elif isinstance(item, list):
            stack += [(v, depth + 1) for v in item]


def parse_json(text: str, path: Path | str) -> Any:
    """JSON with bounded nesting and sane numbers; InputError naming the file and line."""
    try:
        value = json.loads(text, parse_int=_number, parse_float=_number,
                           parse_constant=lambda name: _reject_constant(name))
        _depth(value)
        return value
    except json.JSONDecodeError as exc:
        raise fail(path, f"invalid JSON ({exc.msg})", exc.lineno) from None
    except RecursionError:
        raise fail(path, f"invalid JSON (nesting deeper than {MAX_DEPTH} levels)") from None
    except ValueError as exc:
        raise fail(path, f"invalid JSON ({exc})") from None


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def load_json(path: Path, kind: str = "json", hint: str = "") -> Any:
    """A user's JSON file under the policy."""
    return parse_json(read_text(path, kind, hint), expand(path))


def _expanded_size(root: Any) -> int:
    """How many nodes the YAML graph ``root`` has once every alias is expanded (memoised: linear time)."""
    import yaml

    sizes: dict[int, int] = {}
    order, stack = [], [root]
    while stack:  # post-order without recursion
        node = stack.pop()
        if id(node) in sizes:
            continue
        sizes[id(node)] = -1
        order.append(node)
        if isinstance(node, yaml.SequenceNode):
            stack += node.value
        elif isinstance(node, yaml.MappingNode):
            stack += [part for pair in node.value for part in pair]
    for node in reversed(order):
        children = (node.value if isinstance(node, yaml.SequenceNode) else
                    [p for pair in node.value for p in pair] if isinstance(node, yaml.MappingNode) else [])
        sizes[id(node)] = min(1 + sum(max(sizes[id(c)], 1) for c in children), 1 << 40)
    return sizes[id(root)]


def parse_yaml(text: str, path: Path | str) -> Any:
    """YAML (safe) whose aliases expand to at most :data:`MAX_YAML_NODES` nodes, with bounded nesting."""
    import yaml

    class Shallow(yaml.SafeLoader):
        """A SafeLoader that stops composing past :data:`MAX_DEPTH` levels (before Python's recursion limit)."""

        level = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            self.level += 1
            try:
                if self.level > MAX_DEPTH:
                    raise ValueError(f"nesting deeper than {MAX_DEPTH} levels")
                return super().compose_node(parent, index)
            finally:
                self.level -= 1

    try:
        loader = Shallow(text)
    except yaml.YAMLError as exc:  # the reader refuses control characters up front
        raise fail(path, f"not valid YAML ({exc})") from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node) > MAX_YAML_NODES:
            raise ValueError(f"its aliases expand to more than {MAX_YAML_NODES} values (an alias bomb?)")
        value = loader.construct_document(node)
        _depth(value)
        return value
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise fail(path, f"not valid YAML ({exc.problem})", mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise fail(path, f"not valid YAML ({exc})") from None
    except RecursionError:
        raise fail(path, f"not valid YAML (nesting deeper than {MAX_DEPTH} levels)") from None
    except ValueError as exc:
        raise fail(path, f"not valid YAML ({exc})") from None
    finally:
        loader.dispose()


def load_yaml(path: Path, kind: str = "config", hint: str = "") -> Any:
    """A user's YAML file under the policy."""
    return parse_yaml(read_text(path, kind, hint), expand(path))


def bounded_number(value: Any, name: str, path: Path | str, low: float = 1, high: float = 1e15) -> float:
    """``value`` as a number in ``[low, high]``; InputError naming the field otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise fail(path, f"{name} is {str(value)[:40]!r}; expected a number from {low:g} to {high:g}")
    return value


def check_output(path: Path) -> Path:
    """``path`` as a place to write a file: InputError when it is a device, FIFO, socket or folder."""
    path = expand(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return path
    except OSError as exc:
        raise fail(path, f"cannot write there ({exc.strerror})") from None
    if not stat.S_ISREG(mode):
        raise fail(path, "not a regular file (a device, FIFO or folder); name a file to write")
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` readable by its owner only (0600), never through a symlink."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)

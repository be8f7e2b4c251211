"""Which byte-order mark the target's pip sees at the start of a requirements file.

pip decodes a requirements file by testing a list of byte-order marks in order
and taking the first that the bytes start with.  The UTF-16 LE mark is a prefix
of the UTF-32 LE one, so an order that tests UTF-16 first reads a UTF-32 LE file
as UTF-16 and garbles every requirement.  pip's list had that order up to 24.3.1
(``pip/_internal/utils/encoding.py``) and tests the UTF-32 marks first from 25.0
(``pip/_internal/req/req_file.py``).  The order is read from the installed pip's
own source with ``ast`` (nothing is imported); a pin without its files falls
back to that release boundary.
"""

from __future__ import annotations

import ast
import codecs
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

from envdoctor.env.snapshot import Snapshot

# Where pip keeps its list of marks: since 25.0, then before.
SOURCES = ("pip/_internal/req/req_file.py", "pip/_internal/utils/encoding.py")
# First release whose list tests UTF-32 before UTF-16:
# https://github.com/pypa/pip/blob/25.0/src/pip/_internal/req/req_file.py (BOMS) against
# https://github.com/pypa/pip/blob/24.3.1/src/pip/_internal/utils/encoding.py (BOMS).
UTF32_FIRST_SINCE = Version("25.0")
MAX_SOURCE_BYTES = 1 << 20


def read_marks(site_packages: Path) -> tuple[bytes, ...] | None:
    """The marks pip under ``site_packages`` tests, in its order; None when its source does not say."""
    for relative in SOURCES:
        try:
            with open(site_packages / relative, "rb") as handle:
                tree = ast.parse(handle.read(MAX_SOURCE_BYTES))
        except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        for node in tree.body:
            if not isinstance(node, (ast.Assign, ast.AnnAssign)):
                continue
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "BOMS" for t in targets) \
                    and isinstance(node.value, (ast.List, ast.Tuple)):
                marks = [_mark(item) for item in node.value.elts]
                found = tuple(mark for mark in marks if mark is not None)
                if found and len(found) == len(marks):
                    return found
    return None


def _mark(item: ast.expr) -> bytes | None:
    """``codecs.BOM_UTF16_LE`` in ``(codecs.BOM_UTF16_LE, "utf-16-le")`` as its bytes."""
    if not (isinstance(item, ast.Tuple) and item.elts and isinstance(item.elts[0], ast.Attribute)):
        return None
    value = getattr(codecs, item.elts[0].attr, None) if item.elts[0].attr.startswith("BOM") else None
    return value if isinstance(value, bytes) else None


@dataclass(frozen=True)
class TargetPip:
    """The target's pip as far as its marks go: their order from its source, else its version."""

    version: str | None
    marks: tuple[bytes, ...] | None

    def misreads(self, bom: bytes) -> tuple[bool, str]:
        """Whether this pip takes a file starting with ``bom`` for another mark, and which pip says so.

        The second item names the pip (``pip 24.0``) or, with no pip in the target, the releases that
        misread it; an unknown pip counts as one that misreads (the re-encoding fix is harmless).
        """
        if self.version is not None and self.marks is not None:
            taken = next((mark for mark in self.marks if bom.startswith(mark)), None)
            return taken != bom, f"pip {self.version}"
        utf32_le = bom == codecs.BOM_UTF32_LE
        if self.version is not None:
            try:
                return utf32_le and Version(self.version) < UTF32_FIRST_SINCE, f"pip {self.version}"
            except InvalidVersion:
                pass
        return utf32_le, f"pip before {UTF32_FIRST_SINCE}"


def target_pip(snap: Snapshot) -> TargetPip:
    """The target's pip, its source read once (a rule asks it about every file it scans)."""
    dist = snap.distributions.get("pip")
    folder = dist.site_packages if dist is not None else None
    marks = read_marks(Path(folder)) if folder and Path(folder).is_dir() else None
    return TargetPip(dist.version if dist is not None else None, marks)


def misreads(snap: Snapshot, bom: bytes) -> tuple[bool, str]:
    """:meth:`TargetPip.misreads` of the target's pip."""
    return target_pip(snap).misreads(bom)

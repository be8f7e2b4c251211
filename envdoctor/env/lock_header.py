"""The header of an envdoctor lock file: its target, its source and how it was made.

pip-tools has no ``--check``, so a lock records where it came from::

    # envdoctor lock: do not edit by hand; re-make with the command below
    # target: python=3.12 platform=linux_x86_64 cuda=12.8
    # source: qlora_cuda12.in sha256=<digest of the .in and the files it includes>
    # made with: pip 26.3 install --dry-run --report ... (resolver for a foreign target)
    # command: envdoctor lock lockfiles/qlora_cuda12.in --python-version 3.12 ...
    # kb constraints: bitsandbytes>=0.45.1 when triton>=3.2.0 (ED101)
    # excluded (the platform provides them): nvidia-*, cuda-*

`envdoctor lock verify` reads the target from here, and calls the lock stale
when the digest of the ``.in`` no longer matches (or its requirements no longer
hold for the pins).  The digest covers the ``.in`` and every ``-r``/``-c`` file
it pulls requirements from, with line endings normalised.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from envdoctor.env.lockfile import decode_bytes, parse_file

TAG = "# envdoctor lock:"
_FIELD = re.compile(r"^# ([a-z][a-z ()]*): (.*)$")
HEADER_LINES = 20


@dataclass(frozen=True)
class LockHeader:
    """What a lock's header says."""

    python: str
    platform: str
    cuda: str | None
    source: str | None
    digest: str | None
    made_with: str
    command: str
    kb_constraints: str = ""
    excluded: str = ""

    def render(self) -> str:
        """The header lines, each starting with ``#``."""
        target = f"python={self.python} platform={self.platform} cuda={self.cuda or 'none'}"
        lines = [f"{TAG} do not edit by hand; re-make it with the command below",
                 f"# target: {target}", f"# source: {self.source} sha256={self.digest}",
                 f"# made with: {self.made_with}", f"# command: {self.command}",
                 f"# kb constraints: {self.kb_constraints or 'none needed'}",
                 f"# excluded (the platform provides them): {self.excluded or 'none'}"]
        return "\n".join(lines) + "\n"


def input_digest(in_file: Path) -> str:
    """sha256 of the ``.in`` and of every file it includes (paths relative to it, LF endings)."""
    sources = {in_file.resolve(), *(Path(pin.source).resolve() for pin in parse_file(in_file))}
    digest = hashlib.sha256()
    for path in sorted(sources):
        text = decode_bytes(path.read_bytes(), str(path)).replace("\r\n", "\n")
        digest.update(f"{path.name}\n{text}\n".encode())
    return digest.hexdigest()


def read_header(path: Path) -> LockHeader | None:
    """The header of ``path``, or None when it is not an envdoctor lock."""
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            head = [handle.readline().rstrip("\n") for _ in range(HEADER_LINES)]
    except OSError:
        return None
    if not head or not head[0].startswith(TAG):
        return None
    fields = {m.group(1): m.group(2).strip() for line in head if (m := _FIELD.match(line))}
    target = dict(word.split("=", 1) for word in fields.get("target", "").split() if "=" in word)
    source, _, digest = fields.get("source", "").partition(" sha256=")
    return LockHeader(python=target.get("python", ""), platform=target.get("platform", ""),
                      cuda=None if target.get("cuda") in (None, "none") else target["cuda"],
                      source=source or None, digest=digest or None,
                      made_with=fields.get("made with", ""), command=fields.get("command", ""),
                      kb_constraints=fields.get("kb constraints", ""),
                      excluded=fields.get("excluded (the platform provides them)", ""))

"""Replay: an identical ``envdoctor check --no-project`` of an unchanged environment prints the
recorded answer without loading click, packaging or a single rule.

A check's answer is a function of what it read, so a run records what that was and the next run
compares it before doing any work.  The entry's name hashes how the command was asked: the
command line, the working folder, the whole process environment (only its hash is kept: it may
hold tokens), the interpreter, and whether stdout and stderr are terminals (colour, progress).
Its stamps are ``(mtime_ns, size, inode)`` of every file and folder the answer rests on:

- envdoctor's own code and knowledge (every file of the package, links followed);
- the target: every ``sys.path`` entry (a folder's mtime moves when pip adds or removes a
  distribution), each distribution's ``.dist-info`` folder, ``METADATA`` and ``RECORD`` (the
  cross-package check keys installed files on the RECORD too), each ``.pth`` file, the interpreter
  and its ``pyvenv.cfg``;
- how the target is chosen: the notebook kernel's interpreter, the ``python`` and ``python3`` on
  ``PATH`` (and their ``pyvenv.cfg``);
- pip's configuration and constraints files (the index that fixes are resolved on);
- the machine: its boot id and the NVIDIA driver's version file (GPUs and drivers change with a
  reboot).
An answer that read the package index expires with the oldest index page it read
(:func:`envdoctor.env.index.pages_valid_until`), as a new run would read the page again then.

Only a run of envdoctor's own interpreter is recorded, and only when it is complete (the
cross-package check left nothing for a next run).  What such a run writes to stderr is progress
that erases itself on a terminal, so the stdout text and the exit code are the whole answer.
Nothing here imports beyond the standard library's cheapest modules; any doubt is a miss, and a
miss is a normal run.  ``--no-cache`` neither reads nor writes an entry.
"""

from __future__ import annotations

import errno
import json
import os
import sys
import time
from collections.abc import Iterable, Iterator, Sequence

FORMAT = 1
KEEP_ENTRIES = 64  # the replay folder keeps the newest this many entries
_IGNORED_ENVIRON = frozenset({"OLDPWD", "_"})  # set by the shell (`cd`, the last command), read by nothing here
_MACHINE_FILES = ("/proc/sys/kernel/random/boot_id", "/proc/driver/nvidia/version")

_armed: list[list[str]] = []  # the command line of this process, when the console entry ran it


def eligible(argv: Sequence[str]) -> bool:
    """Whether ``argv`` asks for a run that replay may answer (a full run decides what is recorded)."""
    words = set(argv)
    return (argv[:1] == ["check"] and "--no-project" in words and not words & {"--no-cache", "--help", "-h"}
            and not any(word == "--env" or word.startswith("--env=") for word in argv))


def arm(argv: Sequence[str]) -> None:
    """Let this process's check record its answer for ``argv`` (the console entry calls this)."""
    _armed[:] = [list(argv)]


def cache_folder() -> str:
    """Where the entries live, under envdoctor's cache root."""
    from envdoctor.env.cache import cache_dir

    return os.path.join(cache_dir(), "replay")


def _digest(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _tty(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except (OSError, ValueError):
        return False


def entry_path(argv: Sequence[str]) -> str:
    """The entry file for ``argv`` asked here and now (see the module docstring for what it hashes)."""
    environ = sorted((k, v) for k, v in os.environ.items() if k not in _IGNORED_ENVIRON)
    try:
        cwd = os.getcwd()
    except OSError:
        cwd = ""
    material = json.dumps([FORMAT, list(argv), cwd, sys.executable, sys.version, environ,
                           _tty(sys.stdout), _tty(sys.stderr)])
    return os.path.join(cache_folder(), _digest(material) + ".json")


def _stamp(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return [st.st_mtime_ns, st.st_size, st.st_ino]


def _files_under(root: str) -> Iterator[str]:
    for folder, subfolders, files in os.walk(root, followlinks=True):
        subfolders[:] = sorted(d for d in subfolders if d != "__pycache__")
        for name in sorted(files):
            if not name.endswith((".pyc", ".pyo")):
                yield os.path.join(folder, name)


def package_digest() -> str:
    """A digest of every file of envdoctor's package (its code and knowledge)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return _digest(json.dumps([[os.path.relpath(p, root), _stamp(p)] for p in _files_under(root)]))


def _read_small(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            return handle.read(4096).decode("utf-8", "replace")
    except OSError:
        return None


def _on_path(name: str) -> str | None:
    """The executable ``name`` on ``PATH``, as the shell would find it."""
    for folder in os.get_exec_path():
        candidate = os.path.join(folder, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def chosen() -> list[str | None]:
    """What decides which environment a plain ``envdoctor check`` looks at: the notebook kernel
    above this process (its interpreter), and the ``python`` and ``python3`` on ``PATH``."""
    from envdoctor.env import notebook

    kernel = notebook.kernel()
    return [kernel.python if kernel is not None else None, _on_path("python"), _on_path("python3")]


def _venv_cfg(executable: str | None) -> str | None:
    return os.path.join(os.path.dirname(os.path.dirname(executable)), "pyvenv.cfg") if executable else None


def stamped_paths(executable: str | None, locations: Iterable[str], picked: Sequence[str | None]) -> list[str]:
    """Every file and folder a check of this interpreter rests on (see the module docstring)."""
    from envdoctor.env import pipconfig

    paths: set[str] = {os.path.abspath(p or os.curdir) for p in sys.path}
    for location in locations:
        paths.update((location, os.path.join(location, "METADATA"), os.path.join(location, "RECORD"),
                      os.path.dirname(location)))
    for folder in [p for p in paths if os.path.isdir(p)]:
        try:
            paths.update(os.path.join(folder, n) for n in os.listdir(folder) if n.endswith(".pth"))
        except OSError:
            continue
    for python in (sys.executable, executable, *picked):
        if python:
            paths.update(p for p in (python, _venv_cfg(python)) if p)
    paths.update(str(p) for p in pipconfig.config_files(os.environ))
    paths.update(str(p) for p in pipconfig.constraint_files(os.environ))
    return sorted(paths)


def record(text: str, code: int, executable: str | None, locations: Iterable[str],
           valid_until: float | None) -> None:
    """Keep ``text`` (what the run printed) and ``code`` for the next identical run; a no-op unless
    the console entry armed this process.  Never fails the command: a cache that cannot be written
    is a cache that misses."""
    if not _armed:
        return
    argv = _armed[0]
    picked = chosen()
    paths = stamped_paths(executable, locations, picked)
    entry = {"format": FORMAT, "package": package_digest(), "machine": [_read_small(p) for p in _MACHINE_FILES],
             "chosen": picked, "expires": valid_until, "stamps": [[p, _stamp(p)] for p in paths],
             "text": text, "code": code}
    target = entry_path(argv)
    tmp = f"{target}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(entry, handle)
        os.replace(tmp, target)
        _prune(os.path.dirname(target))
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _prune(folder: str) -> None:
    """Drop all but the newest :data:`KEEP_ENTRIES` entries."""
    entries = []
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        stamp = _stamp(path)
        if name.endswith(".json") and stamp is not None:
            entries.append((stamp[0], path))
    for _, path in sorted(entries, reverse=True)[KEEP_ENTRIES:]:
        try:
            os.unlink(path)
        except OSError:
            pass


def answer(argv: Sequence[str]) -> tuple[str, int] | None:
    """The recorded text and exit code for ``argv`` when nothing it rests on has changed, else None."""
    if not eligible(argv):
        return None
    try:
        with open(entry_path(argv), encoding="utf-8") as handle:
            entry = json.load(handle)
        if entry["format"] != FORMAT or (entry["expires"] is not None and time.time() >= entry["expires"]):
            return None
        if any(_stamp(path) != stamp for path, stamp in entry["stamps"]):
            return None
        if entry["machine"] != [_read_small(p) for p in _MACHINE_FILES] or entry["chosen"] != chosen():
            return None
        if entry["package"] != package_digest():
            return None
        text, code = entry["text"], entry["code"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return (text, code) if isinstance(text, str) and isinstance(code, int) else None


def replayed(argv: Sequence[str]) -> int | None:
    """Print the recorded answer for ``argv`` and return its exit code; None to run the command."""
    found = answer(argv)
    if found is None:
        return None
    text, code = found
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        from envdoctor.cli.streams import silence_stdout

        silence_stdout()
        return 0  # the reader has what it wanted, as after a full run
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EIO, errno.EDQUOT):
            raise
        sys.stderr.write(f"envdoctor: error: cannot write the output ({exc.strerror}); free space or redirect it\n")
        return 2
    return code

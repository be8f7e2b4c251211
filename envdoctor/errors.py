"""Errors that end a command: bad input (exit 2, one line) and a chosen exit code."""

from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """Bad input from the user (a file, a flag, an interpreter): exit 2, one line, no traceback.

    The message names the file (and line, where there is one) and says what to do next.
    """


class ExitCode(Exception):
    """Stop the command with this exit code; what the user needs to read was already printed.

    Library code raises it instead of calling ``sys.exit``: only the CLI exits.
    """

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def read_user_text(path: Path, missing_hint: str, folder_hint: str) -> str:
    """A user's UTF-8 text file (a BOM is skipped); InputError with the hint when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file; {missing_hint}") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, {folder_hint}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 (byte {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read it ({exc.strerror})") from None

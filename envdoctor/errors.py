"""Errors that end a command: bad input (exit 2, one line) and a chosen exit code."""

from __future__ import annotations


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

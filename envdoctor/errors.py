"""Errors that end a command with a one-line message and exit code 2."""

from __future__ import annotations


class InputError(Exception):
    """Bad input from the user (a file, a flag, an interpreter): exit 2, one line, no traceback.

    The message names the file (and line, where there is one) and says what to do next.
    """

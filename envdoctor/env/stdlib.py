"""Modules a CPython release removed from the standard library: facts of Python itself.

Code written for an older Python imports them at module level; on the release that removed
them the import fails with ``ModuleNotFoundError``.  Sources: What's New in Python 3.10
(parser, symbol, formatter: https://docs.python.org/3.10/whatsnew/3.10.html#removed), 3.11
(binhex: https://docs.python.org/3.11/whatsnew/3.11.html#removed), 3.12 (PEP 632's distutils,
imp, and PEP 594's asynchat, asyncore, smtpd: https://docs.python.org/3.12/whatsnew/3.12.html#removed)
and 3.13 (the remaining 19 PEP 594 modules and lib2to3:
https://docs.python.org/3.13/whatsnew/3.13.html#pep-594-remove-dead-batteries-from-the-standard-library).
"""

from __future__ import annotations

from packaging.version import InvalidVersion, Version

_WHATS_NEW = "What's New in Python {0}"
_BY_RELEASE: dict[str, tuple[str, tuple[str, ...]]] = {
    "3.10": (_WHATS_NEW, ("formatter", "parser", "symbol")),
    "3.11": (_WHATS_NEW, ("binhex",)),
    "3.12": ("PEP 594 / PEP 632, " + _WHATS_NEW, ("asynchat", "asyncore", "distutils", "imp", "smtpd")),
    "3.13": ("PEP 594, " + _WHATS_NEW, ("aifc", "audioop", "cgi", "cgitb", "chunk", "crypt", "imghdr", "lib2to3",
                                         "mailcap", "msilib", "nis", "nntplib", "ossaudiodev", "pipes", "sndhdr",
                                         "spwd", "sunau", "telnetlib", "uu", "xdrlib")),
}
REMOVED: dict[str, tuple[str, str]] = {module: (python, source.format(python))
                                       for python, (source, modules) in _BY_RELEASE.items() for module in modules}


def removed_in(top: str) -> str | None:
    """The Python release (``"3.12"``) that removed top-level module ``top``; None when none did."""
    row = REMOVED.get(top)
    return row[0] if row else None


def removed_for(top: str, python: str | None) -> str | None:
    """The release that removed ``top`` when ``python`` (a version) is that release or later."""
    removed = removed_in(top)
    if removed is None or not python:
        return None
    try:
        return removed if Version(python).release[:2] >= Version(removed).release[:2] else None
    except InvalidVersion:
        return None


def source(top: str) -> str:
    """Where the removal is documented."""
    return REMOVED[top][1]


def backport_spellings(top: str) -> tuple[str, str]:
    """Names the removed-module backports are published under: python-deadlib's ``standard-imghdr``,
    ``audioop-lts`` (https://github.com/youknowone/python-deadlib, https://github.com/AbstractUmbra/audioop)."""
    return (f"standard-{top}", f"{top}-lts")

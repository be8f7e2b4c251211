"""Readable names for C++ symbols from `undefined symbol` lines.

``c++filt`` (binutils) gives the full signature when it is on PATH (run with an argv list
and a time limit); otherwise a small reader of the Itanium ABI mangling gives the
qualified name without its parameters (``_ZN3c104cuda9SetDeviceEi`` → ``c10::cuda::SetDevice``),
which is what says whose library the symbol belongs to.
"""

from __future__ import annotations

import shutil
import subprocess

CXXFILT_TIMEOUT_S = 5
MAX_SYMBOL_CHARS = 4096
_ABBREVIATIONS = {"St": "std", "Sa": "std::allocator", "Sb": "std::basic_string", "Ss": "std::string",
                  "Si": "std::istream", "So": "std::ostream", "Sd": "std::iostream"}


def demangle(symbol: str) -> str:
    """The demangled form of ``symbol`` (the input itself when it is not an Itanium C++ name)."""
    symbol = symbol[:MAX_SYMBOL_CHARS]
    if not symbol.startswith("_Z"):
        return symbol
    tool = shutil.which("c++filt")
    if tool:
        try:
            proc = subprocess.run([tool, symbol], capture_output=True, text=True, timeout=CXXFILT_TIMEOUT_S,
                                  check=False)
            text = proc.stdout.strip()
            if proc.returncode == 0 and text and text != symbol:
                return text
        except (OSError, subprocess.TimeoutExpired):
            pass
    return qualified_name(symbol) or symbol


def qualified_name(symbol: str) -> str | None:
    """The ``a::b::c`` name of an Itanium-mangled ``symbol`` (no parameters); None when unreadable."""
    text = symbol[2:]
    pos = 0
    parts: list[str] = []
    nested = text.startswith("N")
    if nested:
        pos = 1
        while pos < len(text) and text[pos] in "rVKRO":  # cv- and ref-qualifiers of a method
            pos += 1
    while pos < len(text):
        char = text[pos]
        if char.isdigit():
            end = pos
            while end < len(text) and text[end].isdigit():
                end += 1
            length = int(text[pos:end])
            name = text[end:end + length]
            if len(name) != length:
                return None
            parts.append(name)
            pos = end + length
        elif text.startswith(tuple(_ABBREVIATIONS), pos):
            parts.append(_ABBREVIATIONS[text[pos:pos + 2]])
            pos += 2
        elif char == "S" and (end := text.find("_", pos)) > 0 and end - pos <= 4:
            pos = end + 1  # a substitution of an earlier prefix: already in parts
        elif char == "C" and pos + 1 < len(text) and text[pos + 1] in "123":
            parts.append(parts[-1] if parts else "?")  # constructor
            pos += 2
        elif char == "D" and pos + 1 < len(text) and text[pos + 1] in "012":
            parts.append("~" + (parts[-1] if parts else "?"))  # destructor
            pos += 2
        elif char == "I":  # template arguments: the name is complete enough
            break
        else:
            break
        if not nested:
            break
        if pos < len(text) and text[pos] == "E":
            break
    return "::".join(parts) or None


def namespace(symbol: str) -> str | None:
    """The outermost namespace of an Itanium-mangled ``symbol`` (``c10``, ``at``, ``torch``, ``std``)."""
    name = qualified_name(symbol) if symbol.startswith("_Z") else None
    return name.split("::")[0] if name and "::" in name else None

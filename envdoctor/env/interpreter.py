"""How envdoctor runs code in another interpreter: isolated, so no project file is imported.

``python -I`` ignores ``PYTHON*`` variables and the user site and leaves the current
folder (and the script's folder) off ``sys.path``, so a project's ``csv.py`` or
``json.py`` is never imported in place of the standard library.  The absolute entries
of ``PYTHONPATH`` are put back (they are part of the environment being looked at);
relative ones (``.``, empty) are not, as they would again mean the current folder.
"""

from __future__ import annotations

_PRELUDE = ("import os, sys; sys.path[:0] = [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) "
            "if os.path.isabs(p)]; ")


def isolated(python: str, code: str) -> list[str]:
    """The argv running the one-line program ``code`` in ``python`` without the current folder on sys.path."""
    return [python, "-I", "-c", _PRELUDE + code]

"""`python -m envdoctor` runs the CLI.

Under IPython (``%run -m envdoctor check``) a non-zero exit would end in IPython's
``SystemExit: 1`` traceback noise; there the exit status goes to ``_exit_code`` in the user
namespace instead, as IPython does for ``!cmd``, and nothing is raised.
"""

import sys

from envdoctor.cli.entry import main


def _ipython() -> object:
    """The running IPython shell, when this runs inside one (never imports IPython)."""
    module = sys.modules.get("IPython")
    get = getattr(module, "get_ipython", None) if module is not None else None
    return get() if callable(get) else None


try:
    main()
except SystemExit as exc:
    shell = _ipython()
    if shell is None:
        raise
    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    getattr(shell, "user_ns", {})["_exit_code"] = code

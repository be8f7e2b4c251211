"""The console entry: replay an unchanged `envdoctor check --no-project`, else run the CLI.

Kept to the standard library so that a replayed check costs an interpreter start and a few
dozen ``stat`` calls (see :mod:`envdoctor.cli.replay`).
"""

from __future__ import annotations

import sys

from envdoctor.cli import replay
from envdoctor.cli.streams import open_closed_streams


def main() -> None:
    """Run `envdoctor` with ``sys.argv``."""
    open_closed_streams()
    argv = sys.argv[1:]
    code = replay.replayed(argv)
    if code is not None:
        sys.exit(code)
    replay.arm(argv)
    from envdoctor.cli.app import main as run

    run()

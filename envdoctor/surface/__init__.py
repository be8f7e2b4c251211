"""The API surface of distributions, read from their own source with :mod:`ast` (never imported).

- :mod:`.statics` evaluates constant expressions (name tables, messages) without running code;
- :mod:`.symbols` summarises one module's surface (names, classes, signatures, lazy tables);
- :mod:`.sources` reads a release's files: installed (RECORD), a wheel by range requests, an sdist;
- :mod:`.index` holds a release's module summaries, parsed on demand and cached on disk;
- :mod:`.lookup` answers "does ``lib.m.X`` (or its attribute, or keyword) exist in this release?";
- :mod:`.bisect` finds the releases that have a symbol by bisecting the index's release list;
- :mod:`.references` and :mod:`.crosscheck` check what one distribution uses of another;
- :mod:`.project` checks the user's scripts against the installed libraries;
- :mod:`.api` is the entry point other parts of envdoctor (``explain``) call.
"""

"""What a fresh install of a file target brings in: its pins and, transitively, what they require.

A lock or a pasted freeze often lists only what its author thought of; ``pip install -r`` then
adds every requirement the pins declare, and theirs in turn.  :func:`install_closure` follows
those requirements (markers and extras as on the target) to the newest release each admits,
reading their metadata from the index (cached by envdoctor.env.index), and returns every name
the install would have.  It answers None rather than guess: a pin whose metadata is unknown, a
requirement no release on the index satisfies, or a run past its deadline.
"""

from __future__ import annotations

import time

from envdoctor.env.probe import canonical_name
from envdoctor.env.requirements import active_requirements, requested_extras
from envdoctor.env.snapshot import Distribution, Snapshot

MAX_DISTRIBUTIONS = 250  # an install larger than this is not followed (None)


def install_closure(snap: Snapshot, deadline: float) -> frozenset[str] | None:
    """The names of every distribution ``pip install`` of the file target ``snap`` would install,
    or None when that cannot be told before ``deadline`` (a :func:`time.monotonic` value)."""
    from envdoctor.env.index import IndexSearch

    if any(not dist.metadata_known for dist in snap.distributions.values()):
        return None
    extras: dict[str, set[str]] = {name: set(found) for name, found in requested_extras(snap).items()}
    seen: dict[str, Distribution] = dict(snap.distributions)
    queue = list(snap.distributions.values())
    search: IndexSearch | None = None
    while queue:
        if time.monotonic() > deadline or len(seen) > MAX_DISTRIBUTIONS:
            return None
        dist = queue.pop()
        for req in active_requirements(dist, snap, extras.get(dist.name, ())):
            name = canonical_name(req.name)
            if req.extras - extras.setdefault(name, set()) and name in seen and name not in snap.distributions:
                extras[name] |= req.extras  # an extra asked for later: its requirements too
                queue.append(seen[name])
            extras[name] |= req.extras
            if name in seen:
                continue
            search = search or IndexSearch.for_snapshot(snap, quiet=True)
            admitted = [v for v in search.releases(name) if req.specifier.contains(v)]
            if not admitted:
                return None
            newest = str(admitted[-1])
            metadata = search.metadata(name, [newest])[0].metadata
            if metadata is None:
                return None
            seen[name] = Distribution(name, newest, metadata.requires, metadata.requires_python)
            queue.append(seen[name])
    return frozenset(seen)

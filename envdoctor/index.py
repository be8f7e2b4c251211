"""Fill in the metadata of pinned versions for a lock-file target.

Placeholder until the PEP 658 metadata fetcher lands: records that metadata is unknown.
"""

from __future__ import annotations

from envdoctor.snapshot import Snapshot


def fill_metadata(snap: Snapshot, offline: bool, quiet: bool) -> Snapshot:
    """Return ``snap`` with Requires-Dist/Requires-Python filled where known."""
    unknown = sum(not d.metadata_known for d in snap.distributions.values())
    return snap.with_changes(notes=(*snap.notes, f"metadata unknown for {unknown} pinned packages; "
                                    "declared requirements were not checked"))

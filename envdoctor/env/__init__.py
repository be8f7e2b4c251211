"""Facts about an environment: probe, snapshot, hardware, targets, lock-file parsing, the package index."""

"""`envdoctor lock`: write and verify pinned, hashed lockfiles."""

"""The knowledge base: TOML rule entries and fact tables, loaded by envdoctor.knowledge."""

"""The knowledge base: curated rule entries (checks/*.toml), validated, with their docs and facts."""

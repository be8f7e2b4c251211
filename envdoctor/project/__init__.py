"""Facts about the user's project: files, encodings, databases, configs, model folders."""

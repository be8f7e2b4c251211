"""Memory arithmetic: the QLoRA peak estimate, GPU table, model shapes and headroom verdicts."""

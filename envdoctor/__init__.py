"""envdoctor: make LLM fine-tuning runs start and finish on the first try."""

__version__ = "0.1.0"

"""Python rule implementations; importing this package registers them with the engine.

Each module implements the rules whose knowledge-base entries say ``check = "python"``.
"""

from envdoctor.rules import llamafactory, lockfiles, requirements, torch_stack  # noqa: F401

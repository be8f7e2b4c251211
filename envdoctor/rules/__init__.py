"""Python rule implementations; importing this package registers them with the engine.

Each module implements the rules whose knowledge-base entries say ``check = "python"``.
"""

from envdoctor.rules import (  # noqa: F401
    encodings,
    llamafactory,
    llamafactory_config,
    models,
    paths,
    requirements,
    sqlite,
    torch_stack,
)

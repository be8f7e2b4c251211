"""Python rule implementations, one module per concept.

A knowledge-base entry with ``check = "python"`` names its module (``module = "requirements"``);
the engine imports that module only when the rule runs, and its ``@implements`` functions register.
"""

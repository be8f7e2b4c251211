"""Error families: one module per kind of failure, each resolving its error against the target.

Each module registers its explainer for the knowledge-base log rules whose signatures find
that family's lines (checks/explain.toml and the rules' own ``signatures``).  Curated rules
with their own checks stay on top: the scanner keeps the most specific rule of a line, and a
family runs only where no curated rule matched.
"""

from __future__ import annotations

from envdoctor.explain.families import (
    attribute,
    config_keys,
    cuda_oom,
    host_ram,
    import_name,
    kernel_image,
    kwarg,
    missing_library,
    model_type,
    numpy_abi,
    raised_message,
    requires_python,
    trust_remote_code,
    undefined_symbol,
    unicode_decode,
    unpickling,
    version_gate,
    works_in,
)

MODULES = (attribute, config_keys, cuda_oom, host_ram, import_name, kernel_image, kwarg, missing_library, model_type,
           numpy_abi, raised_message, requires_python, trust_remote_code, undefined_symbol, unicode_decode,
           unpickling, version_gate, works_in)

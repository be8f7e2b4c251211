"""Family: trust_remote_code — the model repository ships its own modeling code.

transformers refuses to run a repository's Python code unless the caller allows it; the fix
is the flag, after reading the code and pinning the revision.
"""

from __future__ import annotations

from envdoctor.explain.diagnosis import HIGH, Diagnosis, Evidence, explains, say
from envdoctor.explain.extractors import HitGroup
from envdoctor.knowledge.base import RuleEntry


@explains("ED230")
def trust_remote_code(group: HitGroup, entry: RuleEntry, ev: Evidence) -> Diagnosis:
    """The model repository ships its own modeling code; loading it needs trust_remote_code=True."""
    return Diagnosis(
        "the model's repository ships custom modeling code and the run did not allow it (trust_remote_code=True)",
        HIGH,
        (
            say(
                "LLaMA-Factory: `--trust_remote_code true`; transformers: "
                "`from_pretrained(..., trust_remote_code=True)`; envdoctor.yaml: "
                "`model.trust_remote_code: true`",
                "it runs the repository's Python code: read it and pin `model.revision` first",
            ),
        ),
    )

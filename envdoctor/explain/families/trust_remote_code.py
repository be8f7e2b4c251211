"""Family: trust_remote_code — the model or dataset repository ships its own code.

transformers refuses to run a model repository's Python code unless the caller allows it, and
datasets (2.16 to 3.x) a dataset's loading script; the fix is the flag, after reading the code
and pinning the revision.  Which release started asking is read from the package's own source
(the message searched in its releases, as :mod:`raised_message` does): a pin below it is the
other way out for code that cannot pass the flag.
"""

from __future__ import annotations

from envdoctor.explain import api_surface
from envdoctor.explain.diagnosis import HIGH, Diagnosis, Evidence, explains, say
from envdoctor.explain.extractors import HitGroup
from envdoctor.findings import Applicability, Fix, pip_install_fix
from envdoctor.knowledge.base import RuleEntry


@explains("ED230")
def trust_remote_code(group: HitGroup, entry: RuleEntry, ev: Evidence) -> Diagnosis:
    """The repository ships its own code; loading it needs trust_remote_code=True."""
    line = group.occurrences[0].text
    dataset = "dataset" in line.lower()  # datasets' wording: "... to correctly load the dataset"
    dist = "datasets" if dataset else "transformers"
    fixes: list[Fix] = [say(
        ("datasets: `load_dataset(..., trust_remote_code=True)` or `HF_DATASETS_TRUST_REMOTE_CODE=1`" if dataset else
         "LLaMA-Factory: `--trust_remote_code true`; transformers: `from_pretrained(..., trust_remote_code=True)`; "
         "envdoctor.yaml: `model.trust_remote_code: true`"),
        "it runs the repository's Python code: read it and pin the revision first",
    )]
    asked = api_surface.phrase_boundary(dist, line, around=ev.installed(dist), offline=ev.offline)
    since = ""
    if asked is not None and asked.added_in and asked.last_without:
        since = f"; {dist} asks for it from {asked.added_in} on ({asked.last_without} ran the code without asking)"
        fixes.append(pip_install_fix(f"or pin {dist}<{asked.added_in}, the releases that did not ask",
                                     {dist: f"<{asked.added_in}"}, Applicability.UNSAFE))
    what = "dataset's repository ships a loading script" if dataset else "model's repository ships custom modeling code"
    return Diagnosis(f"the {what} and the run did not allow it (trust_remote_code=True){since}", HIGH, tuple(fixes),
                     (dist,))

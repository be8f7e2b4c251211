"""Family: killed / exit -9 / 137 / 247 — the kernel's OOM killer ended the process (host RAM).

Every rank of a multi-process launch loads its own copy of the checkpoint into CPU RAM; the
arithmetic is ranks × parameters × 2 bytes (16-bit) against the RAM the log states or the
target's snapshot reports.
"""

from __future__ import annotations

from envdoctor.explain.diagnosis import HIGH, MEDIUM, Diagnosis, Evidence, explains, say
from envdoctor.explain.extractors import HitGroup
from envdoctor.knowledge.base import RuleEntry

ESTIMATE_HINT = "estimate peak GPU memory and host RAM first: `envdoctor estimate --config envdoctor.yaml`"


@explains("ED605")
def host_ram(group: HitGroup, entry: RuleEntry, ev: Evidence) -> Diagnosis:
    """SIGKILL while loading: ranks × model bytes against the host RAM."""
    exit_code = group.groups.get("exit")
    killed = f"the process was killed by SIGKILL{f' (exit code {exit_code})' if exit_code else ''}"
    facts = ev.facts
    ram_mib = ev.ctx.snapshot.hardware.ram_total_mib if ev.ctx else None
    # The RAM the log states is the crashed machine's; else the target's (the snapshot's).
    ram_gb, ram_from = (
        (facts.ram_gb, "the log")
        if facts.ram_gb
        else (ram_mib * 2**20 / 1e9, "this machine")
        if ram_mib
        else (None, "")
    )
    fixes = (
        say(ESTIMATE_HINT),
        say(
            "load the model once: one process with 4-bit QLoRA (bitsandbytes NF4) instead of several ranks "
            "each loading 16-bit weights"
        ),
        say("fewer ranks (--nproc_per_node / --num_gpus), low_cpu_mem_usage=True, or more RAM / swap"),
    )
    if facts.params_billion is None or ram_gb is None:
        known = f"{ram_gb:.0f} GB RAM ({ram_from})" if ram_gb else "the model size and RAM are not in the log"
        return Diagnosis(
            f"{killed}: the kernel's OOM killer ends a process that exhausts host RAM, usually while "
            f"loading the model ({known})",
            MEDIUM,
            fixes,
        )
    ranks = facts.ranks or 1
    model_gb = facts.params_billion * 2
    need = ranks * model_gb
    arithmetic = (
        f"{ranks} process{'es' if ranks > 1 else ''} × {model_gb:.1f} GB "
        f"({facts.params_billion:g}B parameters × 2 bytes in 16-bit) = {need:.1f} GB"
    )
    if need > ram_gb * 0.9:
        return Diagnosis(
            f"{killed}: host RAM ran out while loading: {arithmetic} > {ram_gb:.0f} GB RAM ({ram_from})", HIGH, fixes
        )
    return Diagnosis(
        f"{killed}: {arithmetic} fits in {ram_gb:.0f} GB RAM ({ram_from}), so the load alone does not "
        "explain it; watch RAM (`free -h`) while it runs",
        MEDIUM,
        fixes,
    )

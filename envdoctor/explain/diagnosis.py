"""What explaining one error produces, what it is compared with, and the registry of explainers.

:class:`Evidence` is the target (a snapshot context, or nothing with ``--no-env``) plus the
facts read from the whole log; a :class:`Diagnosis` is one explanation before it becomes a
finding.  Explainers register for the knowledge-base codes whose signatures they explain
(:func:`explains`); the error families (envdoctor.explain.families) and the rule-specific
explanations (envdoctor.explain.interpret) both do.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from envdoctor.env import owners
from envdoctor.env.probe import canonical_name
from envdoctor.explain.extractors import HitGroup, LogFacts
from envdoctor.findings import Fix, Severity, hint
from envdoctor.knowledge.base import KnowledgeBase, RuleEntry
from envdoctor.rules.base import Context

HIGH, MEDIUM, LOW = "high", "medium", "low"


@dataclass
class Evidence:
    """What a log is compared with: the target's context (None with --no-env) and local files.

    ``cache_only`` (``--offline``) forbids index requests: the families' release look-ups use the
    cache only; so they do once ``deadline`` (a :func:`time.monotonic` value: the run's look-up
    budget) has passed, and ``budget_spent`` then says so.
    """

    kb: KnowledgeBase
    facts: LogFacts
    ctx: Context | None = None
    python: str | None = None
    local: bool = True
    db: Path | None = None
    cache_only: bool = False
    notebook: bool = False
    deadline: float | None = None
    budget_spent: bool = field(default=False, repr=False)
    searches: int = field(default=0, repr=False)  # messages searched in release sources this run (raised_message)
    _owners: dict[str, list[str]] | None = field(default=None, repr=False)

    @property
    def offline(self) -> bool:
        """Whether release look-ups stay in the cache: --offline, or the run's look-up budget is spent."""
        if not self.cache_only and self.deadline is not None and time.monotonic() > self.deadline:
            self.budget_spent = True
        return self.cache_only or self.budget_spent

    def installed(self, name: str) -> str | None:
        """The target's version of distribution ``name`` (None without a target)."""
        return self.ctx.snapshot.version_of(name) if self.ctx else None

    def distribution_of(self, module: str) -> str:
        """The distribution providing import name ``module`` (the target's own map when it can answer)."""
        if self._owners is None:
            source = self.ctx.snapshot.source if self.ctx else ""
            asks_interpreter = source == "live" or source.startswith("python:")
            self._owners = owners.module_owners(self.python) if asks_interpreter else {}
        return owners.distribution_for_module(module, self._owners, self.kb.tables.get("module_distributions", {}))

    def providers_of(self, module: str, importer: str | None = None, spellings: tuple[str, ...] = ()) -> list[str]:
        """The distributions to install for a missing import name: the target's owner or the curated
        name when one is known, else those the index says ship it among ``spellings`` (tried first),
        the importer's requirements and the name's usual spellings (:mod:`envdoctor.surface.providers`);
        more than one when the name is ambiguous, none when nothing is known."""
        known = self.distribution_of(module)
        top = module.split(".")[0]
        if self.installed(known) or (self._owners or {}).get(top) or \
                top in self.kb.tables.get("module_distributions", {}):
            return [known]
        candidates: list[str] = list(spellings)
        if self.ctx is not None and importer in self.ctx.snapshot.distributions:
            from envdoctor.env.requirements import active_requirements

            snap = self.ctx.snapshot
            candidates += [canonical_name(r.name) for r in active_requirements(snap.distributions[importer], snap)]
        from envdoctor.surface.providers import providers

        return providers(module, candidates, offline=self.offline)

    def unlisted(self, dist: str) -> bool:
        """Whether the target is a file (a lock or freeze: it may list part of an environment) that
        does not list ``dist``: the log's run had it, so its absence rules nothing out."""
        return self.ctx is not None and self.ctx.snapshot.source.startswith("file:") and self.installed(dist) is None

    def location(self, dist: str) -> str | None:
        """The target's site-packages folder of ``dist`` (None for lock files and --no-env)."""
        if self.ctx is None or dist not in self.ctx.snapshot.distributions:
            return None
        return self.ctx.snapshot.distributions[dist].site_packages


@dataclass(frozen=True)
class Diagnosis:
    """The explanation of one hit group before it becomes a finding."""

    message: str
    confidence: str
    fixes: tuple[Fix, ...] = ()
    packages: tuple[str, ...] = ()
    severity: Severity | None = None
    rule: str | None = None  # report under another rule than the one whose signature matched


Explainer = Callable[[HitGroup, RuleEntry, Evidence], "Diagnosis | None"]  # None: nothing to say of the line
EXPLAINERS: dict[str, Explainer] = {}


def explains(*codes: str) -> Callable[[Explainer], Explainer]:
    """Register the explanation of the log rules ``codes``."""
    def register(func: Explainer) -> Explainer:
        for code in codes:
            EXPLAINERS[code] = func
        return func
    return register


def stale(what: str) -> str:
    """A message for a cause the target rules out."""
    return (f"{what}: the log is stale (it predates a change) or comes from another environment; "
            "re-run to see the current error")


def say(*options: str) -> Fix:
    """A display-only fix: what to change, in words."""
    return hint("; ".join(options))

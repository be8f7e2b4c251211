"""Match log lines against the knowledge base's error signatures, in one pass.

Every rule entry carries ``signatures`` (regular expressions for the texts its
cause prints).  :func:`scan` runs all of them over a stream of log lines with a
single combined pre-filter, groups repeated errors, keeps the lines before the
first occurrence (the traceback that led to it) and collects facts the
explanations need later (model size, number of ranks, whether LLaMA-Factory is
involved).  Memory stays bounded whatever the size of the log.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from envdoctor.knowledge import KnowledgeBase
from envdoctor.logscan import LogLine

# Generic rules: they explain a line only when no specific rule matches it too.
FALLBACK_CODES = frozenset({"ED001", "ED601"})
# How occurrences are grouped into findings: one per rule (one cause per run), one per signature
# (one per kind of text), otherwise one per distinct matched text.
GROUP_BY = {"ED604": "rule", "ED605": "rule", "ED606": "signature"}
CONTEXT_LINES = 12
MAX_GROUPS = 200
MAX_OCCURRENCES = 3

_NAMED_GROUP = re.compile(r"\(\?P<\w+>")
# Facts gathered from any line: "ChatTS-14B" (model size), ranks and RAM, the launcher.
_PARAMS = re.compile(r"(?:^|[-_/\s(])(\d{1,3}(?:\.\d)?)[bB](?=$|[-_/\s.,)])")
_RANKS = re.compile(r"--nproc[_-]per[_-]node[= ](\d+)|num_local_procs=(\d+)|--num_gpus[= ](\d+)"
                    r"|\bworld[_ ]size\s*[=:]\s*(\d+)|\[rank(\d+)\]|\b(\d+) ?x ?(?:NVIDIA|GPU)")
_RAM = re.compile(r"(\d+(?:\.\d+)?) ?G(?:i?B)? (?:of )?(?:System |host |system )?(?:RAM|memory)\b")
# LLaMA-Factory by name, or by the hint its check_version() prints under the ImportError.
LLAMAFACTORY = re.compile(r"llama[-_ ]?factory|DISABLE_VERSION_CHECK|^To fix: (?:run `)?pip install",
                          re.IGNORECASE)
_FACTS = (_PARAMS, _RANKS, _RAM, LLAMAFACTORY)


@dataclass
class Occurrence:
    """One matched line: where it is and the text to quote."""

    where: str
    number: int
    text: str


@dataclass
class HitGroup:
    """Every occurrence of one error (same rule, same matched text) in the log."""

    code: str
    groups: dict[str, str]
    matched: str
    occurrences: list[Occurrence] = field(default_factory=list)
    count: int = 0
    context: tuple[str, ...] = ()


@dataclass
class LogFacts:
    """Facts read from anywhere in the log, used by the explanations."""

    params_billion: float | None = None
    ranks: int | None = None
    ram_gb: float | None = None
    llamafactory: bool = False

    def observe(self, text: str) -> None:
        """Update the facts from one line."""
        for match in _PARAMS.finditer(text):
            value = float(match.group(1))
            if 0.1 <= value <= 1000 and value > (self.params_billion or 0):
                self.params_billion = value
        for match in _RANKS.finditer(text):
            numbers = [int(g) for g in match.groups() if g is not None]
            count = numbers[0] + 1 if match.group(5) is not None else numbers[0]
            self.ranks = max(self.ranks or 0, count)
        if match := _RAM.search(text):
            self.ram_gb = float(match.group(1))
        if LLAMAFACTORY.search(text):
            self.llamafactory = True


@dataclass
class ScanResult:
    """What one pass over the log found."""

    groups: list[HitGroup]
    facts: LogFacts
    dropped_groups: int = 0


@dataclass(frozen=True)
class _Signature:
    code: str
    pattern: re.Pattern[str]


class Scanner:
    """All signatures of a knowledge base, compiled once."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.signatures = [_Signature(entry.code, pattern)
                           for entry in sorted(kb.rules.values(), key=lambda e: e.code)
                           for pattern in entry.signatures]
        parts = [f"(?:{_NAMED_GROUP.sub('(?:', s.pattern.pattern)})" for s in self.signatures]
        parts += [f"(?:{f.pattern})" for f in _FACTS]
        self.prefilter = re.compile("|".join(parts))

    def matches(self, text: str) -> list[tuple[str, str, re.Match[str]]]:
        """(code, group key, match) per rule whose signature matches ``text`` (its first one).

        Fallback rules are dropped when a specific rule matches the same line.
        """
        found: dict[str, tuple[str, re.Match[str]]] = {}
        for index, sig in enumerate(self.signatures):
            if sig.code not in found and (m := sig.pattern.search(text)):
                grouping = GROUP_BY.get(sig.code)
                key = "" if grouping == "rule" else str(index) if grouping == "signature" else m.group(0)
                found[sig.code] = (key, m)
        if any(code not in FALLBACK_CODES for code in found):
            found = {c: km for c, km in found.items() if c not in FALLBACK_CODES}
        return [(code, key, m) for code, (key, m) in found.items()]

    def scan(self, lines: Iterable[LogLine]) -> ScanResult:
        """One pass over ``lines``: grouped hits with their first context, and log-wide facts."""
        recent: deque[str] = deque(maxlen=CONTEXT_LINES)
        groups: dict[tuple[str, str], HitGroup] = {}
        facts = LogFacts()
        dropped = 0
        prefilter = self.prefilter.search
        for line in lines:
            text = line.text
            if text and prefilter(text):
                facts.observe(text)
                for code, group_key, match in self.matches(text):
                    key = (code, group_key)
                    group = groups.get(key)
                    if group is None:
                        if len(groups) >= MAX_GROUPS:
                            dropped += 1
                            continue
                        group = groups[key] = HitGroup(
                            code=code, groups={k: v for k, v in match.groupdict().items() if v is not None},
                            matched=match.group(0), context=tuple(recent))
                    group.count += 1
                    if len(group.occurrences) < MAX_OCCURRENCES:
                        group.occurrences.append(Occurrence(line.where, line.number, text))
            recent.append(text)
        return ScanResult(groups=list(groups.values()), facts=facts, dropped_groups=dropped)

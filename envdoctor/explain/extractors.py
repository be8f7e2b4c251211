"""Match log lines against the knowledge base's error signatures, in one pass.

Every rule entry carries ``signatures`` (regular expressions for the texts its
cause prints).  :meth:`Scanner.scan` runs all of them over batches of log lines
(each pattern behind a cheap substring pre-test derived from the pattern
itself), groups repeated errors, keeps the lines before the first occurrence
(the traceback that led to it) and collects facts the explanations need later
(model size, number of ranks, whether LLaMA-Factory is involved).  Memory stays
bounded whatever the size of the log.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

try:  # the regular-expression parser, to derive each signature's pre-test (see _gate)
    from re import _constants as sre_constants  # type: ignore[attr-defined]
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # Python 3.10
    import sre_constants
    import sre_parse

from envdoctor.explain.logscan import LogLine
from envdoctor.knowledge.base import KnowledgeBase

# When several rules match one line only the most specific tier is kept: rules with their own
# check (tier 0) before log-only rules (tier 1, check = "log") before the generic fallbacks.
FALLBACK_CODES = frozenset({"ED001", "ED601"})
LAST_RESORT_CODES = frozenset({"ED615"})  # any exception line: only where no other rule matched it
# How occurrences are grouped into findings: one per rule (one cause per run), one per signature
# (one per kind of text), otherwise one per distinct matched text.  A declarative rule's cause is
# a state of the environment, so all its lines form one finding too.
GROUP_BY = {"ED604": "rule", "ED605": "rule", "ED204": "rule", "ED606": "signature", "ED142": "rule", "ED609": "rule",
            "ED110": "groups:package"}  # a check's error line and its "To fix:" hint: one finding per package
CONTEXT_LINES = 12
AFTER_LINES = 40  # kept after a group's first line: a warning's own traceback follows its message (NumPy's)
OWN_TRACEBACK_GAP = 6  # lines of prose at most between a message and the traceback it prints
MAX_GROUPS = 200
MAX_OCCURRENCES = 3

# Facts gathered from any line: "ChatTS-14B" (model size), ranks and RAM, the launcher.
_PARAMS = re.compile(r"(?:^|[-_/\s(])(\d{1,3}(?:\.\d)?)[bB](?=$|[-_/\s.,)])", re.MULTILINE)
_RANK_COUNTS = re.compile(r"(?:--nproc[_-]per[_-]node|num_local_procs|--num_gpus|world[_ ]size|WORLD_SIZE)"
                          r"\s{0,8}[= :]\s{0,8}(\d{1,6})")
_RANK_INDEX = re.compile(r"\[rank(\d{1,6})\]")
_GPU_COUNT = re.compile(r"\b(\d{1,4}) ?x ?(?:NVIDIA|GPU)")
_GPU_COUNT_HINT = re.compile(r"x ?(?:NVIDIA|GPU)")  # literal-first: what the whole-batch pre-scan searches
_RAM = re.compile(r"(\d{1,6}(?:\.\d{1,3})?) ?G(?:i?B)? (?:of )?(?:System |host |system )?(?:RAM|memory)\b")
# The GPU, the torch build and its architectures, the Python, the run's batch shape.
_CAPABILITY = re.compile(r"capability (?:sm_(\d{2,3})|(?:\(CC\) )?(\d{1,2}\.\d))\b")
_GPU_NAME = re.compile(r"(?:NVIDIA|GeForce|Tesla|Quadro)(?: (?:GeForce|Tesla|RTX|GTX)){0,3} ?"
                       r"(?:RTX |GTX )?[A-Z]{0,2}\d{2,4}(?: ?Ti)?\b")
_TORCH = re.compile(r"torch(?<![\w.]torch)(?:==| |-)(\d{1,3}\.\d{1,3}(?:\.\d{1,3})?(?:[a-z]{1,5}\d{0,3})?(?:\+[a-z]{1,8}\d{1,4})?)\b")
_ARCH_LIST = re.compile(r"supports CUDA capabilities ((?:(?:sm|compute)_\d{2,3}\s?){1,30})|"
                        r"get_arch_list\(\)\W{0,20}\[((?:'(?:sm|compute)_\d{2,3}',?\s?){1,30})\]")
_PYTHON = re.compile(r"[/\\]python(3\.\d{1,2})[/\\]|\bPython (3\.\d{1,2}(?:\.\d{1,2})?)\b")
_BATCH = re.compile(r"\b(?:per_device_train_batch_size|batch_size)\s?[=:]\s?(\d{1,4})\b")
_LENGTH = re.compile(r"\b(?:max_seq_length|max_length|cutoff_len|max_len)\s?[=:]\s?(\d{2,6})\b")
# LLaMA-Factory by name, or by the hint its check_version() prints under the ImportError.
LLAMAFACTORY = re.compile(r"llama[-_ ]?factory|DISABLE_VERSION_CHECK|^To fix: (?:run `)?pip install",
                          re.IGNORECASE | re.MULTILINE)
# Each fact pattern runs only on batches holding one of its words (a fast substring test).
_FACTS: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (_PARAMS, tuple(f"{digit}{b}" for digit in "0123456789" for b in "bB")),
    (_RANK_COUNTS, ("nproc", "num_local_procs", "num_gpus", "world", "WORLD_SIZE")),
    (_RANK_INDEX, ("[rank",)),
    (_GPU_COUNT_HINT, ("NVIDIA", "GPU")),
    (_RAM, ("RAM", "memory")),
    (LLAMAFACTORY, ("llama", "Llama", "LLaMA", "LLAMA", "DISABLE_VERSION_CHECK", "To fix:")),
    (_CAPABILITY, ("apability",)),
    (_GPU_NAME, ("NVIDIA", "GeForce", "Tesla", "Quadro")),
    (_TORCH, ("torch",)),
    (_ARCH_LIST, ("capabilities", "get_arch_list")),
    (_PYTHON, ("python3", "Python 3")),
    (_BATCH, ("batch_size",)),
    (_LENGTH, ("max_seq_length", "max_length", "cutoff_len", "max_len")),
)
BATCH_LINES = 4096
_NEWLINE = re.compile("\n")


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
    after: list[str] = field(default_factory=list)  # the lines after the first occurrence (AFTER_LINES)


@dataclass
class LogFacts:
    """Facts read from anywhere in the log, used by the explanations."""

    params_billion: float | None = None
    ranks: int | None = None
    ram_gb: float | None = None
    llamafactory: bool = False
    gpu_capability: str | None = None
    gpu_name: str | None = None
    torch_version: str | None = None
    arch_list: str | None = None
    python_version: str | None = None
    batch_size: int | None = None
    max_length: int | None = None

    def observe(self, text: str) -> None:
        """Update the facts from one line."""
        for match in _PARAMS.finditer(text):
            value = float(match.group(1))
            if 0.1 <= value <= 1000 and value > (self.params_billion or 0):
                self.params_billion = value
        counts = [int(m.group(1)) for m in _RANK_COUNTS.finditer(text)]
        counts += [int(m.group(1)) + 1 for m in _RANK_INDEX.finditer(text)]
        counts += [int(m.group(1)) for m in _GPU_COUNT.finditer(text)]
        if counts:
            self.ranks = max(self.ranks or 0, *counts)
        if ram := _RAM.search(text):
            self.ram_gb = float(ram.group(1))
        if LLAMAFACTORY.search(text):
            self.llamafactory = True
        self._observe_build(text)

    def _observe_build(self, text: str) -> None:
        """The GPU, torch build, architectures, Python and batch shape a line states (first seen wins)."""
        m: re.Match[str] | None
        if self.gpu_capability is None and (m := _CAPABILITY.search(text)):
            self.gpu_capability = m.group(1) or m.group(2)
        if self.gpu_name is None and (m := _GPU_NAME.search(text)):
            self.gpu_name = m.group(0)
        if self.torch_version is None and (m := _TORCH.search(text)):
            self.torch_version = m.group(1)
        if self.arch_list is None and (m := _ARCH_LIST.search(text)):
            self.arch_list = m.group(1) or m.group(2)
        if self.python_version is None and (m := _PYTHON.search(text)):
            self.python_version = m.group(1) or m.group(2)
        if self.batch_size is None and (m := _BATCH.search(text)):
            self.batch_size = int(m.group(1)) or None
        if self.max_length is None and (m := _LENGTH.search(text)):
            self.max_length = int(m.group(1)) or None


@dataclass
class LogScan:
    """What one pass over the log found."""

    groups: list[HitGroup]
    facts: LogFacts
    dropped_groups: int = 0


@dataclass(frozen=True)
class _Signature:
    code: str
    pattern: re.Pattern[str]


class Scanner:
    """All signatures of a knowledge base, compiled once.

    A batch of lines is searched with each pattern on its own (one C-level scan per pattern,
    which keeps the regex engine's literal-prefix search); only the lines where something
    matched are then examined one by one.
    """

    def __init__(self, kb: KnowledgeBase) -> None:
        self.signatures = [_Signature(entry.code, pattern)
                           for entry in sorted(kb.rules.values(), key=lambda e: e.code)
                           for pattern in entry.signatures]
        self.tiers = {code: 3 if code in LAST_RESORT_CODES else 2 if code in FALLBACK_CODES
                      else 1 if entry.check == "log" else 0
                      for code, entry in kb.rules.items()}
        self.grouping = {code: GROUP_BY.get(code, "rule" if entry.check == "declarative" else "text")
                         for code, entry in kb.rules.items()}
        self.searchers = [(re.compile(s.pattern.pattern, s.pattern.flags | re.MULTILINE), _gate(s.pattern))
                          for s in self.signatures]
        self.searchers += [(pattern, (words, False)) for pattern, words in _FACTS]

    def matches(self, text: str) -> list[tuple[str, str, re.Match[str]]]:
        """(code, group key, match) per rule of the most specific tier whose signature matches ``text``."""
        found: dict[str, tuple[str, re.Match[str]]] = {}
        for index, sig in enumerate(self.signatures):
            if sig.code not in found and (m := sig.pattern.search(text)):
                grouping = self.grouping[sig.code]
                key = "" if grouping == "rule" else str(index) if grouping == "signature" else \
                    "|".join(m.groupdict().get(g) or "" for g in grouping.removeprefix("groups:").split(",")) \
                    if grouping.startswith("groups:") else m.group(0)
                found[sig.code] = (key, m)
        best = min((self.tiers[code] for code in found), default=0)
        return [(code, key, m) for code, (key, m) in found.items() if self.tiers[code] == best]

    def candidates(self, batch: list[LogLine]) -> list[int]:
        """Indexes of the lines of ``batch`` that some signature or fact pattern matches."""
        text = "\n".join(line.text for line in batch)
        starts = [0, *(m.end() for m in _NEWLINE.finditer(text))]
        found: set[int] = set()
        ascii_only = text.isascii()
        for searcher, (words, non_ascii) in self.searchers:
            if (non_ascii and ascii_only) or (words and not any(word in text for word in words)):
                continue
            position = 0
            while match := searcher.search(text, position):
                index = bisect_right(starts, match.start()) - 1
                found.add(index)
                if index + 1 == len(starts):
                    break
                position = starts[index + 1]  # a match may run across lines: restart on the next one
        return sorted(found)

    def scan(self, lines: Iterable[LogLine]) -> LogScan:
        """One pass over ``lines``: grouped hits with their first context, and log-wide facts."""
        result = LogScan(groups=[], facts=LogFacts())
        groups: dict[tuple[str, str], HitGroup] = {}
        previous: list[LogLine] = []
        tail: deque[LogLine] = deque(maxlen=CONTEXT_LINES + 1)  # the last non-blank lines
        following: list[HitGroup] = []  # groups still collecting their after-lines
        for batch in _batches(lines):
            tail.extend(line for line in batch if line.text.strip())
            hits = set(self.candidates(batch))
            for index, line in enumerate(batch):
                if not following and index not in hits:
                    continue
                for group in following:
                    group.after.append(line.text)
                following = [g for g in following if len(g.after) < AFTER_LINES]
                if index in hits:
                    following += self._hit(previous, batch, index, groups, result)
            previous = batch[-CONTEXT_LINES:]
        result.groups = list(groups.values())
        cut = truncated_import(list(tail))
        if cut is not None and not any(o.number >= tail[-1].number and o.where == tail[-1].where
                                       for g in result.groups for o in g.occurrences) \
                and not any(_own_traceback(g, cut) for g in result.groups):
            result.groups.append(cut)
        bare = bare_message(list(tail)) if not result.groups else None
        if bare is not None:
            result.groups.append(bare)
        return result

    def _hit(self, previous: list[LogLine], batch: list[LogLine], index: int,
             groups: dict[tuple[str, str], HitGroup], result: LogScan) -> list[HitGroup]:
        """Record the matches of one candidate line; the groups it opened (they collect after-lines)."""
        opened = []
        window = previous + batch
        line = batch[index]
        result.facts.observe(line.text)
        at = len(previous) + index
        context = tuple(item.text for item in window[max(0, at - CONTEXT_LINES):at])
        for code, group_key, match in self.matches(line.text):
            group = groups.get((code, group_key))
            if group is None:
                if len(groups) >= MAX_GROUPS:
                    result.dropped_groups += 1
                    continue
                group = groups[(code, group_key)] = HitGroup(
                    code=code, groups={k: v for k, v in match.groupdict().items() if v is not None},
                    matched=match.group(0), context=context)
                opened.append(group)
            for name, value in match.groupdict().items():  # what a later line adds (the version found)
                if value is not None:
                    group.groups.setdefault(name, value)
            group.count += 1
            if len(group.occurrences) < MAX_OCCURRENCES:
                group.occurrences.append(Occurrence(line.where, line.number, line.text))
        return opened


_FRAME_LINE = re.compile(r"""^\s*File "[^"\n]{1,400}", line \d{1,7}, in \S{1,200}\s*$""")
_IMPORT_LINE = re.compile(r"^\s*(?:from\s+(?P<module>[\w.]{1,200})\s+import\s+\(?(?P<names>[\w\s,]{1,600}?)\)?"
                          r"|import\s+(?P<only>[\w.]{1,200})(?:\s+as\s+\w{1,100})?)\s*$")
TRUNCATED_CODE = "ED601"  # the import family explains a traceback cut off after its import line


def imported_module(text: str) -> str | None:
    """The module an import statement names (``from vllm import cuda_utils`` -> ``vllm``), or None."""
    found = _IMPORT_LINE.match(text)
    return (found.group("only") or found.group("module")) if found else None


def _own_traceback(group: HitGroup, cut: HitGroup) -> bool:
    """Whether the traceback that ``cut`` ends is the one ``group``'s message printed after itself
    (a warning's: it opens within :data:`OWN_TRACEBACK_GAP` lines and runs to the cut's last line)."""
    start = next((i for i, text in enumerate(group.after[:OWN_TRACEBACK_GAP + 1])
                  if text.lstrip().startswith("Traceback (most recent call last)")), None)
    return start is not None and cut.occurrences[0].text in group.after[start:]


def truncated_import(tail: list[LogLine]) -> HitGroup | None:
    """A traceback that ends at a frame's import statement (the log was cut before the
    exception line): the import is what failed.  ``import m`` gives ``module`` m; ``from m
    import a, b`` gives ``module`` m and ``names`` "a, b" (which one failed the family decides)."""
    if len(tail) < 2 or not _FRAME_LINE.match(tail[-2].text):
        return None
    found = _IMPORT_LINE.match(tail[-1].text)
    if found is None:
        return None
    line = tail[-1]
    groups = {"module": found.group("only")} if found.group("only") else \
        {"module": found.group("module"), "names": " ".join(found.group("names").split())}
    group = HitGroup(code=TRUNCATED_CODE, groups={**groups, "truncated": "yes"}, matched=line.text.strip(),
                     context=tuple(item.text for item in tail[:-1]))
    group.count = 1
    group.occurrences.append(Occurrence(line.where, line.number, line.text))
    return group


MESSAGE_CODE = "ED615"  # the raised-message family: which release started saying it
MAX_BARE_LINES = 4  # a pasted message, not a run's log (a long log's error line has its exception class)
_REFUSAL = re.compile(r"(?i)\b(?:error|fail(?:s|ed|ure)?|cannot|can't|unable|unsupported|no longer|not supported|"
                      r"invalid|incompatible|requires?|missing|not (?:found|available|installed|allowed)|"
                      r"deprecated|removed|mismatch|refus\w*|denied|only supports?|vulnerab\w*|(?:upgrade|update) \w+)\b")
_BARE_WORDS = re.compile(r"[A-Za-z]{2,}")


def bare_message(tail: list[LogLine]) -> HitGroup | None:
    """An error message pasted without its exception class (``Dataset scripts are no longer
    supported, but found x.py``), when nothing else matched: a log of at most
    :data:`MAX_BARE_LINES` non-blank lines whose last one reads as a refusal (at least four
    words, one of them an error word) and is no traceback frame or code line.  The raised-message
    family looks for the release whose source started saying it."""
    if not tail or len(tail) > MAX_BARE_LINES:
        return None
    line = tail[-1]
    text = line.text.strip().strip("`").strip()
    if len(text) < 18 or line.text[:1].isspace() or _FRAME_LINE.match(line.text) or \
            len(_BARE_WORDS.findall(text)) < 4 or not _REFUSAL.search(text):
        return None
    group = HitGroup(code=MESSAGE_CODE, groups={"message": text[:200]}, matched=text[:200],
                     context=tuple(item.text for item in tail[:-1]))
    group.count = 1
    group.occurrences.append(Occurrence(line.where, line.number, line.text))
    return group


Gate = tuple[tuple[str, ...], bool]


def _gate(pattern: re.Pattern[str]) -> Gate:
    """A cheap pre-test for ``pattern``: a literal every match contains, or that it needs non-ASCII text.

    Derived from the parsed pattern; anything unusual (or IGNORECASE) gives no gate, which is
    always correct, only slower.
    """
    if pattern.flags & re.IGNORECASE:
        return (), False
    try:
        tree = list(sre_parse.parse(pattern.pattern, pattern.flags))
    except Exception:  # a parser detail changed: search without a gate
        return (), False
    runs: list[str] = []
    current: list[str] = []
    _literal_runs(tree, runs, current)
    runs.append("".join(current))
    longest = max(runs, key=len)
    if len(longest) >= 3:
        return (longest,), False
    first = _first_chars(tree)
    return (), bool(first) and all(ord(char) > 127 for char in first)


def _literal_runs(items: list, runs: list[str], current: list[str]) -> None:
    """Runs of consecutive mandatory literal characters (groups are entered, anything else ends a run)."""
    for op, arg in items:
        if op is sre_constants.LITERAL:
            current.append(chr(arg))
        elif op is sre_constants.SUBPATTERN:
            _literal_runs(list(arg[-1]), runs, current)
        else:
            runs.append("".join(current))
            current.clear()


def _first_chars(items: list) -> set[str]:
    """Characters a match can start with, when the pattern starts with literals, classes or branches of them."""
    if not items:
        return set()
    op, arg = items[0]
    if op is sre_constants.LITERAL:
        return {chr(arg)}
    if op is sre_constants.SUBPATTERN:
        return _first_chars(list(arg[-1]))
    if op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT) and arg[0] >= 1:
        return _first_chars(list(arg[2]))
    if op is sre_constants.BRANCH:
        firsts = [_first_chars(list(branch)) for branch in arg[1]]
        return set().union(*firsts) if all(firsts) else set()
    if op is sre_constants.IN and all(kind in (sre_constants.LITERAL, sre_constants.RANGE) for kind, _ in arg):
        low = min(value if kind is sre_constants.LITERAL else value[0] for kind, value in arg)
        return {chr(low)}
    return set()


def _batches(lines: Iterable[LogLine]) -> Iterator[list[LogLine]]:
    """``lines`` in lists of BATCH_LINES."""
    batch: list[LogLine] = []
    for line in lines:
        batch.append(line)
        if len(batch) == BATCH_LINES:
            yield batch
            batch = []
    if batch:
        yield batch

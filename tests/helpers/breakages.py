"""The real-breakage corpus (tests/fixtures/breakages/): loading, the two targets, and scoring.

Each case is a breakage from a public thread: the verbatim error, the versions the thread
states, the culprit distributions and the fixes it established (PEP 508 requirements, any
one fixes it).  A case is explained from the text alone (``text``) and against a pip freeze
of its stated versions read offline (``env``; a snapshot with the GPU when the thread names one).  It passes when a finding names a culprit and
proposes a fitting fix: a pin compatible with one of the case's fixes, or a message that
names the same version boundary.  Used by tests/explain/test_breakages.py and
bench/corpus_rates.py.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from envdoctor.engine.check import CheckRequest
from envdoctor.env.snapshot import GPU, Distribution, Hardware, Snapshot, save
from envdoctor.explain.command import explain_log
from envdoctor.findings import Finding

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "breakages"
MODES = ("text", "env")
_VERSION_TOKEN = re.compile(r"(?<![\w.])v?(\d+(?:\.\d+){0,3})(?![\w])")


def load_cases() -> list[dict]:
    """Every case of every part file, in file order; a thread two collectors both recorded counts once."""
    cases: dict[tuple[str, str], dict] = {}
    for path in sorted(CORPUS.glob("part_*.toml")):
        for case in tomllib.loads(path.read_text(encoding="utf-8")).get("case", []):
            cases.setdefault((case["id"], case["source"]), case)
    return list(cases.values())


def expected_failures() -> dict[tuple[str, str], str]:
    """(case id, mode) -> why the engine does not explain that case yet."""
    path = CORPUS / "expected_failures.toml"
    rows = tomllib.loads(path.read_text(encoding="utf-8")).get("failure", []) if path.exists() else []
    return {(row["id"], row["mode"]): row["reason"] for row in rows}


def _pins(case: dict) -> dict[str, str]:
    pins = {}
    for name, version in (case.get("environment") or {}).items():
        try:
            Version(version)
        except InvalidVersion:
            continue  # a range (">=82") or a free-form version: not a pin
        pins[name] = version
    return pins


def _python(case: dict) -> str | None:
    python = str(case.get("python") or "")
    return python if re.fullmatch(r"\d+\.\d+(?:\.\d+)?", python) else None


def env_request(case: dict, tmp_path: Path, offline: bool = True) -> CheckRequest:
    """An `--env` request for the case's stated versions: a pip freeze, or a snapshot when it names a GPU
    (``offline``: the families' and the target's look-ups stay in the cache, as the tests run).

    A snapshot (`envdoctor snapshot -o` format) carries the GPU and its compute capability, which
    a freeze cannot; its distributions' metadata is unknown, as a freeze's is offline.
    """
    pins = _pins(case)
    capability = re.search(r"sm_(\d{2,3})", str(case.get("gpu") or ""))
    if capability:
        digits = capability.group(1)
        gpu = GPU(index=0, name=str(case["gpu"]).split(" (")[0], capability=f"{digits[:-1]}.{digits[-1]}",
                  memory_total_mib=0, memory_free_mib=0)
        snap = Snapshot(source="snapshot", python_version=_python(case) or "3.11",
                        distributions={canonicalize_name(n): Distribution(canonicalize_name(n), v, metadata_known=False)
                                       for n, v in pins.items()},
                        hardware=Hardware(nvml="from the thread", gpus=(gpu,)))
        path = tmp_path / "snapshot.json"
        save(snap, path)
        return CheckRequest(env_file=path, offline=offline, include_project=False, quiet=True)
    path = tmp_path / "requirements.lock"
    path.write_text("".join(f"{name}=={version}\n" for name, version in pins.items()), encoding="utf-8")
    return CheckRequest(env_file=path, offline=offline, include_project=False, quiet=True,
                        python_version=_python(case))


@dataclass(frozen=True)
class Outcome:
    """How one case went in one mode."""

    culprit: bool
    fix: bool
    summary: str

    @property
    def passed(self) -> bool:
        """A culprit named and a fitting fix."""
        return self.culprit and self.fix


def run_case(case: dict, mode: str, tmp_path: Path, offline: bool = True) -> Outcome:
    """Explain the case's error in ``mode`` and score the findings (``offline``: no index requests)."""
    log = tmp_path / "run.log"
    log.write_text(case["error"], encoding="utf-8")
    request = env_request(case, tmp_path, offline) if mode == "env" else None
    result = explain_log(log, sys.stdin.buffer, request, None, offline=offline)
    return score(case, result.findings)


def check_case(case: dict, tmp_path: Path, offline: bool = True) -> Outcome:
    """`envdoctor check --env` on the case's stated versions, without its log (what the packages alone say)."""
    from envdoctor.engine.check import run_check

    return score(case, run_check(env_request(case, tmp_path, offline)).findings)


def score(case: dict, findings: Iterable[Finding]) -> Outcome:
    """Whether ``findings`` name a culprit of ``case`` and a fix that fits one of its fixes."""
    findings = list(findings)
    culprits = {canonicalize_name(c) for c in case["culprit"]}
    fixes = [r for r in (_requirement(text) for text in case["fix"]) if r is not None]
    named: set[str] = set()
    fitting = False
    for finding in findings:
        named.update(canonicalize_name(p) for p in finding.packages)
        for fix in finding.fixes:
            named.update(canonicalize_name(p) for p in (*fix.pins, *fix.uninstall))
            fitting = fitting or any(pin_fits(name, spec, fixes) for name, spec in fix.pins.items())
        text = " ".join([finding.message, *(fix.title for fix in finding.fixes)])
        fitting = fitting or names_boundary(text, fixes)
    summary = "; ".join(f"{f.code} {f.message[:160]} | pins "
                        + ",".join(f"{n}{s}" for fx in f.fixes for n, s in fx.pins.items()) for f in findings)
    return Outcome(bool(named & culprits), fitting, summary or "no finding")


def _requirement(text: str) -> Requirement | None:
    try:
        return Requirement(text)
    except InvalidRequirement:
        return None


def _versions(spec: SpecifierSet) -> list[Version]:
    found = []
    for item in spec:
        try:
            found.append(Version(item.version.rstrip(".*")))
        except InvalidVersion:
            continue
    return found


def specs_overlap(ours: SpecifierSet, theirs: SpecifierSet) -> bool:
    """Whether some version satisfies both specifier sets (probed at and around every stated version)."""
    upper = any(s.operator in ("<", "<=", "==", "===", "~=") for s in theirs)
    if not str(ours):
        return not upper  # "the newest release" fits a fix that only sets a floor
    probes: set[Version] = set()
    for version in (*_versions(ours), *_versions(theirs)):
        base = version.base_version
        probes.update({version, Version(base), Version(base + ".post1"), Version(f"{base}.99")})
        release = list(version.release) + [0] * (3 - len(version.release))
        if release[-1] > 0:
            probes.add(Version(".".join(map(str, [*release[:-1], release[-1] - 1]))))
        probes.add(Version(".".join(map(str, [*release[:2], 0]))))
        if release[1] > 0:  # just below a minor: 4.51.999 for `<4.52`
            probes.add(Version(f"{release[0]}.{release[1] - 1}.999"))
        if release[0] > 0:
            probes.add(Version(f"{release[0] - 1}.999"))
    return any(ours.contains(v, prereleases=True) and theirs.contains(v, prereleases=True) for v in probes)


def pin_fits(name: str, spec: str, fixes: list[Requirement]) -> bool:
    """Whether pinning ``name`` to ``spec`` agrees with one of the case's fixes for the same distribution."""
    try:
        ours = SpecifierSet(spec)
    except ValueError:
        return False
    return any(canonicalize_name(req.name) == canonicalize_name(name) and not req.url
               and specs_overlap(ours, req.specifier) for req in fixes)


def names_boundary(text: str, fixes: list[Requirement]) -> bool:
    """Whether ``text`` names a fix's distribution together with the version its specifier turns on."""
    lowered = text.lower()
    stated = set()
    for token in _VERSION_TOKEN.findall(text):
        try:
            stated.add(Version(token))
        except InvalidVersion:
            continue
    for req in fixes:
        name = canonicalize_name(req.name)
        if not any(form in lowered for form in {name, name.replace("-", "_"), req.name.lower()}):
            continue
        if any(Version(v.base_version) in stated for v in _versions(req.specifier)):
            return True
    return False

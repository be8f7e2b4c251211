"""Rates of `envdoctor explain` on the real-breakage corpus (tests/fixtures/breakages/), per family and mode.

Each case is explained from its error text alone (``text``: `--no-env`) and against a pip
freeze of the versions its thread states (``env``: `--env FILE --offline`).  A case passes
when a finding names one of its culprit distributions and proposes a fitting fix (a pin
compatible with one of the thread's fixes, or a message naming the same version boundary).

``--check`` adds a third column: `envdoctor check --env` on the stated versions of each case
that states some, without its log (what the environment alone shows).

Usage:  PYTHONPATH=. python bench/corpus_rates.py [--failures] [--online] [--check] [--write-expected]
                                                  [--jobs N] [--json OUT]
``--write-expected`` rewrites tests/fixtures/breakages/expected_failures.toml from this (offline)
run, with the reason each case fails; tests/explain/test_breakages.py keeps it exact.
``--online`` lets the families ask the index (release lists, the API-surface engine's
bisection) with this machine's cache; the default is offline in an empty home and cache, as the
tests run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import hermetic_environ  # noqa: E402
from tests.helpers.breakages import CORPUS, MODES, Outcome, check_case, load_cases, run_case  # noqa: E402


def main() -> None:
    """Print passed/total per family and mode, and the totals."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--failures", action="store_true", help="list every failing case with its findings")
    parser.add_argument("--online", action="store_true", help="let the families ask the index")
    parser.add_argument("--write-expected", action="store_true", help="rewrite the expected-failures list")
    parser.add_argument("--check", action="store_true", help="also run `check --env` on each case's stated versions")
    parser.add_argument("--jobs", type=int, default=1, help="cases run at once, each in its own process")
    parser.add_argument("--json", type=Path, help="write every (case, mode) outcome here, to compare two runs")
    args = parser.parse_args()
    if not args.online:  # as the tests run: an empty home, cache and config, no index (this machine's cache
        # would answer what a clean CI machine cannot)
        os.environ.update(hermetic_environ(Path(tempfile.mkdtemp(prefix="corpus-rates-"))))
    cases = load_cases()
    modes = (*MODES, "check") if args.check else MODES
    table: dict[str, dict[str, list[int]]] = defaultdict(lambda: {m: [0, 0] for m in modes})
    failures: list[str] = []
    expected: list[tuple[str, str, str]] = []
    start = time.perf_counter()
    tasks = [(case, mode, args.online) for case in cases for mode in modes
             if mode != "check" or case.get("environment")]
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        outcomes = []
        for done, outcome in enumerate(pool.map(_run, tasks), 1):
            outcomes.append(outcome)
            print(f"\r{done}/{len(tasks)} ({time.perf_counter() - start:.0f} s)", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
    for (case, mode, _online), outcome in zip(tasks, outcomes):
        cell = table[case["family"]][mode]
        cell[0] += outcome.passed
        cell[1] += 1
        if not outcome.passed:
            if mode in MODES:
                expected.append((case["id"], mode, _reason(outcome)))
            failures.append(f"{case['id']} [{mode}] culprit={outcome.culprit} fix={outcome.fix}: "
                            f"{outcome.summary[:300]}")
    if args.json:
        args.json.write_text(json.dumps([{"id": case["id"], "family": case["family"], "mode": mode,
                                          "passed": outcome.passed, "summary": outcome.summary}
                                         for (case, mode, _online), outcome in zip(tasks, outcomes)], indent=1),
                             encoding="utf-8")
    elapsed = time.perf_counter() - start
    print(f"{'family':28} " + " ".join(f"{m:>12}" for m in modes))
    totals = {m: [0, 0] for m in modes}
    for family in sorted(table):
        row = table[family]
        print(f"{family:28} " + " ".join(f"{row[m][0]:>5}/{row[m][1]:<6}" for m in modes))
        for m in modes:
            totals[m][0] += row[m][0]
            totals[m][1] += row[m][1]
    print(f"{'all':28} " + " ".join(f"{totals[m][0]:>5}/{totals[m][1]:<6}" for m in modes))
    print(" ".join(f"{m}: {100 * totals[m][0] / max(1, totals[m][1]):.1f}%" for m in modes)
          + f" · {len(cases)} cases in {elapsed:.1f} s")
    if args.failures:
        print("\n".join(failures))
    if args.write_expected and not args.online:
        rows = "".join(f'\n[[failure]]\nid = "{i}"\nmode = "{m}"\nreason = "{r}"\n' for i, m, r in expected)
        (CORPUS / "expected_failures.toml").write_text(
            "# Cases explain does not pass yet, per mode, and why (written by bench/corpus_rates.py "
            "--write-expected;\n# tests/explain/test_breakages.py fails when a listed case starts passing).\n" + rows,
            encoding="utf-8")


def _run(task: tuple[dict, str, bool]) -> Outcome:
    """One case in one mode, in a temporary directory of its own."""
    case, mode, online = task
    with tempfile.TemporaryDirectory() as tmp:
        return (check_case(case, Path(tmp), offline=not online) if mode == "check"
                else run_case(case, mode, Path(tmp), offline=not online))


def _reason(outcome: Outcome) -> str:
    """Why a case fails, in the words of the expected-failures list."""
    if outcome.summary == "no finding":
        return "no family matches the error text as the thread quotes it"
    if not outcome.culprit:
        return "the culprit is not named: neither the text nor the stated versions show it"
    return "the release boundary is unknown offline (the API-surface engine or the index would give it)"


if __name__ == "__main__":
    main()

"""The scanner's patterns stay linear on long log lines: every repeat in a signature is bounded."""

from __future__ import annotations

try:
    from re import _constants as sre_constants  # type: ignore[attr-defined]
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # Python 3.10
    import sre_constants  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

from envdoctor.explain import extractors
from envdoctor.knowledge import base as knowledge

LIMIT = 300


def _unbounded(items: list) -> list[str]:
    found = []
    for op, arg in items:
        if op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT):
            if arg[1] > LIMIT:
                found.append(str(op))
            found += _unbounded(list(arg[2]))
        elif op is sre_constants.SUBPATTERN:
            found += _unbounded(list(arg[-1]))
        elif op is sre_constants.BRANCH:
            for branch in arg[1]:
                found += _unbounded(list(branch))
    return found


def test_every_signature_bounds_its_repeats() -> None:
    kb = knowledge.load()
    loose = [(code, p.pattern) for code, entry in kb.rules.items() for p in entry.signatures
             if _unbounded(list(sre_parse.parse(p.pattern, p.flags)))]
    assert loose == []


def test_the_check_sees_an_unbounded_repeat() -> None:
    assert _unbounded(list(sre_parse.parse(r"(?P<x>[\w.]+) is required", 0)))
    assert not _unbounded(list(sre_parse.parse(r"(?P<x>[\w.]{1,300}) is required", 0)))


def test_a_long_token_line_is_scanned_with_the_error_after_it() -> None:
    kb = knowledge.load()
    lines = ["sm_" * 2730, "torch==2" * 1000, "ImportError: Numba needs NumPy 2.1 or less. Got NumPy 2.2."]
    scan = extractors.Scanner(kb).scan(extractors_lines(lines))
    assert [g.code for g in scan.groups] == ["ED613"]


def extractors_lines(texts: list[str]):  # type: ignore[no-untyped-def]
    from envdoctor.explain.logscan import LogLine

    return (LogLine("run.log", number, text) for number, text in enumerate(texts, start=1))


def test_fact_patterns_bound_their_repeats() -> None:
    assert [p.pattern for p, _ in extractors._FACTS if _unbounded(list(sre_parse.parse(p.pattern, p.flags)))] == []


def test_a_traceback_cut_off_at_its_import_line_is_the_import_that_failed() -> None:
    from envdoctor.explain.extractors import Scanner
    from envdoctor.explain.logscan import LogLine

    def scan(text: str):  # type: ignore[no-untyped-def]
        lines = [LogLine("run.log", i, t) for i, t in enumerate(text.splitlines(), 1)]
        return Scanner(knowledge.load()).scan(lines).groups

    frame = '  File "/venv/lib/python3.13/site-packages/pkg/mod.py", line 4, in <module>\n'
    (only,) = scan("Traceback (most recent call last):\n" + frame + "    import imghdr\n")
    assert only.groups == {"module": "imghdr", "truncated": "yes"} and only.occurrences[0].number == 3
    (names,) = scan(frame + "    from transformers import (Cache, DynamicCache as DC,\n")
    assert names.groups["module"] == "transformers" and names.groups["names"].startswith("Cache, DynamicCache as DC")
    assert scan(frame + "    import imghdr\nModuleNotFoundError: No module named 'imghdr'\n")[0].groups == {
        "module": "imghdr"}  # the error line is there: the usual signature explains it
    assert scan("    import imghdr\n") == []  # an import line that is not a frame's


def test_a_pasted_message_without_its_exception_class_is_a_raised_message() -> None:
    from envdoctor.explain.extractors import MESSAGE_CODE, Scanner
    from envdoctor.explain.logscan import LogLine

    def scan(text: str):  # type: ignore[no-untyped-def]
        lines = [LogLine("run.log", i, t) for i, t in enumerate(text.splitlines(), 1)]
        return Scanner(knowledge.load()).scan(lines).groups

    (only,) = scan("`Dataset scripts are no longer supported, but found superb.py`\n")
    assert (only.code, only.groups["message"]) == (MESSAGE_CODE, "Dataset scripts are no longer supported, but found superb.py")
    assert scan("Training completed in 3h 12m, the model was saved to out/\n") == []  # no error word
    assert scan("fails\n") == []  # too short to search for
    assert scan("\n".join(f"step {i}: the loss failed to go down" for i in range(6))) == []  # a run's log, not a message
    assert scan('  File "/x/y.py", line 3, in <module> raise error now\n') == []  # a frame
    (error,) = scan("RuntimeError: Dataset scripts are no longer supported, but found x.py\n")
    assert error.groups["message"].startswith("Dataset scripts")  # the signature itself, not the fallback


NUMPY_WARNING = """A module that was compiled using NumPy 1.x cannot be run in
NumPy 2.0.0 as it may crash. To support both 1.x and 2.x
versions of NumPy, modules must be compiled with NumPy 2.0.

Traceback (most recent call last):
  File "/home/u/train.py", line 3, in <module>
    import ext
  File "/venv/lib/python3.10/site-packages/ext/__init__.py", line 2, in <module>
    from . import _core
"""


def test_a_message_keeps_the_lines_after_it_and_its_own_traceback_is_not_a_cut_import() -> None:
    from envdoctor.explain.extractors import AFTER_LINES, Scanner
    from envdoctor.explain.logscan import LogLine

    def scan(text: str):  # type: ignore[no-untyped-def]
        lines = [LogLine("run.log", i, t) for i, t in enumerate(text.splitlines(), 1)]
        return Scanner(knowledge.load()).scan(lines).groups

    (warning,) = scan(NUMPY_WARNING)  # the traceback NumPy printed after its message is the message's
    assert warning.code == "ED113"
    assert warning.after[0].startswith("NumPy 2.0.0 as it may crash") and warning.after[-1].strip() == "from . import _core"
    far = NUMPY_WARNING.replace("\nTraceback", "\n" + "training step\n" * 8 + "Traceback")
    assert [g.code for g in scan(far)] == ["ED113", "ED601"]  # a traceback long after the message is its own
    (long,) = scan("A module that was compiled using NumPy 1.x cannot be run in\n" + "line\n" * (AFTER_LINES + 5))
    assert len(long.after) == AFTER_LINES

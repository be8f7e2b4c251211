"""Requires-Python, read the way pip reads it."""

from __future__ import annotations

import pytest

from envdoctor.env.requirements import admits_python


@pytest.mark.parametrize(("requires", "python", "admitted"), [
    (">=3.9", "3.9.0", True), (">=3.9", "3.8.18", False),  # both sides of the bound
    ("<3.13,>=3.9", "3.13.0", False), ("<3.13,>=3.9", "3.12.7", True),
    (">=3.12", "3.13.0rc1", True), ("<3.13", "3.13.0rc1", False),  # PEP 440: <V excludes V's pre-releases
    (None, "3.11", True), ("", "3.11", True),
    (">=3,<4,garbage", "3.11", None),  # not a specifier: pip ignores it, callers decide
])
def test_admits_python(requires: str | None, python: str, admitted: bool | None) -> None:
    assert admits_python(requires, python) is admitted

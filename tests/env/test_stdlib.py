"""The standard-library removals: each module on both sides of the release that removed it."""

from __future__ import annotations

import pytest

from envdoctor.env import stdlib


@pytest.mark.parametrize(("module", "removed"), [("imp", "3.12"), ("distutils", "3.12"), ("imghdr", "3.13"),
                                                 ("lib2to3", "3.13"), ("binhex", "3.11"), ("parser", "3.10")])
def test_a_removed_module_is_missing_from_its_release_on(module: str, removed: str) -> None:
    major, minor = removed.split(".")
    assert stdlib.removed_in(module) == removed
    assert stdlib.removed_for(module, f"{major}.{int(minor) - 1}.9") is None  # still there the release before
    assert stdlib.removed_for(module, f"{removed}.0") == removed
    assert stdlib.removed_for(module, f"{major}.{int(minor) + 1}") == removed
    assert removed in stdlib.source(module)


def test_modules_every_python_has_and_unreadable_versions_are_not_removals() -> None:
    assert stdlib.removed_in("os") is None and stdlib.removed_for("json", "3.13") is None
    assert stdlib.removed_for("imp", None) is None and stdlib.removed_for("imp", "three") is None
    assert stdlib.backport_spellings("imghdr") == ("standard-imghdr", "imghdr-lts")

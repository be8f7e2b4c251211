"""Which mark the target's pip sees (envdoctor.env.pip_boms): from its source, else from its version."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from envdoctor.env.pip_boms import SOURCES, UTF32_FIRST_SINCE, misreads, read_marks
from envdoctor.env.snapshot import Distribution, Snapshot

UTF16_FIRST = ["BOM_UTF8", "BOM_UTF16", "BOM_UTF16_BE", "BOM_UTF16_LE", "BOM_UTF32", "BOM_UTF32_BE", "BOM_UTF32_LE"]
UTF32_FIRST = ["BOM_UTF8", "BOM_UTF32", "BOM_UTF32_BE", "BOM_UTF32_LE", "BOM_UTF16", "BOM_UTF16_BE", "BOM_UTF16_LE"]


def site_with_pip(root: Path, version: str, order: list[str], source: str) -> Path:
    """A site-packages folder holding pip ``version`` whose ``source`` lists ``order`` as pip writes it."""
    site = root / "site-packages"
    (site / f"pip-{version}.dist-info").mkdir(parents=True)
    (site / f"pip-{version}.dist-info" / "METADATA").write_text(f"Metadata-Version: 2.1\nName: pip\nVersion: {version}\n")
    module = site / source
    module.parent.mkdir(parents=True)
    items = "".join(f'    (codecs.{name}, "{name[4:].lower()}"),\n' for name in order)
    module.write_text(f"import codecs\n\nBOMS: list[tuple[bytes, str]] = [\n{items}]\n")
    return site


def target(pip: Distribution | None) -> Snapshot:
    return Snapshot(source="test", python_version="3.11.7", distributions={"pip": pip} if pip else {})


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize(("order", "garbled"), [(UTF16_FIRST, True), (UTF32_FIRST, False)])
def test_the_source_order_decides_whatever_the_version_says(tmp_path: Path, source: str, order: list[str],
                                                            garbled: bool) -> None:
    # the version alone would answer the opposite: the source wins
    version = "26.0" if garbled else "24.0"
    site = site_with_pip(tmp_path, version, order, source)
    assert read_marks(site) == tuple(getattr(codecs, name) for name in order)
    pip = Distribution("pip", version, location=str(site / f"pip-{version}.dist-info"))
    assert misreads(target(pip), codecs.BOM_UTF32_LE) == (garbled, f"pip {version}")
    assert misreads(target(pip), codecs.BOM_UTF16_LE) == (False, f"pip {version}")
    assert misreads(target(pip), codecs.BOM_UTF32_BE) == (False, f"pip {version}")


@pytest.mark.parametrize(("version", "garbled"), [("24.3.1", True), ("24.0", True), (str(UTF32_FIRST_SINCE), False),
                                                  ("26.3", False)])
def test_a_pin_without_files_falls_back_to_the_release_boundary(version: str, garbled: bool) -> None:
    pip = Distribution("pip", version, location="requirements.txt:3")
    assert misreads(target(pip), codecs.BOM_UTF32_LE) == (garbled, f"pip {version}")
    assert misreads(target(pip), codecs.BOM_UTF16_LE)[0] is False


def test_no_pip_counts_as_one_that_misreads_utf32(tmp_path: Path) -> None:
    assert misreads(target(None), codecs.BOM_UTF32_LE) == (True, f"pip before {UTF32_FIRST_SINCE}")
    assert misreads(target(None), codecs.BOM_UTF16_LE)[0] is False


def test_an_unreadable_or_unexpected_source_is_not_guessed_from(tmp_path: Path) -> None:
    site = site_with_pip(tmp_path, "24.0", UTF32_FIRST, SOURCES[0])
    (site / SOURCES[0]).write_text("BOMS = [(codecs.BOM_UTF32_LE, 'x'), (compute(), 'y')]\n")
    assert read_marks(site) is None
    (site / SOURCES[0]).write_bytes(b"BOMS = [\x00")
    assert read_marks(site) is None
    pip = Distribution("pip", "24.0", location=str(site / "pip-24.0.dist-info"))
    assert misreads(target(pip), codecs.BOM_UTF32_LE) == (True, "pip 24.0")  # the version answers

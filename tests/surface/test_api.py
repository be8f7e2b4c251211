"""The entry points explain calls: symbol_status, symbol_boundary, module_owner."""

from __future__ import annotations

from pathlib import Path

import pytest

from envdoctor.surface.api import SourceSpec, module_owner, symbol_boundary, symbol_status
from tests.helpers.index import IndexServer, isolated_pip_env
from tests.helpers.surface import Dist, Index, install, real

MARKUPSAFE = ["1.1.1", "2.0.1", "2.1.0", "2.1.3"]


@pytest.fixture()
def index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> IndexServer:
    layout = Index(tmp_path / "index")
    for version in MARKUPSAFE:
        layout.add(real("markupsafe", version))
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        yield server


def test_symbol_status_from_the_index_and_offline(index: IndexServer) -> None:
    assert symbol_status("markupsafe", "2.1.0", "markupsafe", "soft_unicode") is False
    assert symbol_status("markupsafe", "2.0.1", "markupsafe", "soft_unicode") is True
    assert symbol_status("markupsafe", "2.1.0", "markupsafe", "Markup", attr="escape") is True
    assert symbol_status("markupsafe", "9.9", "markupsafe", "Markup") is None  # no such release
    offline = SourceSpec(offline=True)
    assert symbol_status("markupsafe", "2.1.0", "markupsafe", "soft_unicode", source=offline) is False  # cached
    assert symbol_status("markupsafe", "2.1.3", "markupsafe", "soft_unicode", source=offline) is None  # not


def test_symbol_status_prefers_the_installed_files(index: IndexServer, tmp_path: Path) -> None:
    site = tmp_path / "site"
    install(site, Dist("markupsafe", "2.1.0", {"markupsafe/__init__.py": "def soft_unicode(s): ...\n"}))
    spec = SourceSpec(site_packages=(site,))
    assert symbol_status("markupsafe", "2.1.0", "markupsafe", "soft_unicode", source=spec) is True


def test_symbol_boundary(index: IndexServer) -> None:
    boundary = symbol_boundary("markupsafe", "markupsafe", "soft_unicode", around="2.1.0", index_url=index.url)
    assert boundary is not None and boundary.present == ["<2.1.0"]
    assert (boundary.removed_in, boundary.last_with, boundary.successor) == ("2.1.0", "2.0.1", "soft_str")
    assert boundary.describe().startswith("`markupsafe.soft_unicode` is in markupsafe up to 2.0.1")


def test_module_owner(tmp_path: Path) -> None:
    site = tmp_path / "site"
    install(site, Dist("PyYAML", "6.0", {"yaml/__init__.py": "", "_yaml/__init__.py": ""}))
    info = install(site, Dist("protobuf", "5.0", {"google/protobuf/__init__.py": ""}))
    (info / "top_level.txt").write_text("google\n", encoding="utf-8")
    assert module_owner("yaml.constructor", [site]) == "pyyaml"
    assert module_owner("_yaml", [site]) == "pyyaml"
    assert module_owner("google.protobuf.message", [site]) == "protobuf"
    assert module_owner("numpy", [site]) is None

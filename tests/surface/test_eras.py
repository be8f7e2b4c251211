"""envdoctor.surface.eras: minor-line eras and extension releases dated by a loopback index's PEP 700 upload times."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from packaging.version import Version

from envdoctor.env import index, pipconfig
from envdoctor.surface.eras import BuildEras, era_at, era_of, eras_of, first_uploads
from tests.helpers.surface import Dist, serve

T22, T23, T24 = "2024-01-30T17:00:00Z", "2024-04-24T17:00:00Z", "2024-07-24T17:00:00Z"


def _file(name: str, when: str | None, yanked: bool = False) -> index.IndexFile:
    return index.IndexFile(name, f"https://files.example/{name}", False, yanked=yanked, upload_time=when)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_release_is_dated_by_its_first_live_upload_and_pre_releases_and_undated_ones_are_left_out() -> None:
    files = {"2.3.0": [_file("t-2.3.0-cp311.whl", "2024-04-25T00:00:00Z"), _file("t-2.3.0-cp310.whl", T23),
                       _file("t-2.3.0-cp39.whl", "2024-04-01T00:00:00Z", yanked=True)],
             "2.4.0rc1": [_file("t-2.4.0rc1.whl", "2024-07-01T00:00:00Z")],
             "2.2.0": [_file("t-2.2.0.whl", None)]}
    assert first_uploads(files) == {Version("2.3.0"): _at(T23)}


def test_eras_run_from_a_minors_first_upload_to_the_next_minors_on_both_sides_of_the_boundary() -> None:
    uploads = {Version("2.2.0"): _at(T22), Version("2.2.2"): _at("2024-03-27T00:00:00Z"),
               Version("2.3.0"): _at(T23), Version("2.3.1"): _at("2024-06-05T00:00:00Z"),
               Version("2.2.3"): _at("2024-08-01T00:00:00Z")}  # a late patch of an old line stays in that line
    eras = eras_of(uploads)
    assert [(str(e.minor), e.start, e.end) for e in eras] == [("2.2", _at(T22), _at(T23)), ("2.3", _at(T23), None)]
    just_before = datetime(2024, 4, 24, 16, 59, 59, tzinfo=timezone.utc)
    assert era_at(eras, just_before).minor == Version("2.2") and era_at(eras, _at(T23)).minor == Version("2.3")
    assert era_at(eras, datetime(2023, 1, 1, tzinfo=timezone.utc)) is None  # before the first release
    assert eras[0].spec == ">=2.2.0,<2.3" and era_of(eras, Version("2.3.1")) == eras[1]
    assert eras[0].describe() == "2.2 (2024-01-30 to 2024-04-24)" and eras[1].describe() == "2.3 (2024-04-24 on)"


@pytest.fixture()
def dated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    yield from serve(tmp_path, monkeypatch, [
        Dist("torch", "2.2.0", {"torch/__init__.py": ""}, uploaded=T22),
        Dist("torch", "2.3.0", {"torch/__init__.py": ""}, uploaded=T23),
        Dist("torch", "2.4.0", {"torch/__init__.py": ""}, uploaded=T24),
        Dist("ext", "1.0", {"ext/__init__.py": ""}, uploaded="2024-04-08T00:00:00Z"),
        Dist("ext", "1.1", {"ext/__init__.py": ""}, uploaded="2024-04-26T00:00:00Z"),
        Dist("ext", "1.2", {"ext/__init__.py": ""}, uploaded="2024-06-01T00:00:00Z"),
        Dist("ext", "1.3", {"ext/__init__.py": ""}, uploaded="2024-08-01T00:00:00Z"),
        Dist("undated", "1.0", {"undated/__init__.py": ""}),
    ])


def test_an_extension_release_is_built_in_the_era_it_was_uploaded_in(dated) -> None:
    found = BuildEras.read("torch", "ext", pipconfig.read().urls)
    assert found is not None
    assert found.built_for(Version("1.0+cu118")).minor == Version("2.2")  # a local build label is its release
    assert found.built_for(Version("1.1")).minor == Version("2.3")
    assert found.built_for(Version("9.9")) is None  # not on the index
    assert found.released_within(era_of(found.eras, Version("2.3.0"))) == [Version("1.1"), Version("1.2")]
    assert BuildEras.read("torch", "undated", pipconfig.read().urls) is None  # no upload times: no eras drawn


def test_upload_times_survive_the_page_cache_and_an_older_cache_row_is_a_miss(dated) -> None:
    url = pipconfig.read().urls[0]
    files = index.project_files(url, "ext")  # a loopback HTTP page: kept in the page cache
    assert sorted(f.upload_time or "" for f in files)[0] == "2024-04-08T00:00:00Z"
    page = url.rstrip("/") + "/ext/"
    assert index._cached_page(page) == files
    path = index._page_path(page)
    rows = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps([row[:6] for row in rows]), encoding="utf-8")  # a row written before upload times
    assert index._cached_page(page) is None

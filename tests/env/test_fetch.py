"""envdoctor.env.index against a real package index served from a temp folder on 127.0.0.1."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from tests.helpers.index import (
    BULK_BYTES,
    IndexServer,
    Release,
    build_index,
    isolated_pip_env,
    metadata_text,
)

from envdoctor.env import fetch, index, pipconfig
from envdoctor.env.lockfile import parse_file
from envdoctor.env.target import from_pins

RELEASES = [
    Release("alpha", "1.0", metadata_text("alpha", "1.0", ["beta>=2.0", 'gamma; extra == "fast"'], ">=3.9")),
    Release("beta", "2.1", metadata_text("beta", "2.1", [])),
    # Two wheels of one version: the Linux one (with a Linux-only requirement) must be chosen.
    Release("gamma", "3.0", metadata_text("gamma", "3.0", ["only-on-windows"]), tag="py3-none-win_amd64"),
    Release("gamma", "3.0", metadata_text("gamma", "3.0", ["only-on-linux"]),
            tag="cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64"),
    Release("nometa", "0.5", metadata_text("nometa", "0.5", ["beta<3"]), metadata_file=False),
    Release("labelled", "2.6.0", metadata_text("labelled", "2.6.0", ["beta==2.1"])),
]


def lock_snapshot(tmp_path: Path, lines: list[str]):
    """A file-target snapshot (Linux x86_64, CPython 3.11) of a freeze with ``lines``."""
    lock = tmp_path / "requirements.txt"
    lock.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return from_pins(parse_file(lock), str(lock), "3.11.7", "linux_x86_64", None)


@pytest.fixture()
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    build_index(tmp_path / "idx", RELEASES)
    with IndexServer(tmp_path / "idx") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        yield server


def test_fetches_requirements_over_pep691_json(served: IndexServer, tmp_path: Path) -> None:
    snap = index.fill_metadata(lock_snapshot(tmp_path, ["alpha==1.0", "beta==2.1"]), offline=False, quiet=True)
    alpha = snap.distributions["alpha"]
    assert alpha.metadata_known
    assert alpha.requires == ("beta>=2.0", 'gamma; extra == "fast"')
    assert alpha.requires_python == ">=3.9"
    assert snap.distributions["beta"].metadata_known and snap.distributions["beta"].requires == ()
    paths = [p for p, _ in served.requests]
    assert "/simple/alpha/" in paths
    assert "/files/alpha-1.0-py3-none-any.whl.metadata" in paths
    assert not any(p.endswith(".whl") for p in paths), "a whole wheel was downloaded"
    assert (tmp_path / "cache" / "metadata" / "alpha-1.0.json").is_file()


def test_second_run_is_served_from_the_cache(served: IndexServer, tmp_path: Path) -> None:
    lines = ["alpha==1.0", "beta==2.1"]
    index.fill_metadata(lock_snapshot(tmp_path, lines), offline=False, quiet=True)
    served.requests.clear()
    snap = index.fill_metadata(lock_snapshot(tmp_path, lines), offline=False, quiet=True)
    assert served.requests == []
    assert snap.distributions["alpha"].requires == ("beta>=2.0", 'gamma; extra == "fast"')


def test_offline_uses_only_the_cache_and_says_what_it_skipped(served: IndexServer, tmp_path: Path) -> None:
    cold = index.fill_metadata(lock_snapshot(tmp_path, ["alpha==1.0", "beta==2.1"]), offline=True, quiet=True)
    assert served.requests == []
    assert not cold.distributions["alpha"].metadata_known
    assert any(n.startswith("offline: metadata for 2 pinned packages not in the cache; declared "
                            "requirements not checked for them") for n in cold.notes)
    index.fill_metadata(lock_snapshot(tmp_path, ["alpha==1.0"]), offline=False, quiet=True)
    served.requests.clear()
    warm = index.fill_metadata(lock_snapshot(tmp_path, ["alpha==1.0", "beta==2.1"]), offline=True, quiet=True)
    assert served.requests == []
    assert warm.distributions["alpha"].metadata_known
    assert any("offline: metadata for 1 pinned packages not in the cache" in n and "beta" in n
               for n in warm.notes)


def test_prefers_the_wheel_for_the_target_platform(served: IndexServer, tmp_path: Path) -> None:
    snap = index.fill_metadata(lock_snapshot(tmp_path, ["gamma==3.0"]), offline=False, quiet=True)
    assert snap.distributions["gamma"].requires == ("only-on-linux",)


def test_wheel_without_metadata_file_is_read_by_range_requests(served: IndexServer, tmp_path: Path) -> None:
    snap = index.fill_metadata(lock_snapshot(tmp_path, ["nometa==0.5"]), offline=False, quiet=True)
    assert snap.distributions["nometa"].requires == ("beta<3",)
    wheel_requests = [(p, r) for p, r in served.requests if p.endswith(".whl")]
    assert wheel_requests and all(r is not None for _, r in wheel_requests), "a wheel was fetched without Range"
    assert BULK_BYTES > 4 * fetch.RANGE_TAIL  # so a full download would have been visible


def test_a_local_label_is_never_read_from_the_public_release(served: IndexServer, tmp_path: Path) -> None:
    # the index serves labelled 2.6.0 only: 2.6.0+cu124 is another build, whose requirements stay unknown
    snap = index.fill_metadata(lock_snapshot(tmp_path, ["labelled==2.6.0+cu124"]), offline=False, quiet=True)
    assert not snap.distributions["labelled"].metadata_known and snap.distributions["labelled"].requires == ()
    assert snap.not_on_index == {}  # not ED005: a variant lives on another index
    assert any(n.startswith("build variants that no configured index serves") and "labelled 2.6.0+cu124" in n
               for n in snap.notes)
    # the public build itself is read as before
    snap = index.fill_metadata(lock_snapshot(tmp_path, ["labelled==2.6.0"]), offline=False, quiet=True)
    assert snap.distributions["labelled"].requires == ("beta==2.1",)


def test_missing_version_and_project_are_named(served: IndexServer, tmp_path: Path) -> None:
    snap = index.fill_metadata(lock_snapshot(tmp_path, ["alpha==9.9", "no-such-project==1.0"]),
                               offline=False, quiet=True)
    assert snap.not_on_index == {"alpha": "9.9", "no-such-project": "1.0"}
    assert any(n.startswith("no alpha==9.9 on http://127.0.0.1:") for n in snap.notes)
    assert not snap.distributions["alpha"].metadata_known
    assert not list((tmp_path / "cache" / "metadata").glob("alpha-9.9*")), "a miss must not be cached"


def test_html_fallback_when_the_index_has_no_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build_index(tmp_path / "idx", RELEASES, json_pages=False)
    with IndexServer(tmp_path / "idx") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        snap = index.fill_metadata(lock_snapshot(tmp_path, ["alpha==1.0", "gamma==3.0"]), offline=False, quiet=True)
    assert snap.distributions["alpha"].requires == ("beta>=2.0", 'gamma; extra == "fast"')
    assert snap.distributions["gamma"].requires == ("only-on-linux",)


def test_file_index_reads_metadata_without_a_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    simple = build_index(tmp_path / "idx", RELEASES, json_pages=False)
    isolated_pip_env(monkeypatch, tmp_path / "cache", simple.as_uri())
    snap = index.fill_metadata(lock_snapshot(tmp_path, ["alpha==1.0", "nometa==0.5"]), offline=False, quiet=True)
    assert snap.distributions["alpha"].requires_python == ">=3.9"
    assert snap.distributions["nometa"].requires == ("beta<3",)  # read from the local wheel's zip


def test_pip_index_url_env_is_honoured_over_pip_conf(served: IndexServer, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\nindex-url = http://127.0.0.1:9/nothing-here/\n", encoding="utf-8")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    assert pipconfig.read().index_url == served.url
    snap = index.fill_metadata(lock_snapshot(tmp_path, ["beta==2.1"]), offline=False, quiet=True)
    assert snap.distributions["beta"].metadata_known


def test_pip_conf_from_pip_config_file_is_honoured(served: IndexServer, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "pip.conf"
    conf.write_text(f"[global]\nindex-url = http://127.0.0.1:9/dead/\n\n[install]\nindex-url = {served.url}\n"
                    "extra-index-url =\n    file:///nonexistent-a\n    file:///nonexistent-b\n", encoding="utf-8")
    monkeypatch.delenv("PIP_INDEX_URL")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    config = pipconfig.read()
    assert config.index_url == served.url  # [install] overrides [global]
    assert config.extra_index_urls == ("file:///nonexistent-a", "file:///nonexistent-b")
    assert str(conf) in config.origin
    snap = index.fill_metadata(lock_snapshot(tmp_path, ["alpha==1.0"]), offline=False, quiet=True)
    assert snap.distributions["alpha"].metadata_known


def test_pip_config_order_and_devnull(tmp_path: Path) -> None:
    site = tmp_path / "venv"
    site.mkdir()
    (site / "pip.conf").write_text("[global]\nindex-url = https://site.example/simple\n", encoding="utf-8")
    user = tmp_path / "home" / ".config" / "pip"
    user.mkdir(parents=True)
    (user / "pip.conf").write_text("[global]\nindex-url = https://user.example/simple\n"
                                   "extra-index-url = https://extra.example/simple\n", encoding="utf-8")
    environ = {"HOME": str(tmp_path / "home"), "VIRTUAL_ENV": str(site), "XDG_CONFIG_DIRS": str(tmp_path / "none")}
    config = pipconfig.read(environ)
    assert config.index_url == "https://site.example/simple"  # the site file overrides the user file
    assert config.extra_index_urls == ("https://extra.example/simple",)
    environ["PIP_EXTRA_INDEX_URL"] = "https://a.example/simple https://b.example/simple"
    assert pipconfig.read(environ).extra_index_urls == ("https://a.example/simple", "https://b.example/simple")
    assert pipconfig.read({**environ, "PIP_CONFIG_FILE": os.devnull}).urls == (
        pipconfig.PYPI_SIMPLE, "https://a.example/simple", "https://b.example/simple")
    assert pipconfig.read({**environ, "PIP_NO_INDEX": "1"}).urls == ()


def test_redact_hides_index_passwords() -> None:
    assert pipconfig.redact("https://bob:s3cret@host.example/simple/") == "https://bob:***@host.example/simple/"
    assert pipconfig.redact("https://host.example/simple/") == "https://host.example/simple/"


def test_server_down_becomes_a_note(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    isolated_pip_env(monkeypatch, tmp_path / "cache", f"http://127.0.0.1:{port}/simple/")
    pins = [f"pkg{i}==1.0" for i in range(20)]
    snap = index.fill_metadata(lock_snapshot(tmp_path, pins), offline=False, quiet=True)
    assert not any(d.metadata_known for d in snap.distributions.values())
    assert snap.not_on_index == {}
    [note] = snap.notes  # one note for the twenty pins, naming the index and the reason
    assert note.startswith("metadata unknown for pkg0==1.0, pkg1==1.0, ")
    assert "and 15 more: http://127.0.0.1:" in note and "is unreachable" in note and "refused" in note.lower()


def test_an_unreachable_index_is_asked_once_per_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as silent:  # accepts connections (kernel backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        isolated_pip_env(monkeypatch, tmp_path / "cache", f"http://127.0.0.1:{silent.getsockname()[1]}/simple/")
        monkeypatch.setattr(fetch, "TIMEOUT_S", 0.5)
        monkeypatch.setattr(index, "WORKERS", 2)
        asked: list[str] = []
        real_get = fetch.get
        monkeypatch.setattr(fetch, "get", lambda url, headers=None: asked.append(url) or real_get(url, headers))
        snap = index.fill_metadata(lock_snapshot(tmp_path, [f"pkg{i}==1.0" for i in range(12)]),
                                   offline=False, quiet=True)
    assert len(asked) <= 2  # the two first workers; every later pin skips the dead index
    assert len(snap.notes) == 1 and "timed out" in snap.notes[0]


def test_corrupt_cache_entry_is_refetched(served: IndexServer, tmp_path: Path) -> None:
    entry = tmp_path / "cache" / "metadata" / "beta-2.1.json"
    entry.parent.mkdir(parents=True)
    entry.write_text("{not json", encoding="utf-8")
    snap = index.fill_metadata(lock_snapshot(tmp_path, ["beta==2.1"]), offline=False, quiet=True)
    assert snap.distributions["beta"].metadata_known
    assert "/simple/beta/" in [p for p, _ in served.requests]


def test_metadata_hash_is_verified(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib

    simple = build_index(tmp_path / "idx", RELEASES[:2], json_pages=False)
    page = simple / "alpha" / "index.html"
    real = hashlib.sha256((tmp_path / "idx" / "files" / "alpha-1.0-py3-none-any.whl.metadata").read_bytes()).hexdigest()
    html = page.read_text(encoding="utf-8")
    page.write_text(html.replace('data-core-metadata="true"', f'data-core-metadata="sha256={"0" * 64}"'),
                    encoding="utf-8")
    isolated_pip_env(monkeypatch, tmp_path / "cache", simple.as_uri())
    bad = index.fill_metadata(lock_snapshot(tmp_path, ["alpha==1.0"]), offline=False, quiet=True)
    assert not bad.distributions["alpha"].metadata_known
    assert any("sha256 does not match" in n for n in bad.notes)
    page.write_text(html.replace('data-core-metadata="true"', f'data-core-metadata="sha256={real}"'), encoding="utf-8")
    good = index.fill_metadata(lock_snapshot(tmp_path, ["alpha==1.0"]), offline=False, quiet=True)
    assert good.distributions["alpha"].requires_python == ">=3.9"


def test_the_lock_files_own_index_options_are_honoured(served: IndexServer, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/dead/")
    snap = index.fill_metadata(lock_snapshot(tmp_path, [f"--index-url {served.url}", "alpha==1.0"]),
                               offline=False, quiet=True)
    assert snap.distributions["alpha"].metadata_known
    snap = index.fill_metadata(lock_snapshot(tmp_path, [f"--extra-index-url={served.url}", "beta==2.1"]),
                               offline=False, quiet=True)
    assert snap.distributions["beta"].metadata_known  # the dead primary is a note-free miss, the extra answers
    snap = index.fill_metadata(lock_snapshot(tmp_path, ["--no-index", "gamma==3.0"]), offline=False, quiet=True)
    assert not snap.distributions["gamma"].metadata_known
    assert any(n.startswith("pip is configured with --no-index") for n in snap.notes)


def test_index_options_reader(tmp_path: Path) -> None:
    from envdoctor.env.lockfile import index_options

    lock = tmp_path / "r.txt"
    lock.write_text("-i https://a.example/simple\n--extra-index-url https://b.example/simple \\\n\n"
                    "--extra-index-url=https://c.example/simple\n-f wheels\n--find-links=https://d.example/links.html\n"
                    "x==1\n", encoding="utf-8")
    (tmp_path / "wheels").mkdir()  # a relative --find-links folder beside the file is that folder, as in pip
    assert index_options(lock) == ("https://a.example/simple", ("https://b.example/simple", "https://c.example/simple"),
                                   False, (str((tmp_path / "wheels").resolve()), "https://d.example/links.html"))


def test_a_project_page_is_kept_for_a_while_and_never_one_read_with_credentials(
        served: IndexServer, monkeypatch: pytest.MonkeyPatch) -> None:
    def page_reads() -> int:
        return sum(path.rstrip("/").endswith("/alpha") for path, _ in served.requests)

    first = index.project_files(served.url, "alpha")
    assert index.project_files(served.url, "alpha") == first and page_reads() == 1  # the second from the cache
    monkeypatch.setattr(index, "PAGE_TTL_S", -1)
    assert index.project_files(served.url, "alpha") == first and page_reads() == 2  # stale: read again
    monkeypatch.setattr(index, "PAGE_TTL_S", 600)
    with_user = served.url.replace("http://", "http://user:secret@")
    index.project_files(with_user, "alpha")
    index.project_files(with_user, "alpha")
    assert page_reads() == 4  # never kept: its file URLs would carry the password
    assert not any(b"secret" in p.read_bytes() for p in (index.cache.cache_root() / "pages").iterdir())

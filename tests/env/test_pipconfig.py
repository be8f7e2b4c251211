"""Credentials in index URLs: hidden wherever printed or saved, parsed right, sent only to their host."""

from __future__ import annotations

import json
import os
import stat
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from envdoctor.env import fetch, pipconfig, snapshot
from envdoctor.env.hardware import Hardware
from envdoctor.env.lockfile import parse_file
from envdoctor.errors import InputError


@pytest.mark.parametrize(("url", "shown"), [
    ("https://alice:s3cret@pkgs.example/simple/", "https://alice:***@pkgs.example/simple/"),
    ("https://ghp_TOKEN123@pkgs.example:8443/simple/", "https://***@pkgs.example:8443/simple/"),
    ("https://pkgs.example/simple/", "https://pkgs.example/simple/"),
    ("see https://a:b@x.example/ and git+https://tok@y.example/r.git", "see https://a:***@x.example/ and "
                                                                      "git+https://***@y.example/r.git"),
])
def test_redact_hides_user_password_and_token_only_forms(url: str, shown: str) -> None:
    assert pipconfig.redact_text(url) == shown


def test_the_host_is_not_the_credentials() -> None:
    plain, auth, host = pipconfig.split_credentials("https://u%40corp:p%3Aw@pkgs.example:8443/simple/")
    assert (plain, host) == ("https://pkgs.example:8443/simple/", "pkgs.example:8443")
    import base64

    assert base64.b64decode((auth or "").split()[1]) == b"u@corp:p:w"


class _Recorder(BaseHTTPRequestHandler):
    seen: list[tuple[str, str | None]] = []
    redirect_to = ""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        type(self).seen.append((self.headers.get("Host", ""), self.headers.get("Authorization")))
        if self.path.startswith("/redirect") and self.redirect_to:
            self.send_response(302)
            self.send_header("Location", self.redirect_to)
            self.end_headers()
            return
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def servers() -> Iterator[tuple[str, str]]:
    started = []
    for host in ("127.0.0.1", "127.0.0.2"):
        server = ThreadingHTTPServer((host, 0), _Recorder)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
    _Recorder.seen = []
    try:
        yield tuple(f"{s.server_address[0]}:{s.server_address[1]}" for s in started)  # type: ignore[misc]
    finally:
        for server in started:
            server.shutdown()
            server.server_close()


def test_credentials_go_to_their_host_only(servers: tuple[str, str]) -> None:
    own, other = servers
    body, _, status = fetch.get(f"http://alice:s3cret@{own}/simple/")
    assert (body, status) == (b"ok", 200)
    assert _Recorder.seen == [(own, "Basic YWxpY2U6czNjcmV0")]
    _Recorder.seen.clear()
    _Recorder.redirect_to = f"http://{other}/files/x"
    fetch.get(f"http://TOKEN@{own}/redirect")
    assert _Recorder.seen == [(own, "Basic VE9LRU46"), (other, None)]


def test_snapshot_keeps_no_credentials_and_is_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", "https://alice:s3cret@pkgs.example/simple/")
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "https://TOKEN42@extra.example/simple/")
    snap = snapshot.live(Hardware())
    out = tmp_path / "snap.json"
    snapshot.save(snap, out)
    text = out.read_text()
    assert "s3cret" not in text and "TOKEN42" not in text
    assert json.loads(text)["environ"]["PIP_INDEX_URL"] == "https://alice:***@pkgs.example/simple/"
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600


def test_include_errors_never_echo_a_non_requirements_file(tmp_path: Path) -> None:
    (tmp_path / ".netrc").write_text("machine pkgs.example login alice password s3cret\n")
    (tmp_path / "requirements.txt").write_text("-r .netrc\n")
    with pytest.raises(InputError) as caught:
        parse_file(tmp_path / "requirements.txt")
    assert str(caught.value) == f"{tmp_path / '.netrc'}:1: not a requirement; is .netrc a requirements file?"
    (tmp_path / "reqs.txt").write_text("git+https://ghp_TOK@github.example/x.git !!\n")
    with pytest.raises(InputError) as quoted:
        parse_file(tmp_path / "reqs.txt")
    assert "ghp_TOK" not in str(quoted.value) and "***@github.example" in str(quoted.value)

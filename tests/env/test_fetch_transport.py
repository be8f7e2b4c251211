"""Index access behaves as pip's with the same configuration: a loopback TLS index with its own CA,
client certificates, trusted hosts, a CONNECT proxy the test starts, and netrc credentials."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.helpers.tls import ConnectProxy, HttpsServer, Pki, make_pki

from envdoctor.env import fetch, pipconfig

PAGE = b'<a href="alpha-1.0-py3-none-any.whl">alpha-1.0-py3-none-any.whl</a>\n'


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    (tmp_path / "simple" / "alpha").mkdir(parents=True)
    (tmp_path / "simple" / "alpha" / "index.html").write_bytes(PAGE)
    return tmp_path


def test_the_ca_pip_is_given_verifies_the_index(pki: Pki, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with HttpsServer(root, pki) as server:
        with pytest.raises(fetch.FetchError, match="CERTIFICATE_VERIFY_FAILED"):
            fetch.get(server.url + "simple/alpha/")
        monkeypatch.setenv("PIP_CERT", str(pki.ca))
        assert fetch.get(server.url + "simple/alpha/")[0] == PAGE


def test_a_trusted_host_is_not_verified(pki: Pki, root: Path, monkeypatch: pytest.MonkeyPatch,
                                        tmp_path: Path) -> None:
    config = tmp_path / "pip.conf"
    config.write_text("[global]\ntrusted-host = 127.0.0.1\n", encoding="utf-8")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(config))
    assert pipconfig.transport().trusted_hosts == ("127.0.0.1",)
    with HttpsServer(root, pki) as server:
        assert fetch.get(server.url + "simple/alpha/")[0] == PAGE
        config.write_text("[global]\ntrusted-host = localhost\n", encoding="utf-8")
        with pytest.raises(fetch.FetchError):
            fetch.get(server.url + "simple/alpha/")


def test_client_certificate(pki: Pki, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_CERT", str(pki.ca))
    with HttpsServer(root, pki, client_cert=True) as server:
        with pytest.raises(fetch.FetchError):
            fetch.get(server.url + "simple/alpha/")
        monkeypatch.setenv("PIP_CLIENT_CERT", str(pki.client))
        assert fetch.get(server.url + "simple/alpha/")[0] == PAGE


def test_https_goes_through_the_proxy_unless_no_proxy(pki: Pki, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_CERT", str(pki.ca))
    with HttpsServer(root, pki) as server, ConnectProxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        assert fetch.get(server.url + "simple/alpha/")[0] == PAGE
        port = server.url.rstrip("/").rsplit(":", 1)[1]
        assert proxy.tunnels == [f"127.0.0.1:{port}"]
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        assert fetch.get(server.url + "simple/alpha/")[0] == PAGE
        assert len(proxy.tunnels) == 1  # bypassed
        monkeypatch.delenv("NO_PROXY")
        monkeypatch.setenv("PIP_PROXY", proxy.url)  # pip's own proxy option
        monkeypatch.delenv("HTTPS_PROXY")
        assert fetch.get(server.url + "simple/alpha/")[0] == PAGE and len(proxy.tunnels) == 2


def test_netrc_and_url_credentials(pki: Pki, root: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PIP_CERT", str(pki.ca))
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login alice password s3cret\n", encoding="utf-8")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(tmp_path / "absent"))
    with HttpsServer(root, pki, basic=("alice", "s3cret")) as server:
        with pytest.raises(fetch.FetchError, match="HTTP 401"):
            fetch.get(server.url + "simple/alpha/")
        with_user = server.url.replace("https://", "https://alice:s3cret@")
        assert fetch.get(with_user + "simple/alpha/")[0] == PAGE
        monkeypatch.setenv("NETRC", str(netrc))
        assert fetch.get(server.url + "simple/alpha/")[0] == PAGE


def test_one_opener_per_configuration_and_the_ca_loaded_once(pki: Pki, root: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_CERT", str(pki.ca))
    loads = []
    real = fetch.ssl.create_default_context
    monkeypatch.setattr(fetch.ssl, "create_default_context", lambda *a, **k: loads.append(k) or real(*a, **k))
    fetch._opener.cache_clear()  # earlier tests of this process made the same configuration's opener
    with HttpsServer(root, pki) as server:
        for _ in range(5):
            assert fetch.get(server.url + "simple/alpha/")[0] == PAGE
    assert loads == [{"cafile": str(pki.ca)}]  # a metadata run makes hundreds of requests: one CA load
    assert fetch.opener() is fetch.opener()
    monkeypatch.setenv("PIP_TRUSTED_HOST", "127.0.0.1")
    assert fetch.opener() is not fetch.opener(pipconfig.Transport(cert=str(pki.ca)))


def test_an_unreadable_cert_names_the_setting(root: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                              pki: Pki) -> None:
    monkeypatch.setenv("PIP_CERT", str(tmp_path / "missing.pem"))
    with HttpsServer(root, pki) as server:
        with pytest.raises(fetch.FetchError, match="pip's cert/client-cert setting \\(PIP_CERT\\) cannot be loaded"):
            fetch.get(server.url + "simple/alpha/")

"""Reading index pages and metadata over HTTP(S) or from ``file:`` URLs, with bounded time.

Every request has a timeout and one retry on a network error; 404/410 is :class:`NotFound`.
Connections behave as pip's with the same configuration (:func:`envdoctor.env.pipconfig.transport`):
its CA bundle (``cert``), client certificate (``client-cert``), ``trusted-host`` (not verified),
``proxy`` and the ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` variables (CONNECT tunnels for
HTTPS); credentials from the URL, else ``~/.netrc`` (``$NETRC``), else :mod:`keyring` when it is
installed (never required).  Credentials are sent, never stored or printed.
:func:`metadata_from_wheel` reads one member of a remote wheel through HTTP range requests
(a server that ignores ``Range`` is hung up on before its body is read), never the whole file.
"""

from __future__ import annotations

import base64
import functools
import http.client
import io
import netrc
import os
import ssl
import threading
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit
from urllib.request import url2pathname

from envdoctor.env.pipconfig import Transport, redact, transport

TIMEOUT_S = 15
ATTEMPTS = 2  # one retry
RANGE_TAIL = 64 * 1024  # the end of a wheel read in one request: central directory and often METADATA
MERGE_GAP = 128 * 1024  # byte spans closer than this are fetched in one range request
PARALLEL_RANGES = 4  # range requests in flight at once when many spans are wanted
USER_AGENT = "envdoctor (metadata fetcher; https://pypi.org/project/envdoctor/)"


class NotFound(Exception):
    """The index answered 404: no such project (or file)."""


class FetchError(Exception):
    """The index could not be reached (``unreachable``) or answered nonsense; the message says why."""

    def __init__(self, message: str, unreachable: bool = False, reason: str = "") -> None:
        super().__init__(message)
        self.unreachable = unreachable
        self.reason = reason or message


def local_path(url: str) -> Path:
    """The file a ``file:`` URL names."""
    return Path(url2pathname(urlsplit(url).path))


class _SameHostAuth(urllib.request.HTTPRedirectHandler):
    """Follow redirects, but drop the credentials when a redirect leaves their host."""

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> urllib.request.Request | None:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and urlsplit(newurl).netloc.lower() != urlsplit(req.full_url).netloc.lower():
            new.remove_header("Authorization")
        return new



class _HTTPSHandler(urllib.request.HTTPSHandler):
    """HTTPS with pip's verification: the configured CA bundle and client certificate, and no
    verification for a trusted host (chosen per request, through a proxy tunnel too).  The SSL
    contexts are made on the first HTTPS request (loading a CA store costs tens of ms)."""

    def __init__(self, config: Transport) -> None:
        super().__init__()
        self.config = config
        self._contexts: dict[bool, ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def context(self, verified: bool) -> ssl.SSLContext:
        """The verifying (or, for a trusted host, the non-verifying) context."""
        with self._lock:
            if verified not in self._contexts:
                context = ssl.create_default_context(cafile=self.config.cert if verified else None)
                if not verified:
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                if self.config.client_cert:
                    context.load_cert_chain(self.config.client_cert)
                self._contexts[verified] = context
            return self._contexts[verified]

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        target = urlsplit(req.full_url)
        try:
            context = self.context(not self.config.trusts(target.hostname, target.port))
        except (OSError, ssl.SSLError) as exc:
            raise FetchError(f"pip's cert/client-cert setting ({self.config.origin}) cannot be loaded: {exc}")
        return self.do_open(http.client.HTTPSConnection, req, context=context)


def opener(config: Transport | None = None) -> urllib.request.OpenerDirector:
    """A URL opener configured as pip would be (see the module docstring); one per configuration
    and proxy setting, shared by every request (and thread) of a run."""
    config = transport() if config is None else config
    proxies = urllib.request.getproxies()  # HTTPS_PROXY / HTTP_PROXY / NO_PROXY, as pip's requests reads them
    if config.proxy:
        proxies.update(http=config.proxy, https=config.proxy)
    return _opener(config, tuple(sorted(proxies.items())))


@functools.lru_cache(maxsize=8)
def _opener(config: Transport, proxies: tuple[tuple[str, str], ...]) -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.ProxyHandler(dict(proxies)), _HTTPSHandler(config),
                                       _SameHostAuth)


def credentials(url: str) -> tuple[str, dict[str, str]]:
    """``url`` without user info, and the Authorization header pip would send: the URL's own
    ``user:password``, else ``~/.netrc`` (``$NETRC``), else keyring when installed."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    bare = urlunsplit((parts.scheme, host + (f":{parts.port}" if parts.port else ""), parts.path, parts.query,
                       parts.fragment))
    user, password = (unquote(parts.username) if parts.username else None,
                      unquote(parts.password) if parts.password else None)
    if user is None:
        try:
            found = netrc.netrc(os.environ.get("NETRC") or None).authenticators(host)
        except (OSError, netrc.NetrcParseError):
            found = None
        if found is not None:
            user, password = found[0], found[2]
    if user is None:
        user, password = _keyring(bare, host)
    if user is None:
        return url, {}
    token = base64.b64encode(f"{user}:{password or ''}".encode()).decode()
    return bare, {"Authorization": f"Basic {token}"}


def _keyring(url: str, host: str) -> tuple[str | None, str | None]:
    """Credentials from :mod:`keyring` (only when it is installed; pip asks by URL, then by host)."""
    try:
        import keyring  # type: ignore[import-not-found]
    except ImportError:
        return None, None
    for service in (url, host):
        try:
            found = keyring.get_credential(service, None)
        except Exception:  # a broken keyring backend must not stop a check
            return None, None
        if found is not None:
            return found.username, found.password
    return None, None


def get(url: str, headers: dict[str, str] | None = None) -> tuple[bytes, str, int]:
    """Body, content type and status of ``url`` (http(s) or file), retried once on a network error."""
    if url.startswith("file:"):
        path = local_path(url)
        if path.is_dir():
            path = path / "index.html"
        try:
            return path.read_bytes(), "text/html", 200
        except FileNotFoundError:
            raise NotFound(redact(url))
        except OSError as exc:
            raise FetchError(f"{path}: {exc.strerror}")
    plain, auth = credentials(url)
    request = urllib.request.Request(plain, headers={"User-Agent": USER_AGENT, **auth, **(headers or {})})
    client = opener()
    last, unreachable = "", False
    for _ in range(ATTEMPTS):
        try:
            with client.open(request, timeout=TIMEOUT_S) as response:
                return response.read(), response.headers.get("Content-Type", ""), response.status
        except urllib.error.HTTPError as exc:
            if exc.code in (404, 410):
                raise NotFound(redact(url))
            last, unreachable = f"HTTP {exc.code}", False
            if exc.code < 500:
                break
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            last, unreachable = str(reason) or type(exc).__name__, True
    raise FetchError(f"{redact(url)}: {last}", unreachable, last)


def _range_get(url: str, first: int | None, last: int) -> tuple[bytes, int]:
    """Bytes ``first..last`` of ``url`` (the last ``last`` bytes when ``first`` is None) and the
    file's size; a server that ignores ``Range`` is closed before its body is read."""
    spec = f"bytes=-{last}" if first is None else f"bytes={first}-{last}"
    plain, auth = credentials(url)
    request = urllib.request.Request(plain, headers={"User-Agent": USER_AGENT, "Range": spec, **auth})
    client = opener()
    problem = ""
    for _ in range(ATTEMPTS):
        try:
            with client.open(request, timeout=TIMEOUT_S) as response:
                total = response.headers.get("Content-Range", "").rpartition("/")[2]
                if response.status != 206 or not total.isdigit():
                    raise FetchError(f"{redact(url)}: the server does not answer range requests")
                return response.read(), int(total)
        except urllib.error.HTTPError as exc:
            if exc.code in (404, 410):
                raise NotFound(redact(url))
            problem = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            problem = str(getattr(exc, "reason", exc))
    raise FetchError(f"{redact(url)}: {problem}")


class _RangeFile(io.RawIOBase):
    """A read-only remote file read by HTTP range requests: enough for :mod:`zipfile`
    to read one member without downloading the archive."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        tail, self.size = _range_get(url, None, RANGE_TAIL)
        self.blocks: dict[int, bytes] = {self.size - len(tail): tail}
        self.pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def _held(self, first: int, end: int) -> bytes | None:
        for start, block in self.blocks.items():
            if start <= first and end <= start + len(block):
                return block[first - start:end - start]
        return None

    def read(self, size: int = -1) -> bytes:
        end = self.size if size < 0 else min(self.size, self.pos + size)
        if end <= self.pos:
            return b""
        data = self._held(self.pos, end)
        if data is None:
            data, _ = _range_get(self.url, self.pos, end - 1)
            self.blocks[self.pos] = data
        self.pos += len(data)
        return data

    def fill(self, spans: list[tuple[int, int]]) -> None:
        """Fetch the byte spans ``[start, end)`` not held yet: neighbours closer than :data:`MERGE_GAP`
        in one range request, up to :data:`PARALLEL_RANGES` requests at once (a member of a zip
        read through :meth:`read` costs three requests: its header, its name, its data)."""
        from concurrent.futures import ThreadPoolExecutor

        merged: list[list[int]] = []
        for start, end in sorted((max(0, a), min(self.size, b)) for a, b in spans):
            if end <= start or self._held(start, end) is not None:
                continue
            if merged and start - merged[-1][1] <= MERGE_GAP:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        if not merged:
            return

        def one(span: list[int]) -> tuple[int, bytes]:
            return span[0], _range_get(self.url, span[0], span[1] - 1)[0]

        with ThreadPoolExecutor(min(PARALLEL_RANGES, len(merged))) as pool:
            for start, data in pool.map(one, merged):
                self.blocks[start] = data


def metadata_from_wheel(url: str) -> str:
    """The ``*.dist-info/METADATA`` text of a remote (range requests) or local wheel."""
    handle: io.RawIOBase | Path = local_path(url) if url.startswith("file:") else _RangeFile(url)
    try:
        with zipfile.ZipFile(handle) as wheel:
            member = next((n for n in wheel.namelist()
                           if n.count("/") == 1 and n.endswith(".dist-info/METADATA")), None)
            if member is None:
                raise FetchError(f"{url.rsplit('/', 1)[-1]}: no .dist-info/METADATA in the wheel")
            return wheel.read(member).decode("utf-8")
    except (zipfile.BadZipFile, UnicodeDecodeError, OSError) as exc:
        raise FetchError(f"{url.rsplit('/', 1)[-1]}: unreadable wheel ({exc})")

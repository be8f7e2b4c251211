"""The package indexes the user's pip is configured with, read without running pip.

pip reads its configuration files in this order, later ones overriding earlier
ones: the global files (``$XDG_CONFIG_DIRS/pip/pip.conf``, ``/etc/pip.conf``),
the user files (``~/.pip/pip.conf``, ``$XDG_CONFIG_HOME/pip/pip.conf``), the
site file (``$VIRTUAL_ENV/pip.conf``), then ``PIP_CONFIG_FILE``; within a file
``[install]`` overrides ``[global]``; ``PIP_INDEX_URL`` and
``PIP_EXTRA_INDEX_URL`` override every file.  ``PIP_CONFIG_FILE=os.devnull``
disables the files, as in pip.  See https://pip.pypa.io/en/stable/topics/configuration/.
"""

from __future__ import annotations

import configparser
import os
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

PYPI_SIMPLE = "https://pypi.org/simple/"
SECTIONS = ("global", "install")  # later sections override earlier ones
KEYS = ("index-url", "extra-index-url", "no-index", "find-links", "constraint")


@dataclass(frozen=True)
class IndexConfig:
    """The primary index, the extra indexes, and where each setting came from."""

    index_url: str
    extra_index_urls: tuple[str, ...]
    origin: str
    no_index: bool = False
    find_links: tuple[str, ...] = ()  # folders or pages of links, searched even with --no-index

    @property
    def urls(self) -> tuple[str, ...]:
        """Every index to search, primary first (none with ``--no-index``)."""
        return () if self.no_index else (self.index_url, *self.extra_index_urls)

    @property
    def sources(self) -> tuple[str, ...]:
        """Every place pip looks for files: the indexes, then the ``--find-links`` locations."""
        return (*self.urls, *self.find_links)


def config_files(environ: Mapping[str, str]) -> list[Path]:
    """pip's configuration files in the order pip reads them (existing or not)."""
    chosen = environ.get("PIP_CONFIG_FILE")
    if chosen == os.devnull:
        return []
    xdg_dirs = environ.get("XDG_CONFIG_DIRS") or "/etc/xdg"
    files = [Path(d) / "pip" / "pip.conf" for d in xdg_dirs.split(os.pathsep) if d]
    files.append(Path("/etc/pip.conf"))
    if not (chosen and Path(chosen).exists()):  # pip skips the user files when PIP_CONFIG_FILE exists
        home = Path(environ.get("HOME") or Path.home())
        files.append(home / ".pip" / "pip.conf")
        files.append(Path(environ.get("XDG_CONFIG_HOME") or home / ".config") / "pip" / "pip.conf")
    files.append(Path(environ.get("VIRTUAL_ENV") or sys.prefix) / "pip.conf")
    if chosen:
        files.append(Path(chosen))
    return files


def _truthy(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def read(environ: Mapping[str, str] | None = None) -> IndexConfig:
    """The indexes pip would use for ``pip install`` with this environment."""
    environ = os.environ if environ is None else environ
    values: dict[str, tuple[str, str]] = {}  # key -> (value, origin)
    for path, parser in parsed_config_files(environ):  # pip stops on a broken file; we use the others
        for section in SECTIONS:
            if parser.has_section(section):
                for key in KEYS:
                    if parser.has_option(section, key):
                        values[key] = (parser.get(section, key), str(path))
    for key in KEYS:
        env_key = "PIP_" + key.upper().replace("-", "_")
        if environ.get(env_key):
            values[key] = (environ[env_key], env_key)
    index_url, origin = values.get("index-url", (PYPI_SIMPLE, "pip's default"))
    extras = tuple(values.get("extra-index-url", ("", ""))[0].split())
    origins = [origin] + ([values["extra-index-url"][1]] if extras else [])
    links = tuple(values.get("find-links", ("", ""))[0].split())
    if links:
        origins.append(values["find-links"][1])
    return IndexConfig(index_url=index_url.strip(), extra_index_urls=extras,
                       origin=", ".join(dict.fromkeys(origins)),
                       no_index=_truthy(values.get("no-index", ("", ""))[0]), find_links=links)


def parsed_config_files(environ: Mapping[str, str]) -> Iterator[tuple[Path, configparser.RawConfigParser]]:
    """pip's configuration files in the order pip reads them, each parsed (unreadable ones skipped)."""
    for path in config_files(environ):
        parser = configparser.RawConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError, OSError):
            continue
        yield path, parser


def constraint_files(environ: Mapping[str, str] | None = None) -> tuple[Path, ...]:
    """The constraints files every ``pip install`` applies (pip's ``constraint`` setting or
    ``PIP_CONSTRAINT``): how an image declares the pins it owns (NVIDIA's PyTorch containers ship
    ``/etc/pip/constraint.txt`` since 25.03)."""
    environ = os.environ if environ is None else environ
    value = environ.get("PIP_CONSTRAINT", "")
    if not value:
        for _, parser in parsed_config_files(environ):
            for section in SECTIONS:
                if parser.has_option(section, "constraint"):
                    value = parser.get(section, "constraint")
    return tuple(Path(v) for v in value.split() if Path(v).is_file())


TRANSPORT_KEYS = ("cert", "client-cert", "trusted-host", "proxy")


@dataclass(frozen=True)
class Transport:
    """How pip would connect: its CA bundle (``cert``), client certificate (``client-cert``, one PEM
    with key and certificate), hosts it does not verify (``trusted-host``) and ``proxy``; where each
    came from is in ``origin``."""

    cert: str | None = None
    client_cert: str | None = None
    trusted_hosts: tuple[str, ...] = ()
    proxy: str | None = None
    origin: str = "pip's default"

    def trusts(self, host: str | None, port: int | None) -> bool:
        """Whether ``host[:port]`` is a trusted host (pip matches the host, or host:port)."""
        return bool(host) and any(t in (host, f"{host}:{port}") for t in self.trusted_hosts)


def transport(environ: Mapping[str, str] | None = None) -> Transport:
    """pip's connection settings for ``pip install``: the config files (``[global]``, ``[install]``),
    then ``PIP_CERT``, ``PIP_CLIENT_CERT``, ``PIP_TRUSTED_HOST``, ``PIP_PROXY``."""
    environ = os.environ if environ is None else environ
    values: dict[str, tuple[str, str]] = {}
    for path, parser in parsed_config_files(environ):
        for section in SECTIONS:
            for key in TRANSPORT_KEYS:
                if parser.has_section(section) and parser.has_option(section, key):
                    values[key] = (parser.get(section, key), str(path))
    for key in TRANSPORT_KEYS:
        env_key = "PIP_" + key.upper().replace("-", "_")
        if environ.get(env_key):
            values[key] = (environ[env_key], env_key)

    def value(key: str) -> str | None:
        return (values[key][0].strip() or None) if key in values else None

    return Transport(cert=value("cert"), client_cert=value("client-cert"),
                     trusted_hosts=tuple((value("trusted-host") or "").split()), proxy=value("proxy"),
                     origin=", ".join(dict.fromkeys(origin for _, origin in values.values())) or "pip's default")


def with_lock_options(config: IndexConfig, index_url: str | None, extra_index_urls: tuple[str, ...],
                      no_index: bool, source: str, find_links: tuple[str, ...] = ()) -> IndexConfig:
    """``config`` as pip applies a requirements file's own options on top of it: the file's
    ``--index-url`` replaces the primary index, its ``--extra-index-url`` and ``--find-links``
    add to the others."""
    if index_url is None and not extra_index_urls and not no_index and not find_links:
        return config
    extras = tuple(dict.fromkeys((*config.extra_index_urls, *extra_index_urls)))
    links = tuple(dict.fromkeys((*config.find_links, *find_links)))
    return IndexConfig(index_url=index_url or config.index_url, extra_index_urls=extras,
                       origin=f"{config.origin}, {source}", no_index=config.no_index or no_index,
                       find_links=links)


_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]{0,15}://)(?P<user>[^/@\s:]{1,512})(?P<password>:[^/@\s]{0,512})?@")


def redact_text(text: str) -> str:
    """``text`` with the credentials of every URL in it hidden: ``user:***@`` and, for a token
    alone (``https://TOKEN@host/``), ``***@``."""
    def hide(match: re.Match[str]) -> str:
        user = match["user"] + ":***" if match["password"] is not None else "***"
        return f"{match['scheme']}{user}@"
    return _USERINFO.sub(hide, text)


def redact(url: str) -> str:
    """``url`` without its credentials, for messages and saved files (``https://user:***@host/simple``)."""
    return redact_text(url)


def split_credentials(url: str) -> tuple[str, str | None, str]:
    """``url`` without its userinfo, the Basic ``Authorization`` value it carried (None if none),
    and the host it belongs to.  A token alone is sent as the user name with an empty password, as pip does."""
    import base64
    from urllib.parse import unquote

    parts = urlsplit(url)
    host = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    if "@" not in parts.netloc:
        return url, None, host
    user, _, password = parts.netloc.rpartition("@")[0].partition(":")
    token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode("ascii")
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment)), f"Basic {token}", host

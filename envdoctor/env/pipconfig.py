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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

PYPI_SIMPLE = "https://pypi.org/simple/"
SECTIONS = ("global", "install")  # later sections override earlier ones


@dataclass(frozen=True)
class IndexConfig:
    """The primary index, the extra indexes, and where each setting came from."""

    index_url: str
    extra_index_urls: tuple[str, ...]
    origin: str
    no_index: bool = False

    @property
    def urls(self) -> tuple[str, ...]:
        """Every index to search, primary first (none with ``--no-index``)."""
        return () if self.no_index else (self.index_url, *self.extra_index_urls)


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
    for path in config_files(environ):
        parser = configparser.RawConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except (configparser.Error, UnicodeDecodeError, OSError):
            continue  # pip itself stops on a broken file; we fall back to the other settings
        for section in SECTIONS:
            if parser.has_section(section):
                for key in ("index-url", "extra-index-url", "no-index"):
                    if parser.has_option(section, key):
                        values[key] = (parser.get(section, key), str(path))
    for key in ("index-url", "extra-index-url", "no-index"):
        env_key = "PIP_" + key.upper().replace("-", "_")
        if environ.get(env_key):
            values[key] = (environ[env_key], env_key)
    index_url, origin = values.get("index-url", (PYPI_SIMPLE, "pip's default"))
    extras = tuple(values.get("extra-index-url", ("", ""))[0].split())
    origins = [origin] + ([values["extra-index-url"][1]] if extras else [])
    return IndexConfig(index_url=index_url.strip(), extra_index_urls=extras,
                       origin=", ".join(dict.fromkeys(origins)),
                       no_index=_truthy(values.get("no-index", ("", ""))[0]))


def with_lock_options(config: IndexConfig, index_url: str | None, extra_index_urls: tuple[str, ...],
                      no_index: bool, source: str) -> IndexConfig:
    """``config`` as pip applies a requirements file's own options on top of it: the file's
    ``--index-url`` replaces the primary index, its ``--extra-index-url`` adds to the extras."""
    if index_url is None and not extra_index_urls and not no_index:
        return config
    extras = tuple(dict.fromkeys((*config.extra_index_urls, *extra_index_urls)))
    return IndexConfig(index_url=index_url or config.index_url, extra_index_urls=extras,
                       origin=f"{config.origin}, {source}", no_index=config.no_index or no_index)


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

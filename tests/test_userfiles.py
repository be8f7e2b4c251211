"""The input policy: what is refused, and how (one line naming the file)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from envdoctor import userfiles
from envdoctor.errors import InputError
from tests.helpers.bad_input import BOMB, MAPPING_BOMB


def _error(call, *args) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError) as caught:
        call(*args)
    message = str(caught.value)
    assert "\n" not in message and len(message) <= userfiles.MAX_MESSAGE
    return message


def test_non_regular_files_are_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    assert "not a regular file (a FIFO" in _error(userfiles.read_bytes, tmp_path / "fifo")
    assert "not a regular file" in _error(userfiles.read_bytes, Path("/dev/zero"))
    assert "is a folder, not a config file" in _error(userfiles.read_bytes, tmp_path, "config")
    assert "a symlink loop" in _error(userfiles.read_bytes, loop)
    assert "no such user 'nosuchuser-x'" in _error(userfiles.read_bytes, Path("~nosuchuser-x/a.yaml"))
    assert "not a regular file" in _error(userfiles.open_regular, tmp_path / "fifo")


def test_size_cap_per_kind(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with open(big, "wb") as handle:
        handle.truncate(userfiles.CAPS["config"] + 1)
    assert "more than the 1 MB this tool reads for a config file" in _error(userfiles.read_bytes, big, "config")
    assert len(userfiles.read_bytes(big, "config", head=10)) == 10


@pytest.mark.parametrize(("text", "says"), [
    ("[" * 5000 + "]" * 5000, "nesting deeper than 100 levels"),
    ('{"a": ' + "9" * 5000 + "}", "a number of 5000 digits"),
    ("[1e999]", "too large for a float"),
    ("[NaN]", "NaN is not a number JSON allows"),
    ('{"a": }', "invalid JSON (Expecting value)"),
])
def test_json_limits(text: str, says: str) -> None:
    assert says in _error(userfiles.parse_json, text, "f.json")
    assert userfiles.parse_json('{"a": [1, 2.5, {"b": null}]}', "f.json") == {"a": [1, 2.5, {"b": None}]}


@pytest.mark.parametrize(("text", "says"), [
    (BOMB.decode(), "aliases expand to more than"),
    (MAPPING_BOMB.decode(), "aliases expand to more than"),
    ("a: " + "[" * 5000 + "]" * 5000, "nesting deeper than 100 levels"),
    ("a: b\0", "not valid YAML (unacceptable character"),
    ("a: [1,\n", "not valid YAML"),
])
def test_yaml_limits(text: str, says: str) -> None:
    assert says in _error(userfiles.parse_yaml, text, "f.yaml")
    assert userfiles.parse_yaml("a: &x [1, 2]\nb: *x\n", "f.yaml") == {"a": [1, 2], "b": [1, 2]}


def test_decoding_names_file_line_and_byte() -> None:
    damaged = b"\xff\xfe" + "a\nb\n".encode("utf-16-le") + b"\x00\xd8"
    assert _error(userfiles.decode, damaged, "log.txt", True).startswith("log.txt:3: not UTF-16 (byte")
    assert userfiles.decode(b"\xef\xbb\xbfok", "f") == "ok"
    assert "not UTF-8" in _error(userfiles.decode, b"ok\n\xff", "f")


def test_numbers_in_range() -> None:
    assert userfiles.bounded_number(4096, "hidden_size", "config.json") == 4096
    for bad in (-4096, 0, 10 ** 300, "4096", True):
        assert "hidden_size is" in _error(userfiles.bounded_number, bad, "hidden_size", "config.json")


def test_outputs_refuse_devices_and_saved_files_are_private(tmp_path: Path) -> None:
    assert "not a regular file" in _error(userfiles.check_output, Path("/dev/full"))
    out = tmp_path / "snap.json"
    userfiles.write_private(out, b"{}")
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OSError):
        userfiles.write_private(tmp_path / "link", b"x")  # never written through a symlink
    assert not (tmp_path / "elsewhere").exists()

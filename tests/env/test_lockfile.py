"""The freeze/lock parser: what it accepts, and a file:line InputError for what it does not."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from envdoctor.env.lockfile import parse_file
from envdoctor.errors import InputError


def write(tmp_path: Path, text: str, name: str = "requirements.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_pins_hashes_markers_comments_continuations_and_labels(tmp_path: Path) -> None:
    lock = write(tmp_path, """\
# a pip-compile lock
--index-url https://pypi.org/simple
--extra-index-url=https://download.pytorch.org/whl/cu121
torch==2.3.1+cu121 \\
    --hash=sha256:aaaa \\
    --hash=sha256:bbbb
    # via -r requirements.in
triton==2.3.1 ; platform_system == "Linux"  # inline comment
Pillow==10.4.0
pywin32==306; sys_platform == "win32"
peft>=0.11
-e git+https://github.com/huggingface/trl.git@v0.9.6#egg=trl
-e ./local-project
""")
    pins = parse_file(lock)
    assert [(p.name, p.line) for p in pins] == [("torch", 4), ("triton", 8), ("pillow", 9), ("pywin32", 10),
                                                ("peft", 11), ("trl", 12)]
    torch = pins[0]
    assert torch.exact_version == "2.3.1+cu121"
    assert torch.hashes == ("sha256:aaaa", "sha256:bbbb")
    assert str(pins[1].requirement.marker) == 'platform_system == "Linux"'
    assert pins[4].exact_version is None  # a range is not a pin
    assert pins[5].editable


def test_includes_and_constraints(tmp_path: Path) -> None:
    write(tmp_path, "numpy==1.26.4\n", "base.txt")
    write(tmp_path, "scipy==1.13.0\n", "constraints.txt")
    lock = write(tmp_path, "-r base.txt\n--constraint=constraints.txt\n-rbase.txt\npandas==2.2.2\n")
    pins = parse_file(lock)
    assert [(p.name, p.constraint, Path(p.source).name) for p in pins] == [
        ("numpy", False, "base.txt"), ("scipy", True, "constraints.txt"), ("numpy", False, "base.txt"),
        ("pandas", False, "requirements.txt")]


@pytest.mark.parametrize(("bom", "encoding"), [(codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"),
                                               (codecs.BOM_UTF8, "utf-8")])
def test_bom_decoding(tmp_path: Path, bom: bytes, encoding: str) -> None:
    # PowerShell's `pip freeze > requirements.txt` writes UTF-16 LE with a BOM
    path = tmp_path / "freeze.txt"
    path.write_bytes(bom + "torch==2.6.0\r\nbitsandbytes==0.44.1\r\n".encode(encoding))
    assert [(p.name, p.exact_version) for p in parse_file(path)] == [("torch", "2.6.0"), ("bitsandbytes", "0.44.1")]


@pytest.mark.parametrize(("content", "message"), [
    (b"torch==2.6.0\nthis is not a requirement\n", r"requirements.txt:2: not a requirement: 'this is not a requirement'"),
    (b"torch==2.6.0\n\nnumpy==>1\n", r"requirements.txt:3: not a requirement"),
    (b"torch==2.6.0 --hash=md5\n", r"requirements.txt:1: malformed --hash"),
    (b"torch==2.6.0 --hash\n", r"requirements.txt:1: malformed --hash"),
    (b"x==1\nname='unclosed\n", r"requirements.txt:2: not a requirement"),
    (b"x==1\n-r 'unclosed\n", r"requirements.txt:2: cannot split the line"),
    (b"x==1\n--frobnicate\n", r"requirements.txt:2: unknown option '--frobnicate'"),
    (b"x==1\n-r\n", r"requirements.txt:2: -r needs a file name"),
    (b"-r missing.txt\n", r"missing.txt: no such file"),
    (b"-e\n", r"requirements.txt:1: -e needs a path or URL"),
    (b"ok==1\n\xff\xfe\xfa==2\n", r"requirements.txt:2: not UTF-8 \(byte 0xff\)"),
    (b"t\x00o\x00r\x00c\x00h\x00", r"requirements.txt: contains NUL bytes"),
    (b"torch==2.6.0 \\\n    --hash=sha256:aa \\\n    nonsense words\n", r"requirements.txt:1: unexpected 'nonsense'"),
])
def test_malformed_input_names_file_and_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "requirements.txt"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        parse_file(path)


def test_include_cycle_and_directory(tmp_path: Path) -> None:
    write(tmp_path, "-r b.txt\n", "a.txt")
    write(tmp_path, "-r a.txt\n", "b.txt")
    with pytest.raises(InputError, match="nest deeper than"):
        parse_file(tmp_path / "a.txt")
    with pytest.raises(InputError, match="is a folder, not a requirements file"):
        parse_file(tmp_path)

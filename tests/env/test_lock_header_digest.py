"""The .in digest a lock records: a comment-only edit keeps the lock current, a requirement edit does not."""

from __future__ import annotations

from pathlib import Path

from envdoctor.env.lock_header import input_digest


def test_meaningful_digest_ignores_comments_and_blank_lines_only(tmp_path: Path) -> None:
    source = tmp_path / "stack.in"
    source.write_text("# the QLoRA stack\nbitsandbytes>=0.45.1\n-c platform.txt\n", encoding="utf-8")
    (tmp_path / "platform.txt").write_text("triton==3.2.0\n", encoding="utf-8")
    before = input_digest(source, meaningful=True)
    source.write_text("# the QLoRA stack, pinned for Colab\n\nbitsandbytes>=0.45.1  # 4-bit\n-c platform.txt\n",
                      encoding="utf-8")
    assert input_digest(source, meaningful=True) == before
    source.write_text("bitsandbytes>=0.46.0\n-c platform.txt\n", encoding="utf-8")
    assert input_digest(source, meaningful=True) != before
    (tmp_path / "platform.txt").write_text("triton==3.3.0\n", encoding="utf-8")  # an included file counts too
    source.write_text("bitsandbytes>=0.45.1\n-c platform.txt\n", encoding="utf-8")
    assert input_digest(source, meaningful=True) != before


def test_plain_digest_of_older_locks_still_sees_every_byte(tmp_path: Path) -> None:
    source = tmp_path / "stack.in"
    source.write_text("bitsandbytes>=0.45.1\n", encoding="utf-8")
    plain = input_digest(source)
    assert not plain.startswith("m:") and input_digest(source, meaningful=True).startswith("m:")
    source.write_text("# note\nbitsandbytes>=0.45.1\n", encoding="utf-8")
    assert input_digest(source) != plain

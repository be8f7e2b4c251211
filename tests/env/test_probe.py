"""Rules over real ``*.dist-info`` folders read by envdoctor.env.probe.collect_distributions."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.core import LINUX_311, NO_GPU, kb, write_dist_info

from envdoctor.engine import core as engine
from envdoctor.env import probe
from envdoctor.env.snapshot import from_probe
from envdoctor.rules.base import Context

MISC_PY = '''
def check_dependencies() -> None:
    """Check the version of the required packages."""
    check_version("transformers>=4.45.0,<=4.52.4,!=4.46.0,!=4.52.0")
    check_version("peft>=0.14.0,<=0.15.2")
    check_version("accelerate>=1.3.0,<=1.7.0")
'''


def snapshot_of(*paths: Path):
    dists, notes = probe.collect_distributions(paths=[str(p) for p in paths])
    data = {"python": {"version": "3.11.7", "implementation": "cpython", "executable": "/x/python"},
            "platform": {"system": "Linux", "machine": "x86_64", "glibc": "2.35"},
            "marker_env": LINUX_311, "distributions": dists, "notes": notes}
    return from_probe(data, "live", NO_GPU)


def test_rules_over_real_dist_info_folders(tmp_path: Path) -> None:
    site, user_site = tmp_path / "site-packages", tmp_path / "user-site"
    write_dist_info(site, "bitsandbytes", "0.44.1", ("torch", "numpy>=1.17"))
    write_dist_info(user_site, "bitsandbytes", "0.45.5", ("torch",))  # a second copy, earlier on the path
    write_dist_info(site, "triton", "3.2.0")
    write_dist_info(site, "torch", "2.6.0", ('triton==3.2.0; platform_system == "Linux"', "filelock"))
    write_dist_info(site, "filelock", "3.16.1")
    write_dist_info(site, "numpy", "1.26.4")
    write_dist_info(site, "peft", "0.15.2", ("accelerate>=0.21.0", "transformers"), requires_python=">=3.12")
    write_dist_info(site, "accelerate", "0.20.3")
    write_dist_info(site, "transformers", "4.57.0")
    write_dist_info(site, "llamafactory", "0.9.3", files={"llamafactory/extras/misc.py": MISC_PY})
    snap = snapshot_of(user_site, site)

    assert snap.distributions["bitsandbytes"].version == "0.45.5"
    assert snap.distributions["bitsandbytes"].shadowed == ("0.44.1",)
    assert snap.distributions["peft"].requires_python == ">=3.12"
    assert snap.distributions["llamafactory"].runtime_requirements[0].startswith("transformers>=4.45.0")
    findings = engine.run(Context(snapshot=snap, kb=kb()), engine.select_rules(kb()))
    by_code = {}
    for f in findings:
        by_code.setdefault(f.code, []).append(f.message)
    assert set(by_code) == {"ED001", "ED002", "ED003", "ED103", "ED110"}, by_code
    # ED110 explains accelerate and transformers for llamafactory; ED001 keeps peft's accelerate pin
    assert by_code["ED001"] == ["peft 0.15.2 requires accelerate>=0.21.0, but accelerate 0.20.3 is installed"]
    assert len(by_code["ED110"]) == 2
    assert by_code["ED002"] == ["peft 0.15.2 requires Python >=3.12, but the target runs Python 3.11.7"]

    # the shadowing copy removed: bitsandbytes 0.44.1 with triton 3.2.0 is ED101
    for item in user_site.iterdir():
        for sub in item.iterdir():
            sub.unlink()
        item.rmdir()
    findings = engine.run(Context(snapshot=snapshot_of(user_site, site), kb=kb()), [kb().rules["ED101"]])
    assert [f.code for f in findings] == ["ED101"]


def test_broken_metadata_becomes_a_note(tmp_path: Path) -> None:
    broken = tmp_path / "broken-1.0.dist-info"
    broken.mkdir()
    (broken / "METADATA").write_text("Metadata-Version: 2.1\nSummary: no name\n", encoding="utf-8")
    write_dist_info(tmp_path, "fine", "1.0")
    dists, notes = probe.collect_distributions(paths=[str(tmp_path)])
    assert [d["name"] for d in dists] == ["fine"]
    assert notes == [f"broken metadata (no Name/Version) at {broken}"]


def test_parse_metadata_text_reads_headers_only() -> None:
    text = "Name: a\nVersion: 1\nRequires-Dist: b>=1\n\nRequires-Dist: not-a-header\n"
    assert probe.parse_metadata_text(text) == ("a", "1", ["b>=1"], None)
    assert probe.parse_metadata_text("Summary: x\n") is None


def test_egg_info_and_egg_folders_and_missing_metadata(tmp_path: Path) -> None:
    (tmp_path / "legacy-1.0-py3.11.egg-info").write_text("Metadata-Version: 1.1\nName: legacy\nVersion: 1.0\n",
                                                         encoding="utf-8")
    dev = tmp_path / "devpkg.egg-info"
    dev.mkdir()
    (dev / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: devpkg\nVersion: 0.1.dev0\n", encoding="utf-8")
    egg = tmp_path / "old-2.0-py3.11.egg" / "EGG-INFO"
    egg.mkdir(parents=True)
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: old\nVersion: 2.0\n", encoding="utf-8")
    (tmp_path / "empty-1.0.dist-info").mkdir()  # an interrupted install: no METADATA
    (tmp_path / "not-a-dist.txt").write_text("x", encoding="utf-8")
    dists, notes = probe.collect_distributions(paths=[str(tmp_path), str(tmp_path / "missing-folder")])
    assert [(d["name"], d["version"]) for d in dists] == [("devpkg", "0.1.dev0"), ("legacy", "1.0"), ("old", "2.0")]
    assert notes == [f"broken metadata (no Name/Version) at {tmp_path / 'empty-1.0.dist-info'}"]


def test_direct_url_is_read(tmp_path: Path) -> None:
    folder = write_dist_info(tmp_path, "flash-attn", "2.7.4.post1")
    (folder / "direct_url.json").write_text('{"url": "https://example.org/flash_attn-2.7.4.post1+cu12torch2.6.whl"}',
                                            encoding="utf-8")
    [entry], _ = probe.collect_distributions(paths=[str(tmp_path)])
    assert entry["direct_url"] == "https://example.org/flash_attn-2.7.4.post1+cu12torch2.6.whl"
    (folder / "direct_url.json").write_text("[not an object", encoding="utf-8")
    [entry], _ = probe.collect_distributions(paths=[str(tmp_path)])
    assert entry["direct_url"] is None

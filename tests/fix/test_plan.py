"""Plans from findings: which fixes are chosen, kept packages, pin intersection, argv form."""

from __future__ import annotations

from pathlib import Path

from envdoctor.rules.constraints import floors
from envdoctor.engine.core import run, select_rules
from envdoctor.env.snapshot import Distribution, Snapshot
from envdoctor.findings import Applicability, Finding, Severity, pip_install_fix
from envdoctor.fix.plan import from_findings
from envdoctor.knowledge import base as knowledge
from envdoctor.rules.base import Context


def snapshot(**versions: str) -> Snapshot:
    dists = {name: Distribution(name=name, version=v) for name, v in versions.items()}
    return Snapshot(source="test", python_version="3.12.3", executable="/venv/bin/python", distributions=dists)


def finding(code: str, *fixes: object) -> Finding:
    return Finding(code=code, name="x", severity=Severity.ERROR, message="m", fixes=tuple(fixes))  # type: ignore[arg-type]


def test_seed_pair_plans_bitsandbytes_upgrade_and_holds_torch_and_triton() -> None:
    snap = snapshot(torch="2.6.0", triton="3.2.0", bitsandbytes="0.44.1")
    kb = knowledge.load()
    found = run(Context(snapshot=snap, kb=kb), select_rules(kb, ["ED101"]))
    plan = from_findings(found, snap, ["torch", "triton", "nvidia-*"], unsafe=False)
    assert plan.install == ("bitsandbytes>=0.45.1",)
    assert plan.constraints == ("torch==2.6.0", "triton==3.2.0")
    assert plan.argv(Path("/s/c.txt")) == [["/venv/bin/python", "-m", "pip", "install", "-c", "/s/c.txt",
                                            "bitsandbytes>=0.45.1"]]


def test_fix_that_moves_a_kept_package_is_skipped_not_applied() -> None:
    snap = snapshot(torch="2.6.0", triton="2.1.0")
    fix = pip_install_fix("put back triton", {"triton": "==3.2.0"}, Applicability.SAFE)
    plan = from_findings([finding("ED102", fix)], snap, ["triton"], unsafe=False)
    assert plan.empty and "would move triton, which is kept" in plan.skipped[0]
    assert not from_findings([finding("ED102", fix)], snap, [], unsafe=False).empty


def test_unsafe_fixes_only_with_unsafe_and_pins_intersect() -> None:
    snap = snapshot(scipy="1.12.0", numpy="2.0.0")
    unsafe = pip_install_fix("scipy up", {"scipy": ">=1.13.0"}, Applicability.UNSAFE)
    safe = pip_install_fix("scipy below 2", {"scipy": "<2"}, Applicability.SAFE)
    plan = from_findings([finding("ED111", unsafe)], snap, [], unsafe=False)
    assert plan.empty and "pass --unsafe" in plan.skipped[0]
    both = from_findings([finding("ED111", unsafe), finding("ED999", safe)], snap, [], unsafe=True)
    assert both.install == ("scipy<2,>=1.13.0",)


def test_a_notes_unsafe_pin_is_not_acted_on_even_with_unsafe() -> None:
    snap = snapshot(**{"huggingface-hub": "0.36.2"})
    down = pip_install_fix("pin huggingface-hub<0.26.0", {"huggingface-hub": "<0.26.0"}, Applicability.UNSAFE)
    note = Finding(code="ED150", name="x", severity=Severity.INFO, message="only a script fails", fixes=(down,))
    plan = from_findings([note], snap, [], unsafe=True)
    assert plan.empty and "a note, not acted on" in plan.skipped[0]
    warning = Finding(code="ED150", name="x", severity=Severity.WARNING, message="m", fixes=(down,))
    assert from_findings([warning], snap, [], unsafe=True).install == ("huggingface-hub<0.26.0",)


def test_pin_already_satisfied_plans_nothing() -> None:
    snap = snapshot(bitsandbytes="0.46.0")
    fix = pip_install_fix("bnb", {"bitsandbytes": ">=0.45.1"}, Applicability.SAFE)
    assert from_findings([finding("ED101", fix)], snap, [], unsafe=False).empty


def test_floors_derive_from_declarative_fixes_on_condition_packages() -> None:
    described = {f.describe() for f in floors(knowledge.load())}
    assert "bitsandbytes>=0.45.1 when triton>=3.2.0 (ED101)" in described
    # ED141's fixes are display-only: no floor; ED130's tf pin is on a condition package: a floor.
    assert not any("(ED141)" in d for d in described)
    assert any(d.startswith("transformers>=4.43.0 when") for d in described)

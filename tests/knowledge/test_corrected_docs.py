"""`envdoctor rules CODE` of the entries issue 20 corrected states the corrected facts and their sources,
and the lock resolver's floors follow the corrected ranges."""

from __future__ import annotations

import pytest
from tests.helpers.core import kb

from envdoctor.rules.constraints import floors


@pytest.mark.parametrize(("code", "facts"), [
    ("ED131", ["0.9.6 through 0.22.2", "5.0.0rc3", "trl>=0.23.0", "trl-0.22.2-py3-none-any.whl"]),
    ("ED130", ["every release from 0.14.0", "EncoderDecoderCache", "peft-0.21.2-py3-none-any.whl"]),
    ("ED111", ["ED112"]),
    ("ED112", ["only 0.9.6 declares", "0.8.3-0.9.3", "trl-0.9.6-py3-none-any.whl: numpy <2.0.0"]),
    ("ED240", ["no fa3 branch", "gpt_oss", "llamafactory-0.9.5-py3-none-any.whl"]),
    ("ED104", ["from 0.50.0", "0.43-0.49 load only the exact build", "bitsandbytes-0.50.0-py3-none"]),
    ("ED110", ["from 0.9.2 also `y`", "llamafactory-0.9.2-py3-none-any.whl"]),
    ("ED241", ["before 0.8.2", "llamafactory-0.7.1"]),
    ("ED102", ['python_version < "3.12"', "release_requirements.json", "torch-2.12.1"]),
    ("ED120", ["torchaudio 2.11.0 declares no torch", "xformers 0.0.35", "79 releases"]),
])
def test_docs_state_the_corrected_facts(code: str, facts: list[str]) -> None:
    docs = " ".join(kb().rules[code].docs().split())
    missing = [f for f in facts if " ".join(f.split()) not in docs]
    assert not missing, missing


def test_lock_floors_follow_the_corrected_ranges() -> None:
    by_code = {(f.code, f.package): f for f in floors(kb())}
    trl = by_code[("ED131", "trl")]
    assert trl.spec == ">=0.23.0"
    assert str(trl.when.packages["trl"]) == "<0.23.0,>=0.9.6"
    assert ("ED111", "trl") not in by_code and ("ED111", "llamafactory") not in by_code

"""explain_log as a whole: the run's budget for index look-ups."""

from __future__ import annotations

from pathlib import Path

import pytest

from envdoctor.explain import command
from envdoctor.explain.command import explain_log
from tests.helpers.index import IndexServer, isolated_pip_env
from tests.helpers.surface import Dist, Index


@pytest.mark.parametrize("budget", [command.LOOKUP_BUDGET_S, -1.0])
def test_index_look_ups_stop_at_the_runs_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                budget: float) -> None:
    layout = Index(tmp_path / "index")
    layout.add(Dist("python-magic", "0.4.27", {"magic/__init__.py": ""}))
    (tmp_path / "run.log").write_text("ModuleNotFoundError: No module named 'magic'\n", encoding="utf-8")
    monkeypatch.setattr(command, "LOOKUP_BUDGET_S", budget)
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        result = explain_log(tmp_path / "run.log", None, None, None, offline=False)
        asked = len(server.requests)
    spent = [n for n in result.notes if n.startswith("index look-ups stopped after")]
    if budget < 0:  # spent before the first look-up: the cache (empty) answers, and the note says so
        assert spent and asked == 0
    else:
        assert not spent and asked > 0 and result.findings[0].packages == ("python-magic",)


@pytest.mark.parametrize("offline", [False, True])
def test_against_a_target_an_install_fix_names_the_release(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           offline: bool) -> None:
    """The family says `install python-magic`; against a freeze the fix names the release the index
    has for the target's Python (offline: the index is not asked and the range stays)."""
    from envdoctor.engine.check import CheckRequest

    layout = Index(tmp_path / "index")
    for version in ("0.4.26", "0.4.27"):
        layout.add(Dist("python-magic", version, {"magic/__init__.py": ""}))
    (tmp_path / "run.log").write_text("ModuleNotFoundError: No module named 'magic'\n", encoding="utf-8")
    (tmp_path / "freeze.txt").write_text("packaging==24.0\n", encoding="utf-8")
    request = CheckRequest(env_file=tmp_path / "freeze.txt", offline=offline, include_project=False, quiet=True,
                           python_version="3.11")
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        if offline:  # the provider map learns `magic` online once; the release search is what stays offline
            explain_log(tmp_path / "run.log", None, None, None, offline=False)
        result = explain_log(tmp_path / "run.log", None, request, None, offline=offline)
    (finding,) = result.findings
    pins = {name: spec for fix in finding.fixes for name, spec in fix.pins.items()}
    assert pins == {"python-magic": "" if offline else "==0.4.27"}

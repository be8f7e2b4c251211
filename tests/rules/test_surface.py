"""ED150 missing-api-reference end to end: installed releases, a loopback index, the rule's findings."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from envdoctor.env.snapshot import Snapshot
from envdoctor.findings import Finding, Severity
from tests.helpers.core import dist, run_rule, snap
from tests.helpers.index import IndexServer, isolated_pip_env
from tests.helpers.surface import Dist, Index, install


def provider(version: str) -> Dist:
    """``gone`` exists before 2.0; ``configure`` absorbs any keyword; ``strict`` takes ``a`` only."""
    source = textwrap.dedent("""
        def configure(name, **kwargs): ...
        def strict(a=None): ...
        def is_prov_available(): return True
    """)
    if version < "2.0":
        source += "def gone(): ...\n"
    return Dist("prov", version, {"prov/__init__.py": source})


USER_10 = {
    "userpkg/__init__.py": "from prov import gone\n",
    "userpkg/guarded.py": textwrap.dedent("""
        try:
            from prov import gone
        except ImportError:
            gone = None
        from prov import is_prov_available
        if is_prov_available():
            from prov import also_gone
        def later():
            from prov import gone_too
    """),
    "userpkg/calls.py": textwrap.dedent("""
        import prov
        SETTINGS = prov.configure("x", anything=1)
        CHECKED = prov.strict(a=1, b=2)
    """),
}
USER_11 = {**USER_10, "userpkg/__init__.py": "from prov import configure\n"}


def target(site: Path) -> Snapshot:
    prov_info = install(site, provider("2.0"))
    user_info = install(site, Dist("userpkg", "1.0", USER_10, requires=("prov",)))
    return snap(dist("prov", "2.0", location=str(prov_info)),
                dist("userpkg", "1.0", ("prov",), location=str(user_info)))


@pytest.fixture()
def index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> IndexServer:
    layout = Index(tmp_path / "index")
    for version in ("1.0", "1.5", "2.0", "2.1"):
        layout.add(provider(version))
    layout.add(Dist("userpkg", "1.0", USER_10, requires=("prov",)))
    layout.add(Dist("userpkg", "1.1", USER_11, requires=("prov",)))
    layout.add(Dist("userpkg", "1.2", USER_11, requires=("prov",)))
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        yield server


def by_query(findings: list[Finding]) -> dict[str, Finding]:
    return {f.message.split("`")[1]: f for f in findings}


def test_failing_references_with_boundary_and_both_pins(index: IndexServer, tmp_path: Path) -> None:
    findings = by_query(run_rule("ED150", target(tmp_path / "site")))
    assert set(findings) == {"prov.gone", "prov.strict(b=...)"}
    gone = findings["prov.gone"]
    assert "userpkg 1.0 uses `prov.gone` (userpkg/__init__.py:1)" in gone.message
    assert "prov 2.0 does not have" in gone.message and "removed in 2.0" in gone.message
    assert gone.packages == ("userpkg", "prov") and gone.confidence == "high"
    assert [f.pins for f in gone.fixes] == [{"userpkg": ">=1.1"}, {"prov": "<2.0"}]
    assert "a downgrade" in gone.fixes[1].title and "1.5" in gone.fixes[1].title
    assert gone.locations[0].path.endswith("site/userpkg/__init__.py") and gone.locations[0].line == 1
    assert gone.severity is Severity.ERROR  # userpkg/__init__.py runs on `import userpkg`
    strict = findings["prov.strict(b=...)"]
    assert "TypeError" in strict.message and "calls.py:4" in strict.message
    # nothing imports userpkg.calls on the way to userpkg's names: only its own importers fail
    assert strict.severity is Severity.WARNING
    assert "only code that imports `userpkg.calls` fails" in strict.message
    assert strict.fixes == ()  # no release of prov accepts b, none of userpkg stops passing it


def test_platform_owned_provider_is_not_moved(index: IndexServer, tmp_path: Path) -> None:
    findings = by_query(run_rule("ED150", target(tmp_path / "site"), keep=frozenset({"prov"})))
    assert [f.pins for f in findings["prov.gone"].fixes] == [{"userpkg": ">=1.1"}]


def test_warm_run_reads_the_result_cache(index: IndexServer, tmp_path: Path) -> None:
    first = run_rule("ED150", target(tmp_path / "site"))
    before = len(index.requests)
    second = run_rule("ED150", target(tmp_path / "site2"))  # same releases elsewhere: re-read, not re-fetched
    third = run_rule("ED150", target(tmp_path / "site2"))
    assert [f.message.replace("site2", "site") for f in second] == [f.message for f in first]
    assert third == second
    assert not any(path.endswith(".whl") for path, _ in index.requests[before:])  # bisection was cached


def test_nothing_flagged_when_the_provider_has_it(index: IndexServer, tmp_path: Path) -> None:
    site = tmp_path / "site"
    prov_info = install(site, provider("1.5"))
    user_info = install(site, Dist("userpkg", "1.0", {k: v for k, v in USER_10.items() if "calls" not in k},
                                   requires=("prov",)))
    snapshot = snap(dist("prov", "1.5", location=str(prov_info)),
                    dist("userpkg", "1.0", ("prov",), location=str(user_info)))
    assert run_rule("ED150", snapshot) == []


def test_lock_file_target_reads_the_index_and_offline_the_cache(index: IndexServer, tmp_path: Path) -> None:
    from tests.helpers.core import envdoctor

    lock = tmp_path / "requirements.txt"
    lock.write_text("prov==2.0\nuserpkg==1.0\n", encoding="utf-8")
    env = {"PIP_INDEX_URL": index.url, "ENVDOCTOR_CACHE_DIR": str(tmp_path / "lockcache")}

    def codes(*extra: str) -> list[str]:
        proc = envdoctor("check", "--env", str(lock), "--select", "ED150", "--format", "json", *extra, env=env)
        assert proc.returncode in (0, 1), proc.stderr
        return sorted(f["message"].split("`")[1] for f in json.loads(proc.stdout)["findings"])

    assert codes("--offline") == []  # nothing cached yet: nothing fetched
    assert codes() == ["prov.gone", "prov.strict(b=...)"]
    assert codes("--offline") == ["prov.gone", "prov.strict(b=...)"]


def test_a_project_that_imports_the_unloaded_module_fails_for_real(index: IndexServer, tmp_path: Path) -> None:
    from envdoctor.engine import core as engine
    from envdoctor.project.facts import ProjectRequest, collect
    from envdoctor.rules.base import Context
    from tests.helpers.core import kb

    snapshot = target(tmp_path / "site")
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "train.py").write_text("import os\nfrom userpkg import calls\n", encoding="utf-8")
    ctx = Context(snapshot=snapshot, kb=kb(), project=collect(ProjectRequest(project_path=tmp_path / "proj"), snapshot))
    strict = by_query(engine.run(ctx, [kb().rules["ED150"]]))["prov.strict(b=...)"]
    assert strict.severity is Severity.ERROR
    assert "train.py:2 imports `userpkg.calls`, which loads it" in strict.message


def test_a_pair_the_users_metadata_already_excludes_is_left_to_ed001(index: IndexServer, tmp_path: Path) -> None:
    site = tmp_path / "site"
    prov_info = install(site, provider("2.0"))
    user_info = install(site, Dist("userpkg", "1.0", USER_10, requires=("prov<2.0",)))
    snapshot = snap(dist("prov", "2.0", location=str(prov_info)),
                    dist("userpkg", "1.0", ("prov<2.0",), location=str(user_info)))
    assert run_rule("ED150", snapshot) == []  # userpkg says it needs prov<2.0: the metadata is the authority
    unmet = run_rule("ED001", snapshot)
    assert [f.packages for f in unmet] == [("userpkg", "prov")] and "requires prov<2.0" in unmet[0].message
    admitted = snap(dist("prov", "2.0", location=str(prov_info)),
                    dist("userpkg", "1.0", ("prov>=1.0",), location=str(user_info)))
    assert "prov.gone" in by_query(run_rule("ED150", admitted))  # a range that admits 2.0: reported


def lock_findings(lock: Path, url: str, cache: Path) -> list[dict]:
    """ED150's JSON findings for a lock file, against the loopback index."""
    from tests.helpers.core import envdoctor

    proc = envdoctor("check", "--env", str(lock), "--select", "ED150", "--format", "json", "--no-project",
                     env={"PIP_INDEX_URL": url, "ENVDOCTOR_CACHE_DIR": str(cache)})
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)["findings"]


def test_a_provider_the_file_does_not_pin_is_checked_at_its_newest_admitted_release(
        index: IndexServer, tmp_path: Path) -> None:
    lock = tmp_path / "requirements.txt"
    lock.write_text("userpkg==1.0\n", encoding="utf-8")  # prov comes from pip: its newest release, 2.1
    findings = {f["message"].split("`")[1]: f for f in lock_findings(lock, index.url, tmp_path / "cache")}
    gone = findings["prov.gone"]
    assert "which prov 2.1 does not have (the file does not pin prov" in gone["message"]
    assert "the newest release it admits, what a fresh install of the file gets" in gone["message"]
    assert "removed in 2.0" in gone["message"] and gone["severity"] == "error"
    titles = [fix["title"] for fix in gone["fixes"]]
    assert any(t.startswith("upgrade userpkg to 1.1+") for t in titles)
    assert any(t.startswith("pin prov<2.0 (1.5 is the last release with `prov.gone`)") for t in titles)
    assert not any("downgrade" in t for t in titles)  # nothing is pinned, so nothing moves down


@pytest.fixture()
def floor_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> IndexServer:
    """``prov`` gains ``fresh`` in 1.5; 0.1 is a placeholder shipping another top-level name."""
    layout = Index(tmp_path / "floor-index")
    layout.add(Dist("prov", "0.1", {"__prov__/__init__.py": ""}))
    layout.add(Dist("prov", "1.0", {"prov/__init__.py": "def old(): ...\n"}))
    for version in ("1.5", "1.6", "2.0"):
        layout.add(Dist("prov", version, {"prov/__init__.py": "def old(): ...\ndef fresh(): ...\n"}))
    for version, requirement in (("1.0", "prov>=1.0"), ("2.0", "prov>=1.5"), ("3.0", "prov")):
        layout.add(Dist("needs", version, {"needs/__init__.py": "from prov import fresh, old\n"},
                        requires=(requirement,)))
    layout.add(Dist("needs", "4.0", {"needs/__init__.py": "from prov import old\n"}, requires=("prov",)))
    with IndexServer(tmp_path / "floor-index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        yield server


def test_a_declared_lower_bound_below_what_the_code_needs_is_found_by_bisection(
        floor_index: IndexServer, tmp_path: Path) -> None:
    def findings(pin: str) -> list[dict]:
        lock = tmp_path / f"{pin}.txt"
        lock.write_text(f"{pin}\n", encoding="utf-8")
        return lock_findings(lock, floor_index.url, tmp_path / "cache")

    (low,) = findings("needs==1.0")
    assert "needs 1.0 uses `prov.fresh` (needs/__init__.py:1)" in low["message"]
    assert "which prov releases before 1.5 lack, though `prov>=1.0` admits them (1.0 is the newest without it" \
        in low["message"]
    assert low["severity"] == "warning"  # only an install held below 1.5 fails
    (pin,) = [fix for fix in low["fixes"] if "prov" in fix["pins"]]
    assert pin["title"].startswith("pin prov>=1.5, the first release with `prov.fresh`")
    assert pin["pins"] == {"prov": "==2.0"}  # concretized within >=1.5 against the index
    assert findings("needs==2.0") == []  # its requirement already says >=1.5
    # needs 3.0 declares plain `prov`: no lower bound says how low an install goes, and the newest
    # release, which a fresh install gets, has both names; nothing to report (prov 1.0 lacks `fresh`)
    assert findings("needs==3.0") == []
    # needs 4.0 no longer uses `prov.fresh`, but a floor gap is closed by prov's floor, not by moving needs
    assert not any("needs" in fix["pins"] for fix in low["fixes"])


@pytest.fixture()
def body_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> IndexServer:
    """``prov.fetch`` takes ``token_old=`` before 2.0; ``caller`` passes it inside function bodies."""
    layout = Index(tmp_path / "body-index")
    for version in ("1.0", "1.5", "2.0"):
        signature = "def fetch(url, token_old=None): ...\n" if version < "2.0" else "def fetch(url, token=None): ...\n"
        layout.add(Dist("prov", version, {"prov/__init__.py": signature}))
    caller = textwrap.dedent("""
        from prov import fetch

        def download(url):
            return fetch(url, token_old="t")

        def careful(url):
            try:
                return fetch(url, token_old="t")
            except TypeError:
                return fetch(url)
    """)
    layout.add(Dist("caller", "1.0", {"caller/__init__.py": caller}, requires=("prov",)))
    layout.add(Dist("caller", "1.1", {"caller/__init__.py": caller.replace("token_old", "token")},
                    requires=("prov",)))
    with IndexServer(tmp_path / "body-index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        yield server


def test_a_function_bodys_call_with_a_removed_keyword_is_a_note_with_both_pins(
        body_index: IndexServer, tmp_path: Path) -> None:
    lock = tmp_path / "requirements.txt"
    lock.write_text("caller==1.0\nprov==2.0\n", encoding="utf-8")
    (note,) = lock_findings(lock, body_index.url, tmp_path / "cache")  # the try/except TypeError call is guarded
    assert note["message"].startswith("caller 1.0 uses `prov.fetch(token_old=...)` (caller/__init__.py:5, in a "
                                      "function body), which prov 2.0 does not have")
    assert "removed in 2.0" in note["message"] and "calling that function fails with TypeError" in note["message"]
    assert note["severity"] == "info"  # importing caller works; only a call fails
    assert [fix["pins"] for fix in note["fixes"]] == [{"caller": "==1.1"}, {"prov": "==1.5"}]
    lock.write_text("caller==1.1\nprov==2.0\n", encoding="utf-8")
    assert lock_findings(lock, body_index.url, tmp_path / "cache") == []


def test_what_the_time_budget_left_unchecked_is_a_note_in_the_report(
        index: IndexServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from envdoctor.engine.check import CheckRequest, run_check
    from envdoctor.surface import crosscheck

    lock = tmp_path / "requirements.txt"
    lock.write_text("prov==2.0\nuserpkg==1.0\n", encoding="utf-8")
    monkeypatch.setattr(crosscheck, "FILE_SCAN_BUDGET_S", 0.0)  # nothing fits: every package waits
    result = run_check(CheckRequest(env_file=lock, include_project=False, quiet=True, select=("ED150",)))
    assert result.findings == []
    assert any("packages not fully checked yet" in note and "userpkg" in note for note in result.notes)
    monkeypatch.setattr(crosscheck, "FILE_SCAN_BUDGET_S", 60.0)
    again = run_check(CheckRequest(env_file=lock, include_project=False, quiet=True, select=("ED150",)))
    assert "prov.gone" in by_query(again.findings) and not any("not fully" in n for n in again.notes)


@pytest.fixture()
def former_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> IndexServer:
    """``setuptools`` (this index's own) ships the top-level ``oldres`` up to 2.0 and drops it in 3.0
    (the way setuptools 82 dropped pkg_resources); ``differ`` 1.0 imports it without declaring
    setuptools, 1.1 no longer does; ``tools`` loses ``helper`` in 3.0, which ``differ`` also uses
    undeclared; ``standard-imghdr`` ships ``imghdr`` again."""
    layout = Index(tmp_path / "former-index")
    for version in ("1.0", "2.0", "3.0"):
        files = {"setuptools/__init__.py": ""}
        if version != "3.0":
            files["oldres/__init__.py"] = "def require(): ...\n"
        layout.add(Dist("setuptools", version, files))
        layout.add(Dist("tools", version, {"tools/__init__.py": "def helper(): ...\n" if version != "3.0" else ""}))
    layout.add(Dist("differ", "1.0", {"differ/__init__.py": "import oldres\nfrom tools import helper\n",
                                      "differ/images.py": "import imghdr\n"}))
    layout.add(Dist("differ", "1.1", {"differ/__init__.py": "", "differ/images.py": "import filetype\n"}))
    layout.add(Dist("standard-imghdr", "3.13.0", {"imghdr.py": "def what(f): ...\n"}))
    # ``kernel`` 0.5.0 imports trlx (public: its __init__ loads the trainer) without declaring it; 0.5.1 does not
    layout.add(Dist("kernel", "0.5.0", {"kernel/__init__.py": "from .orpo import run\n",
                                        "kernel/orpo.py": "from trlx.trainer import ORPOTrainer\ndef run(): ...\n"},
                    requires=("tools",)))
    layout.add(Dist("kernel", "0.5.1", {"kernel/__init__.py": "def run(): ...\n"}, requires=("tools",)))
    orpo = "from trlx.trainer import ORPOTrainer\n"
    layout.add(Dist("kernel", "0.4.0", {"kernel/__init__.py": "def run(): ...\n",  # a corner `import kernel` skips
                                        "kernel/orpo.py": orpo}, requires=("tools",)))
    guarded = "try:\n    from .orpo import run\nexcept ImportError:\n    run = None\n"
    layout.add(Dist("kernel", "0.4.1", {"kernel/__init__.py": guarded, "kernel/orpo.py": orpo}, requires=("tools",)))
    # 0.3.0 imports a copy it vendors and puts on sys.path (setuptools/_vendor); 0.3.1's orpo.py is the
    # source of the extension module that runs (Cython's pure-Python mode)
    vendoring = "import os, sys\nsys.path.append(os.path.join(os.path.dirname(__file__), '_vendor'))\n"
    layout.add(Dist("kernel", "0.3.0", {"kernel/__init__.py": vendoring + "from .orpo import run\n",
                                        "kernel/orpo.py": orpo + "def run(): ...\n",
                                        "kernel/_vendor/trlx/__init__.py": "",
                                        "kernel/_vendor/trlx/trainer.py": "class ORPOTrainer: ...\n"},
                    requires=("tools",)))
    layout.add(Dist("kernel", "0.3.1", {"kernel/__init__.py": "from .orpo import run\n",
                                        "kernel/orpo.py": orpo + "def run(): ...\n",
                                        "kernel/orpo.cpython-312-x86_64-linux-gnu.so": ""}, requires=("tools",)))
    # 0.2.0 is a plugin trlx loads: it registers in trlx's entry-point group (matplotlib-inline's shape)
    layout.add(Dist("kernel", "0.2.0", {"kernel/__init__.py": "from .orpo import run\n",
                                        "kernel/orpo.py": orpo + "def run(): ...\n",
                                        "kernel-0.2.0.dist-info/entry_points.txt": "[trlx.trainers]\norpo = kernel\n"},
                    requires=("tools",)))
    layout.add(Dist("trlx", "1.0", {"trlx/__init__.py": "", "trlx/trainer.py": "class ORPOTrainer: ...\n"}))
    layout.add(Dist("bundle", "1.0", {"bundle/__init__.py": ""}, requires=("trlx",)))
    # a fork that ships the same import name under another distribution name, which another pin requires
    layout.add(Dist("trlx-fork", "1.0", {"trlx/__init__.py": "", "trlx/trainer.py": "class ORPOTrainer: ...\n"}))
    layout.add(Dist("forked", "1.0", {"forked/__init__.py": ""}, requires=("trlx-fork",)))
    with IndexServer(tmp_path / "former-index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        yield server


def file_findings(lines: str, url: str, tmp_path: Path, *extra: str,
                  select: str = "ED150,ED151") -> list[dict]:
    """Every cross-package finding (``select``) of a lock with ``lines``."""
    from tests.helpers.core import envdoctor

    lock = tmp_path / "requirements.txt"
    lock.write_text(lines, encoding="utf-8")
    proc = envdoctor("check", "--env", str(lock), "--select", select, "--format", "json", "--no-project",
                     *extra, env={"PIP_INDEX_URL": url, "ENVDOCTOR_CACHE_DIR": str(tmp_path / "cache")})
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)["findings"]


def test_a_module_an_undeclared_distribution_stopped_shipping(former_index: IndexServer, tmp_path: Path) -> None:
    found = {f["message"].split("`")[1]: f for f in file_findings("differ==1.0\nsetuptools==3.0\ntools==3.0\n",
                                                                  former_index.url, tmp_path)}
    assert set(found) == {"oldres", "tools.helper"}
    gone = found["oldres"]
    assert gone["message"].startswith("differ 1.0 uses `oldres` (differ/__init__.py:1), which setuptools 3.0 does "
                                      "not have (differ does not declare setuptools, it relies on the one installed)")
    assert "removed in 3.0" in gone["message"] and gone["severity"] == "error"
    assert [fix["pins"] for fix in gone["fixes"]] == [{"differ": "==1.1"}, {"setuptools": "==2.0"}]
    assert "differ does not declare tools" in found["tools.helper"]["message"]  # a listed owner: checked as a pair
    assert file_findings("differ==1.0\nsetuptools==2.0\ntools==2.0\n", former_index.url, tmp_path) == []


def test_boundaries_already_known_do_not_take_a_runs_bisections_from_those_still_waiting(
        former_index: IndexServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from envdoctor.engine.check import CheckRequest, run_check
    from envdoctor.surface import crosscheck

    lock = tmp_path / "requirements.txt"
    lock.write_text("differ==1.0\nsetuptools==3.0\ntools==3.0\n", encoding="utf-8")
    monkeypatch.setattr(crosscheck, "MAX_BISECTIONS", 1)

    def bisected() -> tuple[int, bool]:
        result = run_check(CheckRequest(env_file=lock, include_project=False, quiet=True, select=("ED150",)))
        assert len(result.findings) == 2
        return (sum("removed in 3.0" in f.message for f in result.findings),
                any("wait for their release history" in note for note in result.notes))

    assert bisected() == (1, True)  # one bisection this run, the other waits
    assert bisected() == (2, False)  # the first is cached: the second gets this run's bisection


def test_an_unlisted_distribution_pip_freeze_leaves_out_is_checked_at_its_newest(
        former_index: IndexServer, tmp_path: Path) -> None:
    found = {f["message"].split("`")[1]: f for f in file_findings("differ==1.0\ntools==2.0\n",
                                                                  former_index.url, tmp_path)}
    gone = found["oldres"]
    assert ("the file does not pin setuptools, and 3.0 is what a fresh install gets" in gone["message"])
    assert any(fix["title"].startswith("pin setuptools<3.0 (2.0 is the last release with `oldres`)")
               for fix in gone["fixes"])


def test_a_standard_library_module_the_targets_python_removed(former_index: IndexServer, tmp_path: Path) -> None:
    def removed(python: str) -> list[dict]:
        return [f for f in file_findings("differ==1.0\nsetuptools==2.0\ntools==2.0\n", former_index.url, tmp_path,
                                         "--python-version", python) if f["code"] == "ED151"]

    assert removed("3.12") == []  # imghdr is still there
    (finding,) = removed("3.13")
    assert finding["message"].startswith("differ 1.0 imports `imghdr` (differ/images.py:1), which Python 3.13 "
                                         "removed from the standard library (PEP 594")
    assert finding["severity"] == "warning"  # `import differ` does not load differ.images
    assert [fix["pins"] for fix in finding["fixes"]][:2] == [{"differ": "==1.1"}, {"standard-imghdr": "==3.13.0"}]


def test_an_import_of_a_module_nothing_the_install_brings_ships(former_index: IndexServer, tmp_path: Path) -> None:
    (finding,) = file_findings("kernel==0.5.0\ntools==2.0\n", former_index.url, tmp_path, select="ED152")
    assert finding["message"].startswith("kernel 0.5.0 imports `trlx` (kernel/orpo.py:1), which trlx ships; kernel "
                                         "does not declare trlx and no pin of the file, nor anything they require, "
                                         "installs it: importing it fails with ModuleNotFoundError")
    assert finding["severity"] == "error"
    assert [fix["pins"] for fix in finding["fixes"]] == [{"kernel": "==0.5.1"}, {"trlx": "==1.0"}]
    # another pin requires trlx: a fresh install has it, and so does kernel
    assert file_findings("kernel==0.5.0\ntools==2.0\nbundle==1.0\n", former_index.url, tmp_path,
                         select="ED152") == []
    assert file_findings("kernel==0.5.0\ntools==2.0\nforked==1.0\n", former_index.url, tmp_path,
                         select="ED152") == []  # it brings trlx-fork, which ships `trlx` too
    assert file_findings("kernel==0.5.1\ntools==2.0\n", former_index.url, tmp_path, select="ED152") == []
    # a corner `import kernel` does not load, and one it loads only under `except ImportError`: the user's choice
    assert file_findings("kernel==0.4.0\ntools==2.0\n", former_index.url, tmp_path, select="ED152") == []
    assert file_findings("kernel==0.4.1\ntools==2.0\n", former_index.url, tmp_path, select="ED152") == []
    # a vendored copy, a source file the extension module of the same name shadows, a plugin of the module
    assert file_findings("kernel==0.3.0\ntools==2.0\n", former_index.url, tmp_path, select="ED152") == []
    assert file_findings("kernel==0.3.1\ntools==2.0\n", former_index.url, tmp_path, select="ED152") == []
    assert file_findings("kernel==0.2.0\ntools==2.0\n", former_index.url, tmp_path, select="ED152") == []


def test_a_build_the_index_does_not_list_is_answered_by_its_release(index: IndexServer, tmp_path: Path) -> None:
    lock = tmp_path / "requirements.txt"
    lock.write_text("prov==2.1.0a0+nv24.05\nuserpkg==1.0\n", encoding="utf-8")  # a container's pre-release build
    gone = {f["message"].split("`")[1]: f for f in lock_findings(lock, index.url, tmp_path / "cache")}["prov.gone"]
    assert ("which prov 2.1 does not have (the target's prov 2.1.0a0+nv24.05 is not on the index; 2.1, the release "
            "it builds towards, answered for it)") in gone["message"]
    assert gone["severity"] == "warning"  # a stand-in: the build itself may differ
    lock.write_text("prov==2.0+cpu\nuserpkg==1.0\n", encoding="utf-8")  # a local build of 2.0 is 2.0
    gone = {f["message"].split("`")[1]: f for f in lock_findings(lock, index.url, tmp_path / "cache")}["prov.gone"]
    assert "which prov 2.0 does not have: " in gone["message"] and gone["severity"] == "error"


def test_a_reference_only_a_script_module_makes_is_a_note(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout = Index(tmp_path / "script-index")
    for version in ("1.0", "2.0"):
        layout.add(provider(version))
    convert = "from prov import gone\n\nif __name__ == \"__main__\":\n    gone()\n"
    layout.add(Dist("userpkg", "1.0", {"userpkg/__init__.py": "", "userpkg/convert.py": convert}, requires=("prov",)))
    with IndexServer(tmp_path / "script-index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        lock = tmp_path / "requirements.txt"
        lock.write_text("prov==2.0\nuserpkg==1.0\n", encoding="utf-8")
        (note,) = lock_findings(lock, server.url, tmp_path / "cache")
    assert "only running `userpkg.convert` as a script fails" in note["message"] and note["severity"] == "info"


def test_names_one_file_takes_from_a_release_that_lacks_them_are_one_finding(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout = Index(tmp_path / "group-index")
    layout.add(Dist("prov", "1.0", {"prov/__init__.py": "def a(): ...\ndef b(): ...\ndef c(): ...\n"}))
    layout.add(Dist("prov", "1.5", {"prov/__init__.py": "def a(): ...\ndef b(): ...\n"}))  # c goes first
    layout.add(Dist("prov", "2.0", {"prov/__init__.py": ""}))
    layout.add(Dist("user", "1.0", {"user/__init__.py": "from prov import a, b, c\n"}, requires=("prov",)))
    layout.add(Dist("user", "1.1", {"user/__init__.py": "from prov import a, b\n"}, requires=("prov",)))
    layout.add(Dist("user", "1.2", {"user/__init__.py": ""}, requires=("prov",)))
    with IndexServer(tmp_path / "group-index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        lock = tmp_path / "requirements.txt"
        lock.write_text("prov==2.0\nuser==1.0\n", encoding="utf-8")
        (finding,) = lock_findings(lock, server.url, tmp_path / "cache")
    assert finding["message"].startswith("user 1.0 uses `prov.a` (user/__init__.py:1)")
    assert finding["message"].endswith("; the same file also uses `prov.b`, `prov.c`, which prov 2.0 lacks too")
    # user 1.1 still imports a and b; prov 1.0 is the last release with all three (c left in 1.5)
    assert [fix["pins"] for fix in finding["fixes"]] == [{"user": "==1.2"}, {"prov": "==1.0"}]

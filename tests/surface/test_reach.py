"""Which modules a release's public API loads: eager imports, parents, lazy tables, dynamic exports."""

from __future__ import annotations

import textwrap
from pathlib import Path

from envdoctor.surface import reach
from envdoctor.surface.catalog import ReleaseSymbols
from envdoctor.surface.sources import InstalledSource
from tests.helpers.surface import Dist, install

LAZY_INIT = textwrap.dedent("""
    from typing import TYPE_CHECKING
    from ._lazy import _LazyModule
    _import_structure = {"trainer": ["Trainer"], "data": ["load"]}
    if TYPE_CHECKING:
        from .trainer import Trainer
        from .experimental.hidden import Hidden
    else:
        import sys
        sys.modules[__name__] = _LazyModule(__name__, _import_structure)
""")
FILES = {
    "pkg/__init__.py": LAZY_INIT,
    "pkg/_lazy.py": "class _LazyModule: ...\n",
    "pkg/trainer/__init__.py": "from .sft import Trainer\n",
    "pkg/trainer/sft.py": "try:\n    from ..experimental.utils import helper\nexcept ImportError:\n    helper = None\n",
    "pkg/data.py": "import pkg.formats.json_fmt\nfrom . import plugins\n",
    "pkg/formats/__init__.py": "",
    "pkg/formats/json_fmt.py": "",
    "pkg/experimental/__init__.py": "",
    "pkg/experimental/utils.py": "def helper(): ...\n",
    "pkg/experimental/hidden.py": "from other import gone\n",
    "pkg/plugins/__init__.py": "def __getattr__(name):\n    import importlib\n    return importlib.import_module('.' + name, __name__)\n",
    "pkg/plugins/one.py": "",
    "pkg/plugins/deep/__init__.py": "",
    "pkg/plugins/deep/two.py": "",
    "pkg/tests/test_x.py": "import pkg.experimental.hidden\n",
}


def release(site: Path, files: dict[str, str] = FILES) -> ReleaseSymbols:
    info = install(site, Dist("pkg", "1.0", files))
    return ReleaseSymbols.open(InstalledSource("pkg", "1.0", info))


def test_public_modules_follow_imports_lazy_tables_and_dynamic_exports(tmp_path: Path) -> None:
    public = reach.public_modules(release(tmp_path / "site"))
    assert public is not None
    assert {"pkg", "pkg._lazy", "pkg.trainer", "pkg.trainer.sft", "pkg.data"} <= public  # eager and lazy
    assert {"pkg.experimental", "pkg.experimental.utils"} <= public  # under try/except, and its parent
    assert {"pkg.formats", "pkg.formats.json_fmt"} <= public  # `import a.b.c` loads a.b too
    assert "pkg.plugins" in public  # imported by a public module
    assert "pkg.plugins.one" not in public  # only its __getattr__ loads it, and no top-level name routes there
    assert "pkg.experimental.hidden" not in public  # only under TYPE_CHECKING
    assert "pkg.tests.test_x" not in public


def test_loaded_publicly_and_the_cache(tmp_path: Path) -> None:
    rel = release(tmp_path / "site")
    assert reach.loaded_publicly(rel, ["pkg/experimental/hidden.py"]) is False
    assert reach.loaded_publicly(rel, ["pkg/experimental/hidden.py", "pkg/trainer/sft.py"]) is True
    rel.save()
    again = ReleaseSymbols.open(InstalledSource("pkg", "1.0", tmp_path / "site" / "pkg-1.0.dist-info"))
    assert again.data["extra"][reach.CACHE_KEY] == sorted(reach.public_modules(rel) or ())
    assert reach.loaded_publicly(again, ["pkg/experimental/hidden.py"]) is False


def test_unknown_when_the_walk_runs_out_of_time(tmp_path: Path) -> None:
    fresh = {**FILES, "pkg/extra.py": ""}  # not the cached release of the test above
    assert reach.public_modules(release(tmp_path / "site", fresh), budget_s=-1) is None
    offline = ReleaseSymbols("pkg", "1.0", "k", None, None)
    assert reach.loaded_publicly(offline, ["pkg/data.py"]) is None


def test_what_importing_the_package_always_loads(tmp_path: Path) -> None:
    files = {"eager/__init__.py": "import sys\nfrom . import core\nif sys.platform == 'win32':\n"
                                  "    from . import windows\ntry:\n    from . import extra\nexcept ImportError:\n"
                                  "    extra = None\n",
             "eager/core.py": "from .deep import inner\n", "eager/deep/__init__.py": "", "eager/deep/inner.py": "",
             "eager/windows.py": "import pywintypes\n", "eager/extra.py": "import paramiko\n"}
    info = install(tmp_path / "site", Dist("eager", "1.0", files))
    rel = ReleaseSymbols.open(InstalledSource("eager", "1.0", info))
    assert reach.public_modules(rel, strict=True) == {"eager", "eager.core", "eager.deep", "eager.deep.inner"}
    assert reach.loaded_publicly(rel, ["eager/windows.py"]) is True  # the public walk errs towards public
    assert reach.loaded_publicly(rel, ["eager/windows.py"], strict=True) is False  # only on Windows
    assert reach.loaded_publicly(rel, ["eager/extra.py"], strict=True) is False  # only when it imports
    assert reach.public_modules(release(tmp_path / "lazy"), strict=True) == {"pkg", "pkg._lazy"}  # no lazy exports


def test_a_subpackage_loads_only_what_the_names_routed_into_it_need(tmp_path: Path) -> None:
    lazy = "from ._lazy import _LazyModule\n_import_structure = {table}\nimport sys\n" \
           "sys.modules[__name__] = _LazyModule(__name__, _import_structure)\n"
    files = {"zoo/__init__.py": lazy.format(table={"models": ["BertModel"], "hub": ["download"]}),
             "zoo/_lazy.py": "class _LazyModule: ...\n",
             "zoo/hub.py": "from . import plugins\n",
             "zoo/models/__init__.py": "from . import nlp\n" + lazy.format(table={"bert": ["BertModel"],
                                                                                 "t5": ["T5Model"]}),
             "zoo/models/bert.py": "", "zoo/models/t5.py": "from other import gone\n",
             "zoo/models/nlp/__init__.py": lazy.format(table={"gpt": ["GPTModel"]}), "zoo/models/nlp/gpt.py": "",
             "zoo/plugins/__init__.py": "def __getattr__(name):\n    import importlib\n"
                                        "    return importlib.import_module('.' + name, __name__)\n",
             "zoo/plugins/one.py": "",
             "dyn/__init__.py": "def __getattr__(name):\n    import importlib\n"
                                "    return importlib.import_module('.' + name, __name__)\n",
             "dyn/one/__init__.py": "", "dyn/one/deep.py": ""}
    info = install(tmp_path / "site", Dist("zoo", "1.0", files))
    public = reach.public_modules(ReleaseSymbols.open(InstalledSource("zoo", "1.0", info)))
    assert public is not None
    # `zoo.BertModel` routes through zoo.models' table to zoo.models.bert, not to the table's other corners
    assert {"zoo", "zoo.hub", "zoo.models", "zoo.models.bert", "zoo.models.nlp", "zoo.plugins"} <= public
    assert not {"zoo.models.t5", "zoo.models.nlp.gpt", "zoo.plugins.one"} & public
    # a top-level package's dynamic exports: its direct submodules are its names
    assert "dyn.one" in public and "dyn.one.deep" not in public


def test_each_modules_imports_are_kept_so_a_cut_walk_goes_on_without_reading_again(tmp_path: Path) -> None:
    rel = release(tmp_path / "site")
    public = reach.public_modules(rel)
    edges = rel.data["extra"][reach.EDGES_KEY]
    assert edges["pkg.data"] == [["pkg", "pkg.formats.json_fmt", "pkg.plugins"]] * 2  # parents: the walk's
    assert edges["pkg.trainer.sft"] == [["pkg.experimental.utils"], []]  # under try: not always
    rel.save()
    for path in (tmp_path / "site" / "pkg").rglob("*.py"):
        path.write_text("", encoding="utf-8")  # a file read again would now import nothing
    again = ReleaseSymbols.open(InstalledSource("pkg", "1.0", tmp_path / "site" / "pkg-1.0.dist-info"))
    again.data["extra"].pop(reach.CACHE_KEY)
    assert reach.public_modules(again) == public

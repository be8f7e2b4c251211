"""Which distribution on a (loopback) index ships an import name, read from its wheels' file lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from envdoctor.surface.providers import definers, name_variants, providers
from tests.helpers.index import IndexServer, isolated_pip_env
from tests.helpers.surface import Dist, Index


@pytest.fixture()
def index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> IndexServer:
    layout = Index(tmp_path / "index")
    layout.add(Dist("opencv-python", "4.10.0", {"cv2/__init__.py": ""}))
    layout.add(Dist("opencv-python-headless", "4.10.0", {"cv2/__init__.py": ""}))
    layout.add(Dist("jwt", "1.3.1", {"jwt/__init__.py": ""}))
    layout.add(Dist("pyjwt", "2.9.0", {"jwt/__init__.py": ""}))
    layout.add(Dist("python-magic", "0.4.27", {"magic/__init__.py": ""}))
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        yield server


def test_the_importers_requirement_decides(index: IndexServer) -> None:
    assert providers("cv2.dnn", ["albumentations", "opencv-python-headless"]) == ["opencv-python-headless"]


def test_the_usual_spellings_and_an_ambiguous_name(index: IndexServer) -> None:
    assert providers("magic") == ["python-magic"]
    assert providers("jwt") == ["jwt", "pyjwt"]  # both ship `jwt`: the caller must say so
    assert providers("cv2") == []  # no distribution is spelled like cv2: the importer has to name it
    assert name_variants("flash_attn") == ["flash-attn", "python-flash-attn", "pyflash-attn", "flash-attn-python"]


def test_answers_are_cached_per_distribution_for_offline_use(index: IndexServer) -> None:
    assert providers("magic") == ["python-magic"]
    before = len(index.requests)
    assert providers("magic", offline=True) == ["python-magic"]
    assert providers("magic") == ["python-magic"] and len(index.requests) == before
    assert providers("jwt", offline=True) == []  # never asked online: nothing to answer from


def test_the_first_candidate_whose_newest_release_exports_a_name(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    layout = Index(tmp_path / "index")
    layout.add(Dist("liby", "1.0", {"liby/__init__.py": "class Other: ...\n"}))
    layout.add(Dist("libx", "1.0", {"libx/__init__.py": "from .core import Widget\n",
                                    "libx/core.py": "class Widget: ...\n"}))
    layout.add(Dist("libx", "2.0", {"libx/__init__.py": "from .core import Widget\n",
                                    "libx/core.py": "class Widget: ...\n"}))
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        assert definers("Widget", ["liby", "libx"]) == [("libx", "libx")]
        assert definers("Missing", ["liby", "libx"]) == []
        before = len(server.requests)
    assert definers("Widget", ["liby", "libx"], offline=True) == [("libx", "libx")]  # from the cache
    assert len(server.requests) == before


def test_a_name_not_exported_is_found_in_the_module_that_shares_its_words(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """``LlamaRotaryEmbedding`` is defined in ``models/llama/modeling_llama.py`` and exported nowhere."""
    files = {"libm/__init__.py": "from .trainer import Trainer\n", "libm/trainer.py": "class Trainer: ...\n",
             "libm/models/__init__.py": "", "libm/models/llama/__init__.py": "",
             "libm/models/llama/configuration_llama.py": "class LlamaConfig: ...\n",
             "libm/models/llama/modeling_llama.py": "class LlamaRotaryEmbedding:\n    def forward(self, x): ...\n",
             "libm/models/mistral/modeling_mistral.py": "class MistralRotaryEmbedding: ...\n"}
    layout = Index(tmp_path / "index")
    layout.add(Dist("libm", "1.0", files))
    layout.add(Dist("libt", "1.0", {"libt/__init__.py": "from .core import Trainer\n",
                                    "libt/core.py": "class Trainer: ...\n"}))
    layout.add(Dist("libapp", "1.0", {"libapp/__init__.py": "", "libapp/trainer.py": "class Trainer: ...\n"}))
    layout.add(Dist("libuser", "1.0", {"libuser/__init__.py": "from libt import Trainer\n"}))  # imports it
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        assert definers("LlamaRotaryEmbedding", ["libm"]) == [("libm", "libm.models.llama.modeling_llama")]
        assert definers("Trainer", ["libm"]) == [("libm", "libm")]  # exported: the top level answers
        # An application's own class of that name loses to a library that exports it, whatever the order.
        assert definers("Trainer", ["libapp", "libt"]) == [("libt", "libt")]
        assert definers("Trainer", ["libapp"]) == [("libapp", "libapp.trainer")]
        assert definers("Trainer", ["libuser", "libt"]) == [("libt", "libt")]  # a re-import is not a definition
        assert definers("GemmaRotaryEmbedding", ["libm"]) == []  # shares words, defined nowhere
        # a bare method name is defined in too many places to say whose (a module named `forward` is no answer)
        layout.add(Dist("libf", "1.0", {"libf/__init__.py": "", "libf/forward.py": "def forward(x): ...\n"}))
        assert definers("forward", ["libf"]) == []


def test_a_lazily_built_top_level_is_read_whole_only_when_nothing_cheaper_answers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A package whose ``__init__`` builds its namespace at run time (transformers' lazy structure)
    is asked after the packages that name the class or define it in a module sharing its words."""
    lazy = {"liblazy/__init__.py": "from .impl import *\n",  # only the full lookup follows it
            "liblazy/impl.py": "class Gadget: ...\nclass LlamaAttention: ...\n"}
    layout = Index(tmp_path / "index")
    layout.add(Dist("liblazy", "1.0", lazy))
    layout.add(Dist("libm", "1.0", {"libm/__init__.py": "", "libm/models/__init__.py": "",
                                    "libm/models/llama/modeling_llama.py": "class LlamaAttention: ...\n"}))
    with IndexServer(tmp_path / "index") as server:
        isolated_pip_env(monkeypatch, tmp_path / "cache", server.url)
        # the lazy package comes first, but a module that defines it by its words answers before it is read whole
        assert definers("LlamaAttention", ["liblazy", "libm"]) == [("libm", "libm.models.llama.modeling_llama")]
        assert definers("Gadget", ["liblazy", "libm"]) == [("liblazy", "liblazy")]  # nothing cheaper answers
        assert definers("Gadget", ["liblazy", "libm"], offline=True) == [("liblazy", "liblazy")]  # cached

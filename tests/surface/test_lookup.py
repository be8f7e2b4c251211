"""Symbol queries against installed releases (real *.dist-info folders with RECORD files)."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from envdoctor.surface.catalog import ReleaseSymbols
from envdoctor.surface.lookup import answer, successor
from envdoctor.surface.query import Query
from envdoctor.surface.sources import InstalledSource
from tests.helpers.surface import Dist, install

LIB = {
    "lib/__init__.py": """
        from .core import *
        from .models import Model as Model
        from ._native import fast
        __all__ = ["Model"]
    """,
    "lib/core.py": """
        __all__ = ["public", "Base"]
        def public(x, *, mode="a", **kwargs): ...
        def private_helper(): ...
        class Base:
            attr = 1
            def __init__(self, size, *, strict=False): ...
            def forward(self, x, position_ids, **kwargs): ...
    """,
    "lib/models.py": """
        from dataclasses import dataclass
        from .core import Base
        from torch.nn import Module

        class Model(Base):
            other = 2
        @dataclass
        class ParentConfig:
            r: int = 8
        @dataclass
        class Config(ParentConfig):
            alpha: int = 16
        class Wrapped(Module):
            pass
        class Decorated:
            @some_decorator
            def __init__(self, a): ...
        class Renamed:
            @deprecate_kwarg("tokenizer", new_name="processing_class")
            def __init__(self, processing_class=None): ...
    """,
    "lib/_native.cpython-311-x86_64-linux-gnu.so": "\x7fELF\x02\x01 PyInit__native\x00fast\x00fast_path\x00",
    "lib/copied.py": """
        from . import core
        __all__ = [x for x in dir(core) if not x.startswith('_')]
        globals().update((name, getattr(core, name)) for name in __all__)
    """,
    "lib/empty/__init__.py": "",
    "lib/lazy/__init__.py": """
        import sys
        from ..utils import _LazyModule, define_import_structure
        sys.modules[__name__] = _LazyModule(__name__, __file__, define_import_structure(__file__))
    """,
    "lib/lazy/aaa.py": "__all__ = ['A']\nA = 1\n",
    "lib/lazy/bbb.py": "__all__ = ['B']\nB = 1\n",
    "lib/lazy/lazy_model.py": """
        __all__ = ["LazyModel"]
        class LazyModel:
            def __init__(self, config): ...
        class Internal: ...
    """,
}


@pytest.fixture()
def release(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ReleaseSymbols:
    monkeypatch.setenv("ENVDOCTOR_CACHE_DIR", str(tmp_path / "cache"))
    files = {path: textwrap.dedent(text) for path, text in LIB.items()}
    dist_info = install(tmp_path / "site", Dist("lib", "1.0", files))
    return ReleaseSymbols.open(InstalledSource("lib", "1.0", dist_info))


@pytest.mark.parametrize(("query", "status"), [
    (Query("lib"), True),
    (Query("lib.missing"), False),
    (Query("lib.empty"), True),
    (Query("lib", "Model"), True),
    (Query("lib", "public"), True),  # star import through core's __all__
    (Query("lib", "private_helper"), False),  # not in core's __all__
    (Query("lib", "empty"), True),  # a submodule
    (Query("lib", "nothing"), False),
    (Query("lib", "__file__"), True),
    (Query("lib._native", "fast"), None),  # an extension module that spells the name may bind it
    (Query("lib._native", "anything"), False),  # ... one whose binary never spells it cannot
    (Query("lib", "fast"), True),  # imported from it by name
    (Query("lib.copied", "Pool"), None),  # globals().update(...): names the source does not spell
    (Query("lib", "Model", attr="attr"), True),  # inherited from Base
    (Query("lib", "Model", attr="other"), True),
    (Query("lib", "Model", attr="nope"), False),
    (Query("lib.models", "Wrapped", attr="nope"), None),  # base class from torch
    (Query("lib", "Model", kwarg="strict"), True),  # Base.__init__
    (Query("lib", "Model", kwarg="colour"), False),
    (Query("lib", "public", kwarg="anything"), True),  # **kwargs absorbs it
    (Query("lib.models", "Config", kwarg="r"), True),  # inherited dataclass field
    (Query("lib.models", "Config", kwarg="alpha"), True),
    (Query("lib.models", "Config", kwarg="beta"), False),
    (Query("lib.models", "Decorated", kwarg="b"), None),  # a decorator may change it
    (Query("lib.models", "Renamed", kwarg="processing_class"), True),
    (Query("lib.models", "Renamed", kwarg="tokenizer"), True),  # accepted (and deprecated) by the decorator
    (Query("lib.models", "Renamed", kwarg="beta"), False),  # the decorator names the keywords it handles
    (Query("lib.lazy", "LazyModel"), True),  # define_import_structure: each submodule's __all__
    (Query("lib.lazy", "Internal"), False),
    (Query("lib.lazy", "LazyModel", kwarg="config"), True),
    (Query("lib", "Model", attr="forward", kwarg="position_ids"), True),  # Base.forward, inherited
    (Query("lib", "Model", attr="forward", kwarg="seq_len"), True),  # absorbed by **kwargs
    (Query("lib", "Model", attr="forward", kwarg="seq_len", explicit=True), False),  # not a named parameter
    (Query("lib", "Model", attr="forward", kwarg="x", explicit=True), True),
    (Query("lib", "Model", attr="backward", kwarg="x"), False),  # no such method in Model or its bases
    (Query("lib.models", "Decorated", attr="__init__", kwarg="a", explicit=True), True),
    (Query("lib.models", "Decorated", attr="__init__", kwarg="b", explicit=True), None),  # the decorator may add it
])
def test_answers(release: ReleaseSymbols, query: Query, status: bool | None) -> None:
    assert answer(release, query).status is status


def test_absorbed_keyword_is_marked(release: ReleaseSymbols) -> None:
    found = answer(release, Query("lib", "public", kwarg="anything"))
    assert found.absorbed and not answer(release, Query("lib", "public", kwarg="mode")).absorbed


def test_summaries_are_parsed_on_demand_and_cached(release: ReleaseSymbols, tmp_path: Path) -> None:
    answer(release, Query("lib", "Model"))
    assert "lib.core" not in release.data["summaries"]  # found before the star import was needed
    release.save()
    again = ReleaseSymbols.open(release.source)  # type: ignore[arg-type]
    assert "lib" in again.data["summaries"] and not again.dirty


def test_successor_from_the_deprecated_function(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVDOCTOR_CACHE_DIR", str(tmp_path / "cache"))
    files = {"ms/__init__.py": "from ._native import soft_unicode, soft_str\n",
             "ms/_native.py": textwrap.dedent("""
                 def soft_str(s): ...
                 def soft_unicode(s):
                     import warnings
                     warnings.warn("'soft_unicode' has been renamed to 'soft_str'. The old name will be "
                                   "removed in MarkupSafe 2.1.", DeprecationWarning, stacklevel=2)
                     return soft_str(s)
             """)}
    dist_info = install(tmp_path / "site", Dist("ms", "2.0", files))
    release = ReleaseSymbols.open(InstalledSource("ms", "2.0", dist_info))
    assert successor(release, Query("ms", "soft_unicode")) == "soft_str"
    assert successor(release, Query("ms", "soft_str")) is None


def test_an_answer_that_needs_too_many_modules_is_unsettled(release: ReleaseSymbols,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from envdoctor.surface import lookup
    from envdoctor.surface.crosscheck import answer_cached

    monkeypatch.setattr(lookup, "MAX_PARSES", 1)
    query = Query("lib", "private_helper")  # needs lib, then core through the star import
    found = answer_cached(release, query)
    assert found is not None and found.status is None and not found.settled
    assert "answers" not in release.data["extra"] or not release.data["extra"]["answers"]
    assert answer_cached(release, query).status is False  # type: ignore[union-attr]  # lib is cached now
    assert release.data["extra"]["answers"]


def test_star_sources_sharing_a_word_with_the_name_are_read_first(release: ReleaseSymbols,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from envdoctor.surface import lookup

    monkeypatch.setattr(lookup, "MAX_PARSES", 2)  # lib.lazy, then lazy_model.py before aaa.py and bbb.py
    assert answer(release, Query("lib.lazy", "LazyModel")).status is True


LAZY_INIT = """
    import sys
    from typing import TYPE_CHECKING
    from ..utils import define_import_structure
    if TYPE_CHECKING:
        from .modeling import *
    else:
        sys.modules[__name__] = _LazyModule(__name__, globals()["__file__"], define_import_structure(__file__))
"""


def test_a_name_no_file_of_a_lazily_exported_subtree_spells_is_absent(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from envdoctor.surface import lookup

    files = {"big/__init__.py": "from .models import *\n" + textwrap.dedent(LAZY_INIT).replace("..utils", ".utils"),
             "big/utils.py": "def define_import_structure(path): ...\n",
             "big/models/__init__.py": textwrap.dedent(LAZY_INIT)}
    for index in range(12):  # every model package's init has the markers; only its files spell its names
        files[f"big/models/m{index}/__init__.py"] = textwrap.dedent(LAZY_INIT)
        files[f"big/models/m{index}/modeling.py"] = f"__all__ = ['Model{index}']\nclass Model{index}: ...\n"
    release = ReleaseSymbols.open(InstalledSource("big", "5.0", install(tmp_path / "site", Dist("big", "5.0", files))))
    monkeypatch.setattr(lookup, "MAX_PARSES", 6)  # fewer than the model packages: the text test decides
    assert answer(release, Query("big", "RemovedAutoClass")).status is False
    assert answer(release, Query("big", "Model7")).status is True



def _open(tmp_path: Path, dist: Dist) -> ReleaseSymbols:
    info = install(tmp_path / "site", dist)
    return ReleaseSymbols.open(InstalledSource(dist.name, dist.version, info))


def _via_bases(release: ReleaseSymbols, others: Callable[[str], ReleaseSymbols | None], cls: str,
               kwarg: str) -> bool | None:
    from envdoctor.surface.lookup import answer_through_bases

    return answer_through_bases(release, Query(release.name, cls, kwarg=kwarg), others).status


def test_a_keyword_of_a_dataclass_is_answered_by_its_bases_in_another_distribution(tmp_path: Path) -> None:
    base = _open(tmp_path, Dist("hub", "4.0", {"hub/__init__.py": textwrap.dedent("""
        from dataclasses import dataclass
        @dataclass
        class TrainingArguments:
            output_dir: str = ""
            learning_rate: float = 1e-5
    """)}))
    config = textwrap.dedent("""
        from dataclasses import dataclass
        from hub import TrainingArguments
        @dataclass
        class SFTConfig(TrainingArguments):
            max_length: int = 1024
    """)
    trainer = _open(tmp_path, Dist("tr", "0.20", {"tr/__init__.py": config}))
    others = {"hub": base}.get
    assert answer(trainer, Query("tr", "SFTConfig", kwarg="learning_rate")).status is None  # alone: unknown
    assert [_via_bases(trainer, others, "SFTConfig", kw) for kw in ("learning_rate", "max_seq_length", "max_length")] \
        == [True, False, True]
    assert _via_bases(trainer, lambda _: None, "SFTConfig", "x") is None


def test_a_plain_mixin_from_another_distribution_adds_no_keyword_to_a_dataclass(tmp_path: Path) -> None:
    hub = _open(tmp_path, Dist("hub", "1.0", {"hub/__init__.py": textwrap.dedent("""
        import somewhere
        class PushToHubMixin:
            def push_to_hub(self, repo_id): ...
        class Opaque(somewhere.Base):
            pass
    """)}))
    config = textwrap.dedent("""
        from dataclasses import dataclass, field
        from hub import PushToHubMixin, Opaque
        @dataclass
        class LoraConfig(PushToHubMixin):
            r: int = 8
            use_dora: bool = field(default=False)
        @dataclass
        class Other(Opaque):
            r: int = 8
    """)
    peft = _open(tmp_path, Dist("pe", "0.9", {"pe/__init__.py": config}))
    others = {"hub": hub}.get
    assert answer(peft, Query("pe", "LoraConfig", kwarg="layer_replication")).status is None  # alone: unknown
    assert [_via_bases(peft, others, "LoraConfig", kw) for kw in ("layer_replication", "use_dora")] == [False, True]
    assert _via_bases(peft, others, "Other", "layer_replication") is None  # its base's own bases may bring fields


def test_a_decorated_subclass_of_a_dataclass_may_take_its_annotations(tmp_path: Path) -> None:
    """transformers 5's configs: ``@strict class CLIPVisionConfig(PreTrainedConfig)`` with annotated
    fields, the decorator from huggingface_hub (it makes them fields); a plain subclass's do not count."""
    release = _open(tmp_path, Dist("cfg", "5.0", {"cfg/__init__.py": textwrap.dedent("""
        from dataclasses import dataclass
        from hub.dataclasses import strict
        @dataclass
        class PreTrainedConfig:
            return_dict: bool = True
        @strict
        class VisionConfig(PreTrainedConfig):
            hidden_size: int = 768
        class PlainConfig(PreTrainedConfig):
            hidden_size: int = 768
    """)}))
    assert answer(release, Query("cfg", "VisionConfig", kwarg="hidden_size")).status is True
    assert answer(release, Query("cfg", "VisionConfig", kwarg="return_dict")).status is True
    assert answer(release, Query("cfg", "VisionConfig", kwarg="dropout")).status is None  # never "not accepted"
    assert answer(release, Query("cfg", "PlainConfig", kwarg="hidden_size")).status is False  # Python's own rule


DECORATED = {
    "dec/__init__.py": """
        from ._validators import validate_args, explicit, passthrough
        from other import unknown_decorator

        @validate_args
        def download(repo_id, *, token=None): ...

        @explicit
        def forward(self, x, position_ids): ...

        @passthrough
        def plain(a, b=None): ...

        @unknown_decorator
        def hidden(a): ...
    """,
    "dec/_validators.py": """
        from functools import wraps

        def validate_args(fn):
            @wraps(fn)
            def _inner(*args, **kwargs):
                if "use_auth_token" in kwargs:
                    kwargs["token"] = kwargs.pop("use_auth_token")
                return fn(*args, **kwargs)
            return _inner

        def explicit(rope_forward):
            def wrapper(self, x, position_ids):
                return rope_forward(self, x, position_ids)
            return wrapper

        def passthrough(fn):
            @wraps(fn)
            def inner(*args, **kwargs):
                return fn(*args, **kwargs)
            return inner
    """,
}


@pytest.mark.parametrize(("name", "kwarg", "status"), [
    ("download", "use_auth_token", True),  # the decorator spells it: it handles it
    ("download", "token", True), ("download", "revision", False),  # passed on: the function decides
    ("forward", "seq_len", False), ("forward", "position_ids", True),  # the returned function's own parameters
    ("plain", "b", True), ("plain", "c", False),
    ("hidden", "c", None),  # a decorator from another distribution stays unknown
])
def test_keywords_see_through_decorators_the_release_defines(tmp_path: Path, name: str, kwarg: str,
                                                              status: bool | None) -> None:
    files = {path: textwrap.dedent(text) for path, text in DECORATED.items()}
    release = _open(tmp_path, Dist("dec", "1.0", files))
    assert answer(release, Query("dec", name, kwarg=kwarg)).status is status


def test_a_star_import_only_an_except_handler_makes_of_a_module_not_shipped_exports_nothing(tmp_path: Path) -> None:
    files = {"own/__init__.py": textwrap.dedent("""
        try:
            from .real import *
        except ImportError:
            from .dummy_objects import *
        from .trimmed import *
    """), "own/real.py": "def here(): ...\n"}
    release = _open(tmp_path, Dist("own", "1.0", files))
    assert release.summary("own")["fallback_stars"] == ["own.dummy_objects"]
    assert answer(release, Query("own", "here")).status is True
    # `own.trimmed` is imported unconditionally and absent: what it would export stays unknown
    assert answer(release, Query("own", "gone")).status is None
    del files["own/__init__.py"]
    files["own/__init__.py"] = "try:\n    from .real import *\nexcept ImportError:\n    from .dummy_objects import *\n"
    clean = _open(tmp_path / "b", Dist("own", "1.1", files))
    assert answer(clean, Query("own", "gone")).status is False


def test_a_module_that_puts_an_object_in_its_place_or_hooks_imports_answers_at_run_time(tmp_path: Path) -> None:
    files = {"lex/__init__.py": textwrap.dedent("""
        import sys, types
        class _automodule(types.ModuleType):
            def __getattr__(self, name): ...
        newmod = _automodule(__name__)
        sys.modules[__name__] = newmod
    """), "hooked/__init__.py": textwrap.dedent("""
        import sys
        class _Importer: ...
        moves = object()
        sys.meta_path.append(_Importer())
    """), "lazy/__init__.py": textwrap.dedent("""
        import sys
        _import_structure = {"core": ["Thing"]}
        sys.modules[__name__] = _LazyModule(__name__, globals()["__file__"], _import_structure)
    """), "lazy/core.py": "class Thing: ...\n"}
    release = _open(tmp_path, Dist("mix", "1.0", files))
    assert answer(release, Query("lex", "PerlLexer")).status is None  # not "absent": the object answers
    assert answer(release, Query("hooked.moves", "range")).status is None  # the hook makes the module
    assert answer(release, Query("hooked.other")).status is None
    assert answer(release, Query("lazy", "Missing")).status is False  # a lazy table's names are known
    assert answer(release, Query("lazy", "Thing")).status is True


def test_a_class_bound_to_the_modules_getattr_answers_for_its_members(tmp_path: Path) -> None:
    files = {"plot/__init__.py": textwrap.dedent("""
        from . import _api
        @_api.caching_module_getattr
        class __getattr__:
            __version__ = property(lambda self: _get_version())
            @property
            def backend(self): ...
            def __init__(self): ...
    """), "plot/_api.py": "def caching_module_getattr(cls): ...\n"}
    release = _open(tmp_path, Dist("plot", "3.10", files))
    assert answer(release, Query("plot", "__version__")).status is True  # matplotlib >= 3.5's __version__
    assert answer(release, Query("plot", "backend")).status is True
    assert answer(release, Query("plot", "elsewhere")).status is None  # what else it answers is open


def test_a_partly_dynamic_all_star_exports_its_known_names_and_not_what_it_imports_from_outside(tmp_path: Path) -> None:
    # numpy 1.24's shape: core.numerictypes imports the builtins "not for import *" and appends a
    # run-time table's keys to a static __all__; numpy.float must read as gone, not as re-exported
    files = {"np/__init__.py": "from .core import *\n",
             "np/core/__init__.py": "from .numerictypes import *\n",
             "np/core/numerictypes.py": textwrap.dedent("""
        __all__ = ["sctypes"]
        from builtins import bool, float
        from ._aliases import allTypes
        def helper(): ...
        sctypes = {}
        for key in allTypes:
            globals()[key] = allTypes[key]
            __all__.append(key)
    """), "np/core/_aliases.py": "allTypes = dict()\n"}
    release = _open(tmp_path, Dist("np", "1.24.0", files))
    assert release.summary("np.core.numerictypes")["all_known"] == ["sctypes"]
    assert answer(release, Query("np", "sctypes")).status is True
    assert answer(release, Query("np", "float")).status is False
    # a name the module defines itself may be among those run time appends: not called absent
    assert answer(release, Query("np", "helper")).status is not False
    files["np/core/numerictypes.py"] = files["np/core/numerictypes.py"].replace("__all__.append(key)", "pass")
    files["np/core/numerictypes.py"] = files["np/core/numerictypes.py"].replace('__all__ = ["sctypes"]', "")
    without_all = _open(tmp_path / "b", Dist("np", "1.23.0", files))
    assert answer(without_all, Query("np", "float")).status is True  # no __all__: every public name


def test_an_attribute_its_methods_set_is_on_instances_not_on_the_class(tmp_path: Path) -> None:
    files = {"mdl/__init__.py": "from .attn import Attention, Loose\n", "mdl/attn.py": textwrap.dedent("""
        from torch.nn import Module
        class Base(Module):
            def __init__(self):
                self.config = None
        class Attention(Base):
            def __init__(self):
                super().__init__()
                self.rotary_emb = None
        class Loose(Module):
            def __init__(self, names):
                for n in names:
                    setattr(self, n, None)
    """)}
    release = _open(tmp_path, Dist("mdl", "1.0", files))
    assert answer(release, Query("mdl", "Attention", attr="rotary_emb", instance=True)).status is True
    assert answer(release, Query("mdl", "Attention", attr="config", instance=True)).status is True  # a base's
    # torch's Module is not read: on the class the answer stays open, on an instance the release decides
    assert answer(release, Query("mdl", "Attention", attr="rotary_emb")).status is None
    assert answer(release, Query("mdl", "Attention", attr="gone", instance=True)).status is False
    assert answer(release, Query("mdl", "Loose", attr="gone", instance=True)).status is None  # unspelled names

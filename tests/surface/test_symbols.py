"""Module summaries read with ast: names in every branch, lazy tables, __getattr__ tables, signatures."""

from __future__ import annotations

import textwrap

from envdoctor.surface.symbols import renames_in, summarize


def summary(source: str, module: str = "lib", package: bool = True) -> dict:
    return summarize(textwrap.dedent(source), module, package)


def test_names_from_every_branch_and_relative_imports() -> None:
    s = summary("""
        try:
            from ._speedups import escape
        except ImportError:
            from ._native import escape
        if TYPE_CHECKING:
            from .models import Model
        from . import sub as alias
        def f(): ...
        del gone
        gone = 1
    """)
    assert {"escape", "Model", "alias", "f", "gone"} <= set(s["names"])
    assert s["reexports"]["escape"] == ["lib._native", "escape"]  # the last binding wins
    assert s["reexports"]["alias"] == ["lib", "sub"]


def test_relative_import_in_a_plain_module_resolves_against_its_package() -> None:
    s = summary("from .x import y\nfrom .. import z\n", module="lib.sub.mod", package=False)
    assert s["reexports"]["y"] == ["lib.sub.x", "y"]
    assert s["reexports"]["z"] == ["lib", "z"]


def test_lazy_import_structure_handed_to_a_lazy_module() -> None:
    s = summary("""
        _import_structure = {"configuration_utils": ["PretrainedConfig"], "models.llama": []}
        _import_structure["trainer"] = ["Trainer"]
        _import_structure["generation"].extend(["GenerationConfig"])
        try:
            if not is_torch_available():
                raise OptionalDependencyNotAvailable()
        except OptionalDependencyNotAvailable:
            _import_structure["utils.dummy"] = [n for n in dir(dummy)]
        else:
            _import_structure["modeling_utils"] = ["PreTrainedModel"]
        sys.modules[__name__] = _LazyModule(__name__, globals()["__file__"], _import_structure)
    """)
    lazy = s["lazy"]
    assert lazy["PretrainedConfig"] == "lib.configuration_utils"
    assert lazy["PreTrainedModel"] == "lib.modeling_utils"
    assert lazy["Trainer"] == "lib.trainer" and lazy["models"] == "lib.models"
    assert "dynamic" not in s  # the non-static table entry is only the fallback branch


def test_lazy_table_with_a_run_time_entry_is_dynamic() -> None:
    s = summary("""
        _table = {"a": ["A"]}
        _table[compute()] = ["B"]
        attach(__name__, submod_attrs=_table)
    """)
    assert s["lazy"]["A"] == "lib.a" and s.get("dynamic") is True


def test_module_getattr_tables_removed_and_deprecated() -> None:
    s = summary("""
        _msg = "`np.{n}` was a deprecated alias for the builtin `{n}`. Use `{n}` by itself."
        _type_info = [("float", ""), ("int", "")]
        __former_attrs__ = {n: _msg.format(n=n) for n, extra in _type_info}
        __deprecated_attrs__ = {}
        __deprecated_attrs__.update({n: (getattr(b, n), "`np.%s` is deprecated" % n) for n in ["bool8"]})
        def __getattr__(attr):
            try:
                val, msg = __deprecated_attrs__[attr]
            except KeyError:
                pass
            else:
                warnings.warn(msg, DeprecationWarning)
                return val
            if attr in __former_attrs__:
                raise AttributeError(__former_attrs__[attr])
            if attr == "testing":
                return load()
            raise AttributeError(attr)
    """)
    hook = s["getattr"]
    assert ["removed", "table", "__former_attrs__"] in hook["entries"]
    assert ["deprecated", "table", "__deprecated_attrs__"] in hook["entries"]
    assert ["present", "name", "testing"] in hook["entries"] and hook["closed"] is True
    assert s["tables"]["__former_attrs__"]["float"].startswith("`np.float` was a deprecated alias")
    assert s["tables"]["__deprecated_attrs__"]["bool8"] == "`np.bool8` is deprecated"


def test_all_static_extended_and_from_other_modules() -> None:
    s = summary("""
        from . import numeric
        __all__ = ["a"]
        __all__ += ["b"]
        __all__.extend(numeric.__all__)
        __all__.remove("a")
    """)
    assert s["all"] == ["b"] and s["all_from"] == ["lib.numeric"]
    assert summary("__all__ = [n for n in dir() if ok(n)]").get("all_dynamic") is True


def test_a_module_function_that_adds_to_all_exports_the_modules_it_is_called_on() -> None:
    source = """
        from . import numerictypes, umath
        from .numerictypes import *
        __all__ = ["zeros"]
        def extend_all(module):
            existing = set(__all__)
            for a in module.__all__:
                if a not in existing:
                    __all__.append(a)
        extend_all(numerictypes)
        extend_all(umath)
    """
    s = summary(source, "lib.core")
    assert s["all"] == ["zeros"] and s["all_from"] == ["lib.core.numerictypes", "lib.core.umath"]
    assert "all_dynamic" not in s
    assert summary(source.replace("extend_all(umath)", "extend_all(pick())"), "lib.core").get("all_dynamic") is True
    # a function that only reads __all__ changes nothing
    reader = source.replace("__all__.append(a)", "print(a)")
    assert "all_from" not in summary(reader, "lib.core") and "all_dynamic" not in summary(reader, "lib.core")


def test_signatures_dataclass_fields_and_renames() -> None:
    s = summary("""
        @dataclass
        class Config(Base):
            r: int = 8
            alpha: ClassVar[int] = 1
            hidden: int = field(default=0, init=False)
            def __post_init__(self):
                if self.old is not None:
                    warnings.warn("`old` is deprecated and will be removed. Use `new` instead")
        class Quant:
            def __init__(self, load_in_4bit=False, *, dtype=None, **kwargs): ...
            @deprecate_kwarg("old_name", new_name="name")
            def method(self, name): ...
        def soft_unicode(s):
            warnings.warn("'soft_unicode' has been renamed to 'soft_str'.", DeprecationWarning)
    """)
    config, quant = s["classes"]["Config"], s["classes"]["Quant"]
    assert config["dataclass"] and config["fields"] == ["r"] and config["bases"] == ["Base"]
    assert config["renames"] == {"old": "new"}
    init = quant["methods"]["__init__"]
    assert init["params"] == [["load_in_4bit", "positional"], ["dtype", "keyword-only"]] and init["var_kw"]
    assert quant["methods"]["method"]["opaque"] and quant["methods"]["method"]["decorator_names"] == ["old_name"]
    assert s["functions"]["soft_unicode"]["renames"] == {"soft_unicode": "soft_str"}


def test_renames_in_messages() -> None:
    assert renames_in("`evaluation_strategy` is deprecated and will be removed in version 4.46. "
                      "Use `eval_strategy` instead") == {"evaluation_strategy": "eval_strategy"}
    assert renames_in("`np.float` was a deprecated alias for the builtin `float`.") == {"float": "float"}
    assert renames_in("model loaded in 3 s") == {}


def test_overload_declarations_accept_what_any_of_them_takes() -> None:
    s = summary("""
        from typing import overload
        @overload
        def randperm(n, *, generator=None, out=None): ...
        @overload
        def randperm(n, *, out=None, dtype=None): ...
        def plain(a): ...
        def plain(b): ...
        class Tensor:
            @overload
            def view(self, dtype): ...
            @overload
            def view(self, *size): ...
    """)
    assert {p[0] for p in s["functions"]["randperm"]["params"]} == {"n", "generator", "out", "dtype"}
    assert [p[0] for p in s["functions"]["plain"]["params"]] == ["b"]  # a plain redefinition replaces
    view = s["classes"]["Tensor"]["methods"]["view"]
    assert {p[0] for p in view["params"]} == {"dtype"} and view["var_pos"] is True


def test_a_module_function_that_reaches_globals_and_runs_at_import_makes_the_namespace_dynamic() -> None:
    source = """
        def _make_global_functions():
            g = globals()
            for name in registry():
                g[name] = wrap(name)
        _make_global_functions()
    """
    assert summary(source).get("dynamic") is True
    assert "dynamic" not in summary(source.replace("        _make_global_functions()\n", ""))  # defined, never run


def test_setattr_on_the_module_itself_with_a_computed_name_makes_the_namespace_dynamic() -> None:
    source = """
        import sys
        class Resampling(IntEnum):
            BILINEAR = 2
        module = sys.modules[__name__]
        for enum in (Resampling,):
            for item in enum:
                setattr(module, item.name, item.value)
    """
    assert summary(source).get("dynamic") is True  # Pillow >= 9.4 makes Image.BILINEAR this way
    assert summary(source.replace("module, item.name", "sys.modules[__name__], item.name")).get("dynamic") is True
    assert "dynamic" not in summary(source.replace("module, item.name", "other, item.name"))  # another object
    spelled = summary(source.replace("item.name", "'BILINEAR'"))
    assert "dynamic" not in spelled and "BILINEAR" in spelled["names"]  # a name the source spells


def test_a_setattr_in_a_function_a_module_level_block_defines_does_not_run_at_import() -> None:
    source = """
        import sys
        if TYPE_CHECKING:
            from .x import A
        else:
            sys.modules[__name__] = _LazyModule(__name__, globals()["__file__"], _import_structure)

            def _alias(alias):
                setattr(sys.modules[__name__], alias.rsplit(".", 1)[-1], object())
    """
    assert "dynamic" not in summary(source)  # transformers 5: its names stay answerable
    assert summary(source.replace("            def _alias(alias):\n    ", "            for alias in ():\n    "))\
        .get("dynamic") is True  # the same setattr in the block itself runs


def test_what_methods_set_on_self_is_kept_apart_from_class_members() -> None:
    s = summary("""
        class Attention(Module):
            scale = 1.0
            def __init__(self, config):
                self.rotary_emb = Rotary(config)
                self.q, (self.k, *self.rest) = 1, (2, 3)
                self.cache: dict = {}
                self.table["key"] = 1        # an item of an attribute: sets nothing new
                self.inner.deep = 2          # an attribute of an attribute: neither
                setattr(self, "gate", None)
                self.register_buffer("inv_freq", None)
                for self.step in range(3): ...
            def forward(me, x):
                me.last = x
            @staticmethod
            def helper(self):
                self.not_an_instance = 1
        class Loose:
            def load(self, values):
                for name in values:
                    setattr(self, name, values[name])
    """)["classes"]
    attention = s["Attention"]
    assert attention["instance"] == ["cache", "gate", "inv_freq", "k", "last", "q", "rest", "rotary_emb", "step"]
    assert "rotary_emb" not in attention["members"] and "scale" in attention["members"]
    assert "instance_dynamic" not in attention
    assert s["Loose"].get("instance_dynamic") is True and "instance" not in s["Loose"]

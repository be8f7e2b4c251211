"""Family: `libcudart.so.12: cannot open shared object file` — a module built for another CUDA.

The CUDA toolkit's libraries carry the CUDA major release in their soname (``libcudart.so.12``,
``libcublas.so.11``): a compiled module that asks for one was built for that CUDA, and the
environment has no library of that major.  In a pip environment those libraries come with torch's
CUDA build (its ``nvidia-*-cuXX`` requirements), so the torch build (its version label or its
metadata, :func:`envdoctor.env.snapshot.torch_build`) says which CUDA the environment has.  The
module's distribution is the frame that imported it, or the module the log's import line names.
"""

from __future__ import annotations

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from envdoctor.env.releases import public
from envdoctor.env.snapshot import torch_build
from envdoctor.env.torch_build import declared_or_recorded
from envdoctor.explain.blame import user_of
from envdoctor.explain.diagnosis import HIGH, LOW, MEDIUM, Diagnosis, Evidence, explains, say
from envdoctor.explain.extractors import HitGroup, imported_module
from envdoctor.findings import Applicability, Fix, pip_install_fix
from envdoctor.knowledge.base import RuleEntry

def _requirer(group: HitGroup, ev: Evidence) -> str | None:
    """The distribution whose module asked for the library: the importing frame, else the import line."""
    if who := user_of(group, ev, ""):
        return who
    for line in reversed(group.context[-3:]):  # the import statement a log shows above the error
        if module := imported_module(line):
            return ev.distribution_of(module)
    return None


def same_minor(spec: str) -> str:
    """A declared floor kept to its minor release (``>=2.1.0`` -> ``>=2.1.0,<2.2``); other specifiers as they are."""
    parsed = SpecifierSet(spec)
    floors = [s.version for s in parsed if s.operator in (">=", "~=", "==") and not s.version.endswith("*")]
    uppers = [s for s in parsed if s.operator in ("<", "<=", "==")]
    if len(floors) != 1 or uppers:
        return spec
    floor = Version(floors[0])
    return f"{spec},<{floor.major}.{floor.minor + 1}"


def _major(text: str) -> int | None:
    head = text.split(".")[0]
    return int(head) if head.isdigit() else None


@explains("ED617")
def missing_library(group: HitGroup, entry: RuleEntry, ev: Evidence) -> Diagnosis:
    """A CUDA library of one major release missing: the module was built for that CUDA, torch for another."""
    library, stem, soversion = group.groups["library"], group.groups["stem"], group.groups["soversion"]
    requirer = _requirer(group, ev)
    cuda_libraries = {name.lower() for name in ev.kb.tables["cuda_libraries"]["sonames"]}
    needed = _major(soversion)
    by = f"{requirer}'s compiled module" if requirer else "a compiled module"
    culprits = tuple(d for d in (requirer, "torch") if d)
    if stem.lower() not in cuda_libraries or needed is None:
        return Diagnosis(f"{by} needs {library}, which no installed package or system folder provides", LOW,
                         (say(f"install the package that ships {library} (`pip download` the candidates and list "
                              f"their files), or add its folder to LD_LIBRARY_PATH"),), culprits[:-1])
    other_build = say(f"or install the {requirer} build made for your torch's CUDA (its wheels for other CUDA "
                      f"releases carry a +cuXY label on the project's own index)") if requirer else None
    kind, cuda = torch_build(ev.ctx.snapshot) if ev.ctx else ("none", None)
    torch = ev.installed("torch")
    declared = declared_or_recorded(ev.ctx.snapshot.distributions[requirer], ev.ctx.snapshot, "torch") \
        if ev.ctx and requirer in ev.ctx.snapshot.distributions else None
    if torch is None and declared and declared[0]:  # the requirer's declared torch, in a CUDA {needed} build
        spec = same_minor(declared[0])
        return Diagnosis(f"{by} was built for CUDA {needed} ({library}), and the environment that ran has no CUDA "
                         f"{needed} runtime; {requirer} declares torch{declared[0]} ({declared[1]})", MEDIUM,
                         (pip_install_fix(f"install torch{spec} built for CUDA {needed} (a compiled module is tied to "
                                          f"the torch minor release it was built with, the floor's; PyPI's torch "
                                          f"wheels carry their CUDA's nvidia-* libraries)",
                                          {"torch": spec}, Applicability.UNSAFE),
                          *((other_build,) if other_build else ())), culprits)
    if kind != "cuda" or cuda is None or torch is None:
        return Diagnosis(f"{by} was built for CUDA {needed} ({library}), and the environment that ran has no CUDA "
                         f"{needed} runtime: its torch is built for another CUDA, or without its nvidia-* wheels",
                         MEDIUM, (say(f"install torch's CUDA {needed} build of the release you use (`pip install "
                                      f"torch==VERSION --index-url https://download.pytorch.org/whl/cu{needed}X`)"),
                                  *((other_build,) if other_build else ())), culprits)
    release = public(torch)
    have = _major(cuda)
    fixes: list[Fix] = [pip_install_fix(
        f"install torch {release} built for CUDA {needed} (PyPI's torch wheels carry their CUDA's nvidia-* "
        f"libraries; the PyTorch index has the +cu{needed}X builds)", {"torch": f"=={release}"},
        Applicability.UNSAFE)]
    if other_build:
        fixes.append(other_build)
    if have != needed:
        return Diagnosis(f"{by} was built for CUDA {needed} ({library}), but torch {torch} is built for CUDA {cuda} "
                         f"and brings CUDA {have} libraries", HIGH, tuple(fixes), culprits)
    return Diagnosis(f"{by} needs {library}, and torch {torch} is built for CUDA {cuda}, whose nvidia-* wheels ship "
                     f"it: the environment that ran had another torch build, or those wheels were removed", MEDIUM,
                     (pip_install_fix(f"reinstall torch {release} with its CUDA libraries (`pip install "
                                      f"--force-reinstall torch=={release}`)", {"torch": f"=={release}"},
                                      Applicability.UNSAFE), *fixes[1:]), culprits)

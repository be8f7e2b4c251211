"""Who owns what: platforms detected from packages and the environment, what they keep, the pins
an image's pip constraints file declares, and the published image's own pins."""

from __future__ import annotations

from pathlib import Path

import envdoctor.checks as checks_package
from envdoctor.env import ownership
from envdoctor.env.snapshot import Distribution, ImpliedRange, Snapshot, from_dict, platform_from_packages
from tests.helpers.core import kb

OWNED = kb().tables["platform_owned"]
IMAGES = kb().tables["platform_images"]
FOLDER = Path(checks_package.__file__).parent


def test_platform_from_packages_and_environment() -> None:
    assert platform_from_packages({}, {"torch", "numpy"}) == ()
    assert platform_from_packages({}, {"google-colab", "torch"}) == ("colab",)
    # Kaggle's image is built on Colab's: learntools tells it apart, and Kaggle wins
    assert platform_from_packages({}, {"google-colab", "learntools"})[0] == "kaggle"
    assert platform_from_packages({"CONDA_DEFAULT_ENV": "base"}, set()) == ("conda-base",)
    assert platform_from_packages({"CONDA_DEFAULT_ENV": "myenv"}, set()) == ()


def test_outside_a_platform_only_keep_holds() -> None:
    own = Snapshot(source="file:req.txt", python_version="3.11.0")
    assert ownership.kept(own, OWNED, ()) == frozenset()
    assert ownership.kept(own, OWNED, ("torch",)) == {"torch"}
    colab = own.with_changes(runtime=("colab",))
    assert {"torch", "triton", "nvidia-*"} <= ownership.kept(colab, OWNED, ())


def test_an_images_constraints_file_pins_what_it_owns(tmp_path: Path) -> None:
    constraints = tmp_path / "constraint.txt"
    constraints.write_text("torch==2.8.0a0+5228986c39.nv25.5\nflash-attn==2.7.3\nloose>=1\n", encoding="utf-8")
    live = Snapshot(source="live", python_version="3.12.3")
    env = {"PIP_CONSTRAINT": str(constraints), "PIP_CONFIG_FILE": "/dev/null"}
    assert ownership.image_pins(live, env) == {"torch", "flash-attn"}
    conf = tmp_path / "pip.conf"
    conf.write_text(f"[global]\nconstraint = {constraints}\n", encoding="utf-8")
    assert ownership.image_pins(live, {"PIP_CONFIG_FILE": str(conf), "HOME": str(tmp_path)}) == {"torch", "flash-attn"}
    assert ownership.image_pins(live, {"PIP_CONFIG_FILE": "/dev/null"}) == frozenset()
    # a file target is not the machine envdoctor runs on: its pip config says nothing about it
    assert ownership.image_pins(live.with_changes(source="file:req.txt"), env) == frozenset()


def test_the_published_image_applies_on_its_own_python_only() -> None:
    kaggle = Snapshot(source="file:k.txt", python_version="3.12.0", runtime=("kaggle",))
    pins, source = ownership.published_image(kaggle, IMAGES, FOLDER)
    assert "tensorflow==2.19.0" in pins and "numpy==2.4.6" in pins and source.startswith("Kaggle/docker-python@")
    assert ownership.published_image(kaggle.with_changes(python_version="3.13.0"), IMAGES, FOLDER) == (frozenset(), "")
    assert ownership.published_image(kaggle.with_changes(runtime=()), IMAGES, FOLDER) == (frozenset(), "")


def test_implied_packages_survive_a_saved_snapshot() -> None:
    snap = Snapshot(source="file:r.txt", python_version="3.11.0",
                    distributions={"triton": Distribution("triton", "3.2.0", implied_by=("torch==2.6.0",))},
                    implied_ranges=(ImpliedRange("x", "~=1.2.0", ("y==1",)),))
    again = from_dict(snap.to_dict())
    assert again.distributions["triton"].implied_by == ("torch==2.6.0",)
    assert again.implied_ranges == snap.implied_ranges

"""The checkpoint's training state loads with weights_only=True: no code runs from a planted pickle."""

from __future__ import annotations

import pickle
import random
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")

from envdoctor.errors import InputError  # noqa: E402
from envdoctor.pipeline import checkpoint  # noqa: E402


def test_optimizer_scheduler_and_rng_round_trip_through_weights_only(tmp_path: Path) -> None:
    model = torch.nn.Linear(4, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 / (step + 1))
    model(torch.ones(3, 4)).sum().backward()
    optimizer.step()
    scheduler.step()
    random.seed(7)
    np.random.seed(7)
    torch.manual_seed(7)
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "rng": checkpoint.rng_states()}, tmp_path / "training_state.pt")
    expected = (random.random(), float(np.random.random()), float(torch.rand(1)))
    saved = checkpoint.load_training_state(tmp_path)
    checkpoint.restore_rng(saved["rng"])
    assert (random.random(), float(np.random.random()), float(torch.rand(1))) == expected
    fresh = torch.optim.AdamW(model.parameters(), lr=1e-3)
    fresh.load_state_dict(saved["optimizer"])
    assert fresh.state_dict()["state"][0]["step"] == optimizer.state_dict()["state"][0]["step"]


class _Planted:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (exec, ("open(__import__('os').environ['MARKER'], 'w').write('ran')",))


def test_a_planted_pickle_is_refused_and_never_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "ran"
    monkeypatch.setenv("MARKER", str(marker))
    with open(tmp_path / "training_state.pt", "wb") as handle:
        pickle.dump({"optimizer": _Planted(), "scheduler": {}, "rng": {}}, handle)
    with pytest.raises(InputError, match="not a checkpoint envdoctor can load safely"):
        checkpoint.load_training_state(tmp_path)
    assert not marker.exists()


def test_truncated_state_and_foreign_pointer_are_clean_errors(tmp_path: Path) -> None:
    torch.save({"optimizer": {}, "scheduler": {}, "rng": {}}, tmp_path / "training_state.pt")
    data = (tmp_path / "training_state.pt").read_bytes()
    (tmp_path / "training_state.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="remove the folder"):
        checkpoint.load_training_state(tmp_path)
    (tmp_path / "latest").write_text("../../elsewhere")
    assert checkpoint.latest(tmp_path) is None

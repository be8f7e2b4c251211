"""The recompute of a checkpointed layer draws the forward's dropout masks, eagerly and inside a CUDA graph."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from envdoctor.pipeline import recompute  # noqa: E402

pytestmark = pytest.mark.gpu


def _layer() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.Dropout(0.5), torch.nn.Linear(64, 64)).cuda()


def _reference_grad(layer: torch.nn.Module, x: torch.Tensor, seed: int) -> torch.Tensor:
    """The gradient without checkpointing, drawing from a generator state made from the same seed."""
    generator = torch.Generator(device="cuda")
    generator.manual_seed(seed)
    default = torch.cuda.default_generators[0]
    previous = default.graphsafe_get_state()
    default.graphsafe_set_state(generator.clone_state())
    try:
        out = layer(x)
    finally:
        default.graphsafe_set_state(previous)
    (grad,) = torch.autograd.grad(out.square().sum(), x)
    return grad


def test_recompute_reproduces_the_forward_masks_eagerly() -> None:
    layer, x = _layer(), torch.randn(32, 64, device="cuda", requires_grad=True)
    fn = recompute.LayerRecompute(11, "cuda")
    (grad,) = torch.autograd.grad(fn(layer, x).square().sum(), x)
    assert torch.equal(grad, _reference_grad(layer, x, 11))
    plain = torch.utils.checkpoint.checkpoint(layer, x, use_reentrant=False, preserve_rng_state=False)
    (unpreserved,) = torch.autograd.grad(plain.square().sum(), x)
    assert not torch.equal(unpreserved, grad)  # without the states the recompute draws other masks


def test_recompute_inside_a_cuda_graph_matches_and_advances_every_replay() -> None:
    layer = _layer()
    x = torch.randn(32, 64, device="cuda", requires_grad=True)
    fn = recompute.LayerRecompute(5, "cuda")
    graph = torch.cuda.CUDAGraph()
    for state in fn.states:
        graph.register_generator_state(state)
    with torch.cuda.graph(graph):
        (grad,) = torch.autograd.grad(fn(layer, x).square().sum(), x)
    graph.replay()
    first = grad.clone()
    assert torch.equal(first, _reference_grad(layer, x, 5))
    graph.replay()
    assert not torch.equal(grad, first)  # the next step draws new masks


def test_install_covers_only_checkpointed_layers() -> None:
    layers = [torch.nn.Linear(2, 2) for _ in range(3)]
    for layer, on in zip(layers, (True, False, True), strict=True):
        layer.gradient_checkpointing = on  # type: ignore[assignment]
    installed = recompute.install(layers, 0, "cuda")
    assert len(installed) == 2 and layers[0]._gradient_checkpointing_func is installed[0]
    assert not hasattr(layers[1], "_gradient_checkpointing_func")

"""The constraint losses against naive references: zero exactly when the knowledge holds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlfrontier.physics import constraints as C
from dlfrontier.physics.data import GRAVITY, frame_times

T = torch.tensor(frame_times(), dtype=torch.float64)


def _parabola(h0: float, v0: float, g: float) -> torch.Tensor:
    return h0 + v0 * T - 0.5 * g * T**2


def test_projection_matches_a_naive_least_squares_fit() -> None:
    torch.manual_seed(0)
    y = torch.randn(5, len(T), dtype=torch.float64)
    known = -0.5 * GRAVITY * T.numpy() ** 2
    for row, proj in zip(y.numpy(), C.parabola_projection(y, T, GRAVITY).numpy(), strict=True):
        a = np.stack([np.ones_like(known), T.numpy()], 1)
        coef, *_ = np.linalg.lstsq(a, row - known, rcond=None)
        np.testing.assert_allclose(proj, a @ coef + known, atol=1e-10)


@pytest.mark.parametrize("distance", ["l1", "l2"])
def test_free_fall_loss_is_zero_on_exact_parabolas(distance: str) -> None:
    y = torch.stack([_parabola(0.3, 1.2, GRAVITY), _parabola(0.9, 0.0, GRAVITY), _parabola(-2.0, -0.5, GRAVITY)])
    assert float(C.free_fall_loss(y, T, GRAVITY, distance)) < 1e-12


@pytest.mark.parametrize("g", [0.0, 0.5 * GRAVITY, 2.0 * GRAVITY, -GRAVITY])
def test_free_fall_loss_is_positive_for_another_curvature(g: float) -> None:
    assert float(C.free_fall_loss(_parabola(0.5, 0.7, g)[None], T, GRAVITY)) > 1e-3


def test_constant_outputs_are_penalised_with_known_g_and_not_with_free_curvature() -> None:
    const = torch.full((4, len(T)), 0.37, dtype=torch.float64)
    assert float(C.free_fall_loss(const, T, GRAVITY)) > 1e-2
    assert float(C.free_curvature_loss(const, T)) < 1e-12  # the ablation: nothing rules the constant out
    assert float(C.free_curvature_loss(_parabola(0.1, 2.0, 7.0)[None], T)) < 1e-12  # any curvature fits


def test_noise_is_penalised_by_every_fit() -> None:
    y = torch.tensor([[0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0]], dtype=torch.float64)
    assert float(C.free_curvature_loss(y, T)) > 0.1 and float(C.free_fall_loss(y, T, GRAVITY)) > 0.1


def test_walking_terms() -> None:
    line = (0.2 + 0.6 * T)[None]
    assert float(C.constant_velocity_loss(line, T)) < 1e-12
    assert float(C.constant_velocity_loss(_parabola(0.5, 0.7, GRAVITY)[None], T)) > 1e-3
    const = torch.full((1, len(T)), 0.5, dtype=torch.float64)
    assert float(C.constant_velocity_loss(const, T)) < 1e-12  # the trivial solution fits a line ...
    assert float(C.walking_loss(line, T)) < float(C.walking_loss(const, T))  # ... but the spread term prefers motion
    assert float(C.range_loss(line)) == 0.0 and float(C.range_loss(line + 2.0)) > 1.0  # the range term bounds it
    np.testing.assert_allclose(float(C.spread_loss(line)), -float(line.std()), rtol=1e-12)


def test_implication_losses() -> None:
    p_if, p_then = torch.tensor([0.0, 1.0, 0.0]), torch.tensor([0.0, 1.0, 1.0])
    assert float(C.implication_loss(p_if, p_then)) == 0.0
    assert float(C.implication_loss(torch.tensor([1.0]), torch.tensor([0.0]))) == 1.0
    z_if, z_then = torch.tensor([-3.0, 2.0, 0.5]), torch.tensor([-1.0, 2.0, 0.0])
    assert float(C.implication_hinge(z_if, z_then)) == pytest.approx(0.5 / 3)


def test_causal_loss_prefers_the_truth_to_its_trivial_solutions() -> None:
    # equal thirds of the three cases: neither, Mario only, both (columns Peach, Mario)
    truth = torch.tensor([[0, 0], [0, 1], [1, 1]] * 10, dtype=torch.float64)
    loss = lambda p: float(C.causal_loss((p * 2 - 1) * 20))  # noqa: E731 - confident logits of 0/1 presences
    peach, mario = truth[:, 0], truth[:, 1]
    never = torch.zeros_like(truth)
    mario_always = torch.stack([peach, torch.ones_like(mario)], 1)
    copies = torch.stack([mario, mario], 1)
    swapped = truth.flip(1)  # Mario => Peach: breaks the rule
    for trivial in (never, mario_always, copies, swapped):
        assert loss(truth) < loss(trivial) - 0.1
    # "Mario without Peach" as the Peach detector scores exactly like the truth: the logic cannot tell them apart,
    # which is why the detectors can only fire on evidence (EvidenceDetectors), never on an absence
    absence = torch.stack([mario - peach, mario], 1)
    assert loss(absence) == pytest.approx(loss(truth))
    grad = torch.autograd.functional.jacobian(C.causal_loss, torch.zeros(6, 2, dtype=torch.float64))
    assert torch.isfinite(grad).all()  # constant outputs: a finite gradient


def test_evidence_detectors_are_monotone_in_their_features() -> None:
    from dlfrontier.physics.models import EvidenceDetectors

    torch.manual_seed(0)
    det = EvidenceDetectors(width=4, bias=-2.0)
    x = torch.rand(3, 3, 32, 32)
    evidence = det.features(x).amax((-1, -2))
    expected = evidence @ torch.nn.functional.softplus(det.weight).T + det.bias
    torch.testing.assert_close(det(x), expected)
    assert bool((evidence >= 0).all()) and bool((det(x) >= det.bias).all())  # evidence can only switch one on

"""Per-member gradient clipping: the batched path equals ``nn.utils.clip_grad_norm_`` member by member, bit for bit."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dlfrontier.rl.population import clip_grad_norm_per_member_
from dlfrontier.rl.population.layers import MemberParameter, _clip_member_by_member


def _population(k: int, seed: int) -> tuple[list[list[tuple[nn.Parameter, int | None]]], list[list[torch.Tensor]]]:
    """Stacked and split parameters (a [64, 4] weight, a [64] bias, a [2] bias kept per member, a [64, 64] weight)
    with gradients of very different scales per member; returns the members' slots and each member's gradients."""
    gen = torch.Generator().manual_seed(seed)
    scales = 10.0 ** torch.randint(-3, 4, (k,), generator=gen).float()
    params = [MemberParameter(k, shape) for shape in ((64, 4), (1, 64), (1, 2), (64, 64))]
    per_member: list[list[torch.Tensor]] = [[] for _ in range(k)]
    for p in params:
        for m in range(k):
            tensor = p.member(m)
            grad = torch.randn(tensor.shape, generator=gen) * scales[m]
            per_member[m].append(grad)
        if p.stacked is not None:
            p.stacked.grad = torch.stack([per_member[m][-1] for m in range(k)])
        else:
            for m in range(k):
                p.members[m].grad = per_member[m][-1].clone()
    assert params[2].split and not params[0].split  # both paths are exercised
    return [[p.slot(m) for p in params] for m in range(k)], per_member


@pytest.mark.parametrize("k", [1, 3, 5])
@pytest.mark.parametrize("seed", range(4))
def test_batched_clipping_equals_clip_grad_norm_bit_for_bit(k: int, seed: int) -> None:
    slots, per_member = _population(k, seed)
    norms = clip_grad_norm_per_member_(slots, max_norm=0.5)
    for m in range(k):
        single = [nn.Parameter(torch.zeros_like(g)) for g in per_member[m]]
        for p, g in zip(single, per_member[m], strict=True):
            p.grad = g.clone()
        norm = nn.utils.clip_grad_norm_(single, 0.5)
        assert torch.equal(norms[m], norm)
        for (param, index), s in zip(slots[m], single, strict=True):
            grad = param.grad if index is None else param.grad[index]  # type: ignore[index]
            assert torch.equal(grad.reshape(s.shape), s.grad)


def test_batched_clipping_equals_the_member_by_member_path() -> None:
    slots, _ = _population(4, 7)
    slots_b, _ = _population(4, 7)
    fast = clip_grad_norm_per_member_(slots, max_norm=1.0)
    slow = _clip_member_by_member(slots_b, max_norm=1.0)
    assert torch.equal(fast, slow)
    for a, b in zip(slots, slots_b, strict=True):
        for (pa, ia), (pb, ib) in zip(a, b, strict=True):
            ga = pa.grad if ia is None else pa.grad[ia]  # type: ignore[index]
            gb = pb.grad if ib is None else pb.grad[ib]  # type: ignore[index]
            assert torch.equal(ga, gb)


def test_members_without_gradients_are_skipped_and_mixed_ones_take_the_general_path() -> None:
    slots, _ = _population(2, 3)
    slots[0][3][0].grad = None  # the stacked [64, 64] weight: no gradient for either member
    norms = clip_grad_norm_per_member_(slots, max_norm=1e9)  # nothing clipped: the norms of the other three
    for m in range(2):
        expected = torch.linalg.vector_norm(torch.stack(
            [torch.linalg.vector_norm(s[0].grad if s[1] is None else s[0].grad[s[1]]) for s in slots[m][:3]]))
        assert torch.equal(norms[m], expected)
    slots[1][2][0].grad = None  # member 1's own [2] bias only: member 0 still has its gradient
    mixed = clip_grad_norm_per_member_(slots, max_norm=1e9)
    assert mixed.shape == (2,) and float(mixed[0]) == pytest.approx(float(norms[0]))


def test_members_at_an_offset_of_a_stacked_parameter_are_clipped_as_their_own() -> None:
    """An actor-critic stacks its K actors' and K critics' layers in one [2K, ...] tensor: critic k is row K + k."""
    gen = torch.Generator().manual_seed(5)
    k = 3
    shared = MemberParameter(2 * k, (16, 4))
    shared.stacked.grad = torch.randn(2 * k, 16, 4, generator=gen) * 10.0 ** torch.arange(-3.0, 3.0).view(6, 1, 1)
    expected = shared.stacked.grad.clone()
    slots = [[shared.slot(m), shared.slot(k + m)] for m in range(k)]
    norms = clip_grad_norm_per_member_(slots, max_norm=1.0)
    for m in range(k):
        single = [nn.Parameter(torch.zeros(16, 4)) for _ in range(2)]
        single[0].grad, single[1].grad = expected[m].clone(), expected[k + m].clone()
        assert torch.equal(norms[m], nn.utils.clip_grad_norm_(single, 1.0))
        assert torch.equal(shared.stacked.grad[m], single[0].grad)
        assert torch.equal(shared.stacked.grad[k + m], single[1].grad)

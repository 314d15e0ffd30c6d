"""Per-member gradient clipping: equal to ``nn.utils.clip_grad_norm_`` on each member's own tensors, bit for bit,
with the clipper's views kept across steps and made again when a gradient tensor is replaced."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dlfrontier.rl.population import MemberGradClipper, clip_grad_norm_per_member_
from dlfrontier.rl.population.layers import MemberParameter, Slot


def _params(k: int) -> list[MemberParameter]:
    """A [64, 4] weight, a [64] bias, a [2] bias kept per member (split) and a [64, 64] weight."""
    params = [MemberParameter(k, shape) for shape in ((64, 4), (1, 64), (1, 2), (64, 64))]
    assert params[2].split and not params[0].split  # stacked and split parameters both exercised
    return params


def _set_grads(params: list[MemberParameter], k: int, seed: int, in_place: bool = False) -> list[list[torch.Tensor]]:
    """Gradients of very different scales per member (so some are clipped, some not); each member's copies."""
    gen = torch.Generator().manual_seed(seed)
    scales = 10.0 ** torch.randint(-3, 4, (k,), generator=gen).float()
    per_member: list[list[torch.Tensor]] = [[] for _ in range(k)]
    for p in params:
        grads = [torch.randn(p.member(m).shape, generator=gen) * scales[m] for m in range(k)]
        for m in range(k):
            per_member[m].append(grads[m])
        targets = [(p.stacked, torch.stack(grads))] if p.stacked is not None else list(
            zip(p.members, [g.clone() for g in grads], strict=True))
        for param, grad in targets:
            if in_place and param.grad is not None:
                param.grad.copy_(grad)
            else:
                param.grad = grad
    return per_member


def _member_grad(slot: Slot) -> torch.Tensor:
    param, index = slot
    assert param.grad is not None
    return param.grad if index is None else param.grad[index]


def _check_against_torch(slots: list[list[Slot]], norms: torch.Tensor, per_member: list[list[torch.Tensor]],
                         max_norm: float) -> None:
    for m, grads in enumerate(per_member):
        single = [nn.Parameter(torch.zeros_like(g)) for g in grads]
        for p, g in zip(single, grads, strict=True):
            p.grad = g.clone()
        assert torch.equal(norms[m], nn.utils.clip_grad_norm_(single, max_norm))
        for slot, s in zip(slots[m], single, strict=True):
            assert torch.equal(_member_grad(slot).reshape(s.shape), s.grad)


@pytest.mark.parametrize("k", [1, 3, 5])
@pytest.mark.parametrize("seed", range(3))
def test_clipping_equals_clip_grad_norm_bit_for_bit(k: int, seed: int) -> None:
    params = _params(k)
    per_member = _set_grads(params, k, seed)
    slots = [[p.slot(m) for p in params] for m in range(k)]
    _check_against_torch(slots, clip_grad_norm_per_member_(slots, 0.5), per_member, 0.5)


def test_a_kept_clipper_follows_gradients_zeroed_in_place_and_replaced() -> None:
    k = 3
    params = _params(k)
    slots = [[p.slot(m) for p in params] for m in range(k)]
    clipper = MemberGradClipper(slots)
    for step in range(3):  # the same gradient tensors, overwritten in place (zero_grad(set_to_none=False))
        per_member = _set_grads(params, k, 10 + step, in_place=True)
        _check_against_torch(slots, clipper(1.0), per_member, 1.0)
    before = params[3].stacked.grad
    per_member = _set_grads(params, k, 20)  # new gradient tensors (zero_grad(set_to_none=True)): views made again
    assert params[3].stacked.grad is not before
    _check_against_torch(slots, clipper(1.0), per_member, 1.0)


def test_members_at_an_offset_of_a_stacked_parameter_are_clipped_as_their_own() -> None:
    """An actor-critic stacks its K actors' and K critics' layers in one [2K, ...] tensor: critic k is row K + k."""
    gen = torch.Generator().manual_seed(5)
    k = 3
    shared = MemberParameter(2 * k, (16, 4))
    shared.stacked.grad = torch.randn(2 * k, 16, 4, generator=gen) * 10.0 ** torch.arange(-3.0, 3.0).view(6, 1, 1)
    original = shared.stacked.grad.clone()
    slots = [[shared.slot(m), shared.slot(k + m)] for m in range(k)]
    norms = clip_grad_norm_per_member_(slots, max_norm=1.0)
    _check_against_torch(slots, norms, [[original[m], original[k + m]] for m in range(k)], 1.0)


def test_parameters_without_gradients_are_left_out() -> None:
    k = 2
    params = _params(k)
    per_member = _set_grads(params, k, 3)
    params[3].stacked.grad = None  # no gradient for either member: left out, as clip_grad_norm_ leaves it out
    slots = [[p.slot(m) for p in params] for m in range(k)]
    _check_against_torch([s[:3] for s in slots], clip_grad_norm_per_member_(slots, 0.5), [g[:3] for g in per_member],
                         0.5)
    per_member = _set_grads(params, k, 4)
    params[2].members[1].grad = None  # member 1's own [2] bias only: each member clipped over what it has
    norms = clip_grad_norm_per_member_(slots, 0.5)
    _check_against_torch([slots[0]], norms[:1], per_member[:1], 0.5)
    _check_against_torch([slots[1][:2] + slots[1][3:]], norms[1:], [per_member[1][:2] + per_member[1][3:]], 0.5)
    for p in params:  # nothing at all: zero norms
        if p.stacked is not None:
            p.stacked.grad = None
        else:
            for q in p.members:
                q.grad = None
    assert torch.equal(clip_grad_norm_per_member_(slots, 0.5), torch.zeros(k))

"""Stacked (ensemble) layers: K independent copies of a small network evaluated as one batched matmul per layer.

Design: a population of K members keeps every ``nn.Linear`` of the member networks as one stacked weight
``[K, out, in]`` and bias ``[K, 1, out]``; the layer is ``torch.baddbmm(bias, x, weight.transpose(1, 2))`` on
inputs ``[K, B, in]``. For the small MLPs of classic-control RL the cost of a step is per-operation overhead,
so one batched op for K members costs about as much as one op for one member (issue 17 measured one gradient
step of five stacked 4-256-256-2 Q-networks at 14 ms against 37 ms for five separate ones; ``torch.func.vmap``
gave only 1.3x).

Bit-for-bit members. Training is chaotic: a difference of one rounding unit in one gradient grows until a greedy
action flips (measured: with autograd's own ``baddbmm`` backward, parameters differed by 3e-7 after 512 updates
and the trajectories of a 256x256 CartPole member and its single run parted after ~2,500 steps). So the layer
reproduces the products ``nn.Linear`` computes, not just their values: the weight is stored in ``nn.Linear``'s
``[out, in]`` layout per member (``[K, in, out]`` rounded differently already in the forward pass); the backward
is written out (``grad_w = g^T @ x``, as ``nn.Linear``; autograd's ``baddbmm`` backward computes ``x^T @ g`` and
transposes, which rounds differently for a 4-input layer); a one-output layer (the dueling value head) and a batch
of one observation per member (acting) are matrix-vector products in ``nn.Linear`` and are done member by member
with ``addmv`` (K small ops, what K separate agents pay anyway); a parameter whose per-member size is not a
multiple of the SIMD width (a 2-action head's bias) is kept as K tensors (:class:`MemberParameter`), because the
optimizer's elementwise kernels round a tensor's tail differently from its vector part; gradient clipping uses
PyTorch's own per-tensor norms of each member's gradients (:class:`MemberGradClipper`). With this, population
members equal single runs bit for bit on this CPU build (the dqn-cartpole settings, 256x256: K = 1 for 10k steps,
4,608 updates, and K = 5 for 6k steps: parameters equal, returns equal); another CPU or BLAS may round
differently, so the tests allow 1e-5 on parameters (and check returns exactly).

Parameters are built from the members' own single-agent modules (:meth:`StackedLinear.from_linears`), so member k
starts from exactly the parameters its seed gives a single agent, and :meth:`StackedSequential.copy_member_to`
writes member k back into such modules.

Peers: PureJaxRL (Lu et al., "Discovered Policy Optimisation", 2022, https://github.com/luchris429/purejaxrl)
vectorizes whole training runs over seeds with ``jax.vmap``; Stable-Baselines3 and CleanRL run one seed per
process.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

# elementwise modules that act the same on [K, B, d] as on [B, d]
_ELEMENTWISE = (nn.ReLU, nn.Tanh, nn.ELU, nn.Identity)

# floats per SIMD vector in PyTorch's CPU kernels (16 with AVX-512; a multiple of AVX2's 8)
VECTOR_WIDTH = 16

Slot = tuple[nn.Parameter, "int | None"]  # a member's parameter: (tensor, member index) or (its own tensor, None)


class MemberParameter(nn.Module):
    """One parameter of K members: a stacked tensor ``[K, *shape]``, or K separate tensors when one member's
    size is not a multiple of :data:`VECTOR_WIDTH`.

    Why split: PyTorch's elementwise CPU kernels (fused Adam among them) compute the whole-vector part of a tensor
    and its tail with different code, which can round differently. A member whose size is a multiple of the vector
    width gets the vector code whether alone or stacked; a small one (the 2-action head's bias) gets the tail code
    alone but the vector code when stacked (measured: one fused Adam over a ``[5, 2]`` tensor differed from five
    ``[2]`` ones in 69 of 300 random six-step trials, ``[5, 256]`` in none). Calling it returns the stacked tensor.
    """

    def __init__(self, k: int, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.k, self.split = k, math.prod(shape) % VECTOR_WIDTH != 0
        self.members = nn.ParameterList([nn.Parameter(torch.zeros(shape)) for _ in range(k)] if self.split else [])
        self.stacked = None if self.split else nn.Parameter(torch.zeros(k, *shape))

    def tensor(self) -> torch.Tensor:
        """The stacked ``[K, *shape]`` tensor (a new one, tracked by autograd, when split)."""
        if self.stacked is not None:
            return self.stacked
        return torch.stack(list(self.members))

    forward = tensor

    def slot(self, k: int) -> Slot:
        """Member ``k``'s tensor: ``(stacked, k)`` or ``(its own tensor, None)``."""
        return (self.stacked, k) if self.stacked is not None else (self.members[k], None)

    def member(self, k: int) -> torch.Tensor:
        return self.stacked[k] if self.stacked is not None else self.members[k]

    @torch.no_grad()
    def load_members(self, tensors: Sequence[torch.Tensor]) -> None:
        for k, t in enumerate(tensors):
            self.member(k).copy_(t.reshape(self.member(k).shape))


def slot_tensor(slot: Slot, tensor: torch.Tensor | None) -> torch.Tensor | None:
    """The member's part of ``tensor`` (a gradient or optimizer state of ``slot``'s parameter)."""
    if tensor is None or slot[1] is None:
        return tensor
    return tensor[slot[1]]


class StackedLinear(nn.Module):
    """K independent linear layers: ``[K, B, in] -> [K, B, out]``.

    Args:
        k: the number of members; in_dim, out_dim: the member layer's sizes. Parameters start at zero: build
            from members' layers with :meth:`from_linears`.
    """

    def __init__(self, k: int, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.k, self.in_dim, self.out_dim = k, in_dim, out_dim
        self.weight = MemberParameter(k, (out_dim, in_dim))  # nn.Linear's [out, in], per member
        self.bias = MemberParameter(k, (1, out_dim))
        self._views: list[tuple[torch.Tensor, torch.Tensor]] | None = None

    @classmethod
    def from_linears(cls, linears: Sequence[nn.Linear]) -> StackedLinear:
        """Stack the members' layers (copies of their current parameters)."""
        first = linears[0]
        layer = cls(len(linears), first.in_features, first.out_features).to(first.weight.device)
        layer.weight.load_members([m.weight for m in linears])
        layer.bias.load_members([m.bias for m in linears])
        return layer

    def slots(self, k: int) -> list[Slot]:
        """Member ``k``'s parameters in ``nn.Linear``'s order (weight, bias)."""
        return [self.weight.slot(k), self.bias.slot(k)]

    def copy_member_to(self, k: int, linear: nn.Linear) -> None:
        """Write member ``k``'s parameters into ``linear``."""
        with torch.no_grad():
            linear.weight.copy_(self.weight.member(k))
            linear.bias.copy_(self.bias.member(k)[0])

    def _member_views(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Each member's ``(bias [out], weight [out, in])``, views made once (the optimizer updates in place)."""
        if self._views is None:
            with torch.no_grad():
                self._views = [(self.bias.member(k)[0], self.weight.member(k)) for k in range(self.k)]
        return self._views

    def member_forward(self, k: int, x: torch.Tensor) -> torch.Tensor:
        """Member ``k`` alone on ``[B, in]``, as its ``nn.Linear`` computes it (``F.linear``: the same arithmetic)."""
        return nn.functional.linear(x, self.weight.member(k), self.bias.member(k)[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 1:  # one observation per member (acting): nn.Linear does a matrix-vector product here
            if torch.is_grad_enabled():
                views = [(self.bias.member(k)[0], self.weight.member(k)) for k in range(self.k)]
            else:
                views = self._member_views()
            return torch.stack([torch.addmv(b, w, x[k, 0]) for k, (b, w) in enumerate(views)])[:, None]
        return _StackedLinearFn.apply(x, self.weight.tensor(), self.bias.tensor())

    def __deepcopy__(self, memo: dict[int, Any]) -> StackedLinear:
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        for key, value in self.__dict__.items():  # the cached views would become tensors of their own: drop them
            new.__dict__[key] = None if key == "_views" else copy.deepcopy(value, memo)
        return new

    def extra_repr(self) -> str:
        return f"k={self.k}, in_dim={self.in_dim}, out_dim={self.out_dim}"


class _StackedLinearFn(torch.autograd.Function):
    """``baddbmm(bias, x, weight^T)`` with a backward written to use the same products as ``nn.Linear``'s.

    Autograd's own backward of ``baddbmm`` computes the weight gradient as ``bmm(x^T, g)`` and transposes it;
    ``nn.Linear`` computes ``g^T @ x``, which rounds differently for e.g. a 4-input layer. A one-output layer
    (the dueling value head) is a matrix-vector product in ``nn.Linear`` and is done member by member.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        if weight.shape[1] == 1:
            return torch.stack([torch.addmv(bias[k, 0], x[k], weight[k, 0]) for k in range(weight.shape[0])])[..., None]
        return torch.baddbmm(bias, x, weight.transpose(1, 2))

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor]:
        x, weight = ctx.saved_tensors
        grad = grad.contiguous()
        grad_x = None
        if weight.shape[1] == 1:
            if ctx.needs_input_grad[0]:
                grad_x = torch.stack([grad[k].mm(weight[k]) for k in range(weight.shape[0])])
            grad_w = torch.stack([grad[k].t().mm(x[k]) for k in range(weight.shape[0])])
        else:
            if ctx.needs_input_grad[0]:  # not for the first layer (observations)
                grad_x = torch.bmm(grad, weight)
            grad_w = torch.bmm(grad.transpose(1, 2), x)
        return grad_x, grad_w, grad.sum(1, keepdim=True)


class StackedLayerNorm(nn.Module):
    """K independent ``nn.LayerNorm(d)`` (elementwise affine): ``[K, B, d] -> [K, B, d]``.

    Member by member (``F.layer_norm`` with the member's weight and bias, K small ops): the kernel applies the
    affine inside, so a stacked normalisation followed by a broadcast multiply-add would round differently from
    the single agent's layer.
    """

    def __init__(self, k: int, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.k, self.dim, self.eps = k, dim, eps
        self.weight = MemberParameter(k, (1, dim))
        self.bias = MemberParameter(k, (1, dim))

    @classmethod
    def from_layer_norms(cls, norms: Sequence[nn.LayerNorm]) -> StackedLayerNorm:
        first = norms[0]
        if len(first.normalized_shape) != 1 or not first.elementwise_affine or first.bias is None:
            raise TypeError("only LayerNorm(d) with a weight and a bias can be stacked")
        layer = cls(len(norms), first.normalized_shape[0], first.eps).to(first.weight.device)
        layer.weight.load_members([m.weight for m in norms])
        layer.bias.load_members([m.bias for m in norms])  # type: ignore[misc]
        return layer

    def slots(self, k: int) -> list[Slot]:
        """Member ``k``'s parameters in ``nn.LayerNorm``'s order (weight, bias)."""
        return [self.weight.slot(k), self.bias.slot(k)]

    def copy_member_to(self, k: int, norm: nn.LayerNorm) -> None:
        with torch.no_grad():
            norm.weight.copy_(self.weight.member(k)[0])
            norm.bias.copy_(self.bias.member(k)[0])

    def member_forward(self, k: int, x: torch.Tensor) -> torch.Tensor:
        """Member ``k`` alone on ``[B, d]``, as its ``nn.LayerNorm``."""
        return nn.functional.layer_norm(x, (self.dim,), self.weight.member(k)[0], self.bias.member(k)[0], self.eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([self.member_forward(k, x[k]) for k in range(self.k)])

    def extra_repr(self) -> str:
        return f"k={self.k}, dim={self.dim}, eps={self.eps}"


class StackedSequential(nn.Sequential):
    """An ``nn.Sequential`` of Linear layers, LayerNorms and elementwise activations, stacked over K members."""

    @classmethod
    def from_sequentials(cls, members: Sequence[nn.Sequential]) -> StackedSequential:
        """Stack K structurally identical ``nn.Sequential`` MLPs (Linear, LayerNorm and ReLU/Tanh/ELU/Identity)."""
        layers: list[nn.Module] = []
        for position in zip(*members, strict=True):
            first = position[0]
            if isinstance(first, nn.Linear):
                layers.append(StackedLinear.from_linears(position))  # type: ignore[arg-type]
            elif isinstance(first, nn.LayerNorm):
                layers.append(StackedLayerNorm.from_layer_norms(position))  # type: ignore[arg-type]
            elif isinstance(first, _ELEMENTWISE):
                layers.append(type(first)())
            else:
                raise TypeError(f"cannot stack a {type(first).__name__}: only Linear, LayerNorm and elementwise "
                                "activations")
        return cls(*layers)

    def slots(self, k: int) -> list[Slot]:
        """Member ``k``'s parameters in the order of its ``nn.Sequential``'s ``parameters()``."""
        return [slot for layer in self if isinstance(layer, _PARAMETRIC) for slot in layer.slots(k)]

    def member_forward(self, k: int, x: torch.Tensor) -> torch.Tensor:
        """Member ``k`` alone on ``[B, d]``, with its single ``nn.Sequential``'s arithmetic."""
        for layer in self:
            x = layer.member_forward(k, x) if isinstance(layer, _PARAMETRIC) else layer(x)
        return x

    def copy_member_to(self, k: int, member: nn.Sequential) -> None:
        """Write member ``k``'s parameters into a structurally identical ``nn.Sequential``."""
        for stacked, single in zip(self, member, strict=True):
            if isinstance(stacked, _PARAMETRIC):
                stacked.copy_member_to(k, single)  # type: ignore[arg-type]


_PARAMETRIC = (StackedLinear, StackedLayerNorm)


def clip_grad_norm_per_member_(members: Sequence[Sequence[Slot]], max_norm: float) -> torch.Tensor:
    """``nn.utils.clip_grad_norm_`` applied to each member separately (each by its own norm); returns the norms.

    Args:
        members: each member's parameter slots, in its single agent's parameter order (e.g.
            ``[net.slots(k) for k in range(K)]``).
        max_norm: the clipping norm.

    The same operations as PyTorch's, member by member: the 2-norm of the per-parameter 2-norms, and
    ``grad *= min(1, max_norm / (norm + 1e-6))``. A training loop that clips the same slots every step keeps a
    :class:`MemberGradClipper` instead (it keeps the members' gradient views between steps).
    """
    return MemberGradClipper(members)(max_norm)


class MemberGradClipper:
    """Per-member gradient-norm clipping of fixed slots (:func:`clip_grad_norm_per_member_`), with few operations.

    All members' per-parameter norms are one ``torch._foreach_norm`` call (the kernels PyTorch's
    ``clip_grad_norm_`` uses, on each member's own view of each gradient), the members' total norms one row-wise norm
    of the ``[K, P]`` matrix of those norms (each contiguous row reduced as a P-vector alone is: equal bit for bit on
    this CPU build, ``tests/rl/population/test_layers.py``), the scaling one ``torch._foreach_mul_`` per member. The
    members' views of the gradients are kept while the gradient tensors stay the same ones (an optimizer that zeroes
    gradients in place, ``zero_grad(set_to_none=False)``), and made again when any of them is replaced.

    Args:
        members: each member's parameter slots, in its single agent's parameter order.
    """

    def __init__(self, members: Sequence[Sequence[Slot]]) -> None:
        self.members = [list(m) for m in members]
        self.k = len(self.members)
        seen: dict[int, nn.Parameter] = {}
        for slots in self.members:
            for param, _ in slots:
                seen.setdefault(id(param), param)
        self._params = list(seen.values())
        self._grads: list[torch.Tensor | None] | None = None
        self._views: list[list[torch.Tensor]] = []
        self._flat: list[torch.Tensor] = []

    def _member_views(self) -> list[list[torch.Tensor]]:
        grads = [p.grad for p in self._params]
        if self._grads is None or any(g is not c for g, c in zip(grads, self._grads, strict=True)):
            self._views = [[g for g in (slot_tensor(s, s[0].grad) for s in slots) if g is not None]
                           for slots in self.members]
            self._flat = [g for views in self._views for g in views]  # member-major
            self._grads = grads
        return self._views

    def __call__(self, max_norm: float) -> torch.Tensor:
        """Clip every member's gradients by its own norm; returns the ``[K]`` norms before clipping."""
        views = self._member_views()
        counts = {len(v) for v in views}
        if counts == {0}:
            return torch.zeros(self.k)
        if len(counts) != 1:  # members with different sets of gradients: one member at a time
            return torch.stack([self._clip_one(v, max_norm) for v in views])
        norms = torch.stack(torch._foreach_norm(self._flat)).view(self.k, -1)  # [K, P], each row one member's
        total = torch.linalg.vector_norm(norms, dim=1)
        coef = torch.clamp(max_norm / (total + 1e-6), max=1.0)
        for k, member in enumerate(views):
            torch._foreach_mul_(member, coef[k])
        return total

    @staticmethod
    def _clip_one(grads: list[torch.Tensor], max_norm: float) -> torch.Tensor:
        if not grads:
            return torch.zeros(())
        total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
        torch._foreach_mul_(grads, torch.clamp(max_norm / (total + 1e-6), max=1.0))
        return total


def load_member_optimizer_state(optimizer: torch.optim.Optimizer, slots: Sequence[Slot],
                                single: torch.optim.Optimizer, params: Sequence[torch.Tensor]) -> None:
    """Give ``single`` (a member's own optimizer over ``params``) member k's part of ``optimizer``'s state.

    Args:
        optimizer: the population's optimizer over stacked parameters.
        slots: member k's slots, in the order of ``params``.
        single, params: the single agent's optimizer and its parameters (same order).

    Adam's ``exp_avg``/``exp_avg_sq`` ``[K, ...]`` become member k's; the shared step count is copied as is; the
    learning rate is the population's.
    """
    lr = optimizer.param_groups[0]["lr"]
    for group in single.param_groups:
        group["lr"] = lr
    single.state.clear()
    for slot, param in zip(slots, params, strict=True):
        state = optimizer.state.get(slot[0])
        if not state:
            continue
        single.state[param] = {
            key: (slot_tensor(slot, v).reshape(param.shape).clone()  # type: ignore[union-attr]
                  if torch.is_tensor(v) and v.shape == slot[0].shape and v.dim() > 0
                  else (v.clone() if torch.is_tensor(v) else v))
            for key, v in state.items()
        }


"""Constraint losses: supervision from what must hold over the outputs, not from labels (Stewart & Ermon 2017).

Each function takes a network's outputs over a sequence (``y`` ``[B, T]`` at times ``t`` ``[T]``) or over a batch
of images and returns a loss that is zero exactly when the outputs obey the knowledge:

- free fall (:func:`free_fall_loss`): the outputs are a parabola with the *known* acceleration ``-g`` and any
  start height and velocity. The residual is ``y`` minus its least-squares projection on those parabolas:
  subtract the known curve ``-g t^2 / 2``, project on ``span{1, t}``, add it back
  (:func:`parabola_projection`). A constant output is not such a parabola, so the trivial solution is penalised.
- free curvature (:func:`free_curvature_loss`, the ablation): any parabola fits, the acceleration is free. A
  constant output then has zero loss: nothing rules the trivial solution out.
- walking (:func:`walking_loss`): constant velocity (projection on lines) plus the paper's two terms against the
  trivial constant solution: reward the outputs' spread over each sequence and keep them inside a fixed range.
- causal pair (:func:`causal_loss`): the implication "Peach => Mario" on presence probabilities, plus terms that
  make both detectors vary over a batch and differ from each other.
"""

from __future__ import annotations

import torch


def _basis(t: torch.Tensor, degree: int) -> torch.Tensor:
    return torch.stack([t**k for k in range(degree + 1)], 1)  # [T, degree + 1]


def polynomial_projection(y: torch.Tensor, t: torch.Tensor, degree: int) -> torch.Tensor:
    """Least-squares projection of each row of ``y`` ``[B, T]`` on polynomials of ``degree`` in ``t`` ``[T]``."""
    a = _basis(t.to(y.dtype), degree)
    hat = a @ torch.linalg.pinv(a)  # [T, T], the orthogonal projector on the columns of a
    return y @ hat.T


def parabola_projection(y: torch.Tensor, t: torch.Tensor, gravity: float) -> torch.Tensor:
    """The parabola ``h0 + v0 t - gravity t^2 / 2`` closest to each row of ``y`` (``h0``, ``v0`` free)."""
    known = -0.5 * gravity * t.to(y.dtype) ** 2
    return polynomial_projection(y - known, t, 1) + known


def _distance(res: torch.Tensor, distance: str) -> torch.Tensor:
    if distance == "l1":
        return res.abs().mean()
    if distance == "l2":
        return res.pow(2).mean()
    raise ValueError(f"distance {distance!r}: expected 'l1' or 'l2'")


def free_fall_loss(y: torch.Tensor, t: torch.Tensor, gravity: float, distance: str = "l1") -> torch.Tensor:
    """Mean distance between the outputs ``[B, T]`` and their projection on parabolas of acceleration ``-g``."""
    return _distance(y - parabola_projection(y, t, gravity), distance)


def free_curvature_loss(y: torch.Tensor, t: torch.Tensor, distance: str = "l1") -> torch.Tensor:
    """The ablation: distance to the closest parabola of *any* acceleration (zero for a constant output)."""
    return _distance(y - polynomial_projection(y, t, 2), distance)


def constant_velocity_loss(y: torch.Tensor, t: torch.Tensor, distance: str = "l1") -> torch.Tensor:
    """Mean distance between the outputs ``[B, T]`` and their projection on lines in ``t``."""
    return _distance(y - polynomial_projection(y, t, 1), distance)


def spread_loss(y: torch.Tensor) -> torch.Tensor:
    """Minus the mean over sequences of the outputs' standard deviation over time (rewards varying outputs)."""
    return -y.std(dim=1).mean()


def range_loss(y: torch.Tensor, low: float = 0.0, high: float = 1.0) -> torch.Tensor:
    """Mean amount by which the outputs leave ``[low, high]`` (keeps the spread term from growing forever)."""
    return (torch.relu(low - y) + torch.relu(y - high)).mean()


def walking_loss(y: torch.Tensor, t: torch.Tensor, *, spread_weight: float = 0.5, range_weight: float = 1.0,
                 distance: str = "l1") -> torch.Tensor:
    """Constant velocity plus ``spread_weight`` x :func:`spread_loss` plus ``range_weight`` x :func:`range_loss`."""
    return (constant_velocity_loss(y, t, distance) + spread_weight * spread_loss(y)
            + range_weight * range_loss(y))


def _std(x: torch.Tensor) -> torch.Tensor:
    return (x.var() + 1e-6).sqrt()  # finite gradient at a constant output


def implication_loss(p_if: torch.Tensor, p_then: torch.Tensor) -> torch.Tensor:
    """Mean probability that ``if`` holds and ``then`` does not: ``E[p_if (1 - p_then)]`` (zero when A => B)."""
    return (p_if * (1.0 - p_then)).mean()


def implication_hinge(z_if: torch.Tensor, z_then: torch.Tensor) -> torch.Tensor:
    """The implication on logits: ``mean(relu(z_if - z_then))``, zero exactly when ``P(then) >= P(if)`` everywhere.

    Unlike :func:`implication_loss` its gradient does not vanish when both sigmoids saturate on the wrong side,
    so a detector that learned the wrong sign is still pushed back.
    """
    return torch.relu(z_if - z_then).mean()


def causal_loss(logits: torch.Tensor, *, implication_weight: float = 1.0, vary_weight: float = 1.0,
                differ_weight: float = 1.0, converse_weight: float = 1.0) -> torch.Tensor:
    """Label-free loss of two presence logits ``[B, 2]`` (columns: Peach, Mario) under Peach => Mario.

    ``implication_weight * implication_hinge - vary_weight * (std(p_peach) + std(p_mario)) - differ_weight *
    std(p_mario - p_peach) - converse_weight * mean(p_mario - p_peach)`` over the batch. The implication alone is
    met by "nobody is ever there" or "Mario is always there"; the spread of each output rules out constant
    detectors; the spread of their difference and the converse term (Mario is seen more often than Peach: the
    implication does not hold backwards) rule out two copies of one detector. The spread terms are the paper's
    kind of term against trivial solutions; the converse term is ours (without it, copies were a stable state).
    """
    p = torch.sigmoid(logits)
    peach, mario = p[:, 0], p[:, 1]
    return (implication_weight * implication_hinge(logits[:, 0], logits[:, 1])
            - vary_weight * (_std(peach) + _std(mario)) - differ_weight * _std(mario - peach)
            - converse_weight * (mario - peach).mean())

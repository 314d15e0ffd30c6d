"""Aggregates over seeds: mean, std, interquartile mean and bootstrap confidence intervals.

IQM and the percentile bootstrap follow Agarwal et al., "Deep RL at the Edge of the Statistical
Precipice" (NeurIPS 2021): with few seeds, report a robust point estimate and its uncertainty.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


def iqm(values: Sequence[float]) -> float:
    """Interquartile mean: the mean of the middle 50% (``floor(n/4)`` values cut from each end).

    With fewer than 4 values nothing is cut and this is the plain mean.
    """
    x = np.sort(np.asarray(values, dtype=float))
    if x.size == 0:
        return float("nan")
    k = x.size // 4
    return float(x[k : x.size - k].mean())


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    stat: Callable[[Any], float] = iqm,
    *,
    confidence: float = 0.95,
    reps: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of ``stat`` over seeds.

    Resamples the runs with replacement ``reps`` times (a fixed generator: the same input gives the same
    interval). One run gives a zero-width interval at its value.
    """
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return (float("nan"), float("nan"))
    if x.size == 1:
        return (float(x[0]), float(x[0]))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(reps, x.size))
    stats = np.array([stat(x[i]) for i in idx])
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(stats, [alpha, 1 - alpha])
    return (float(lo), float(hi))


def stratified_bootstrap_ci(
    groups: Sequence[Sequence[float]],
    stat: Callable[[Any], float] = iqm,
    *,
    confidence: float = 0.95,
    reps: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Bootstrap CI of ``stat`` over several tasks: runs are resampled within each task (stratum)."""
    arrays = [np.asarray(g, dtype=float) for g in groups if len(g)]
    if not arrays:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    stats = []
    for _ in range(reps):
        sample = np.concatenate([a[rng.integers(0, a.size, size=a.size)] for a in arrays])
        stats.append(stat(sample))
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(stats, [alpha, 1 - alpha])
    return (float(lo), float(hi))

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


# ------------------------------------------------------------------------------------------------------------
# Aggregates across tasks (rliable: Agarwal et al. 2021, "Deep RL at the Edge of the Statistical Precipice").
#
# ``tasks`` is a list with one array of run scores per task (normalized scores: 0 = the task's no-learning
# baseline, 1 = its anchor); tasks may have different run counts (rliable needs a runs x tasks matrix: with
# equal counts every function below gives rliable's number). Each aggregate also takes arrays with leading batch
# dimensions (``(reps, n_task)`` per task), which is how the stratified bootstrap evaluates all resamples at once.


def normalize(values: Sequence[float] | np.ndarray, baseline: float, anchor: float) -> np.ndarray:
    """``(x - baseline) / (anchor - baseline)``: 0 is no learning, 1 the anchor (either direction of "better")."""
    if not np.isfinite(anchor - baseline) or anchor == baseline:
        raise ValueError(f"cannot normalize: anchor {anchor} and baseline {baseline} must differ")
    return (np.asarray(values, dtype=float) - baseline) / (anchor - baseline)


def _trim_mean(x: np.ndarray) -> Any:
    """IQM along the last axis (``floor(n/4)`` cut each end, as ``scipy.stats.trim_mean(x, 0.25)``)."""
    n = x.shape[-1]
    k = n // 4
    return np.sort(x, axis=-1)[..., k : n - k].mean(axis=-1)


def _arrays(tasks: Sequence[Any]) -> list[np.ndarray]:
    arrays = [np.asarray(t, dtype=float) for t in tasks]
    if not arrays or any(a.shape[-1] == 0 for a in arrays):
        raise ValueError("every task needs at least one run")
    return arrays


def aggregate_iqm(tasks: Sequence[Any]) -> Any:
    """Interquartile mean of all runs of all tasks pooled (rliable ``aggregate_iqm``)."""
    return _trim_mean(np.concatenate(_arrays(tasks), axis=-1))


def aggregate_mean(tasks: Sequence[Any]) -> Any:
    """Mean over tasks of each task's mean score (rliable ``aggregate_mean``)."""
    return np.mean(np.stack([a.mean(axis=-1) for a in _arrays(tasks)], axis=-1), axis=-1)


def aggregate_median(tasks: Sequence[Any]) -> Any:
    """Median over tasks of each task's mean score (rliable ``aggregate_median``)."""
    return np.median(np.stack([a.mean(axis=-1) for a in _arrays(tasks)], axis=-1), axis=-1)


def optimality_gap(tasks: Sequence[Any], gamma: float = 1.0) -> Any:
    """How far the runs fall short of ``gamma`` (scores above it count as ``gamma``), averaged over all runs
    (rliable ``aggregate_optimality_gap``; lower is better; 0: every run at least at the anchor)."""
    return gamma - np.minimum(np.concatenate(_arrays(tasks), axis=-1), gamma).mean(axis=-1)


def score_distribution(tasks: Sequence[Any], taus: Sequence[float] | np.ndarray) -> Any:
    """Performance profile: the fraction of all runs with a score above each ``tau`` (rliable's run-score
    distribution, ``use_score_distribution=True``); shape ``(..., len(taus))``."""
    x = np.concatenate(_arrays(tasks), axis=-1)
    return (x[..., :, None] > np.asarray(taus, dtype=float)).mean(axis=-2)


def probability_of_improvement(x_tasks: Sequence[Any], y_tasks: Sequence[Any]) -> Any:
    """P(X > Y): per task the probability that a run of X scores above a run of Y (ties count half: the
    Mann-Whitney U statistic over ``n_x n_y``), averaged over tasks (rliable ``probability_of_improvement``)."""
    xs, ys = _arrays(x_tasks), _arrays(y_tasks)
    if len(xs) != len(ys):
        raise ValueError(f"X has {len(xs)} tasks and Y {len(ys)}: compare them on the same tasks")
    per_task = []
    for x, y in zip(xs, ys, strict=True):
        diff = x[..., :, None] - y[..., None, :]
        per_task.append((diff > 0).mean(axis=(-2, -1)) + 0.5 * (diff == 0).mean(axis=(-2, -1)))
    return np.mean(np.stack(per_task, axis=-1), axis=-1)


def resample_indices(sizes: Sequence[int], reps: int, seed: int) -> list[np.ndarray]:
    """Stratified bootstrap indices: per task (stratum) of ``n`` runs, a ``(reps, n)`` array of draws with
    replacement from ``numpy.random.default_rng(seed)``, task after task."""
    rng = np.random.default_rng(seed)
    return [rng.integers(0, n, size=(reps, n)) for n in sizes]


def stratified_bootstrap(
    tasks: Sequence[Any] | tuple[Sequence[Any], ...],
    stat: Callable[..., Any],
    *,
    reps: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
    indices: Sequence[Sequence[np.ndarray]] | None = None,
) -> tuple[Any, Any, Any]:
    """``(point, lo, hi)``: ``stat`` on the scores and its percentile CI from a stratified bootstrap (runs
    resampled with replacement within each task; tasks are kept).

    ``tasks`` is one list of per-task scores, or a tuple of such lists for a statistic of several algorithms
    (:func:`probability_of_improvement`): each is resampled independently. ``indices`` (one list of ``(reps, n)``
    arrays per list of tasks) replaces the draws, e.g. to reproduce another library's resamples exactly.
    """
    groups = tasks if isinstance(tasks, tuple) else (tasks,)
    arrays = [_arrays(g) for g in groups]
    point = stat(*arrays)
    if indices is None:
        seeds = np.random.SeedSequence(seed).spawn(len(arrays)) if len(arrays) > 1 else [seed]
        indices = [resample_indices([a.shape[-1] for a in g], reps, s) for g, s in  # type: ignore[arg-type]
                   zip(arrays, seeds, strict=True)]
    resampled = [[a[i] for a, i in zip(g, idx, strict=True)] for g, idx in zip(arrays, indices, strict=True)]
    values = np.asarray(stat(*resampled))
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(values, [alpha, 1 - alpha], axis=0)
    return point, lo, hi

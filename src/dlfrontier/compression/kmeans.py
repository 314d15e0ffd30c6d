"""One-dimensional k-means with linear centroid initialisation, the weight-sharing step of Deep Compression.

Han, Mao and Dally, "Deep Compression", ICLR 2016, https://arxiv.org/abs/1510.00149 (Section 3.1 and 3.2:
k-means over a layer's weights, initialised with centroids spaced linearly between the minimum and the
maximum weight, which keeps the rare large weights represented and worked best of the three
initialisations the paper compared).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

MAX_BITS = 16


def check_bits(bits: int) -> None:
    """Raise ``ValueError`` unless ``1 <= bits <= MAX_BITS`` (``2**bits`` shared weights per layer)."""
    if not isinstance(bits, (int, np.integer)) or isinstance(bits, bool) or not 1 <= int(bits) <= MAX_BITS:
        raise ValueError(f"bits must be an integer in [1, {MAX_BITS}], got {bits!r}")


def init_centroids(values: np.ndarray, k: int, method: Literal["linear", "density", "random"] = "linear",
                   *, seed: int = 0) -> np.ndarray:
    """Initial centroids: ``linear`` spacing over [min, max], ``density`` (quantiles) or ``random`` samples.

    Shapes:
        values: ``[N]`` (N >= 1) -> ``[k]`` float64.
    """
    v = np.asarray(values, dtype=np.float64)
    if method == "linear":
        return np.linspace(v.min(), v.max(), k)
    if method == "density":
        return np.quantile(v, np.linspace(0.0, 1.0, k))
    if method == "random":
        rng = np.random.default_rng(seed)
        return np.sort(rng.choice(v, size=k, replace=len(v) < k))
    raise ValueError(f"unknown init {method!r}; choose linear, density or random")


def assign(values: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Index of the nearest centroid of each value (ties go to the lower index).

    Shapes:
        values: ``[N]``, centroids: ``[k]`` -> ``[N]`` int64.
    """
    v = np.asarray(values, dtype=np.float64)
    c = np.asarray(centroids, dtype=np.float64)
    d = np.abs(v[:, None] - c[None, :])  # [N, k]
    return d.argmin(axis=1).astype(np.int64)


def kmeans_1d(
    values: np.ndarray,
    k: int,
    *,
    init: Literal["linear", "density", "random"] = "linear",
    max_iter: int = 100,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd's k-means on scalars.

    Empty clusters keep their previous centroid (they cost nothing once Huffman-coded). Stops when the
    assignment no longer changes or after ``max_iter`` iterations.

    Args:
        values: ``[N]`` the weights to cluster (N may be 0).
        k: number of clusters (>= 1).
        init: centroid initialisation.
        max_iter: iteration cap.
        seed: for ``init="random"``.

    Returns:
        ``(centroids [k] float32, labels [N] int64)``; ``centroids[labels]`` are the shared weights.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if len(v) == 0:
        return np.zeros(k, dtype=np.float32), np.zeros(0, dtype=np.int64)
    c = init_centroids(v, k, init, seed=seed)
    labels = _assign_sorted(v, c)
    for _ in range(max_iter):
        sums = np.bincount(labels, weights=v, minlength=k)
        counts = np.bincount(labels, minlength=k)
        c = np.where(counts > 0, sums / np.maximum(counts, 1), c)
        new = _assign_sorted(v, c)
        if np.array_equal(new, labels):
            break
        labels = new
    # Labels refer to float32 centroids from here on: reassign so each weight maps to its nearest stored value.
    c32 = c.astype(np.float32)
    return c32, _assign_sorted(v, c32.astype(np.float64))


def _assign_sorted(v: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Nearest-centroid assignment in O(N log k) via the midpoints of the sorted centroids."""
    order = np.argsort(c, kind="stable")
    cs = c[order]
    mids = (cs[1:] + cs[:-1]) / 2  # [k-1]
    # side="left": a value exactly on a midpoint goes to the lower centroid, as in :func:`assign`.
    idx = np.searchsorted(mids, v, side="left")
    return order[idx].astype(np.int64)

"""rliable's aggregates in dlfrontier.stats: by hand, and against the ``rliable`` package on a fixed fixture.

The comparison with rliable (a dev dependency used only here) is exact: point estimates to rounding, and the
stratified bootstrap CIs with rliable's own resamples (rliable draws them with ``np.random.choice`` from NumPy's
global generator; the test seeds it, replays the same draws and hands them to ``stratified_bootstrap``).
"""

import numpy as np
import pytest

from dlfrontier import stats

# a fixed fixture: 5 runs x 3 tasks of normalized scores (one tie across algorithms, one run above the anchor)
X = np.array([[0.10, 0.92, 0.40],
              [0.35, 1.10, 0.45],
              [0.20, 0.80, 0.40],
              [0.55, 0.95, 0.10],
              [0.30, 0.70, 0.60]])
Y = np.array([[0.05, 0.90, 0.40],
              [0.25, 0.60, 0.20],
              [0.15, 0.85, 0.30],
              [0.40, 0.75, 0.35],
              [0.10, 0.65, 0.40]])


def tasks(m: np.ndarray) -> list[np.ndarray]:
    return [m[:, j] for j in range(m.shape[1])]


def test_aggregates_by_hand():
    t = tasks(X)
    pooled = np.sort(X.ravel())  # 15 runs: floor(15/4) = 3 cut at each end
    assert stats.aggregate_iqm(t) == pytest.approx(pooled[3:12].mean())
    means = X.mean(axis=0)
    assert stats.aggregate_mean(t) == pytest.approx(means.mean())
    assert stats.aggregate_median(t) == pytest.approx(np.median(means))
    assert stats.optimality_gap(t) == pytest.approx(1 - np.minimum(X, 1).mean())
    assert stats.optimality_gap([[2.0, 3.0]]) == 0.0
    np.testing.assert_allclose(stats.score_distribution(t, [0.0, 0.5, 1.0]), [1.0, 7 / 15, 1 / 15])
    # P(X > Y) on one task by counting pairs: ties count half
    assert stats.probability_of_improvement([[1.0, 3.0]], [[2.0, 3.0]]) == pytest.approx((0 + 1 + 0.5 + 1) / 4 - 0.25)
    assert stats.probability_of_improvement([[1.0, 2.0]], [[1.0, 2.0]]) == 0.5
    assert stats.probability_of_improvement([[5.0]], [[1.0]]) == 1.0
    np.testing.assert_allclose(stats.normalize([20.0, 500.0], baseline=20.0, anchor=500.0), [0.0, 1.0])
    np.testing.assert_allclose(stats.normalize([0.5], baseline=1.0, anchor=0.0), [0.5])  # lower is better
    with pytest.raises(ValueError):
        stats.normalize([1.0], baseline=2.0, anchor=2.0)


def test_ragged_tasks_and_bootstrap_properties():
    t = [[0.2, 0.4, 0.6], [0.9, 1.0, 0.8, 0.7, 1.1]]
    assert stats.aggregate_mean(t) == pytest.approx((0.4 + 0.9) / 2)
    point, lo, hi = stats.stratified_bootstrap(t, stats.aggregate_iqm, reps=500, seed=1)
    assert lo <= point <= hi and (lo, hi) == stats.stratified_bootstrap(t, stats.aggregate_iqm, reps=500, seed=1)[1:]
    # one run per task: every resample is the data, the interval has no width
    assert stats.stratified_bootstrap([[0.3], [0.5]], stats.aggregate_mean, reps=50)[1:] == (0.4, 0.4)
    p, lo, hi = stats.stratified_bootstrap((t, [[0.0, 0.1], [0.2, 0.3]]), stats.probability_of_improvement, reps=200)
    assert p == 1.0 and lo == hi == 1.0
    prof, plo, phi = stats.stratified_bootstrap(t, lambda s: stats.score_distribution(s, [0.0, 0.5, 2.0]), reps=200)
    assert prof.shape == (3,) and np.all(plo <= prof) and np.all(prof <= phi) and prof[2] == 0.0


# ------------------------------------------------------------------------------------------------ rliable

REPS = 400


def _rliable():
    """rliable's ``library`` and ``metrics``, or a skip: rliable 1.2.0 needs arch < 8, whose import fails under
    pandas >= 3 (a TypeError, not an ImportError), hence the dev extra's ``pandas<3``."""
    try:
        from rliable import library, metrics
    except Exception as e:  # noqa: BLE001 - any failure to import means: not usable here
        pytest.skip(f"rliable is not usable here: {type(e).__name__}: {e}")
    return library, metrics


def _rliable_draws(shapes: list[tuple[int, int]], seed: int, reps: int = REPS) -> list[list[np.ndarray]]:
    """The resamples rliable's bootstraps draw after ``np.random.seed(seed)``: per rep, one
    ``np.random.choice(n_runs, (n_runs, n_tasks))`` per score matrix, in order; returned as our per-task
    ``(reps, n_runs)`` index arrays, one list per matrix."""
    np.random.seed(seed)
    draws = [[np.random.choice(s[0], s, replace=True) for s in shapes] for _ in range(reps)]
    out = []
    for k, (_, m) in enumerate(shapes):
        stacked = np.stack([d[k] for d in draws])  # (reps, n_runs, n_tasks)
        out.append([stacked[:, :, j] for j in range(m)])
    return out


def test_point_estimates_equal_rliable():
    _, metrics = _rliable()
    t = tasks(X)
    assert stats.aggregate_iqm(t) == pytest.approx(metrics.aggregate_iqm(X), rel=1e-12)
    assert stats.aggregate_mean(t) == pytest.approx(metrics.aggregate_mean(X), rel=1e-12)
    assert stats.aggregate_median(t) == pytest.approx(metrics.aggregate_median(X), rel=1e-12)
    assert stats.optimality_gap(t) == pytest.approx(metrics.aggregate_optimality_gap(X), rel=1e-12)
    assert stats.probability_of_improvement(t, tasks(Y)) == pytest.approx(
        metrics.probability_of_improvement(X, Y), rel=1e-12)


def test_stratified_bootstrap_cis_equal_rliable_with_its_resamples():
    library, metrics = _rliable()

    def theirs(x):
        return np.array([metrics.aggregate_iqm(x), metrics.aggregate_optimality_gap(x), metrics.aggregate_mean(x)])

    np.random.seed(123)
    point, ci = library.get_interval_estimates({"x": X}, theirs, reps=REPS)
    (idx,) = _rliable_draws([X.shape], 123)

    def ours(t):
        return np.stack([stats.aggregate_iqm(t), stats.optimality_gap(t), stats.aggregate_mean(t)], axis=-1)

    p, lo, hi = stats.stratified_bootstrap(tasks(X), ours, indices=[idx])
    np.testing.assert_allclose(p, point["x"], rtol=1e-12)
    np.testing.assert_allclose(lo, ci["x"][0], rtol=1e-9)
    np.testing.assert_allclose(hi, ci["x"][1], rtol=1e-9)


def test_probability_of_improvement_ci_equals_rliable():
    library, metrics = _rliable()

    np.random.seed(7)
    point, ci = library.get_interval_estimates({"x,y": [X, Y]}, lambda x, y: np.array(
        [metrics.probability_of_improvement(x, y)]), reps=REPS)
    ix, iy = _rliable_draws([X.shape, Y.shape], 7)
    p, lo, hi = stats.stratified_bootstrap((tasks(X), tasks(Y)), stats.probability_of_improvement, indices=[ix, iy])
    assert p == pytest.approx(point["x,y"][0], rel=1e-12)
    assert (lo, hi) == pytest.approx((ci["x,y"][0][0], ci["x,y"][1][0]), rel=1e-9)


def test_performance_profile_equals_rliable():
    library, _ = _rliable()

    taus = np.linspace(0.0, 1.2, 13)
    np.random.seed(11)
    profiles, cis = library.create_performance_profile({"x": X}, taus, reps=REPS)
    (idx,) = _rliable_draws([X.shape], 11)
    p, lo, hi = stats.stratified_bootstrap(tasks(X), lambda t: stats.score_distribution(t, taus), indices=[idx])
    np.testing.assert_allclose(p, profiles["x"], rtol=1e-12)
    np.testing.assert_allclose(lo, cis["x"][0], rtol=1e-9)
    np.testing.assert_allclose(hi, cis["x"][1], rtol=1e-9)

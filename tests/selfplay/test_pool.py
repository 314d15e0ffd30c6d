"""The opponent pool: RLlib's 0.95 rule, every-N snapshots, uniform and PFSP sampling, exactly."""

import numpy as np
import pytest

from dlfrontier.rl.selfplay.pool import OpponentPool, win_rate


def _pool(**kw):
    pool = OpponentPool(**kw)
    for i in range(3):
        pool.add({"id": i}, f"m{i}")
    return pool


def test_the_095_rule():
    pool = _pool(threshold=0.95)
    assert pool.should_snapshot(0.95)
    assert pool.should_snapshot(1.0)
    assert not pool.should_snapshot(0.9499)
    # a draw is not a win: 19 wins and 1 draw of 20 is 0.95, 18 wins and 2 draws is not
    assert win_rate(np.array([1.0] * 19 + [0.5])) == 0.95
    assert not pool.should_snapshot(win_rate(np.array([1.0] * 18 + [0.5, 0.5])))
    assert win_rate(np.array([1.0, np.nan, 0.0])) == 0.5  # nan: self-play games, not counted


def test_every_n_updates():
    pool = _pool(threshold=0.95, every=3)
    for _ in range(2):
        pool.record(np.array([0]), np.array([0.0]))
        assert not pool.should_snapshot(0.0)
    pool.record(np.array([0]), np.array([0.0]))
    assert pool.should_snapshot(0.0)
    pool.add({}, "m3")  # a snapshot resets the count
    assert not pool.should_snapshot(0.0)
    assert not _pool(every=None).should_snapshot(0.94)


def test_uniform_sampling():
    pool = _pool(sampling="uniform")
    pool.record(np.array([0, 0, 1]), np.array([1.0, 1.0, 0.0]))
    assert np.allclose(pool.probabilities(), [1 / 3] * 3)
    counts = np.bincount(pool.sample(30_000, np.random.default_rng(0)), minlength=3) / 30_000
    assert np.allclose(counts, 1 / 3, atol=0.01)


def test_pfsp_weights_are_one_minus_p_squared():
    pool = _pool(sampling="pfsp", decay=1.0)
    # learner vs m0: 3 wins of 3; vs m1: 1 win 1 draw 2 losses; m2 unplayed
    pool.record(np.array([0, 0, 0, 1, 1, 1, 1]), np.array([1, 1, 1, 1, 0.5, 0, 0], float))
    p = np.array([(3 + 0.5) / 4, (1.5 + 0.5) / 5, 0.5])
    assert np.allclose(pool.win_probabilities(), p)
    w = (1 - p) ** 2
    assert np.allclose(pool.probabilities(), w / w.sum())
    counts = np.bincount(pool.sample(40_000, np.random.default_rng(1)), minlength=3) / 40_000
    assert np.allclose(counts, w / w.sum(), atol=0.01)
    # another exponent
    pool.power = 1.0
    assert np.allclose(pool.probabilities(), (1 - p) / (1 - p).sum())


def test_pfsp_decay_and_capacity():
    pool = _pool(sampling="pfsp", decay=0.5)
    pool.record(np.array([0]), np.array([1.0]))
    pool.record(np.array([1]), np.array([0.0]))
    assert pool.score == [0.5, 0.0, 0.0] and pool.games == [0.5, 1.0, 0.0]
    small = OpponentPool(capacity=2)
    for i in range(4):
        small.add(i, f"m{i}")
    assert small.names == ["m0", "m3"]  # the first (untrained) member stays, the oldest others go
    state = small.state_dict()
    other = OpponentPool(capacity=2)
    other.load_state_dict(state)
    assert other.names == small.names and other.members == small.members


def test_empty_pool_is_an_error():
    with pytest.raises(ValueError, match="empty"):
        OpponentPool().probabilities()

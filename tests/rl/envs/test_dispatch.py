"""Ride dispatch env: matching, expiry, repositioning and fares by hand; the demand model; the baselines."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import dlfrontier.rl.envs  # noqa: F401
from dlfrontier.rl.envs.baselines import (
    DispatchRulePolicy,
    RandomPolicy,
    evaluate_episodes,
    greedy_dispatch,
    historical_hotspots,
)
from dlfrontier.rl.envs.dispatch import RideDispatchEnv


def line_city(patience: int = 2, drivers: tuple[int, ...] = (0, 2), requests: tuple = ()) -> RideDispatchEnv:
    """A 1 x 3 city (zones 0-1-2) with drivers and waiting requests ``(origin, destination, age)`` put in by hand
    and no further arrivals."""
    env = RideDispatchEnv(rows=1, cols=3, n_drivers=len(drivers), horizon=5, patience=patience, max_pickup=2)
    env.reset(seed=0)
    env._start([np.zeros((0, 2), dtype=int)] * env.horizon, np.array(drivers))
    env.requests = np.array(requests, dtype=int).reshape(-1, 3)
    env.totals["requests"] = len(env.requests)
    return env


def test_matching_by_hand() -> None:
    env = line_city(requests=((0, 2, 1), (1, 1, 0)))
    # radius 1: the older request (zone 0 -> 2) gets driver 0 in its zone; the other driver (zone 2) is 1 zone
    # from the second request (zone 1 -> 1)
    obs, r, _, _, info = env.step(env.encode_action(None, radius=1, fraction=0.0))
    assert info["served"] == 2 and info["expired"] == 0
    assert info["fare"] == pytest.approx((1 + 0.5 * 2) + (1 + 0.0))
    assert info["cost"] == pytest.approx(0.2 * 2 + 0.2 * 1)
    assert r == pytest.approx(3.0 - 0.6)
    # driver 0 drives 2 zones (busy 2, now 1 left), driver 1 one zone of pickup (busy 1, now idle in zone 1)
    np.testing.assert_array_equal(env.pos, [2, 1])
    np.testing.assert_array_equal(env.busy, [1, 0])
    np.testing.assert_allclose(obs[:3], [0, 0.5, 0])  # idle drivers per zone / 2
    np.testing.assert_allclose(obs[6:9], [0, 0, 0.5])  # driver 0 becomes idle in zone 2 within two steps


@pytest.mark.parametrize(("patience", "expired", "waiting"), [(2, 0, 1), (1, 1, 0)])
def test_radius_zero_leaves_far_requests_and_they_expire(patience: int, expired: int, waiting: int) -> None:
    env = line_city(patience=patience, requests=((0, 2, 1), (1, 1, 0)))
    _, r, _, _, info = env.step(env.encode_action(None, radius=0, fraction=0.0))
    assert info["served"] == 1 and info["expired"] == expired
    assert r == pytest.approx(2.0 - 0.4)
    assert len(env.requests) == waiting


def test_repositioning_by_hand() -> None:
    env = line_city(drivers=(0, 0))
    action = env.encode_action(np.array([0.0, 0.0, 1.0]), radius=2, fraction=1.0)
    shares, _, _ = env.decode_action(action)
    assert shares[2] > 0.9
    # want 2 * shares = [0.095, 0.095, 1.81] drivers; zone 0's surplus 1.9 -> one driver moves to zone 2
    _, r, _, _, info = env.step(action)
    assert r == pytest.approx(-0.2 * 2)
    np.testing.assert_array_equal(env.pos, [2, 0])
    np.testing.assert_array_equal(env.busy, [1, 0])


def test_action_encoding_round_trip() -> None:
    env = RideDispatchEnv()
    shares = np.arange(1, 10, dtype=float)
    shares /= shares.sum()
    got, radius, fraction = env.decode_action(env.encode_action(shares, radius=1, fraction=0.25))
    np.testing.assert_allclose(got, shares, rtol=1e-5)
    assert radius == 1 and fraction == pytest.approx(0.25)


def test_demand_follows_time_of_day() -> None:
    env = RideDispatchEnv()
    centre = 4
    _, origin_am, dest_am = env.od_distribution(env.horizon // 4)
    _, origin_pm, dest_pm = env.od_distribution(3 * env.horizon // 4)
    assert origin_am[centre] < 0.05 and dest_am[0, centre] > 0.7  # morning: into downtown
    assert origin_pm[centre] > 0.7 and dest_pm[0, centre] < 0.05  # evening: out of it
    # over the day the mean number of requests per step is close to `rate`
    mean = np.mean([env.od_distribution(t)[0] for t in range(env.horizon)])
    assert mean == pytest.approx(env.rate, rel=0.1)


def test_served_counts_add_up() -> None:
    env = gym.make("dlfrontier/RideDispatch-v0").unwrapped
    out = evaluate_episodes(greedy_dispatch(env), env, [0])
    tot = env.totals
    assert tot["requests"] == sum(len(a) for a in env.arrivals)
    assert tot["served"] + tot["expired"] + len(env.requests) == tot["requests"]
    assert out["served_rate"][0] == pytest.approx(tot["served"] / tot["requests"])


def test_hotspots_are_downtown() -> None:
    env = gym.make("dlfrontier/RideDispatch-v0").unwrapped
    shares = historical_hotspots(env, range(3))
    assert shares.sum() == pytest.approx(1.0)
    assert int(np.argmax(shares)) == 4


def test_baselines_beat_random() -> None:
    env = gym.make("dlfrontier/RideDispatch-v0").unwrapped
    seeds = range(100, 108)
    rand = evaluate_episodes(RandomPolicy(env.action_space, seed=0), env, seeds)
    greedy = evaluate_episodes(greedy_dispatch(env), env, seeds)
    hot = evaluate_episodes(DispatchRulePolicy(env, historical_hotspots(env, range(3)), None, 1.0), env, seeds)
    assert greedy["return"].mean() > rand["return"].mean() + 10
    assert hot["served_rate"].mean() > greedy["served_rate"].mean() + 0.02

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


def line_city(patience: int = 2, drivers: tuple[int, ...] = (0, 2), requests: tuple = (),
              action_mode: str = "policy") -> RideDispatchEnv:
    """A 1 x 3 city (zones 0-1-2, downtown is zone 1) with drivers and waiting requests ``(origin, destination,
    age)`` put in by hand and no further arrivals."""
    env = RideDispatchEnv(rows=1, cols=3, n_drivers=len(drivers), horizon=5, patience=patience, max_pickup=2,
                          action_mode=action_mode)
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


# -- action_mode="templates": a discrete choice of dispatch rule ---------------------------------------------


def test_templates_decode() -> None:
    env = RideDispatchEnv(action_mode="templates")
    assert env.action_space == gym.spaces.Discrete(7)
    shares, radius, fraction = env.decode_action(0)
    assert radius == 1 and fraction == 0.0
    shares, radius, fraction = env.decode_action(np.int64(4))
    np.testing.assert_array_equal(shares, np.eye(9)[4])  # towards downtown, all of the surplus
    assert radius == 1 and fraction == 1.0
    shares, _, fraction = env.decode_action(5)
    assert shares[4] == 0 and shares.sum() == pytest.approx(1.0) and fraction == 0.5
    for bad in (7, -1, 2.0, np.array([1]), "3"):
        with pytest.raises(ValueError, match="template index"):
            env.decode_action(bad)
    with pytest.raises(ValueError, match="action_mode"):
        RideDispatchEnv(action_mode="per_driver")


@pytest.mark.parametrize(("template", "reward", "positions"), [(0, 0.0, [1, 1]), (5, -0.2, [0, 1]), (6, -0.4, [0, 2])])
def test_template_repositioning_by_hand(template: int, reward: float, positions: list[int]) -> None:
    # both drivers idle downtown (zone 1); residential target shares [0.5, 0, 0.5]: want [1, 0, 1], surplus 2 in
    # zone 1. Template 5 moves floor(0.5 * 2) = 1 driver (to zone 0: tie, lowest zone), template 6 both
    env = line_city(drivers=(1, 1), action_mode="templates")
    _, r, _, _, _ = env.step(template)
    assert r == pytest.approx(reward)
    np.testing.assert_array_equal(env.pos, positions)
    np.testing.assert_array_equal(env.busy, [0, 0])  # one zone takes one step, which has passed


def test_templates_match_with_the_full_radius() -> None:
    # a request in zone 0 and the only driver in zone 2: two zones of pickup, within max_pickup = 2
    env = line_city(drivers=(2,), requests=((0, 1, 0),), action_mode="templates")
    _, r, _, _, info = env.step(0)
    assert info["served"] == 1
    assert r == pytest.approx((1 + 0.5 * 1) - 0.2 * (2 + 1))


def test_templates_same_scenario_and_check_env() -> None:
    import warnings

    from gymnasium.utils.env_checker import check_env

    cont, disc = RideDispatchEnv(), RideDispatchEnv(action_mode="templates")
    cont.reset(seed=9)
    disc.reset(seed=9)
    assert all(np.array_equal(a, b) for a, b in zip(cont.arrivals, disc.arrivals, strict=True))
    np.testing.assert_array_equal(cont.pos, disc.pos)
    # template 0 is the greedy baseline's action
    greedy = evaluate_episodes(greedy_dispatch(cont), cont, [9])["return"][0]
    assert evaluate_episodes(ConstantTemplate(0), disc, [9])["return"][0] == pytest.approx(greedy)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*infinity")
        check_env(RideDispatchEnv(action_mode="templates"), skip_render_check=True)
    returns = []
    for _ in range(2):
        env = RideDispatchEnv(action_mode="templates")
        env.action_space.seed(1)
        env.reset(seed=2)
        returns.append([env.step(env.action_space.sample())[1] for _ in range(48)])
    assert returns[0] == returns[1]


class ConstantTemplate:
    """Always the same template."""

    def __init__(self, k: int) -> None:
        self.k = k

    def predict(self, obs: np.ndarray, deterministic: bool = True) -> int:
        return self.k

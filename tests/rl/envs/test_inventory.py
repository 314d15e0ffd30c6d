"""Inventory env: one-step transitions and costs computed by hand, the normalized mapping, base-stock policies."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import dlfrontier.rl.envs  # noqa: F401
from dlfrontier.rl.envs.baselines import (
    BaseStockPolicy,
    RandomPolicy,
    SSPolicy,
    coordinate_search,
    evaluate_episodes,
    fit_base_stock,
)
from dlfrontier.rl.envs.inventory import InventoryEnv

# two stocking stages (retailer, distributor) under a supplier; numbers chosen to be easy to follow by hand
SMALL = dict(periods=3, initial_inventory=(10, 6), price=2.0, replenishment_cost=(1.5, 1.0, 0.5),
             penalty=(0.1, 0.05, 0.02), holding_cost=(0.2, 0.1), capacity=(8, 50), lead_time=(1, 0),
             demand_sequence=(7, 4, 30), discount=1.0)


def test_three_periods_by_hand() -> None:
    env = InventoryEnv(**SMALL)
    obs, _ = env.reset(seed=0)
    # on hand [10, 6], backlog [0, 0, 0], pipeline of the retailer (L=1) [0], time 0
    np.testing.assert_allclose(obs, [10, 6, 0, 0, 0, 0, 0])

    # period 0: the retailer orders 8 but the distributor has only 6 on hand (its own order of 5 arrives at
    # once, L=0, but after it ships)
    obs, r, term, _, info = env.step(np.array([8, 5], dtype=np.float32))
    # sold [7, 6, 5]; on hand [10-7, 6+5-6] = [3, 5]; unmet [0, 8-6, 0]
    # profits: retailer 2*7 - 1.5*6 - 0.2*3 = 4.4; distributor 1.5*6 - 1*5 - 0.05*2 - 0.1*5 = 3.4;
    # supplier 1*5 - 0.5*5 = 2.5
    np.testing.assert_allclose(info["stage_profit"], [4.4, 3.4, 2.5])
    assert r == pytest.approx(10.3)
    assert not term
    np.testing.assert_allclose(obs, [3, 5, 0, 2, 0, 6, 1 / 3], rtol=1e-6)

    # period 1: no new orders, but the 2 backlogged units are re-requested; the 6 shipped units arrive
    obs, r, term, _, info = env.step(np.array([0, 0], dtype=np.float32))
    # on hand [3+6, 5] -> sell 4, ship 2 -> [5, 3]
    # profits: 2*4 - 1.5*2 - 0.2*5 = 4.0; 1.5*2 - 0.1*3 = 2.7; 0
    np.testing.assert_allclose(info["stage_profit"], [4.0, 2.7, 0.0])
    assert r == pytest.approx(6.7)
    np.testing.assert_allclose(obs, [5, 3, 0, 0, 0, 2, 2 / 3], rtol=1e-6)

    # period 2: demand 30 against 5 + 2 arriving = 7 on hand: 23 backlogged at 0.1 each
    obs, r, term, _, info = env.step(np.array([0, 0], dtype=np.float32))
    np.testing.assert_allclose(info["stage_profit"], [2 * 7 - 0.1 * 23, -0.1 * 3, 0.0])
    assert r == pytest.approx(11.7 - 0.3)
    assert term
    np.testing.assert_allclose(obs, [0, 3, 23, 0, 0, 0, 1.0], rtol=1e-6)
    assert env.episode_metrics()["profit"] == pytest.approx(10.3 + 6.7 + 11.4)
    assert env.episode_metrics()["fill_rate"] == pytest.approx((7 + 4 + 7) / (7 + 4 + 30))


def test_lost_sales_and_discount() -> None:
    env = InventoryEnv(**{**SMALL, "backlog": False, "discount": 0.5})
    env.reset(seed=0)
    _, r0, _, _, info = env.step(np.array([8, 5], dtype=np.float32))
    assert r0 == pytest.approx(10.3)  # the unfilled order is charged the same, but not carried over
    obs, r1, _, _, info = env.step(np.array([0, 0], dtype=np.float32))
    # nothing re-requested: the distributor ships 0 and keeps 5; retailer 3 + 6 - 4 = 5
    np.testing.assert_allclose(info["stage_profit"], [2 * 4 - 0.2 * 5, -0.1 * 5, 0.0])
    assert r1 == pytest.approx(0.5 * (7.0 - 0.5))
    np.testing.assert_allclose(obs[2:5], [0, 0, 0])  # no backlog in the observation


def test_normalized_actions_and_observations() -> None:
    env = InventoryEnv(**SMALL, normalize=True)
    obs, _ = env.reset(seed=0)
    np.testing.assert_allclose(obs[:2], [10 / 50, 6 / 50])  # divided by the largest capacity
    a = env.encode_action(np.array([4, 25]))
    np.testing.assert_allclose(a, [0.0, 0.0])  # the middle of [0, capacity]
    raw = InventoryEnv(**SMALL)
    raw.reset(seed=0)
    _, r_norm, _, _, _ = env.step(a)
    _, r_raw, _, _, _ = raw.step(np.array([4, 25], dtype=np.float32))
    assert r_norm == pytest.approx(r_raw)


def test_inventory_position_matches_policy_view() -> None:
    env = gym.make("dlfrontier/Inventory-v0").unwrapped
    policy = BaseStockPolicy(env, [60, 180, 400])
    obs, _ = env.reset(seed=1)
    for _ in range(12):
        np.testing.assert_allclose(policy.position(obs), env.inventory_position(), atol=1e-4)
        obs, *_ = env.step(policy.predict(obs)[0])


def test_base_stock_orders_up_to_level() -> None:
    env = InventoryEnv(**SMALL)
    obs, _ = env.reset(seed=0)
    # echelon positions: retailer 10, retailer + distributor 16; levels 15 and 60 -> orders 5 and 44
    np.testing.assert_allclose(BaseStockPolicy(env, [15, 60]).predict(obs)[0], [5, 44])
    # (s, S) with s below the position orders nothing there
    np.testing.assert_allclose(SSPolicy(env, [9, 40], [15, 60]).predict(obs)[0], [0, 44])
    # orders above capacity are capped at it
    np.testing.assert_allclose(BaseStockPolicy(env, [30, 60]).predict(obs)[0], [8, 44])


def test_base_stock_beats_random_by_far() -> None:
    env = gym.make("dlfrontier/Inventory-v0").unwrapped
    seeds = range(5)
    base = evaluate_episodes(BaseStockPolicy(env, [86, 210, 427]), env, seeds)["return"]
    rand = evaluate_episodes(RandomPolicy(env.action_space, seed=0), env, seeds)["return"]
    assert base.mean() > rand.mean() + 500, (base.mean(), rand.mean())


def test_coordinate_search_finds_integer_maximum() -> None:
    x, v = coordinate_search(lambda z: -float(np.sum((z - np.array([7, 30])) ** 2)), [0, 0], (8, 2, 1))
    np.testing.assert_array_equal(x, [7, 30])
    assert v == 0


def test_fit_base_stock_improves_on_its_start() -> None:
    env = InventoryEnv(periods=12, lead_time=(1, 1, 2))
    seeds = [100, 101]
    policy, best = fit_base_stock(env, seeds)
    start = BaseStockPolicy(env, np.round(20 * np.cumsum(env.L + 1)))
    assert best == pytest.approx(evaluate_episodes(policy, env, seeds)["return"].mean())
    assert best >= evaluate_episodes(start, env, seeds)["return"].mean()

"""Return and target math against hand-computed values and a naive reference."""

import numpy as np
import pytest
import torch

from dlfrontier.rl.common.returns import discounted_returns, double_q_target, gae, n_step_return, td_target


def test_n_step_return_full_and_cut_by_termination():
    assert n_step_return([1, 2, 3], [False, False, False], 0.5) == (2.75, 0.125, False)
    assert n_step_return([1, 2, 3], [False, True, False], 0.5) == (2.0, 0.25, True)
    assert n_step_return([4], [True], 0.9) == (4.0, 0.9, True)


def test_td_target_masks_terminal_bootstrap():
    t = torch.tensor
    out = td_target(t([1.0, 2.0]), t([10.0, 10.0]), t([0.0, 1.0]), t([0.9, 0.9]))
    assert torch.allclose(out, torch.tensor([10.0, 2.0]))


def test_double_q_target_online_selects_target_evaluates():
    online = torch.tensor([[1.0, 5.0], [3.0, 2.0]])  # argmax -> [1, 0]
    target = torch.tensor([[10.0, 20.0], [30.0, 40.0]])  # evaluated -> [20, 30] (max would give [20, 40])
    out = double_q_target(torch.tensor([0.0, 1.0]), online, target, torch.zeros(2), torch.full((2,), 0.5))
    assert torch.allclose(out, torch.tensor([10.0, 16.0]))
    all_done = double_q_target(torch.tensor([0.0, 1.0]), online, target, torch.ones(2), torch.full((2,), 0.5))
    assert torch.allclose(all_done, torch.tensor([0.0, 1.0]))


def _gae_case(term, end, next_values):
    r = np.ones((3, 1), np.float32)
    v = np.full((3, 1), 0.5, np.float32)
    nv = np.asarray(next_values, np.float32).reshape(3, 1)
    return gae(r, v, nv, np.asarray(term).reshape(3, 1), np.asarray(end).reshape(3, 1), 0.9, 0.8)


def test_gae_hand_values_no_end_terminated_truncated():
    adv, ret = _gae_case([0, 0, 0], [0, 0, 0], [0.5, 0.5, 0.5])
    assert np.allclose(adv[:, 0], [2.12648, 1.634, 0.95])
    assert np.allclose(ret, adv + 0.5)
    # terminated at t=1: no bootstrap there and the recursion stops
    adv, _ = _gae_case([0, 1, 0], [0, 1, 0], [0.5, 0.5, 0.5])
    assert np.allclose(adv[:, 0], [1.31, 0.5, 0.95])
    # truncated at t=1: bootstraps from the final observation's value (2.0), the recursion still stops
    adv, _ = _gae_case([0, 0, 0], [0, 1, 0], [0.5, 2.0, 0.5])
    assert np.allclose(adv[:, 0], [2.606, 2.3, 0.95])


def _naive_gae(r, v, nv, term, end, gamma, lam):
    T, N = r.shape
    adv = np.zeros((T, N))
    for n in range(N):
        for t in range(T):
            total, coef = 0.0, 1.0
            for k in range(t, T):
                delta = r[k, n] + gamma * (1 - term[k, n]) * nv[k, n] - v[k, n]
                total += coef * delta
                if end[k, n]:
                    break
                coef *= gamma * lam
            adv[t, n] = total
    return adv


def test_gae_matches_naive_sum_on_random_rollouts():
    rng = np.random.default_rng(0)
    T, N = 17, 3
    r, v, nv = rng.normal(size=(3, T, N)).astype(np.float32)
    term = rng.random((T, N)) < 0.1
    end = term | (rng.random((T, N)) < 0.1)
    adv, _ = gae(r, v, nv, term, end, 0.97, 0.9)
    assert np.allclose(adv, _naive_gae(r, v, nv, term, end, 0.97, 0.9), atol=1e-5)


@pytest.mark.parametrize("lam", [0.0, 1.0])
def test_gae_extremes_are_td_error_and_monte_carlo(lam):
    rng = np.random.default_rng(1)
    r, v, nv = rng.normal(size=(3, 6, 2)).astype(np.float32)
    nv[:-1] = v[1:]  # consistent values: the next step's V(s_{t+1})
    term = np.zeros((6, 2), bool)
    term[-1] = True
    adv, _ = gae(r, v, nv, term, term, 0.9, lam)
    if lam == 0.0:
        assert np.allclose(adv, r + 0.9 * nv * (1 - term) - v, atol=1e-6)
    else:  # with a terminal at the end, lambda=1 gives Monte Carlo returns minus the baseline
        mc = discounted_returns(r, term, np.zeros(2), 0.9)
        assert np.allclose(adv, mc - v, atol=1e-5)


def test_discounted_returns_restart_at_episode_ends():
    r = np.array([[1.0], [1.0], [1.0]], np.float32)
    end = np.array([[False], [True], [False]])
    out = discounted_returns(r, end, np.array([10.0]), 0.5)
    assert np.allclose(out[:, 0], [1.5, 1.0, 6.0])

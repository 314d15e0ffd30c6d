"""The naive n-step reference for replay tests: rebuild each stored n-step transition from the one-step stream."""

from __future__ import annotations

import pytest
import torch

from dlfrontier.rl.common.buffers import ReplayBatch


def assert_n_step_matches_one_step(one: ReplayBatch, n_step: ReplayBatch, count: int, n: int, gamma: float) -> None:
    """Transition ``i`` of ``n_step`` (the first ``count``) = the discounted sum of one-step rewards ``i, i+1, ...``
    up to ``n`` of them or the first termination, bootstrap discount ``gamma^k``, the k-th next observation."""
    for i in range(count):
        g, disc, j = 0.0, 1.0, i
        while True:
            g += disc * float(one.rewards[j])
            disc *= gamma
            if one.dones[j] or j == i + n - 1:
                break
            j += 1
        assert torch.equal(n_step.obs[i], one.obs[i]) and torch.equal(n_step.actions[i], one.actions[i])
        assert float(n_step.rewards[i]) == pytest.approx(g, rel=1e-6)
        assert float(n_step.discounts[i]) == pytest.approx(disc, rel=1e-6)
        assert bool(n_step.dones[i]) == bool(one.dones[j]) and torch.equal(n_step.next_obs[i], one.next_obs[j])

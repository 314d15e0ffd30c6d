"""Helpers of the population tests."""

from __future__ import annotations

import gymnasium as gym
import pytest


def continuous(env: str) -> bool:
    return isinstance(gym.spec(env).make().action_space, gym.spaces.Box)


def same_returns(a: list[float], b: list[float], env: str) -> None:
    """Identical episode returns; with continuous actions within 1e-6 relative: a Gaussian policy's actions are the
    stacked network's outputs plus noise, and a batched matmul may round the last bit differently from a single one
    on some CPUs (measured: bit-identical on one Xeon, about 1e-8 relative apart on another), where a sampled
    discrete action is the same either way."""
    if continuous(env):
        assert a == pytest.approx(b, rel=1e-6, abs=1e-6)
    else:
        assert a == b


def same_rows(a: list[tuple[str, str, str]], b: list[tuple[str, str, str]], exact: bool) -> None:
    """metrics.csv rows ``(step, key, value)``: the same steps and keys; values equal (``exact``) or within 1e-5."""
    assert [r[:2] for r in a] == [r[:2] for r in b]
    if exact:
        assert a == b
    else:
        assert [float(r[2]) for r in a] == pytest.approx([float(r[2]) for r in b], rel=1e-5, abs=1e-6, nan_ok=True)

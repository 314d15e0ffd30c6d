"""One factory for fast vectorized collection: EnvPool when installed, Gymnasium's vector envs otherwise.

Paper: Weng et al., "EnvPool: A Highly Parallel Reinforcement Learning Environment Execution Engine" (2022,
https://arxiv.org/abs/2206.10558).

EnvPool (an optional, separately installed C++ engine) steps ALE games in a thread pool with the Nature
preprocessing built in; it is used for ``backend="auto"`` when importable and the env is an ALE game. Otherwise
the env is copied into a Gymnasium ``AsyncVectorEnv`` (one process per env; pays off when an env step costs
more than the inter-process round trip, as for ALE) or ``SyncVectorEnv`` (one process; best for cheap envs such
as MinAtar).
"""

from __future__ import annotations

import importlib.util
from typing import Any

import gymnasium as gym

BACKENDS = ("auto", "envpool", "async", "sync")


def envpool_available() -> bool:
    return importlib.util.find_spec("envpool") is not None


def make_vector_env(env_id: str, n_envs: int, *, backend: str = "auto", seed: int = 0, **kwargs: Any) -> Any:
    """``n_envs`` copies of ``env_id`` stepping together.

    Args:
        env_id: a Gymnasium id (``dlfrontier/Atari-Breakout-v5``, ``dlfrontier/MinAtar-Breakout-v0``, ...).
        n_envs: parallel envs.
        backend: ``auto`` (EnvPool for ALE games when installed, else ``async`` for ALE and ``sync`` for
            the rest), ``envpool``, ``async`` or ``sync``.
        seed: EnvPool's seed (Gymnasium vector envs are seeded at ``reset(seed=...)``).
        **kwargs: passed to ``gym.make`` (ignored by EnvPool, which applies its own Nature preprocessing).

    Returns:
        a vector env with the Gymnasium vector API (``reset`` / ``step`` on batches).
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend {backend!r} not in {BACKENDS}")
    is_ale = env_id.startswith("dlfrontier/Atari-") or env_id.startswith("ALE/")
    if backend == "auto":
        backend = "envpool" if is_ale and envpool_available() else ("async" if is_ale else "sync")
    if backend == "envpool":
        if not is_ale:
            raise ValueError(f"EnvPool backend supports ALE games only, not {env_id}")
        from dlfrontier.errors import require

        envpool = require("envpool", "atari")
        game = env_id.split("/")[-1].removeprefix("Atari-").split("-")[0]
        return envpool.make(f"{game}-v5", env_type="gymnasium", num_envs=n_envs, seed=seed, episodic_life=True,
                            reward_clip=True, repeat_action_probability=0.0, noop_max=30, stack_num=4)
    fns = [lambda: gym.make(env_id, **kwargs)] * n_envs
    if backend == "async":
        return gym.vector.AsyncVectorEnv(fns, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    return gym.vector.SyncVectorEnv(fns, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)

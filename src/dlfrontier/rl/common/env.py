"""Env factory and wrappers: env ids or instances, single or vectorized (Gymnasium's vector API), seeding.

Paper: Towers et al., "Gymnasium: A Standardized Interface for Reinforcement Learning Environments" (2024,
https://arxiv.org/abs/2407.17032).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import gymnasium as gym
import numpy as np

from dlfrontier.errors import ConfigError, MissingDependencyError

EnvLike = str | gym.Env


def env_id(env: EnvLike) -> str | None:
    """The registered id of an env (given as id or instance), or ``None`` for an unregistered instance."""
    if isinstance(env, str):
        return env
    spec = getattr(env, "spec", None)
    return spec.id if spec is not None else None


def quiet_mujoco(env: str) -> None:
    """Route MuJoCo's warnings to Python's ``warnings`` before a MuJoCo env id is made.

    Without a warning callback MuJoCo appends each warning (e.g. MuJoCo 4's deprecation of an attribute in
    Gymnasium's HalfCheetah model) to ``MUJOCO_LOG.TXT`` in the working directory, a file in the user's folder.
    Envs that are not MuJoCo's, or a machine without the ``mujoco`` extra, are left alone.
    """
    try:
        entry = str(gym.spec(env).entry_point)
    except gym.error.Error:
        return
    if "mujoco" not in entry:
        return
    try:
        import mujoco
    except ImportError:
        return
    mujoco.set_mju_user_warning(lambda msg: warnings.warn(f"MuJoCo: {msg.strip()}", RuntimeWarning, stacklevel=2))


def make_env(env: EnvLike, *, clip_actions: bool = False) -> gym.Env:
    """An env from an id (``gym.make``) or the instance itself; Box actions optionally clipped to bounds.

    Raises:
        ConfigError: the id is not registered (the message names the error from Gymnasium).
        MissingDependencyError: a MuJoCo env without the ``mujoco`` extra (the message names the install command).
    """
    if isinstance(env, str):
        quiet_mujoco(env)
        try:
            e = gym.make(env)
        except gym.error.DependencyNotInstalled as err:
            if "mujoco" in str(err).lower():
                raise MissingDependencyError(
                    f"{env} needs MuJoCo; install it with: pip install \"dlfrontier[mujoco]\"") from None
            raise ConfigError(f"cannot make env {env!r}: {err}") from None
        except gym.error.Error as err:
            raise ConfigError(f"cannot make env {env!r}: {err}") from None
    elif isinstance(env, gym.Env):
        e = env
    else:
        raise TypeError(f"env must be a Gymnasium env id or instance, got {type(env).__name__}")
    if clip_actions and isinstance(e.action_space, gym.spaces.Box):
        e = gym.wrappers.ClipAction(e)
    return e


def make_vec_env(env: EnvLike, n_envs: int, *, clip_actions: bool = False) -> gym.vector.SyncVectorEnv:
    """``n_envs`` copies in a :class:`gymnasium.vector.SyncVectorEnv` with same-step autoreset.

    With same-step autoreset, the step that ends an episode already returns the next episode's first
    observation and puts the true final observation in ``info["final_obs"]`` (needed to bootstrap
    truncated episodes). An env instance is used as the first copy; the others are made from its spec.
    """
    fns: list[Callable[[], gym.Env]] = []
    if isinstance(env, str):
        fns = [lambda: make_env(env, clip_actions=clip_actions)] * n_envs
    else:
        first = make_env(env, clip_actions=clip_actions)
        fns = [lambda: first]
        if n_envs > 1:
            spec = getattr(env, "spec", None)
            if spec is None:
                raise ConfigError(
                    "n_envs > 1 needs an env id or a registered env (with a spec); got an instance without one"
                )
            fns += [lambda: make_env(gym.make(spec), clip_actions=clip_actions)] * (n_envs - 1)
    return gym.vector.SyncVectorEnv(fns, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)


def final_observations(next_obs: np.ndarray, ended: np.ndarray, infos: dict) -> np.ndarray:
    """The observation each env reached at this step: ``info["final_obs"]`` where an episode ended.

    Shapes:
        next_obs ``[N, *obs]`` (already reset where ``ended``), ended ``[N]``; output ``[N, *obs]``.
    """
    if not ended.any():
        return next_obs
    out = next_obs.copy()
    for i in np.flatnonzero(ended):
        out[i] = infos["final_obs"][i]
    return out


def check_space(
    algo: str, space: gym.Space, supported: tuple[type, ...], alternatives: dict[str, tuple[type, ...]]
) -> None:
    """Raise a TypeError naming the algorithms that support ``space`` when ``algo`` does not.

    Args:
        algo: the algorithm's name.
        space: the env's action space.
        supported: the action space types ``algo`` supports.
        alternatives: ``{algorithm name: supported types}`` of all algorithms.
    """
    if isinstance(space, supported):
        return
    others = [name for name, types in alternatives.items() if isinstance(space, types)]
    kinds = ", ".join(t.__name__ for t in supported)
    hint = f"algorithms that support it: {', '.join(others)}" if others else "no dlfrontier algorithm supports it"
    raise TypeError(f"{algo} supports {kinds} action spaces, not {type(space).__name__}; {hint}")

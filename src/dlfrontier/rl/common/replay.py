"""``dlfrontier eval`` for the RL runs that train one agent on one Gymnasium env: rebuild the agent from the run's
checkpoint, replay deterministic episodes on the evaluation env (the training runs' protocol: from ``EVAL_SEED``),
print the mean ± std return and, on request, write one episode as an animated GIF.

Nothing is written into the run folder: the GIF goes where the caller says.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
import torch

from dlfrontier.errors import CheckpointError, DLFrontierError
from dlfrontier.rl.common.algorithm import Algorithm
from dlfrontier.rl.common.env import quiet_mujoco
from dlfrontier.rl.common.evaluation import EVAL_SEED, evaluate_policy, greedy
from dlfrontier.runtime import resolve_device

AgentFactory = Callable[[Any, int, torch.device], Algorithm]  # (run config, seed, device) -> untrained agent
EnvFactory = Callable[[Any, "str | None"], gym.Env]  # (run config, render_mode) -> evaluation env


class LoadedRunLike(Protocol):
    """What ``dlfrontier eval`` hands an evaluator (``experiments.runner.LoadedRun``)."""

    experiment: str
    seed: int
    step: int
    config: Any
    state: dict[str, Any]


def agent_state(loaded: LoadedRunLike) -> dict[str, Any]:
    """The checkpoint's agent (``state["agent"]``, written by ``train_with_evaluations``) without its replay buffer.

    Raises:
        CheckpointError: the checkpoint holds no agent.
    """
    agent = loaded.state.get("agent") if isinstance(loaded.state, Mapping) else None
    if not isinstance(agent, Mapping) or "modules" not in agent:
        raise CheckpointError(f"the checkpoint of {loaded.experiment} holds no agent")
    state = dict(agent)
    state["extra"] = {k: v for k, v in dict(state.get("extra") or {}).items() if k != "buffer"}
    return state


def _render_env(make_env: EnvFactory, cfg: Any) -> gym.Env:
    """The evaluation env rendering RGB frames, checked by rendering one frame before any episode is played."""
    try:
        env = make_env(cfg, "rgb_array")
        env.reset(seed=EVAL_SEED)
        frame = env.render()
    except gym.error.DependencyNotInstalled as e:
        raise DLFrontierError(f"--gif: {e}".splitlines()[0]) from None
    except (gym.error.Error, ValueError, NotImplementedError) as e:
        raise DLFrontierError(f"--gif: this env cannot draw frames ({type(e).__name__}: {e})") from None
    if not isinstance(frame, np.ndarray) or frame.ndim != 3:
        raise DLFrontierError("--gif: this env renders no RGB frames")
    return env


def replay_run(loaded: LoadedRunLike, *, build: AgentFactory, make_env: EnvFactory, episodes: int = 10,
               gif: str | os.PathLike[str] | None = None, device: str = "auto",
               out_dir: str | os.PathLike[str] | None = None, print_fn: Callable[[str], Any] = print,
               max_frames: int = 1_000) -> dict[str, float]:
    """Play ``episodes`` deterministic episodes of a run's checkpointed agent; print and return the score.

    Args:
        loaded: the run (its config, seed and checkpoint ``state``).
        build: ``(config, seed, device) -> agent`` with the run's network and options (weights are loaded after).
        make_env: ``(config, render_mode) -> env``: the evaluation env of the run.
        episodes: episodes to play (>= 1), from ``EVAL_SEED`` like the run's evaluations.
        gif: write the first episode (at most ``max_frames`` frames) as an animated GIF here.
        device: ``auto``, ``cpu`` or ``cuda``.
        out_dir: unused (nothing but the GIF is written; the caller chose its path).

    Returns:
        ``{"eval/return": mean, "eval/return_std": std}``.

    Raises:
        DLFrontierError: ``episodes < 1``, a checkpoint without an agent, or ``gif`` for an env that cannot draw.
    """
    if int(episodes) < 1:
        raise DLFrontierError(f"episodes={episodes}: expected a whole number >= 1")
    cfg = loaded.config
    state = agent_state(loaded)
    agent = build(cfg, loaded.seed, resolve_device(device))
    agent.load_state_dict(state)
    render = _render_env(make_env, cfg) if gif else None  # a missing renderer fails before the episodes

    policy = greedy(agent)
    returns = evaluate_policy(policy, make_env(cfg, None), int(episodes), seed=EVAL_SEED)
    out = {"eval/return": float(returns.mean()), "eval/return_std": float(returns.std())}
    print_fn(f"{loaded.experiment} seed {loaded.seed} at step {loaded.step}: return {out['eval/return']:.2f} "
             f"± {out['eval/return_std']:.2f} over {int(episodes)} deterministic episodes (from seed {EVAL_SEED})")
    if render is not None and gif:
        from dlfrontier.rl.atari.play import play, write_gif

        frames: list[np.ndarray] = []
        score = play(policy, render, 1, seed=EVAL_SEED, frames=frames, max_frames=max_frames)
        fps = int(render.metadata.get("render_fps") or 30)
        path = write_gif(frames, Path(gif), fps=fps)
        print_fn(f"wrote {path} ({len(frames)} frames, one episode, return {score[0]:.2f})")
    return out


def classic_agent(algo: type[Algorithm], env_id: str) -> AgentFactory:
    """``build`` for a run config with the algorithm's options as ``cfg.algo`` on a registered env id."""

    def build(cfg: Any, seed: int, device: torch.device) -> Algorithm:
        return algo(env_id, seed=seed, device=device, **dataclasses.asdict(cfg.algo))

    return build


def has_tracking_camera(env: gym.Env) -> bool:
    """Whether ``env`` is a MuJoCo env whose model defines the ``track`` camera (Gymnasium's locomotion robots:
    Hopper, Walker2d, HalfCheetah, Ant, ...), which follows the robot's centre of mass."""
    model = getattr(env.unwrapped, "model", None)
    if model is None or not hasattr(model, "camera"):
        return False
    try:
        model.camera("track")
    except (KeyError, TypeError, ValueError):
        return False
    return True


def gym_env(env_id: str, **kwargs: Any) -> EnvFactory:
    """``make_env`` of a registered env id (with ``kwargs``).

    A rendering env of a MuJoCo robot with a ``track`` camera films through it: Gymnasium's default view of the
    v5 locomotion tasks is a free camera whose ``trackbodyid`` does not follow (measured with gymnasium 1.4 and
    MuJoCo 4.0: a hopping robot leaves the frame after ~180 steps, the rest of a GIF shows the empty floor)."""

    def make(cfg: Any, render_mode: str | None) -> gym.Env:
        quiet_mujoco(env_id)
        extra: dict[str, Any] = {"render_mode": render_mode} if render_mode else {}
        env = gym.make(env_id, **kwargs, **extra)
        if render_mode and not {"camera_name", "camera_id"} & set(kwargs) and has_tracking_camera(env):
            env.close()
            env = gym.make(env_id, **kwargs, **extra, camera_name="track")
        return env

    return make


def evaluate_classic(loaded: LoadedRunLike, *, algo: type[Algorithm], env_id: str, **kwargs: Any) -> dict[str, float]:
    """``dlfrontier eval`` of a classic-control run (``algo`` on ``env_id``); ``kwargs``: see :func:`replay_run`."""
    return replay_run(loaded, build=classic_agent(algo, env_id), make_env=gym_env(env_id), **kwargs)


__all__ = ["LoadedRunLike", "agent_state", "classic_agent", "evaluate_classic", "gym_env", "has_tracking_camera",
           "replay_run"]

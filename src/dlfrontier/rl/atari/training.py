"""Training and playing the Atari experiments: what is trained (a :class:`Setup`), the game-score evaluation, the
run, and ``dlfrontier eval`` (play a run's checkpoint, write a GIF).

Evaluation plays separate games with the unclipped game score: epsilon-greedy (Nature DQN: epsilon 0.05) or
actions sampled from the policy (rl-zoo plays Atari PPO agents stochastically: a greedy policy that never presses
FIRE after losing a life stalls the game). Paper: Machado et al., "Revisiting the Arcade Learning Environment"
(2018, https://arxiv.org/abs/1709.06009).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import gymnasium as gym
import numpy as np

from dlfrontier.errors import CheckpointError
from dlfrontier.rl.atari.play import human_normalized, play, write_gif
from dlfrontier.rl.common.algorithm import Algorithm
from dlfrontier.rl.common.evaluation import EVAL_SEED
from dlfrontier.rl.common.networks import FeaturesFactory
from dlfrontier.rl.common.replay import LoadedRunLike
from dlfrontier.rl.common.training import train_with_evaluations
from dlfrontier.runtime import RunContext, resolve_device

MAX_GAME_STEPS = 27_000  # agent steps after which an evaluation game is cut (108k frames, as in the ALE protocol)


@dataclass(frozen=True)
class Setup:
    """What an Atari experiment trains and plays: the algorithm, the env id, the features factory, the keyword
    arguments of the evaluation env, the ALE game for human-normalized scores (``None``: MinAtar) and the GIF
    upscaling."""

    algo: type[Algorithm]
    env_id: str
    features: Callable[[], FeaturesFactory]
    eval_kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    ale_game: str | None = None
    gif_scale: int = 1

    def eval_env(self, render: bool = False) -> gym.Env:
        kwargs = {**self.eval_kwargs, **({"render_mode": "rgb_array"} if render else {})}
        return gym.make(self.env_id, **kwargs)


class AtariRunConfig(Protocol):
    """The fields an Atari experiment's run config has (``algo``: the algorithm's config dataclass)."""

    algo: Any
    total_steps: int
    eval_every: int
    eval_episodes: int
    eval_epsilon: float
    eval_deterministic: bool
    checkpoint_buffer: bool


def game_scores(agent: Algorithm) -> list[float]:
    """Finished training games' unclipped scores (from RecordGameScore where present, else the returns)."""
    envs: list[gym.Env] = []
    if hasattr(agent, "envs"):
        envs = list(agent.envs.envs)  # type: ignore[attr-defined]
    elif hasattr(agent, "env"):
        envs = [agent.env]  # type: ignore[attr-defined]
    scores: list[float] = []
    for e in envs:
        try:
            scores += list(e.get_wrapper_attr("scores"))
        except AttributeError:
            return list(agent.episode_returns)
    return scores


class Predictor:
    """``obs -> action`` of an agent: its most likely action, or one sampled from its policy."""

    def __init__(self, agent: Algorithm, deterministic: bool = True) -> None:
        self.agent, self.deterministic = agent, deterministic

    def __call__(self, obs: np.ndarray) -> int:
        return int(self.agent.predict(obs, deterministic=self.deterministic)[0])


class GameEvaluation:
    """``agent -> metrics`` for an :class:`~dlfrontier.rl.common.training.Evaluator`: ``episodes`` games from
    ``EVAL_SEED`` with the game score (``eval/return``, ``eval/return_std``, ALE: ``eval/human_normalized``), the
    last 20 training games' score (``rollout/return``) and the learner's clipped return."""

    def __init__(self, setup: Setup, episodes: int, *, epsilon: float, deterministic: bool) -> None:
        self.setup, self.episodes, self.epsilon, self.deterministic = setup, episodes, epsilon, deterministic
        self.env = setup.eval_env()

    def scores(self, agent: Algorithm, env: gym.Env | None = None, episodes: int | None = None,
               frames: list[np.ndarray] | None = None) -> np.ndarray:
        return play(Predictor(agent, self.deterministic), self.env if env is None else env,
                    self.episodes if episodes is None else episodes, seed=EVAL_SEED, epsilon=self.epsilon,
                    max_steps=MAX_GAME_STEPS, frames=frames, max_frames=1_500)

    def __call__(self, agent: Algorithm) -> dict[str, float]:
        scores = self.scores(agent)
        recent = game_scores(agent)[-20:]
        metrics = {"eval/return": float(scores.mean()), "eval/return_std": float(scores.std()),
                   "rollout/return": float(np.mean(recent)) if recent else float("nan"),
                   "rollout/learner_return": agent.recent_return()}
        if self.setup.ale_game is not None:
            metrics["eval/human_normalized"] = human_normalized(metrics["eval/return"], self.setup.ale_game)
        return metrics


def make_agent(setup: Setup, algo_config: Any, *, seed: int, device: Any, playing: bool = False) -> Algorithm:
    """The setup's agent with ``algo_config``'s options; ``playing`` shrinks the replay memory and the envs."""
    kwargs = dataclasses.asdict(algo_config)
    if playing and "buffer_size" in kwargs:
        kwargs["buffer_size"] = 1_000
    if playing and "n_envs" in kwargs:
        kwargs["n_envs"] = 1
    return setup.algo(setup.env_id, features=setup.features(), seed=seed, device=device, **kwargs)


def train_atari(ctx: RunContext, cfg: AtariRunConfig, setup: Setup) -> dict[str, float]:
    """Train ``setup``'s agent with evaluation points, checkpoints and resume; returns the final metrics."""
    agent = make_agent(setup, cfg.algo, seed=ctx.seed, device=ctx.device)
    evaluate = GameEvaluation(setup, cfg.eval_episodes, epsilon=cfg.eval_epsilon,
                              deterministic=cfg.eval_deterministic)
    return train_with_evaluations(ctx, agent, evaluate, total_steps=cfg.total_steps, eval_every=cfg.eval_every,
                                  include_buffer=cfg.checkpoint_buffer)


def evaluate_run(loaded: LoadedRunLike, *, setup: Setup, episodes: int = 10, gif: str | None = None,
                 device: str = "auto", print_fn: Callable[[str], Any] = print,
                 out_dir: str | Path | None = None) -> dict[str, float]:
    """``dlfrontier eval``: play a run's checkpointed agent for ``episodes`` games, print the score, write a GIF.

    Nothing is written but the GIF, at ``gif`` (``out_dir``, where ``dlfrontier eval`` puts its figures, is not
    needed: the caller chose the GIF's path).

    Returns:
        ``{"eval/return": mean score, "eval/return_std": ..., ["eval/human_normalized": ...]}``.
    """
    cfg = loaded.config
    try:
        agent_state = dict(loaded.state["agent"])
    except (KeyError, TypeError):
        raise CheckpointError(f"the checkpoint of {loaded.experiment} holds no agent") from None
    agent_state["extra"] = {k: v for k, v in agent_state.get("extra", {}).items() if k != "buffer"}
    agent = make_agent(setup, cfg.algo, seed=loaded.seed, device=resolve_device(device), playing=True)
    agent.load_state_dict(agent_state)
    evaluation = GameEvaluation(setup, episodes, epsilon=cfg.eval_epsilon, deterministic=cfg.eval_deterministic)
    scores = evaluation.scores(agent)
    out = {"eval/return": float(scores.mean()), "eval/return_std": float(scores.std())}
    line = (f"{loaded.experiment} seed {loaded.seed} at step {loaded.step}: score {out['eval/return']:.2f} "
            f"± {out['eval/return_std']:.2f} over {episodes} games (epsilon {cfg.eval_epsilon})")
    if setup.ale_game is not None:
        out["eval/human_normalized"] = human_normalized(out["eval/return"], setup.ale_game)
        line += f", human-normalized {out['eval/human_normalized']:.3f}"
    print_fn(line)
    if gif:
        frames: list[np.ndarray] = []
        game = evaluation.scores(agent, setup.eval_env(render=True), 1, frames=frames)
        path = write_gif(frames, Path(gif), fps=15 if setup.ale_game is None else 30, scale=setup.gif_scale)
        print_fn(f"wrote {path} ({len(frames)} frames, one game, score {game[0]:.0f})")
    return out


__all__ = ["AtariRunConfig", "GameEvaluation", "Predictor", "Setup", "evaluate_run", "game_scores", "make_agent",
           "train_atari"]

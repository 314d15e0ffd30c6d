"""Per-seat reward bookkeeping on PettingZoo AEC two-player games, and the bug it avoids.

In an AEC environment (Terry et al., PettingZoo, NeurIPS 2021) only one agent acts at a time, but a step can
change *every* agent's reward: the move that wins the game gives the mover +1 and the opponent -1. PettingZoo
keeps each agent's rewards since its last action (``_cumulative_rewards``) and hands them over at that agent's
next :meth:`last` call, the one before it acts again, or, once the game is over, before it steps ``None``. So the
correct bookkeeping for a learner is: *the reward an agent sees at its own turn belongs to its previous action*.

The known bug class is a single-agent wrapper that reads the reward at the wrong time, e.g. right after the
learner's own move (:class:`NaiveSingleAgentEnv`): when the opponent's reply ends the game, the loss arrives on
the opponent's turn and never reaches the learner, which then sees its lost games as reward 0 (and a win it
never made, a draw, the same). :class:`SingleAgentView` is the fixed version and :func:`run_episode` the
per-seat recorder for self-play (both seats learn from one game). ``tests/selfplay/test_attribution.py`` plays
scripted wins, losses and draws for both seats on :mod:`dlfrontier.games.pettingzoo` envs and on PettingZoo's
classic ``tictactoe_v3`` and ``connect_four_v3``.

:func:`classic_env` builds the classic envs, which import pygame at module level: without it, one line naming
``pip install pygame``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dlfrontier.errors import DLFrontierError, MissingDependencyError

Policy = Callable[[dict[str, np.ndarray]], int]  # an observation dict ("observation", "action_mask") -> action

_CLASSIC = ("connect_four_v3", "tictactoe_v3")


class IllegalActionError(DLFrontierError, ValueError):
    """A policy chose an action the action mask forbids (caught before it reaches the environment)."""


def classic_env(name: str, **kwargs: Any) -> Any:
    """PettingZoo's classic ``connect_four_v3`` or ``tictactoe_v3`` AEC env (they need pygame)."""
    import importlib

    if name not in _CLASSIC:
        raise DLFrontierError(f"unknown classic env {name!r}; choose one of: {', '.join(_CLASSIC)}")
    try:
        importlib.import_module("pygame")
        module = importlib.import_module(f"pettingzoo.classic.{name}")
    except ImportError as e:
        missing = "pygame" if "pygame" in str(e) or getattr(e, "name", "") == "pygame" else "pettingzoo"
        hint = "pip install pygame" if missing == "pygame" else 'pip install "dlfrontier[games]"'
        raise MissingDependencyError(f"PettingZoo's classic {name} needs {missing}; install it with: {hint}") from e
    return module.env(**kwargs)


def masked_random(rng: np.random.Generator) -> Policy:
    """A policy playing a uniformly random action among those the mask allows."""
    def policy(obs: dict[str, np.ndarray]) -> int:
        legal = np.flatnonzero(obs["action_mask"])
        return int(legal[rng.integers(len(legal))])
    return policy


def scripted(actions: list[int]) -> Policy:
    """A policy replaying ``actions`` in order (for scripted games)."""
    it = iter(actions)
    return lambda obs: int(next(it))


@dataclass
class Step:
    """One decision of one seat: what it saw, what it did, and the reward credited to that decision."""

    observation: np.ndarray
    action_mask: np.ndarray
    action: int
    reward: float = 0.0
    done: bool = False  # the episode ended before this seat acted again


@dataclass
class Episode:
    """A finished game, per seat: its decisions and its return (the sum of every reward it received)."""

    steps: dict[str, list[Step]] = field(default_factory=dict)
    returns: dict[str, float] = field(default_factory=dict)


def _check_mask(agent: str, action: int, mask: np.ndarray) -> None:
    if not 0 <= action < len(mask) or not mask[action]:
        raise IllegalActionError(f"{agent} chose action {action}, which its action mask forbids "
                                 f"(legal: {np.flatnonzero(mask).tolist()})")


def run_episode(env: Any, policies: Mapping[str, Policy], *, seed: int | None = None) -> Episode:
    """Play one game of an AEC ``env`` with one policy per agent and attribute every reward to the decision
    it belongs to: the reward an agent sees at its turn (``last()``) is added to its previous step; the
    reward it sees after the game ended, before it steps ``None``, is its final step's (``done``).

    A policy's action is checked against the action mask before it reaches the env
    (:class:`IllegalActionError`), so an illegal move never gets through.
    """
    env.reset(seed=seed)
    ep = Episode({a: [] for a in env.possible_agents}, dict.fromkeys(env.possible_agents, 0.0))
    for agent in env.agent_iter():
        obs, reward, termination, truncation, _ = env.last()
        ep.returns[agent] += float(reward)
        mine = ep.steps[agent]
        if mine:
            mine[-1].reward += float(reward)
        if termination or truncation:
            if mine:
                mine[-1].done = True
            env.step(None)
            continue
        mask = np.asarray(obs["action_mask"])
        action = int(policies[agent](obs))
        _check_mask(agent, action, mask)
        mine.append(Step(np.asarray(obs["observation"]).copy(), mask.copy(), action))
        env.step(action)
    return ep


class SingleAgentView:
    """The game from one seat (``learner``), the other seat played by ``opponent`` inside :meth:`step`: a
    Gymnasium-style ``reset() -> obs`` and ``step(action) -> (obs, reward, done)``, with the reward read at the
    learner's own next turn, so a loss on the opponent's move reaches the learner (the correct version of
    :class:`NaiveSingleAgentEnv`)."""

    def __init__(self, env: Any, opponent: Policy, learner: str | None = None) -> None:
        self.env, self.opponent = env, opponent
        self.learner = learner or env.possible_agents[0]

    def _advance(self) -> None:
        """Let the opponent move (or step ``None`` once over) until the learner is to act."""
        while self.env.agents and self.env.agent_selection != self.learner:
            obs, _, termination, truncation, _ = self.env.last()
            if termination or truncation:
                self.env.step(None)
            else:
                action = int(self.opponent(obs))
                _check_mask(self.env.agent_selection, action, np.asarray(obs["action_mask"]))
                self.env.step(action)

    def reset(self, seed: int | None = None) -> dict[str, np.ndarray]:
        self.env.reset(seed=seed)
        self._advance()
        return self.env.last()[0]

    def step(self, action: int) -> tuple[dict[str, np.ndarray], float, bool]:
        obs = self.env.last()[0]
        _check_mask(self.learner, int(action), np.asarray(obs["action_mask"]))
        self.env.step(int(action))
        self._advance()
        obs, reward, termination, truncation, _ = self.env.last()  # the learner's turn: its reward since it moved
        return obs, float(reward), bool(termination or truncation)


class NaiveSingleAgentEnv(SingleAgentView):
    """The buggy wrapper the tests demonstrate: it reads the learner's reward right after the learner's own
    move (``env.rewards[learner]``), before the opponent replies. A game the opponent wins ends on the
    opponent's turn, so the learner's loss is never returned: it sees reward 0 and ``done``."""

    def step(self, action: int) -> tuple[dict[str, np.ndarray], float, bool]:
        self.env.step(int(action))
        reward = float(self.env.rewards.get(self.learner, 0.0))  # BUG: the opponent's reply may change it
        self._advance()
        obs, _, termination, truncation, _ = self.env.last()
        return obs, reward, bool(termination or truncation)


def play_single(view: SingleAgentView, policy: Policy, seed: int | None = None) -> float:
    """The learner's total reward over one game in ``view`` (what a single-agent learner would be trained on)."""
    obs, total, done = view.reset(seed), 0.0, False
    while not done:
        obs, reward, done = view.step(policy(obs))
        total += reward
    return total

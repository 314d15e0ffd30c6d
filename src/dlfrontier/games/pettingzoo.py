"""Every game as a PettingZoo AEC environment (Terry et al., "PettingZoo: Gym for Multi-Agent Reinforcement
Learning", NeurIPS 2021), so agents from other libraries (self-play PPO) can play them.

    from dlfrontier.games.pettingzoo import env
    e = env("connect4-5x4")
    e.reset(seed=0)
    for agent in e.agent_iter():
        obs, reward, termination, truncation, info = e.last()
        mask = obs["action_mask"]
        e.step(None if termination or truncation else int(np.flatnonzero(mask)[0]))

Agents ``player_0`` (moves first) and ``player_1``. An observation is a dict: ``"observation"``, the game's
canonical :meth:`~dlfrontier.games.base.Game.encode` (``float32[planes, rows, cols]``, plane 0 the observing
player's stones), and ``"action_mask"`` (``int8[num_actions]``, all zeros for the player not to move, as
PettingZoo's classic games do). Rewards: +1 to the winner and -1 to the loser when the game ends, 0 otherwise.
An illegal action raises ValueError (``illegal="lose"``: the player who made it loses instead, -1 / +1).
PettingZoo is an optional dependency: ``pip install "dlfrontier[games]"``.
"""

from __future__ import annotations

import functools
from typing import Any, Literal

import numpy as np

from dlfrontier.errors import require
from dlfrontier.games.base import Game, make_game


@functools.cache
def _env_class() -> type:
    pz = require("pettingzoo", "games")
    spaces = require("gymnasium.spaces", "games")

    class GameEnv(pz.AECEnv):  # type: ignore[name-defined,misc]
        """A :class:`~dlfrontier.games.base.Game` as an AEC environment (see the module docstring)."""

        metadata = {"render_modes": ["human", "ansi"], "name": "dlfrontier_game_v0", "is_parallelizable": False}

        def __init__(self, game: Game, render_mode: str | None = None,
                     illegal: Literal["raise", "lose"] = "raise") -> None:
            super().__init__()
            if render_mode not in (None, "human", "ansi"):
                raise ValueError(f"render_mode {render_mode!r}: choose None, 'human' or 'ansi'")
            if illegal not in ("raise", "lose"):
                raise ValueError(f"illegal={illegal!r}: choose 'raise' or 'lose'")
            self.game = game
            self.render_mode = render_mode
            self.illegal = illegal
            self.metadata = {**self.metadata, "name": f"{game.name.replace('-', '_')}_v0"}
            self.possible_agents = ["player_0", "player_1"]
            obs_space = spaces.Dict({
                "observation": spaces.Box(0.0, 1.0, (game.num_planes, game.rows, game.cols), np.float32),
                "action_mask": spaces.Box(0, 1, (game.num_actions,), np.int8),
            })
            self.observation_spaces = dict.fromkeys(self.possible_agents, obs_space)
            self.action_spaces = {a: spaces.Discrete(game.num_actions) for a in self.possible_agents}
            self.state_ = game.initial()

        def observation_space(self, agent: str) -> Any:
            return self.observation_spaces[agent]

        def action_space(self, agent: str) -> Any:
            return self.action_spaces[agent]

        def observe(self, agent: str) -> dict[str, np.ndarray]:
            planes = self.game.encode(self.state_)  # from the view of the player to move
            if self.possible_agents.index(agent) != self.game.to_move(self.state_):
                planes = planes.copy()
                planes[[0, 1]] = planes[[1, 0]]
                planes[2] = 1.0 - planes[2]
            mask = np.zeros(self.game.num_actions, dtype=np.int8)
            if agent == self.agent_selection and not self.terminations[agent]:
                mask[self.game.legal(self.state_)] = 1
            return {"observation": planes, "action_mask": mask}

        def reset(self, seed: int | None = None, options: dict | None = None) -> None:
            self.state_ = self.game.initial()
            self.agents = self.possible_agents[:]
            self.rewards = dict.fromkeys(self.agents, 0.0)
            self._cumulative_rewards = dict.fromkeys(self.agents, 0.0)
            self.terminations = dict.fromkeys(self.agents, False)
            self.truncations = dict.fromkeys(self.agents, False)
            self.infos: dict[str, dict] = {a: {} for a in self.agents}
            self.agent_selection = self.agents[0]

        def _finish(self, mover: str, mover_reward: float) -> None:
            other = self.possible_agents[1 - self.possible_agents.index(mover)]
            self.rewards[mover], self.rewards[other] = mover_reward, -mover_reward
            self.terminations = dict.fromkeys(self.agents, True)

        def step(self, action: Any) -> None:
            agent = self.agent_selection
            if self.terminations[agent] or self.truncations[agent]:
                self._was_dead_step(action)
                return
            self._cumulative_rewards[agent] = 0.0
            self.rewards = dict.fromkeys(self.agents, 0.0)
            try:
                self.state_ = self.game.play(self.state_, int(action))
            except (ValueError, TypeError):
                if self.illegal == "raise":
                    raise
                self._finish(agent, -1.0)
            else:
                o = self.game.outcome(self.state_)
                if o is not None:
                    self._finish(agent, -o)  # o is for the player to move next; the mover gets the opposite
            self.agent_selection = self.possible_agents[1 - self.possible_agents.index(agent)]
            self._accumulate_rewards()
            if self.render_mode == "human":
                self.render()

        def render(self) -> str | None:
            if self.render_mode is None:
                return None
            text = self.game.render(self.state_)
            if self.render_mode == "human":
                print(text + "\n")
                return None
            return text

        def close(self) -> None:
            pass

    return GameEnv


def env(name: str | Game, render_mode: str | None = None, illegal: Literal["raise", "lose"] = "raise") -> Any:
    """The AEC environment of the game ``name`` (a registry name or a :class:`Game`)."""
    game = make_game(name) if isinstance(name, str) else name
    return _env_class()(game, render_mode=render_mode, illegal=illegal)


def __getattr__(attr: str) -> Any:
    if attr == "GameEnv":
        return _env_class()
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")

"""MinAtar as Gymnasium envs: five Atari games on a 10x10 grid of boolean object channels.

Paper: Young and Tian, "MinAtar: An Atari-Inspired Testbed for Thorough and Reproducible Reinforcement Learning
Experiments" (2019, https://arxiv.org/abs/1903.03176).

The games come from the ``minatar`` package (``pip install "dlfrontier[minatar]"``); this module wraps them as
Gymnasium envs registered as ``dlfrontier/MinAtar-<Game>-v0`` with the paper's protocol: all 6 actions,
sticky actions with probability 0.1 and difficulty ramping. Observations are ``[10, 10, C]`` uint8 0/1 frames
(channel-last, as MinAtar gives them); ``render_mode="rgb_array"`` draws each object channel in its own colour,
upscaled, for GIFs.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from dlfrontier.errors import require

# gymnasium id suffix -> minatar module name
GAMES: dict[str, str] = {
    "Asterix": "asterix",
    "Breakout": "breakout",
    "Freeway": "freeway",
    "Seaquest": "seaquest",
    "SpaceInvaders": "space_invaders",
}

# one colour per object channel (cycled for games with more channels than colours); background black
PALETTE = np.array(
    [
        [230, 230, 230], [255, 80, 80], [80, 170, 255], [255, 200, 60], [120, 220, 110], [200, 110, 255],
        [255, 140, 40], [60, 220, 210], [255, 120, 200], [160, 160, 60],
    ],
    dtype=np.uint8,
)


def minatar_id(game: str) -> str:
    """``"Breakout"`` -> ``"dlfrontier/MinAtar-Breakout-v0"``."""
    if game not in GAMES:
        raise ValueError(f"unknown MinAtar game {game!r}; choose one of {', '.join(GAMES)}")
    return f"dlfrontier/MinAtar-{game}-v0"


def render_grid(state: np.ndarray, scale: int = 16) -> np.ndarray:
    """A ``[10, 10, C]`` 0/1 frame as an RGB image ``[10*scale, 10*scale, 3]``, one colour per channel.

    Where several channels are set in one cell the highest channel wins (MinAtar's own display does the same).
    """
    h, w, c = state.shape
    # [H, W]: 0 = empty, k = channel k-1 (the highest set channel)
    code = np.max(state.astype(np.int64) * (np.arange(c) + 1), axis=2)
    colours = np.concatenate([np.zeros((1, 3), np.uint8), PALETTE[np.arange(c) % len(PALETTE)]])
    img = colours[code]  # [H, W, 3]
    img = np.repeat(np.repeat(img, scale, axis=0), scale, axis=1)
    if scale >= 4:  # faint grid lines make single cells readable
        img[::scale, :, :] = np.maximum(img[::scale, :, :], 40)
        img[:, ::scale, :] = np.maximum(img[:, ::scale, :], 40)
    return img


class MinAtarEnv(gym.Env):
    """One MinAtar game as a Gymnasium env.

    Args:
        game: one of ``GAMES`` (``"Breakout"``, ``"Asterix"``, ``"Freeway"``, ``"Seaquest"``,
            ``"SpaceInvaders"``).
        sticky_action_prob: probability of repeating the previous action instead (the paper uses 0.1).
        difficulty_ramping: whether the games speed up over time (the paper's default, True).
        render_mode: ``None`` or ``"rgb_array"``.

    Shapes:
        observations ``[10, 10, C]`` uint8 in {0, 1}; ``C`` = 4 (Breakout), 4 (Asterix), 7 (Freeway),
        10 (Seaquest), 6 (SpaceInvaders).
    """

    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": 15}

    def __init__(
        self,
        game: str = "Breakout",
        *,
        sticky_action_prob: float = 0.1,
        difficulty_ramping: bool = True,
        render_mode: str | None = None,
    ) -> None:
        require("minatar", "minatar")
        from minatar import Environment

        if game not in GAMES:
            raise ValueError(f"unknown MinAtar game {game!r}; choose one of {', '.join(GAMES)}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode {render_mode!r} not in (None, 'rgb_array')")
        self.game_name = game
        self.render_mode = render_mode
        self._game = Environment(GAMES[game], sticky_action_prob=sticky_action_prob,
                                 difficulty_ramping=difficulty_ramping)
        shape = tuple(self._game.state_shape())
        self.observation_space = gym.spaces.Box(0, 1, shape, np.uint8)
        self.action_space = gym.spaces.Discrete(self._game.num_actions())
        self._game.seed(0)

    def _obs(self) -> np.ndarray:
        return self._game.state().astype(np.uint8)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        if seed is not None:
            # MinAtar draws from its own RandomState: derive it from Gymnasium's generator so seeding is exact
            self._game.seed(int(self.np_random.integers(2**31 - 1)))
        self._game.last_action = 0
        self._game.reset()
        return self._obs(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        reward, terminal = self._game.act(int(action))
        return self._obs(), float(reward), bool(terminal), False, {}

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        return render_grid(self._game.state())


def register_minatar() -> None:
    """Register ``dlfrontier/MinAtar-<Game>-v0`` for every game (idempotent; needs no ``minatar`` yet)."""
    for game in GAMES:
        env_id = f"dlfrontier/MinAtar-{game}-v0"
        if env_id not in gym.registry:
            gym.register(env_id, entry_point="dlfrontier.rl.atari.minatar:MinAtarEnv", kwargs={"game": game})


register_minatar()

"""The Nature-DQN Atari preprocessing as small composable Gymnasium wrappers.

Papers: Mnih et al., "Human-level control through deep reinforcement learning" (Nature 2015,
https://www.nature.com/articles/nature14236), Methods, "Preprocessing" and "Training details"; Machado et al.,
"Revisiting the Arcade Learning Environment" (2018, https://arxiv.org/abs/1709.06009) on episodic life,
sticky actions and reporting the game score.

:func:`make_atari_env` stacks them in the usual order::

    ALE (frameskip=1) -> NoopReset -> MaxAndSkip -> RecordGameScore -> EpisodicLife* -> FireReset
      -> GrayResize -> ClipReward* -> FrameStack            (* training only)

``RecordGameScore`` sits below episodic life and reward clipping, so it sees whole games and true rewards:
the unclipped game score is what is logged and evaluated, while the agent learns from clipped rewards per
life. Every wrapper works on any env with the same interface, so each is tested on hand-made frames.
"""

from __future__ import annotations

from collections import deque
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

from dlfrontier.errors import require


class NoopReset(gym.Wrapper):
    """Start each episode with a random number (1 to ``noop_max``) of no-op actions: varied start states.

    Args:
        env: the env; action ``noop_action`` must be the no-op.
        noop_max: the most no-ops.
    """

    def __init__(self, env: gym.Env, noop_max: int = 30, noop_action: int = 0) -> None:
        super().__init__(env)
        self.noop_max, self.noop_action = int(noop_max), noop_action

    def reset(self, **kwargs: Any) -> tuple[Any, dict]:
        obs, info = self.env.reset(**kwargs)
        if self.noop_max <= 0:
            return obs, info
        for _ in range(int(self.np_random.integers(1, self.noop_max + 1))):
            obs, _, terminated, truncated, info = self.env.step(self.noop_action)
            if terminated or truncated:
                obs, info = self.env.reset()
        return obs, info


class MaxAndSkip(gym.Wrapper):
    """Repeat each action ``skip`` times, sum the rewards and return the max of the last two frames.

    The pixel-wise max removes the flicker of objects the Atari draws only every other frame.
    """

    def __init__(self, env: gym.Env, skip: int = 4) -> None:
        super().__init__(env)
        if skip < 1:
            raise ValueError(f"skip must be >= 1, got {skip}")
        self.skip = int(skip)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict]:
        total = 0.0
        last: Any = None
        obs: Any = None
        terminated = truncated = False
        info: dict = {}
        for _ in range(self.skip):
            last = obs
            obs, reward, terminated, truncated, info = self.env.step(action)
            total += float(reward)
            if terminated or truncated:
                break
        frame = obs if last is None else np.maximum(last, obs)
        return frame, total, terminated, truncated, info


class RecordGameScore(gym.Wrapper):
    """Sum the true (unclipped) reward of whole games; put it in ``info["game_score"]`` when a game ends.

    Place it below :class:`EpisodicLife` and :class:`ClipReward`. Finished scores are also appended to
    ``self.scores`` (and their lengths in agent steps to ``self.lengths``), which training loops read.
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.scores: list[float] = []
        self.lengths: list[int] = []
        self._score, self._length = 0.0, 0

    def reset(self, **kwargs: Any) -> tuple[Any, dict]:
        self._score, self._length = 0.0, 0
        return self.env.reset(**kwargs)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._score += float(reward)
        self._length += 1
        if terminated or truncated:
            info = {**info, "game_score": self._score, "game_length": self._length}
            self.scores.append(self._score)
            self.lengths.append(self._length)
        return obs, reward, terminated, truncated, info


def _lives(info: dict, env: gym.Env) -> int:
    if "lives" in info:
        return int(info["lives"])
    ale = getattr(env.unwrapped, "ale", None)
    return int(ale.lives()) if ale is not None else 0


class EpisodicLife(gym.Wrapper):
    """A lost life ends the episode for the learner (``terminated=True``); the game itself goes on.

    ``reset`` after a lost life only takes a no-op step; after a true game over it resets the game. The env
    must report ``info["lives"]`` (ALE does) or have ``unwrapped.ale``.
    """

    def __init__(self, env: gym.Env, noop_action: int = 0) -> None:
        super().__init__(env)
        self.noop_action = noop_action
        self.lives = 0
        self.game_over = True

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.game_over = terminated or truncated
        lives = _lives(info, self.env)
        if 0 < lives < self.lives:
            terminated = True
        self.lives = lives
        return obs, reward, terminated, truncated, info

    def reset(self, **kwargs: Any) -> tuple[Any, dict]:
        if self.game_over:
            obs, info = self.env.reset(**kwargs)
        else:
            obs, _, terminated, truncated, info = self.env.step(self.noop_action)
            if terminated or truncated:  # the no-op itself ended the game
                obs, info = self.env.reset(**kwargs)
        self.game_over = False
        self.lives = _lives(info, self.env)
        return obs, info


class FireReset(gym.Wrapper):
    """Press FIRE (action 1) after each reset, for games that wait for it to launch the ball (Breakout).

    Args:
        env: the env.
        fire_action: the FIRE action's index (ALE minimal action sets put it at 1).
        on_life_loss: also press FIRE after each lost life (evaluation without episodic life: a greedy agent
            that never chose FIRE would otherwise wait until the time limit).
    """

    def __init__(self, env: gym.Env, fire_action: int = 1, on_life_loss: bool = False) -> None:
        super().__init__(env)
        self.fire_action = fire_action
        self.on_life_loss = on_life_loss
        self.lives = 0

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        if self.on_life_loss:
            lives = _lives(info, self.env)
            if lives < self.lives and not (terminated or truncated):
                obs, r2, terminated, truncated, info = self.env.step(self.fire_action)
                reward = float(reward) + float(r2)
            self.lives = lives
        return obs, reward, terminated, truncated, info

    def reset(self, **kwargs: Any) -> tuple[Any, dict]:
        obs, info = self.env.reset(**kwargs)
        obs, _, terminated, truncated, info = self.env.step(self.fire_action)
        if terminated or truncated:
            obs, info = self.env.reset(**kwargs)
        self.lives = _lives(info, self.env)
        return obs, info


def gray_resize(frame: np.ndarray, size: tuple[int, int] = (84, 84)) -> np.ndarray:
    """An RGB ``[H, W, 3]`` or grey ``[H, W]`` uint8 frame as a grey ``[h, w]`` uint8 frame (area averaging).

    Grey is ITU-R 601 luma (0.299 R + 0.587 G + 0.114 B); resizing uses Pillow's box filter (the area
    average, as OpenCV's ``INTER_AREA``), so no OpenCV is needed.
    """
    from PIL import Image

    img = Image.fromarray(np.ascontiguousarray(frame, dtype=np.uint8))
    grey = img.convert("L") if frame.ndim == 3 else img
    h, w = size
    return np.asarray(grey.resize((w, h), Image.Resampling.BOX), dtype=np.uint8)


class GrayResize(gym.ObservationWrapper):
    """Observations become ``size`` grey-scale uint8 frames (84x84 as in Nature DQN)."""

    def __init__(self, env: gym.Env, size: tuple[int, int] = (84, 84)) -> None:
        super().__init__(env)
        self.size = tuple(size)
        self.observation_space = gym.spaces.Box(0, 255, self.size, np.uint8)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return gray_resize(np.asarray(observation), self.size)  # type: ignore[arg-type]


class ClipReward(gym.RewardWrapper):
    """Rewards become their sign (-1, 0, +1): one learning rate fits games with very different score scales."""

    def reward(self, reward: float) -> float:  # type: ignore[override]
        return float(np.sign(reward))


class FrameStack(gym.Wrapper):
    """Observations become the last ``k`` frames, oldest first: ``[k, *frame]``; a reset repeats its frame.

    Each step returns a new array (one ``k * 84 * 84`` byte copy); the replay buffer
    (:class:`dlfrontier.rl.atari.buffer.FrameReplayBuffer`) stores each frame once, not the stacks.
    """

    def __init__(self, env: gym.Env, k: int = 4) -> None:
        super().__init__(env)
        space = env.observation_space
        assert isinstance(space, gym.spaces.Box)
        self.k = int(k)
        self.frames: deque[np.ndarray] = deque(maxlen=self.k)
        low = np.repeat(space.low[None], self.k, axis=0)
        high = np.repeat(space.high[None], self.k, axis=0)
        self.observation_space = gym.spaces.Box(low, high, dtype=space.dtype)  # type: ignore[arg-type]

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict]:
        obs, info = self.env.reset(**kwargs)
        for _ in range(self.k):
            self.frames.append(obs)
        return np.stack(self.frames), info

    def step(self, action: Any) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.frames.append(obs)
        return np.stack(self.frames), reward, terminated, truncated, info


def make_atari_env(
    game: str = "Breakout",
    *,
    training: bool = True,
    frame_skip: int = 4,
    noop_max: int = 30,
    frame_stack: int = 4,
    repeat_action_probability: float = 0.0,
    max_episode_frames: int = 108_000,
    render_mode: str | None = None,
) -> gym.Env:
    """``ALE/<game>-v5`` with the Nature-DQN preprocessing; observations ``[4, 84, 84]`` uint8.

    Args:
        game: the ALE game name, e.g. ``"Breakout"``.
        training: add episodic life and reward clipping (what the agent learns from); ``False`` for evaluation
            (whole games, true scores, FIRE pressed after each lost life).
        frame_skip: agent steps repeat each action this many emulator frames (max-pooling the last two).
        noop_max: up to this many no-ops at the start of each game.
        frame_stack: frames per observation.
        repeat_action_probability: ALE sticky actions (0 = the Nature/v4 protocol of the anchors; 0.25 =
            Machado et al.'s v5 default).
        max_episode_frames: emulator frames before truncation (108k = 30 minutes of play).
        render_mode: ``"rgb_array"`` to render the emulator's RGB screen.
    """
    ale_py = require("ale_py", "atari")
    gym.register_envs(ale_py)
    env = gym.make(
        f"ALE/{game}-v5", frameskip=1, repeat_action_probability=repeat_action_probability,
        obs_type="grayscale", full_action_space=False, max_num_frames_per_episode=max_episode_frames,
        render_mode=render_mode,
    )
    env = NoopReset(env, noop_max)
    env = MaxAndSkip(env, frame_skip)
    env = RecordGameScore(env)
    if training:
        env = EpisodicLife(env)
    if "FIRE" in env.unwrapped.get_action_meanings():  # type: ignore[attr-defined]
        fire = env.unwrapped.get_action_meanings().index("FIRE")  # type: ignore[attr-defined]
        env = FireReset(env, fire, on_life_loss=not training)
    env = GrayResize(env, (84, 84))
    if training:
        env = ClipReward(env)
    return FrameStack(env, frame_stack)


def atari_id(game: str) -> str:
    """``"Breakout"`` -> ``"dlfrontier/Atari-Breakout-v5"`` (pass ``training=False`` to make the eval env)."""
    env_id = f"dlfrontier/Atari-{game}-v5"
    if env_id not in gym.registry:
        gym.register(env_id, entry_point="dlfrontier.rl.atari.wrappers:make_atari_env", kwargs={"game": game})
    return env_id


atari_id("Breakout")

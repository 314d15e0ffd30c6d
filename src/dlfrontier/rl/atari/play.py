"""Playing a trained agent: epsilon-greedy or deterministic episodes with the game score, and animated GIFs.

Paper: Machado et al., "Revisiting the Arcade Learning Environment" (2018, https://arxiv.org/abs/1709.06009),
on evaluating with a small epsilon (0.05 in Nature DQN) and reporting the game score.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np

# per-game (random, human) scores from Mnih et al. 2015, Extended Data Table 2, for human-normalized scores
ATARI_REFERENCE: dict[str, tuple[float, float]] = {"Breakout": (1.7, 30.5), "Pong": (-20.7, 9.3)}


def human_normalized(score: float, game: str) -> float:
    """``(score - random) / (human - random)``: 0 = random play, 1 = the Nature paper's human tester."""
    random, human = ATARI_REFERENCE[game]
    return (score - random) / (human - random)


def play(
    predict: Callable[[np.ndarray], int],
    env: gym.Env,
    episodes: int,
    *,
    seed: int = 0,
    epsilon: float = 0.0,
    max_steps: int = 100_000,
    frames: list[np.ndarray] | None = None,
    max_frames: int = 2_000,
) -> np.ndarray:
    """Scores (undiscounted sums of the env's reward) of ``episodes`` games.

    Args:
        predict: ``obs -> action``.
        env: an env whose reward is the game score (no reward clipping, no episodic life).
        episodes: games to play.
        seed: seeds the first reset and the epsilon draws.
        epsilon: probability of a uniformly random action at each step.
        max_steps: steps after which a game is cut (a stuck agent must not hang evaluation).
        frames: if given, ``env.render()`` frames of the first games are appended (needs ``render_mode``).
        max_frames: the most frames collected.

    Returns:
        ``[episodes]`` float64 scores.
    """
    rng = np.random.default_rng(seed)
    env.action_space.seed(seed)
    scores = np.zeros(episodes)
    obs, _ = env.reset(seed=seed)
    for k in range(episodes):
        total, steps, done = 0.0, 0, False
        while not done and steps < max_steps:
            if frames is not None and len(frames) < max_frames:
                frames.append(np.asarray(env.render()))
            action = env.action_space.sample() if rng.random() < epsilon else predict(obs)
            obs, reward, terminated, truncated, _ = env.step(action)
            total += float(reward)
            steps += 1
            done = terminated or truncated
        scores[k] = total
        obs, _ = env.reset()
    return scores


def write_gif(frames: list[np.ndarray], path: str | os.PathLike[str], *, fps: int = 15, scale: int = 1) -> Path:
    """Write RGB frames ``[H, W, 3]`` uint8 as an animated GIF (Pillow; one shared palette, looping).

    Args:
        frames: the frames, at least one.
        path: the GIF file.
        fps: frames per second.
        scale: integer upscaling (nearest neighbour) of each frame.
    """
    from PIL import Image

    if not frames:
        raise ValueError("write_gif needs at least one frame")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images = []
    for f in frames:
        img = np.asarray(f, dtype=np.uint8)
        if scale > 1:
            img = np.repeat(np.repeat(img, scale, axis=0), scale, axis=1)
        images.append(Image.fromarray(img).convert("P", palette=Image.Palette.ADAPTIVE, colors=64))
    images[0].save(path, save_all=True, append_images=images[1:], duration=max(1, round(1000 / fps)), loop=0,
                   optimize=False)
    return path

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


# GIF frame delays are whole centiseconds, and browsers play a delay under 20 ms as 100 ms (a 60 or 125 fps
# episode then runs 6-12 times too slowly): a faster episode keeps every k-th frame instead
MIN_DELAY_MS = 20
DELAY_TOLERANCE = 0.12  # relative error of the played speed accepted before keeping fewer frames


def gif_timing(fps: float) -> tuple[int, int]:
    """``(step, delay_ms)``: keep every ``step``-th frame, each shown ``delay_ms`` (a multiple of 10, at least
    :data:`MIN_DELAY_MS`), the smallest step whose played speed is within :data:`DELAY_TOLERANCE` of ``fps``
    (else the step of the smallest error, up to 100 ms a frame)."""
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    best: tuple[float, int, int] | None = None
    step = 1
    while True:
        exact = 1000.0 * step / fps
        delay = max(MIN_DELAY_MS, int(round(exact / 10.0)) * 10)
        error = abs(delay - exact) / exact
        if error <= DELAY_TOLERANCE:
            return step, delay
        if best is None or error < best[0]:
            best = (error, step, delay)
        if exact >= 100.0:
            return best[1], best[2]
        step += 1


def write_gif(frames: list[np.ndarray], path: str | os.PathLike[str], *, fps: float = 15, scale: int = 1,
              colors: int = 64) -> Path:
    """Write RGB frames ``[H, W, 3]`` uint8 as a looping animated GIF (Pillow) that plays at ``fps``.

    Every frame is mapped, without dithering, to one palette of ``colors`` colours made from up to 16 frames spread
    over the episode (a palette per frame makes a larger file and flickering colours). Above 50 fps only every k-th
    frame is kept (:func:`gif_timing`): GIF delays are whole centiseconds and browsers slow shorter ones down.

    Args:
        frames: the frames, at least one.
        path: the GIF file.
        fps: the frame rate of ``frames`` (the environment's ``render_fps``).
        scale: integer upscaling (nearest neighbour) of each frame.
        colors: palette size, 2-256.
    """
    from PIL import Image

    if not frames:
        raise ValueError("write_gif needs at least one frame")
    if not 2 <= colors <= 256:
        raise ValueError(f"colors must be in [2, 256], got {colors}")
    step, delay = gif_timing(fps)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = []
    for f in frames[::step]:
        img = np.asarray(f, dtype=np.uint8)[..., :3]
        if scale > 1:
            img = np.repeat(np.repeat(img, scale, axis=0), scale, axis=1)
        arrays.append(img)
    sample = np.concatenate([arrays[i] for i in np.linspace(0, len(arrays) - 1, min(16, len(arrays))).astype(int)])
    palette = Image.fromarray(sample).quantize(colors=colors, method=Image.Quantize.MEDIANCUT)
    images = [Image.fromarray(a).quantize(palette=palette, dither=Image.Dither.NONE) for a in arrays]
    images[0].save(path, save_all=True, append_images=images[1:], duration=delay, loop=0, optimize=False)
    return path

"""Procedural, seeded scenes for label-free supervision: free fall, a walking object, a causal pair.

Every generator is deterministic in its seed (a NumPy ``Generator``), renders small grayscale or RGB frames as
``uint8`` and keeps the ground truth (heights, positions, presence) beside them, for evaluation only: the
label-free losses never read it.

- :func:`make_free_fall`: ``T`` frames at fixed ``dt`` of a ball thrown up or sideways (random start height,
  vertical and horizontal velocity) over a textured background, with per-frame camera noise. Heights are in
  frame heights (0 = bottom row, 1 = top row) and follow ``h(t) = h0 + v0 t - g t^2 / 2`` exactly.
- :func:`make_walking`: a small figure moving at constant horizontal velocity across a noisy scene; positions in
  frame widths.
- :func:`make_causal`: single images holding neither object, only the "Mario" object, or both, never the "Peach"
  object alone (Peach => Mario, as in the paper's Super Mario scenes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

FRAMES = 8  # frames per video
DURATION = 1.0  # time from the first to the last frame (time units)
GRAVITY = 1.6  # frame heights per time unit^2: a drop of 0.8 frame heights over the whole video from rest
MARGIN = 0.1  # objects stay inside [MARGIN, 1 - MARGIN] of the frame


def frame_times(frames: int = FRAMES, duration: float = DURATION) -> np.ndarray:
    """The ``frames`` sample times ``0, dt, ..., duration`` (float64)."""
    return np.linspace(0.0, duration, frames)


@dataclass
class Videos:
    """``frames`` ``[N, T, C, H, W]`` uint8; ``heights`` and ``xs`` ``[N, T]`` float32 (frame units)."""

    frames: torch.Tensor
    heights: torch.Tensor
    xs: torch.Tensor
    times: torch.Tensor

    def __len__(self) -> int:
        return len(self.frames)


@dataclass
class CausalImages:
    """``images`` ``[N, 3, H, W]`` uint8; ``present`` ``[N, 2]`` float32: columns (Peach, Mario)."""

    images: torch.Tensor
    present: torch.Tensor

    def __len__(self) -> int:
        return len(self.images)


def textures(rng: np.random.Generator, n: int, size: int, channels: int = 1, *, low: float = 0.0,
             high: float = 0.55) -> np.ndarray:
    """``n`` smooth random textures ``[n, channels, size, size]`` in ``[low, high]``: coarse plus finer noise."""
    out = np.zeros((n, channels, size, size), np.float32)
    for cells, weight in ((3, 0.6), (6, 0.3), (12, 0.1)):
        grid = torch.from_numpy(rng.random((n, channels, cells, cells), dtype=np.float32))
        up = torch.nn.functional.interpolate(grid, size=(size, size), mode="bicubic", align_corners=True)
        out += weight * up.numpy()
    out = np.clip(out, 0.0, 1.0)
    return low + (high - low) * out


def disks(rows: np.ndarray, cols: np.ndarray, radius: float, size: int) -> np.ndarray:
    """Anti-aliased disk masks ``[..., size, size]`` in ``[0, 1]`` centred at pixel ``(rows, cols)``."""
    grid = np.arange(size, dtype=np.float32)
    dr = grid[:, None] - rows[..., None, None]
    dc = grid[None, :] - cols[..., None, None]
    return np.clip(radius + 0.5 - np.sqrt(dr * dr + dc * dc), 0.0, 1.0).astype(np.float32)


def _to_uint8(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8))


def free_fall_trajectories(rng: np.random.Generator, n: int, *, frames: int = FRAMES, gravity: float = GRAVITY,
                           max_vx: float = 0.4) -> tuple[np.ndarray, np.ndarray]:
    """Heights and horizontal positions ``[n, frames]`` of ``n`` throws, all inside the frame's margins.

    The apex time is uniform over the video (so some throws only fall, some rise then fall); the start height
    is uniform over the heights that keep the whole flight inside ``[MARGIN, 1 - MARGIN]``.
    """
    t = frame_times(frames)
    v0 = rng.uniform(0.0, gravity * DURATION, n)  # apex at v0 / g in [0, duration]
    rel = v0[:, None] * t[None, :] - 0.5 * gravity * t[None, :] ** 2
    lo, hi = MARGIN - rel.min(1), 1.0 - MARGIN - rel.max(1)
    h = rng.uniform(lo, hi)[:, None] + rel
    vx = rng.uniform(-max_vx, max_vx, n)
    span = vx[:, None] * t[None, :]
    x = rng.uniform(MARGIN - span.min(1), 1.0 - MARGIN - span.max(1))[:, None] + span
    return h, x


def make_free_fall(n: int, seed: int, *, size: int = 32, frames: int = FRAMES, gravity: float = GRAVITY,
                   noise: float = 0.04, radius: float = 2.2, max_vx: float = 0.4) -> Videos:
    """``n`` videos of a thrown ball in free fall (``frames`` frames of ``size`` x ``size`` grayscale)."""
    rng = np.random.default_rng(seed)
    h, x = free_fall_trajectories(rng, n, frames=frames, gravity=gravity, max_vx=max_vx)
    back = textures(rng, n, size)[:, None]  # [n, 1, 1, s, s]: a static camera, one background per video
    rows, cols = (1.0 - h) * (size - 1), x * (size - 1)
    ball = disks(rows, cols, radius, size)[:, :, None]  # [n, T, 1, s, s]
    bright = rng.uniform(0.8, 1.0, (n, 1, 1, 1, 1)).astype(np.float32)
    img = back * (1 - ball) + bright * ball + rng.normal(0.0, noise, ball.shape).astype(np.float32)
    return Videos(_to_uint8(img), torch.tensor(h, dtype=torch.float32), torch.tensor(x, dtype=torch.float32),
                  torch.tensor(frame_times(frames), dtype=torch.float32))


def walker_masks(rows: np.ndarray, cols: np.ndarray, size: int, phase: np.ndarray) -> np.ndarray:
    """A stick figure ``[..., size, size]``: head disk, body bar and legs that swing with ``phase``."""
    grid = np.arange(size, dtype=np.float32)
    r, c = grid[:, None], grid[None, :]
    rr, cc, ph = rows[..., None, None], cols[..., None, None], phase[..., None, None]
    head = np.clip(1.6 - np.sqrt((r - (rr - 5)) ** 2 + (c - cc) ** 2), 0, 1)
    body = ((np.abs(c - cc) <= 0.6) & (r >= rr - 4) & (r <= rr + 1)).astype(np.float32)
    legs = np.zeros_like(body)
    for sign in (-1.0, 1.0):
        for k in range(1, 5):
            lc = cc + sign * ph * k * 0.5
            legs = np.maximum(legs, ((np.abs(c - lc) <= 0.6) & (np.abs(r - (rr + 1 + k)) <= 0.5)).astype(np.float32))
    return np.clip(np.maximum(np.maximum(head, body), legs), 0.0, 1.0).astype(np.float32)


def make_walking(n: int, seed: int, *, size: int = 32, frames: int = FRAMES, noise: float = 0.06,
                 max_speed: float = 0.8) -> Videos:
    """``n`` videos of a figure walking at constant velocity (``xs`` the truth; ``heights`` its ground row)."""
    rng = np.random.default_rng(seed)
    t = frame_times(frames)
    speed = rng.uniform(0.25, max_speed, n) * rng.choice([-1.0, 1.0], n)
    span = speed[:, None] * t[None, :]
    x = rng.uniform(MARGIN - span.min(1), 1.0 - MARGIN - span.max(1))[:, None] + span
    ground = rng.uniform(0.3, 0.75, n)[:, None] * np.ones_like(x)
    back = textures(rng, n, size, high=0.6)[:, None]
    phase = np.sin(rng.uniform(0, 2 * np.pi, (n, 1)) + 7.0 * t[None, :]).astype(np.float32)
    fig = walker_masks((1.0 - ground) * (size - 1), x * (size - 1), size, phase)[:, :, None]
    img = back * (1 - fig) + 0.95 * fig + rng.normal(0.0, noise, fig.shape).astype(np.float32)
    return Videos(_to_uint8(img), torch.tensor(ground, dtype=torch.float32), torch.tensor(x, dtype=torch.float32),
                  torch.tensor(t, dtype=torch.float32))


# RGB colours of the two objects: Peach a magenta-pink disk, Mario a red square
PEACH_RGB = np.array([0.95, 0.15, 0.95], np.float32)
MARIO_RGB = np.array([0.95, 0.1, 0.1], np.float32)


def make_causal(n: int, seed: int, *, size: int = 32, noise: float = 0.05) -> CausalImages:
    """``n`` RGB scenes, each with equal chance: empty, Mario only, Peach and Mario (never Peach alone)."""
    rng = np.random.default_rng(seed)
    case = rng.integers(0, 3, n)  # 0 neither, 1 Mario only, 2 both
    mario, peach = case >= 1, case == 2
    # grey textures with a faint tint: the objects' saturated colours appear nowhere else
    img = 0.85 * textures(rng, n, size, 1, high=0.6) + 0.15 * textures(rng, n, size, 3, high=0.6)
    grid = np.arange(size, dtype=np.float32)
    # Mario on the left half, Peach on the right half (random rows and columns within them): they never overlap
    m_r, m_c = rng.uniform(5, size - 6, n), rng.uniform(5, size / 2 - 4, n)
    p_r, p_c = rng.uniform(5, size - 6, n), rng.uniform(size / 2 + 3, size - 6, n)
    swap = rng.random(n) < 0.5  # or mirrored
    m_c, p_c = np.where(swap, size - 1 - m_c, m_c), np.where(swap, size - 1 - p_c, p_c)
    sq = ((np.abs(grid[None, :, None] - m_r[:, None, None]) <= 2.5)
          & (np.abs(grid[None, None, :] - m_c[:, None, None]) <= 2.5)).astype(np.float32)
    sq *= mario[:, None, None]
    dk = disks(p_r, p_c, 3.0, size) * peach[:, None, None]
    for mask, rgb in ((sq, MARIO_RGB), (dk, PEACH_RGB)):
        img = img * (1 - mask[:, None]) + rgb[None, :, None, None] * mask[:, None]
    img = img + rng.normal(0.0, noise, img.shape).astype(np.float32)
    present = np.stack([peach, mario], 1).astype(np.float32)
    return CausalImages(_to_uint8(img), torch.from_numpy(present))


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 pixels to float32 in ``[0, 1]``."""
    return x.float().div_(255.0)

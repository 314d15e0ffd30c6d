"""The scene generators: deterministic in their seed, physically right, objects where the truth says."""

from __future__ import annotations

import numpy as np
import torch

from dlfrontier.physics.data import GRAVITY, MARGIN, make_causal, make_free_fall, make_walking


def test_free_fall_is_deterministic_in_its_seed() -> None:
    a, b, c = make_free_fall(6, 3), make_free_fall(6, 3), make_free_fall(6, 4)
    assert torch.equal(a.frames, b.frames) and torch.equal(a.heights, b.heights)
    assert not torch.equal(a.frames, c.frames)
    assert a.frames.shape == (6, 8, 1, 32, 32) and a.frames.dtype == torch.uint8


def test_heights_follow_free_fall() -> None:
    v = make_free_fall(50, 0)
    t, h = v.times.double(), v.heights.double()
    dt = float(t[1] - t[0])
    second_difference = (h[:, 2:] - 2 * h[:, 1:-1] + h[:, :-2]) / dt**2
    np.testing.assert_allclose(second_difference.numpy(), -GRAVITY, atol=1e-3)  # constant acceleration -g
    x = v.xs.double()
    np.testing.assert_allclose((x[:, 2:] - 2 * x[:, 1:-1] + x[:, :-2]).numpy(), 0.0, atol=1e-5)  # no drag
    assert float(h.min()) >= MARGIN - 1e-5 and float(h.max()) <= 1 - MARGIN + 1e-5


def test_the_ball_is_drawn_at_its_height() -> None:
    v = make_free_fall(20, 1, noise=0.0)
    frames = v.frames.float()[:, :, 0]  # [N, T, H, W]
    size = frames.shape[-1]
    # the brightest row of each frame is the ball's row (backgrounds stay below 0.55)
    bright = (frames > 0.75 * 255).float()
    rows = (bright.sum(-1) * torch.arange(size)).sum(-1) / bright.sum((-1, -2)).clamp_min(1)
    expected = (1 - v.heights) * (size - 1)
    assert float((rows - expected).abs().max()) < 1.0


def test_walking_moves_at_constant_velocity() -> None:
    w = make_walking(30, 2)
    assert torch.equal(w.frames, make_walking(30, 2).frames)
    d = w.xs[:, 1:] - w.xs[:, :-1]
    np.testing.assert_allclose(d.numpy(), d[:, :1].expand_as(d).numpy(), atol=1e-5)
    assert float(d.abs().min()) > 0  # every figure moves


def test_causal_scenes_obey_peach_implies_mario() -> None:
    c = make_causal(300, 5)
    assert torch.equal(c.images, make_causal(300, 5).images) and c.images.shape == (300, 3, 32, 32)
    peach, mario = c.present[:, 0], c.present[:, 1]
    assert float((peach * (1 - mario)).sum()) == 0.0  # never Peach alone
    counts = torch.bincount((peach + mario).long(), minlength=3)
    assert int(counts.min()) > 70  # all three cases occur
    img = c.images.float()
    red = img[:, 0] - img[:, 2]  # Mario's red square: red far above blue (Peach is magenta, the ground grey)
    assert bool(((red.amax((-1, -2)) > 150) == mario.bool()).all())
    magenta = img[:, 2] - img[:, 1]  # Peach: blue far above green
    assert bool(((magenta.amax((-1, -2)) > 150) == peach.bool()).all())

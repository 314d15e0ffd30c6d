"""GIFs of episodes: real-time playback (whole-centisecond delays of at least 20 ms) and one shared palette."""

import numpy as np
import pytest
from PIL import Image

from dlfrontier.rl.atari.play import gif_timing, write_gif


@pytest.mark.parametrize("fps, step, delay", [(15, 1, 70), (30, 1, 30), (50, 1, 20), (60, 2, 30), (125, 4, 30)])
def test_gif_timing_keeps_the_played_speed_within_tolerance(fps, step, delay):
    assert gif_timing(fps) == (step, delay)
    assert delay % 10 == 0 and delay >= 20
    assert abs(delay - 1000 * step / fps) / (1000 * step / fps) <= 0.12


def _frames(n, size=32):
    rng = np.random.default_rng(0)
    colours = rng.integers(0, 256, (6, 3))
    out = []
    for i in range(n):  # a square moving over a two-colour background: every frame differs
        f = np.empty((size, size, 3), np.uint8)
        f[:] = colours[0]
        f[size // 2:] = colours[1]
        x = i % (size - 4)
        f[4:8, x:x + 4] = colours[2 + i * 4 // n]  # four colours over the episode
        out.append(f)
    return out


def test_write_gif_thins_fast_episodes_and_shares_one_palette(tmp_path):
    frames = _frames(100)
    path = write_gif(frames, tmp_path / "ep.gif", fps=125)  # MuJoCo Hopper renders at 125 fps
    with Image.open(path) as img:
        assert img.n_frames == 25  # every 4th frame, 30 ms each: 33 fps played, not 10
        palettes, decoded = set(), []
        for k in range(img.n_frames):
            img.seek(k)
            assert img.info["duration"] == 30
            palettes.add(bytes(img.getpalette() or []))
            decoded.append(np.asarray(img.convert("RGB"), dtype=np.int16))
    assert len(palettes - {b""}) == 1  # one colour table: the later frames carry none of their own
    for k, got in enumerate(decoded):  # six colours fit the palette: frames come back exactly
        assert np.array_equal(got, frames[4 * k].astype(np.int16))
    with pytest.raises(ValueError, match="at least one frame"):
        write_gif([], tmp_path / "none.gif")

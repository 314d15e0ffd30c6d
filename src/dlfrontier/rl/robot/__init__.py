"""Robot control from camera images: MuJoCo envs rendered offscreen as stacked RGB frames.

Importing this package registers the pixel tasks (Gymnasium ids, MuJoCo v5 underneath)::

    dlfrontier/InvertedPendulumPixels-v5   # 96x48 RGB, 3 frames stacked, action repeat 2: obs [9, 48, 96] uint8
    dlfrontier/ReacherPixels-v5            # 64x64 RGB for Reacher-v5 (top-down camera, action repeat 4): [9, 64, 64]

so anything that takes an env id (``DrQ("dlfrontier/InvertedPendulumPixels-v5")``, ``gym.make``) can use them.

Headless rendering: on Linux this package sets ``MUJOCO_GL=egl`` *before* MuJoCo is imported (unless the variable
is already set), so frames render on a machine without a display (needs ``libegl1``; OSMesa is not used). Import
``dlfrontier.rl.robot`` before anything imports ``mujoco``, or set ``MUJOCO_GL`` yourself.

Paper: Kostrikov, Yarats and Fergus, "Image Augmentation Is All You Need: Regularizing Deep Reinforcement Learning
from Pixels" (2020, https://arxiv.org/abs/2004.13649), whose pixel setting (stacked RGB frames, action repeat) this
follows; the learner is :class:`dlfrontier.rl.drq.DrQ`.
"""

import os
import sys

if sys.platform.startswith("linux"):
    os.environ.setdefault("MUJOCO_GL", "egl")  # must happen before mujoco is imported (it reads it once)

from dlfrontier.rl.robot.pixels import (  # noqa: E402
    CAMERAS,
    PIXEL_TASKS,
    PixelObservation,
    make_pixel_env,
    register_pixel_envs,
)

register_pixel_envs()

__all__ = ["CAMERAS", "PIXEL_TASKS", "PixelObservation", "make_pixel_env", "register_pixel_envs"]

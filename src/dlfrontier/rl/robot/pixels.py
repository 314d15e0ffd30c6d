"""Camera-image observations for MuJoCo envs: offscreen RGB renders, frame stacking, action repeat.

Paper: Kostrikov, Yarats and Fergus, "Image Augmentation Is All You Need: Regularizing Deep Reinforcement Learning
from Pixels" (DrQ, 2020, https://arxiv.org/abs/2004.13649), Section 5 / Appendix: observations are the last 3 RGB
frames stacked on the channel axis, each action is repeated (4 for most DeepMind Control tasks, 8 for cartpole),
images 84x84. We default to 64x64 to fit a CPU budget (rendering plus a conv encoder per step) and choose the
action repeat per task so that one agent step is 0.08 s of simulated time, as on DMC (:data:`PIXEL_TASKS`).
Frames need not be square: InvertedPendulum is seen in a 96x48 (width x height) frame, the rail's 2 m across and
the pole about 30 pixels tall (in a 64x64 view of the whole rail it is 20 pixels tall and 1-2 wide, and a tilt of
0.2 rad, where the episode ends, moves its tip by 4 pixels).

The scene must be visible: InvertedPendulum-v5's default camera renders a mostly black 84x84 frame with a dim
pole, so :data:`CAMERAS` gives each task a camera (MuJoCo's free camera: ``distance``, ``elevation``, ``azimuth``,
``lookat``) and a brighter headlight. Reacher-v5 is seen from straight above (its arm moves in a plane).
"""

from __future__ import annotations

from collections import deque
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

from dlfrontier.errors import require
from dlfrontier.rl.common.env import quiet_mujoco

# Gymnasium MuJoCo v5 env id -> (default_camera_config, headlight (ambient, diffuse) or None).
CAMERAS: dict[str, tuple[dict[str, Any], tuple[float, float] | None]] = {
    # the whole rail (cart range +-1) and the 0.6 m pole from slightly above, for a 2:1 frame (96x48: at 1:1 use
    # distance 2.4 to keep the rail in view); headlight up (default 0.1/0.4)
    "InvertedPendulum-v5": (
        {"trackbodyid": 0, "distance": 1.25, "elevation": -5.0, "lookat": np.array([0.0, 0.0, 0.3])}, (0.4, 0.8)),
    # top-down on the arm's reach (radius 0.21) and the target (within 0.2 of the centre)
    "Reacher-v5": (
        {"trackbodyid": 0, "distance": 0.6, "elevation": -90.0, "azimuth": 90.0, "lookat": np.zeros(3)}, None),
}

# registered pixel task id -> (the MuJoCo env id it renders, action repeat, frame width, frame height). The repeat
# makes one agent step 0.08 s of simulated time on both tasks, DrQ's control period on DMC cartpole (8 x 0.01 s) and
# reacher (4 x 0.02 s): InvertedPendulum-v5 steps 0.04 s (repeat 2), Reacher-v5 0.02 s (repeat 4).
PIXEL_TASKS: dict[str, tuple[str, int, int, int]] = {
    "dlfrontier/InvertedPendulumPixels-v5": ("InvertedPendulum-v5", 2, 96, 48),
    "dlfrontier/ReacherPixels-v5": ("Reacher-v5", 4, 64, 64),
}


class PixelObservation(gym.Wrapper):
    """Observations become the last ``frame_stack`` rendered RGB frames, channel-first, oldest first.

    Args:
        env: a MuJoCo env made with ``render_mode="rgb_array"`` (its ``width`` and ``height`` set the frame size).
        frame_stack: frames per observation; a reset repeats its first frame.
        action_repeat: env steps per agent step (the action is repeated, rewards summed, only the last state is
            rendered; an episode end stops the repeat early).

    Shapes:
        observations ``[3 * frame_stack, H, W]`` uint8: channels ``3*i .. 3*i+2`` are frame ``i``, the newest
        frame last (channels ``-3:``). ``render()`` returns the current ``[H, W, 3]`` RGB frame.
    """

    def __init__(self, env: gym.Env, *, frame_stack: int = 3, action_repeat: int = 1) -> None:
        super().__init__(env)
        if env.render_mode != "rgb_array":
            raise ValueError(f"PixelObservation needs an env made with render_mode='rgb_array', "
                             f"got {env.render_mode!r}")
        if frame_stack < 1 or action_repeat < 1:
            raise ValueError(f"frame_stack={frame_stack}, action_repeat={action_repeat}: both must be >= 1")
        inner = env.unwrapped
        h, w = int(getattr(inner, "height", 0) or 0), int(getattr(inner, "width", 0) or 0)
        if not (h and w):
            raise ValueError("PixelObservation needs an env with width and height attributes (a Gymnasium MuJoCo env)")
        self.frame_stack, self.action_repeat = int(frame_stack), int(action_repeat)
        self.frames: deque[np.ndarray] = deque(maxlen=self.frame_stack)
        self.observation_space = gym.spaces.Box(0, 255, (3 * self.frame_stack, h, w), np.uint8)

    def _frame(self) -> np.ndarray:
        frame = self.env.render()  # [H, W, 3] uint8
        return np.ascontiguousarray(np.asarray(frame).transpose(2, 0, 1))  # [3, H, W]

    def _observation(self) -> np.ndarray:
        return np.concatenate(self.frames, axis=0)  # [3k, H, W], oldest first

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict]:
        _, info = self.env.reset(**kwargs)
        frame = self._frame()
        for _ in range(self.frame_stack):
            self.frames.append(frame)
        return self._observation(), info

    def step(self, action: Any) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict]:
        total = 0.0
        terminated = truncated = False
        info: dict = {}
        for _ in range(self.action_repeat):
            _, reward, terminated, truncated, info = self.env.step(action)
            total += float(reward)
            if terminated or truncated:
                break
        self.frames.append(self._frame())
        return self._observation(), total, terminated, truncated, info

    def render(self) -> Any:
        return self.env.render()


def make_pixel_env(
    env_id: str = "InvertedPendulum-v5",
    *,
    size: int | tuple[int, int] = 64,
    frame_stack: int = 3,
    action_repeat: int = 1,
    camera: dict[str, Any] | None = None,
    render_mode: str | None = None,
    **env_kwargs: Any,
) -> PixelObservation:
    """A Gymnasium MuJoCo env seen through its camera (:data:`CAMERAS`), as :class:`PixelObservation`.

    Args:
        env_id: the MuJoCo env id (v5).
        size: frame height and width in pixels, or ``(width, height)`` for a frame that is not square.
        frame_stack: RGB frames per observation.
        action_repeat: env steps per agent step (rewards are summed over env steps, so an episode's return is on
            the state-based env's scale; see :data:`PIXEL_TASKS` for the registered tasks' values).
        camera: a ``default_camera_config`` replacing the task's (:data:`CAMERAS`).
        render_mode: ignored (always ``"rgb_array"``); accepted so ``gym.make(id, render_mode=...)`` works.
        **env_kwargs: passed to ``gym.make(env_id, ...)``.

    Raises:
        MissingDependencyError: mujoco is not installed (names the extra).
    """
    require("mujoco", "mujoco")
    quiet_mujoco(env_id)  # MuJoCo's warnings to Python's warnings, not a MUJOCO_LOG.TXT in the working folder
    default_camera, headlight = CAMERAS.get(env_id, ({}, None))
    config = dict(default_camera if camera is None else camera)
    kwargs: dict[str, Any] = {"default_camera_config": config} if config else {}
    w, h = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if min(w, h) < 1:
        raise ValueError(f"frame {w}x{h}: width and height must be >= 1 pixel")
    env = gym.make(env_id, render_mode="rgb_array", width=w, height=h, **kwargs, **env_kwargs)
    if headlight is not None:
        vis = env.unwrapped.model.vis  # type: ignore[attr-defined]
        vis.headlight.ambient[:] = headlight[0]
        vis.headlight.diffuse[:] = headlight[1]
    return PixelObservation(env, frame_stack=frame_stack, action_repeat=action_repeat)


def register_pixel_envs() -> None:
    """Register :data:`PIXEL_TASKS` (the task's frame size and action repeat, 3 frames; ``gym.make`` kwargs override).

    Episodes end where the MuJoCo env's own time limit ends them (1000 env steps for InvertedPendulum-v5, 50 for
    Reacher-v5), so returns are on the state-based scale; the agent sees ``1000 / action_repeat`` steps.
    """
    for task, (env_id, repeat, width, height) in PIXEL_TASKS.items():
        if task not in gym.registry:
            gym.register(task, entry_point="dlfrontier.rl.robot.pixels:make_pixel_env",
                         kwargs={"env_id": env_id, "action_repeat": repeat, "size": (width, height)},
                         disable_env_checker=True)

"""Playing Atari with deep RL: Nature-DQN preprocessing, frame replay, Nature and MinAtar CNNs, MinAtar envs.

Papers: Mnih et al., "Human-level control through deep reinforcement learning" (Nature 2015,
https://www.nature.com/articles/nature14236); Young and Tian, "MinAtar" (2019, https://arxiv.org/abs/1903.03176).

Example::

    from dlfrontier.rl import DQN
    from dlfrontier.rl.atari import atari_id, nature_cnn
    agent = DQN(atari_id("Breakout"), features=nature_cnn(), frame_buffer=True, buffer_size=1_000_000)

ALE needs ``pip install "dlfrontier[atari]"``; MinAtar needs ``pip install "dlfrontier[minatar]"``. Importing
this package needs neither: the env ids are registered and the packages are imported when an env is made.
"""

from dlfrontier.rl.atari.buffer import FrameReplayBuffer
from dlfrontier.rl.atari.minatar import GAMES as MINATAR_GAMES
from dlfrontier.rl.atari.minatar import MinAtarEnv, minatar_id, render_grid
from dlfrontier.rl.atari.networks import MinAtarCNN, NatureCNN, minatar_cnn, nature_cnn
from dlfrontier.rl.atari.play import human_normalized, play, write_gif
from dlfrontier.rl.atari.vector import make_vector_env
from dlfrontier.rl.atari.wrappers import (
    ClipReward,
    EpisodicLife,
    FireReset,
    FrameStack,
    GrayResize,
    MaxAndSkip,
    NoopReset,
    RecordGameScore,
    atari_id,
    gray_resize,
    make_atari_env,
)

__all__ = [
    "MINATAR_GAMES",
    "ClipReward",
    "EpisodicLife",
    "FireReset",
    "FrameReplayBuffer",
    "FrameStack",
    "GrayResize",
    "MaxAndSkip",
    "MinAtarCNN",
    "MinAtarEnv",
    "NatureCNN",
    "NoopReset",
    "RecordGameScore",
    "atari_id",
    "gray_resize",
    "human_normalized",
    "make_atari_env",
    "make_vector_env",
    "minatar_cnn",
    "minatar_id",
    "nature_cnn",
    "play",
    "render_grid",
    "write_gif",
]

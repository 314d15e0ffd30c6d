"""Each Nature-DQN preprocessing wrapper on its own, with hand-made frames from a tiny fake env (no ALE)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from dlfrontier.rl.atari.wrappers import (
    ClipReward,
    EpisodicLife,
    FireReset,
    FrameStack,
    GrayResize,
    MaxAndSkip,
    NoopReset,
    RecordGameScore,
    gray_resize,
)


class FakeGame(gym.Env):
    """Frame ``t`` is a 6x4 grey image filled with ``t``; scripted rewards and lives; logs every action."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, rewards: list[float] | None = None, lives_at: dict[int, int] | None = None,
                 length: int = 100, frame: Any = None) -> None:
        self.observation_space = gym.spaces.Box(0, 255, (6, 4), np.uint8)
        self.action_space = gym.spaces.Discrete(4)
        self.rewards = rewards or []
        self.lives_at = lives_at or {}
        self.length = length
        self.frame_fn = frame or (lambda t: np.full((6, 4), t % 256, np.uint8))
        self.t = 0
        self.lives = 3
        self.actions: list[int] = []
        self.resets = 0

    def get_action_meanings(self) -> list[str]:
        return ["NOOP", "FIRE", "RIGHT", "LEFT"]

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t, self.lives = 0, 3
        self.resets += 1
        return self.frame_fn(0), {"lives": self.lives}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.actions.append(int(action))
        self.t += 1
        r = self.rewards[self.t - 1] if self.t - 1 < len(self.rewards) else 0.0
        self.lives = self.lives_at.get(self.t, self.lives)
        terminated = self.t >= self.length or self.lives == 0
        return self.frame_fn(self.t), r, terminated, False, {"lives": self.lives}


def test_noop_reset_takes_between_1_and_noop_max_noops():
    counts = set()
    env = NoopReset(FakeGame(), noop_max=5)
    for s in range(40):
        env.unwrapped.actions.clear()
        obs, _ = env.reset(seed=s)
        acts = env.unwrapped.actions
        assert acts == [0] * len(acts) and 1 <= len(acts) <= 5
        assert obs[0, 0] == len(acts)  # the observation is the frame after the no-ops
        counts.add(len(acts))
    assert counts == {1, 2, 3, 4, 5}


def test_max_and_skip_repeats_sums_and_max_pools_the_last_two_frames():
    # flicker: even frames show an object at (0, 0), odd frames at (1, 1)
    def frame(t: int) -> np.ndarray:
        f = np.zeros((6, 4), np.uint8)
        f[t % 2, t % 2] = 100 + t
        return f

    game = FakeGame(rewards=[1, 2, 3, 4, 5, 6, 7, 8], frame=frame)
    env = MaxAndSkip(game, skip=4)
    env.reset(seed=0)
    obs, r, term, trunc, _ = env.step(2)
    assert game.actions == [2, 2, 2, 2] and r == 1 + 2 + 3 + 4
    expected = np.maximum(frame(3), frame(4))  # the last two of frames 1..4
    np.testing.assert_array_equal(obs, expected)
    assert obs[0, 0] == 104 and obs[1, 1] == 103  # both flickering objects visible


def test_max_and_skip_stops_at_the_end_of_a_game():
    env = MaxAndSkip(FakeGame(rewards=[1, 1, 1], length=2), skip=4)
    env.reset(seed=0)
    obs, r, term, _, _ = env.step(0)
    assert term and r == 2 and env.unwrapped.actions == [0, 0]
    np.testing.assert_array_equal(obs, np.full((6, 4), 2, np.uint8))


def test_episodic_life_ends_learner_episodes_at_each_lost_life_but_not_the_game():
    game = FakeGame(lives_at={3: 2, 6: 1, 8: 0})
    env = EpisodicLife(game)
    env.reset(seed=0)
    ends = []
    for t in range(1, 6):
        _, _, term, _, _ = env.step(3)
        if term:
            ends.append(t)
            env.reset()
    assert ends[:2] == [3, 5]  # game frames 3 and 6: the reset's no-op took game frame 4
    # after a lost life, reset took one no-op instead of resetting the game
    assert game.resets == 1 and game.actions[3] == 0


def test_episodic_life_resets_the_game_after_game_over():
    game = FakeGame(lives_at={2: 0})
    env = EpisodicLife(game)
    env.reset(seed=0)
    env.step(1)
    _, _, term, _, _ = env.step(1)
    assert term
    env.reset()
    assert game.resets == 2


def test_fire_reset_presses_fire_after_reset():
    game = FakeGame()
    env = FireReset(game, fire_action=1)
    obs, _ = env.reset(seed=0)
    assert game.actions == [1] and obs[0, 0] == 1


def test_fire_reset_can_press_fire_after_each_lost_life():
    game = FakeGame(lives_at={2: 2})
    env = FireReset(game, fire_action=1, on_life_loss=True)
    env.reset(seed=0)
    env.step(3)  # loses a life (game step 2): FIRE follows at once
    env.step(3)
    assert game.actions == [1, 3, 1, 3]


def test_gray_resize_is_luma_and_area_average():
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[:, :4] = [255, 0, 0]  # left half red
    rgb[:, 4:] = [0, 0, 255]  # right half blue
    out = gray_resize(rgb, (2, 2))
    assert out.shape == (2, 2) and out.dtype == np.uint8
    assert abs(int(out[0, 0]) - round(0.299 * 255)) <= 1 and abs(int(out[0, 1]) - round(0.114 * 255)) <= 1
    grey = np.arange(16, dtype=np.uint8).reshape(4, 4) * 10
    np.testing.assert_allclose(gray_resize(grey, (2, 2)), [[25, 45], [105, 125]], atol=1)  # 2x2 block means
    env = GrayResize(FakeGame(), (3, 2))
    obs, _ = env.reset(seed=0)
    assert obs.shape == (3, 2) and env.observation_space.shape == (3, 2)


def test_clip_reward_keeps_the_sign_and_record_game_score_keeps_the_true_score():
    game = FakeGame(rewards=[0, 7, -3, 0, 50], length=5)
    env = ClipReward(RecordGameScore(game))
    env.reset(seed=0)
    clipped, info = [], {}
    for _ in range(5):
        _, r, term, _, info = env.step(0)
        clipped.append(r)
    assert clipped == [0.0, 1.0, -1.0, 0.0, 1.0]
    assert term and info["game_score"] == 54.0 and info["game_length"] == 5
    assert env.get_wrapper_attr("scores") == [54.0]


def test_game_score_spans_lives_under_episodic_life():
    # lives lost at game steps 2 and 5, game over at 8; each reset after a lost life takes a no-op (steps 3, 6)
    game = FakeGame(rewards=[5, 0, 0, 5, 0, 0, 5, 0], lives_at={2: 2, 5: 1, 8: 0})
    env = ClipReward(EpisodicLife(RecordGameScore(game)))
    env.reset(seed=0)
    learner_returns, ret, scores = [], 0.0, []
    for _ in range(6):
        _, r, term, _, info = env.step(0)
        ret += r
        if term:
            learner_returns.append(ret)
            ret = 0.0
            if "game_score" in info:
                scores.append(info["game_score"])
            env.reset()
    assert learner_returns == [1.0, 1.0, 1.0]  # one clipped episode per life
    assert scores == [15.0]  # one whole game, unclipped


def test_frame_stack_orders_oldest_first_and_repeats_the_reset_frame():
    env = FrameStack(FakeGame(), k=4)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (4, 6, 4) and env.observation_space.shape == (4, 6, 4)
    assert [int(f[0, 0]) for f in obs] == [0, 0, 0, 0]
    for _ in range(2):
        obs, *_ = env.step(0)
    assert [int(f[0, 0]) for f in obs] == [0, 0, 1, 2]
    obs2, *_ = env.step(0)
    assert [int(f[0, 0]) for f in obs2] == [0, 1, 2, 3]
    assert [int(f[0, 0]) for f in obs] == [0, 0, 1, 2]  # a returned stack is not changed by later steps


def test_max_and_skip_rejects_a_zero_skip():
    with pytest.raises(ValueError, match="skip"):
        MaxAndSkip(FakeGame(), skip=0)

"""The Atari run recipe's parts: the predictor, the game-score evaluation, `dlfrontier eval` on a loaded run."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from dlfrontier.errors import CheckpointError
from dlfrontier.rl import DQN, PPO
from dlfrontier.rl.atari import minatar_cnn, minatar_id
from dlfrontier.rl.atari.training import GameEvaluation, Predictor, Setup, evaluate_run, make_agent
from dlfrontier.rl.dqn import DQNConfig

SETUP = Setup(DQN, minatar_id("Breakout"), minatar_cnn)


def test_ppo_evaluation_samples_the_policy_unless_deterministic():
    agent = PPO(minatar_id("Breakout"), features=minatar_cnn(), n_envs=1, seed=0)
    obs = np.zeros((10, 10, 4), np.uint8)
    sampled = [Predictor(agent, deterministic=False)(obs) for _ in range(60)]
    greedy = {Predictor(agent, deterministic=True)(obs) for _ in range(10)}
    assert len(greedy) == 1 and len(set(sampled)) >= 3  # an untrained policy is near uniform over 6 actions


def test_game_evaluation_is_repeatable_and_has_no_human_score_on_minatar():
    agent = make_agent(SETUP, DQNConfig(buffer_size=100), seed=0, device="cpu")
    evaluate = GameEvaluation(SETUP, 3, epsilon=0.05, deterministic=True)
    first, again = evaluate(agent), evaluate(agent)
    assert first["eval/return"] == again["eval/return"] and "eval/human_normalized" not in first
    assert np.isnan(first["rollout/return"])  # no training game finished yet


def test_evaluate_run_plays_a_loaded_state_and_refuses_one_without_an_agent(capsys):
    cfg = SimpleNamespace(algo=DQNConfig(buffer_size=100), eval_epsilon=0.05, eval_deterministic=True)
    agent = make_agent(SETUP, cfg.algo, seed=0, device="cpu")
    loaded = SimpleNamespace(experiment="dqn-minatar-breakout", seed=0, step=0, config=cfg,
                             state={"agent": agent.state_dict(include_buffer=True)})
    out = evaluate_run(loaded, setup=SETUP, episodes=2, device="cpu")
    assert set(out) == {"eval/return", "eval/return_std"} and "over 2 games" in capsys.readouterr().out
    with pytest.raises(CheckpointError, match="no agent"):
        evaluate_run(SimpleNamespace(**{**vars(loaded), "state": {}}), setup=SETUP, episodes=1, device="cpu")

"""The algorithms' options are range-checked by the same declarations as the experiment configs."""

from __future__ import annotations

import pytest

from dlfrontier import ConfigError
from dlfrontier.rl import A2C, DQN, PPO, REINFORCE, SAC, TD3
from dlfrontier.rl.common.algorithm import check_total_steps


@pytest.mark.parametrize(
    ("cls", "env", "options", "message"),
    [
        (PPO, "CartPole-v1", {"learning_rate": -1}, "PPOConfig: learning_rate=-1: expected a value > 0"),
        (PPO, "CartPole-v1", {"n_envs": 0}, "PPOConfig: n_envs=0: expected a value >= 1"),
        (PPO, "CartPole-v1", {"batch_size": 0}, "PPOConfig: batch_size=0: expected a value >= 1"),
        (PPO, "CartPole-v1", {"gamma": 1.5}, "PPOConfig: gamma=1.5: expected a value in (0, 1]"),
        (PPO, "CartPole-v1", {"gae_lambda": -0.1}, "PPOConfig: gae_lambda=-0.1: expected a value in [0, 1]"),
        (PPO, "CartPole-v1", {"clip_range": 0.0}, "PPOConfig: clip_range=0.0: expected a value > 0"),
        (PPO, "CartPole-v1", {"hidden": (64, 0)}, "PPOConfig: hidden=(64, 0) (item 0): expected a value >= 1"),
        (A2C, "CartPole-v1", {"n_steps": 0}, "A2CConfig: n_steps=0: expected a value >= 1"),
        (DQN, "CartPole-v1", {"buffer_size": 0}, "DQNConfig: buffer_size=0: expected a value >= 1"),
        (DQN, "CartPole-v1", {"exploration_final_eps": 2.0},
         "DQNConfig: exploration_final_eps=2.0: expected a value in [0, 1]"),
        (REINFORCE, "CartPole-v1", {"episodes_per_update": 0},
         "REINFORCEConfig: episodes_per_update=0: expected a value >= 1"),
        (SAC, "Pendulum-v1", {"tau": 0.0}, "SACConfig: tau=0.0: expected a value in (0, 1]"),
        (SAC, "Pendulum-v1", {"learning_rate": float("nan")}, "SACConfig: learning_rate=nan: expected a value > 0"),
        (TD3, "Pendulum-v1", {"policy_delay": 0}, "TD3Config: policy_delay=0: expected a value >= 1"),
        (TD3, "Pendulum-v1", {"target_noise_clip": -0.5},
         "TD3Config: target_noise_clip=-0.5: expected a value >= 0"),
    ],
)
def test_bad_options_are_one_config_error_at_construction(cls, env, options, message):
    with pytest.raises(ConfigError) as e:
        cls(env, **options)
    assert str(e.value) == message


@pytest.mark.parametrize("steps", [-5, 1.5, float("nan"), float("inf"), "100", True, None])
def test_learn_refuses_a_step_count_that_is_not_a_whole_non_negative_number(steps):
    agent = PPO("CartPole-v1", n_envs=1, n_steps=8, batch_size=8, n_epochs=1, hidden=(4,))
    with pytest.raises(ConfigError, match=r"learn\(total_timesteps="):
        agent.learn(steps)
    assert agent.num_steps == 0


def test_learn_takes_whole_numbers_written_as_floats():
    assert check_total_steps(1e3) == 1000 and check_total_steps(0) == 0
    with pytest.raises(ConfigError, match="callback_every"):
        PPO("CartPole-v1", hidden=(4,)).learn(0, callback_every=-1)


def test_sac_critic_layer_norm_puts_a_layer_norm_after_each_hidden_layer_and_round_trips(tmp_path):
    import torch
    from torch import nn

    from dlfrontier.rl import SAC

    agent = SAC("Pendulum-v1", seed=0, hidden=(32, 16), critic_layer_norm=True, learning_starts=10, batch_size=8)
    kinds = [type(m) for m in agent.critic.q1]
    assert kinds == [nn.Linear, nn.LayerNorm, nn.ReLU, nn.Linear, nn.LayerNorm, nn.ReLU, nn.Linear]
    assert not any(isinstance(m, nn.LayerNorm) for m in agent.actor.modules())  # the critics only
    assert not any(isinstance(m, nn.LayerNorm) for m in SAC("Pendulum-v1", seed=0).critic.modules())  # default off
    agent.learn(40)
    loaded = SAC.load(agent.save(tmp_path / "ln.pt"))
    obs, act = torch.zeros(3, 3), torch.zeros(3, 1)
    with torch.no_grad():
        assert torch.equal(loaded.critic(obs, act)[0], agent.critic(obs, act)[0])

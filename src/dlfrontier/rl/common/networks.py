"""Networks: feature extractors (the pluggable part), Q heads (plain and dueling), actor-critic and SAC nets.

Papers: Wang et al., "Dueling Network Architectures for Deep Reinforcement Learning" (2016,
https://arxiv.org/abs/1511.06581); Haarnoja et al., "Soft Actor-Critic" (2018, https://arxiv.org/abs/1801.01290).

Every algorithm builds its networks on top of a *feature extractor*: an ``nn.Module`` with an ``out_dim``
attribute mapping a batch of observations to ``[B, out_dim]`` features. Algorithms take a
``features: FeaturesFactory`` argument (``obs_space -> module``), so a CNN for Atari frames (or anything
else) plugs in without touching the algorithm. The default is :func:`mlp_features`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch
from torch import nn

FeaturesFactory = Callable[[gym.Space], nn.Module]

Activation = Literal["relu", "tanh", "elu"]  # the MLP activations an algorithm config may name
_ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU}


def activation(name: str) -> type[nn.Module]:
    if name not in _ACTIVATIONS:
        raise ValueError(f"activation {name!r} not in {sorted(_ACTIVATIONS)}")
    return _ACTIVATIONS[name]


def mlp(in_dim: int, hidden: Sequence[int], out_dim: int | None, act: str = "relu",
        layer_norm: bool = False) -> nn.Sequential:
    """``Linear -> act`` for each hidden width, then an optional ``Linear`` to ``out_dim`` (no activation).
    ``layer_norm``: ``Linear -> LayerNorm -> act`` (the critics of RLPD, Ball et al. 2023)."""
    layers: list[nn.Module] = []
    d = in_dim
    for h in hidden:
        layers += [nn.Linear(d, h), *([nn.LayerNorm(h)] if layer_norm else []), activation(act)()]
        d = h
    if out_dim is not None:
        layers.append(nn.Linear(d, out_dim))
    return nn.Sequential(*layers)


def space_dim(space: gym.Space) -> int:
    """Flat size of a Box observation, or ``n`` for a Discrete one (one-hot encoded)."""
    if isinstance(space, gym.spaces.Discrete):
        return int(space.n)
    if isinstance(space, gym.spaces.Box):
        return int(np.prod(space.shape))
    raise TypeError(f"observation space {space} is not supported by the MLP features; pass features=... "
                    "(a factory obs_space -> nn.Module with .out_dim)")


class MLPFeatures(nn.Module):
    """Flatten (or one-hot for Discrete observations) followed by an MLP.

    Shapes:
        input ``[B, *obs_shape]`` (or ``[B]`` indices for Discrete); output ``[B, out_dim]``.
    """

    def __init__(self, obs_space: gym.Space, hidden: Sequence[int] = (64, 64), act: str = "tanh") -> None:
        super().__init__()
        self.discrete_n = int(obs_space.n) if isinstance(obs_space, gym.spaces.Discrete) else None
        in_dim = space_dim(obs_space)
        self.net = mlp(in_dim, hidden, None, act)
        self.out_dim = hidden[-1] if hidden else in_dim

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        if self.discrete_n is not None:
            x = nn.functional.one_hot(obs.long().reshape(-1), self.discrete_n).float()
        else:
            x = obs.reshape(obs.shape[0], -1).float()
        return self.net(x)


def mlp_features(hidden: Sequence[int] = (64, 64), act: str = "tanh") -> FeaturesFactory:
    """The default features factory: ``obs_space -> MLPFeatures(obs_space, hidden, act)``."""

    def make(obs_space: gym.Space) -> nn.Module:
        return MLPFeatures(obs_space, tuple(hidden), act)

    return make


def orthogonal_init(module: nn.Module, gain: float = math.sqrt(2)) -> None:
    """Orthogonal weights and zero biases for every Linear and Conv2d layer (the PPO implementation detail).

    Convolutions are included: with PyTorch's default (Kaiming-uniform, a=sqrt(5)) init the Nature CNN's
    features start about 30x smaller than with gain sqrt(2) (std 0.018 vs 0.50 on random frames), and PPO on
    Breakout barely moved off the uniform policy in 100k steps.
    """
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.orthogonal_(m.weight, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class QNetwork(nn.Module):
    """``Q(s, .)`` over discrete actions; dueling splits it into ``V(s) + A(s, a) - mean_a A(s, a)``.

    Shapes:
        input observations ``[B, *obs]``; output ``[B, n_actions]``.
    """

    def __init__(self, features: nn.Module, n_actions: int, dueling: bool = False) -> None:
        super().__init__()
        self.features = features
        self.dueling = dueling
        d = int(features.out_dim)  # type: ignore[arg-type]
        self.head = nn.Linear(d, n_actions)
        self.value = nn.Linear(d, 1) if dueling else None

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        z = self.features(obs)
        q = self.head(z)
        if self.value is not None:
            q = self.value(z) + q - q.mean(dim=1, keepdim=True)
        return q


class ActorCritic(nn.Module):
    """Policy and value networks for on-policy methods (REINFORCE, A2C, PPO).

    Discrete actions: a categorical policy from logits. Box actions: a diagonal Gaussian with a learned,
    state-independent log standard deviation (sampled actions are clipped to the bounds by the env
    wrapper, the log-probability is of the unclipped sample, as in SB3 and CleanRL).

    Args:
        obs_space, action_space: the env's spaces.
        features: the features factory; the actor and the critic each get their own extractor...
        log_std_init: initial log standard deviation of the Gaussian policy.
        share_features: ... unless this is set: one extractor feeds both heads (the Atari CNN habit).
    """

    def __init__(
        self, obs_space: gym.Space, action_space: gym.Space, features: FeaturesFactory, log_std_init: float = 0.0,
        share_features: bool = False,
    ) -> None:
        super().__init__()
        self.discrete = isinstance(action_space, gym.spaces.Discrete)
        self.shared = share_features
        self.pi_features = features(obs_space)
        self.vf_features = self.pi_features if share_features else features(obs_space)
        out = int(action_space.n) if self.discrete else int(np.prod(action_space.shape or ()))  # type: ignore[attr-defined]
        self.pi_head = nn.Linear(int(self.pi_features.out_dim), out)  # type: ignore[arg-type]
        self.vf_head = nn.Linear(int(self.vf_features.out_dim), 1)  # type: ignore[arg-type]
        self.log_std = None if self.discrete else nn.Parameter(torch.full((out,), float(log_std_init)))
        orthogonal_init(self)
        nn.init.orthogonal_(self.pi_head.weight, 0.01)
        nn.init.orthogonal_(self.vf_head.weight, 1.0)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """``[B, *obs] -> [B]``."""
        return self.vf_head(self.vf_features(obs)).squeeze(-1)

    def distribution(self, obs: torch.Tensor) -> torch.distributions.Distribution:
        out = self.pi_head(self.pi_features(obs))
        if self.discrete:
            return torch.distributions.Categorical(logits=out, validate_args=False)
        assert self.log_std is not None
        return torch.distributions.Normal(out, self.log_std.exp().expand_as(out), validate_args=False)

    def log_prob_entropy(self, obs: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probabilities ``[B]`` of ``actions`` and entropies ``[B]`` (summed over action dims)."""
        dist = self.distribution(obs)
        if self.discrete:
            return dist.log_prob(actions.long()), dist.entropy()
        return dist.log_prob(actions).sum(-1), dist.entropy().sum(-1)

    def evaluate_actions(
        self, obs: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Log-probabilities ``[B]``, entropies ``[B]`` and values ``[B]``; one feature pass when shared."""
        if not self.shared:
            logp, entropy = self.log_prob_entropy(obs, actions)
            return logp, entropy, self.value(obs)
        z = self.pi_features(obs)
        out = self.pi_head(z)
        value = self.vf_head(z).squeeze(-1)
        if self.discrete:
            dist: torch.distributions.Distribution = torch.distributions.Categorical(logits=out, validate_args=False)
            return dist.log_prob(actions.long()), dist.entropy(), value
        assert self.log_std is not None
        dist = torch.distributions.Normal(out, self.log_std.exp().expand_as(out), validate_args=False)
        return dist.log_prob(actions).sum(-1), dist.entropy().sum(-1), value

    def mode(self, obs: torch.Tensor) -> torch.Tensor:
        """The most likely action (argmax logit or Gaussian mean), without building a distribution."""
        out = self.pi_head(self.pi_features(obs))
        return out.argmax(-1) if self.discrete else out

    def act(self, obs: torch.Tensor, deterministic: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Sampled (or mode) actions and their log-probabilities."""
        dist = self.distribution(obs)
        a = self.mode(obs) if deterministic else dist.sample()
        lp = dist.log_prob(a)
        return a, lp if self.discrete else lp.sum(-1)


LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0


class SquashedGaussianActor(nn.Module):
    """SAC's policy: ``a = tanh(mu + sigma * eps)`` rescaled to the action bounds, with the tanh log-det term.

    Shapes:
        input ``[B, *obs]``; actions ``[B, act_dim]`` in the env's bounds; log-probs ``[B]``.
    """

    scale: torch.Tensor
    bias: torch.Tensor

    def __init__(self, obs_space: gym.Space, action_space: gym.spaces.Box, features: FeaturesFactory) -> None:
        super().__init__()
        self.features = features(obs_space)
        d, a = int(self.features.out_dim), int(np.prod(action_space.shape))  # type: ignore[arg-type]
        self.mu = nn.Linear(d, a)
        self.log_std = nn.Linear(d, a)
        self.register_buffer("scale", torch.as_tensor((action_space.high - action_space.low) / 2, dtype=torch.float32))
        self.register_buffer("bias", torch.as_tensor((action_space.high + action_space.low) / 2, dtype=torch.float32))

    def forward(self, obs: torch.Tensor, deterministic: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.features(obs)
        mu = self.mu(z)
        if deterministic:
            return torch.tanh(mu) * self.scale + self.bias, torch.zeros(mu.shape[0], device=mu.device)
        log_std = self.log_std(z).clamp(LOG_STD_MIN, LOG_STD_MAX)
        std = log_std.exp()
        u = mu + std * torch.randn_like(mu)
        y = torch.tanh(u)
        # log N(u; mu, std) - log|d tanh(u)/du| - log(scale), the change of variables for a = tanh(u)*scale+bias
        log_prob = (-0.5 * ((u - mu) / std) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        log_prob = log_prob - (torch.log(self.scale * (1 - y.pow(2)) + 1e-6)).sum(-1)
        return y * self.scale + self.bias, log_prob


class TwinQ(nn.Module):
    """Two independent critics ``Q1(s, a), Q2(s, a)`` (clipped double-Q); each ``[B, *obs], [B, A] -> [B]``.
    ``layer_norm``: a LayerNorm after each hidden Linear (see :func:`mlp`)."""

    def __init__(self, obs_space: gym.Space, action_space: gym.spaces.Box, hidden: Sequence[int], act: str = "relu",
                 layer_norm: bool = False):
        super().__init__()
        d = space_dim(obs_space) + int(np.prod(action_space.shape))
        self.q1 = mlp(d, hidden, 1, act, layer_norm)
        self.q2 = mlp(d, hidden, 1, act, layer_norm)

    def forward(self, obs: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([obs.reshape(obs.shape[0], -1).float(), actions], dim=1)
        return self.q1(x).squeeze(-1), self.q2(x).squeeze(-1)


def adam(params: Iterable[torch.Tensor] | Iterable[dict], lr: float, eps: float = 1e-8) -> torch.optim.Adam:
    """Adam, fused into one kernel where this torch supports it (3x faster steps for small nets on CPU)."""
    groups: list[Any] = list(params)
    try:
        return torch.optim.Adam(groups, lr=lr, eps=eps, fused=True)
    except (RuntimeError, TypeError, ValueError):  # older torch: no fused CPU kernel
        return torch.optim.Adam(groups, lr=lr, eps=eps)

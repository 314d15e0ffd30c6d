"""DrQ: soft actor-critic from camera images, regularized by random-shift image augmentation.

Papers: Kostrikov, Yarats and Fergus, "Image Augmentation Is All You Need: Regularizing Deep Reinforcement
Learning from Pixels" (DrQ, 2020, https://arxiv.org/abs/2004.13649); Yarats et al., "Mastering Visual Continuous
Control: Improved Data-Augmented Reinforcement Learning" (DrQ-v2, 2021, https://arxiv.org/abs/2107.09645); the
SAC losses are :mod:`dlfrontier.rl.sac`'s (Haarnoja et al. 2018, https://arxiv.org/abs/1812.05905).

What DrQ adds to SAC:

- a conv encoder of the stacked uint8 frames, trained by the critic loss only: the twin critics share it, the
  actor reads its output detached (as SAC-AE and DrQ);
- random shifts: each image is padded by ``pad`` pixels (replicating the border) and cropped back to its size at
  a random offset, independently per image, for both ``obs`` and ``next_obs`` of the critic update. We use
  ``K = M = 1`` (one augmented copy for the target and one for the Q estimate, as DrQ-v2);
- a target network of the critic *including its encoder* (DrQ: encoder Polyak rate 0.05, critic 0.01);
- optionally n-step returns (``n_step``; DrQ-v2 uses 3): the critic target is the discounted sum of ``n`` rewards
  plus ``gamma^n`` times the soft value of the ``n``-th next observation, without an off-policy correction (as
  DrQ-v2).

Architecture (DrQ-v2's split): a conv body shared by actor and critic, then a trunk each (Linear to
``feature_dim``, LayerNorm, tanh) and the usual SAC MLPs. The target encoder's features of ``next_obs`` feed both
the next action and the target critic (one encoder pass instead of two); the actor loss reuses the critic step's
(pre-update) encoder output, detached, so each update costs two encoder forwards and one backward.

Defaults are DrQ's (Table 3: lr 1e-3, initial temperature 0.1, feature dim 50, 4 convs of 32 filters, first
stride 2, batch 512, hidden 1024, 1000 seed steps) scaled down for one CPU core: 64x64 frames (96x48 on the
pendulum task), 3 convs of 32 filters with strides 2, 2, 1, batch 64, hidden 256. ``num_steps`` counts agent steps
(one per action choice): with the wrapper's action repeat ``R``, env steps are ``R * num_steps``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

import dlfrontier.rl.robot  # noqa: F401  (registers the pixel tasks; sets MUJOCO_GL before mujoco loads)
from dlfrontier.rl.atari.buffer import FrameReplayBuffer
from dlfrontier.rl.common.algorithm import Algorithm, Callback, register_algorithm
from dlfrontier.rl.common.buffers import NStepAdder
from dlfrontier.rl.common.env import make_env
from dlfrontier.rl.common.networks import FeaturesFactory, SquashedGaussianActor, adam, mlp
from dlfrontier.rl.sac import actor_loss, critic_loss, soft_q_target, temperature_loss


@dataclass
class DrQConfig:
    """DrQ options: DrQ's defaults (Kostrikov et al. 2020, Table 3) shrunk to fit one CPU core (see the module)."""

    learning_rate: float = field(default=1e-3, metadata={
        "help": "Adam learning rate (encoder, actor, critics, alpha)", "range": "(0, inf)"})
    buffer_size: int = field(default=100_000, metadata={"help": "replay capacity (transitions)", "range": "[1, inf)"})
    learning_starts: int = field(default=1000, metadata={
        "help": "agent steps of uniform random actions first", "range": "[0, inf)"})
    batch_size: int = field(default=64, metadata={"help": "transitions per gradient step", "range": "[1, inf)"})
    gamma: float = field(default=0.99, metadata={"help": "discount factor (per agent step)", "range": "(0, 1]"})
    n_step: int = field(default=1, metadata={
        "help": "n-step returns (DrQ-v2: 3; 1 = DrQ's one-step targets)", "range": "[1, inf)"})
    tau: float = field(default=0.01, metadata={
        "help": "Polyak rate of the target critics' trunk and heads", "range": "(0, 1]"})
    encoder_tau: float = field(default=0.05, metadata={"help": "Polyak rate of the target encoder", "range": "(0, 1]"})
    train_freq: int = field(default=1, metadata={"help": "agent steps between training phases", "range": "[1, inf)"})
    gradient_steps: int = field(default=1, metadata={"help": "gradient steps per training phase", "range": "[1, inf)"})
    init_alpha: float = field(default=0.1, metadata={"help": "initial temperature", "range": "(0, inf)"})
    target_entropy: float | None = field(default=None, metadata={"help": "target entropy (None = -dim(A))"})
    pad: int = field(default=4, metadata={"help": "random shift: pixels of replicate padding", "range": "[0, inf)"})
    filters: int = field(default=32, metadata={"help": "channels of each conv layer", "range": "[1, inf)"})
    strides: tuple[int, ...] = field(default=(2, 2, 1), metadata={
        "help": "one 3x3 conv layer per stride", "range": "[1, inf)"})
    feature_dim: int = field(default=50, metadata={"help": "trunk output width (LayerNorm, tanh)", "range": "[1, inf)"})
    hidden: tuple[int, ...] = field(default=(256, 256), metadata={
        "help": "MLP hidden widths (actor, critics)", "range": "[1, inf)"})


def shift_offsets(batch: int, pad: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``[B, 2]`` random crop offsets ``(dy, dx)`` in ``[0, 2 * pad]``, one pair per image."""
    return torch.randint(0, 2 * pad + 1, (batch, 2), generator=generator)


def shift_images(images: torch.Tensor, offsets: torch.Tensor, pad: int) -> torch.Tensor:
    """Pad each image by ``pad`` (replicating the border) and crop its original size at ``offsets``.

    Done without materializing the padded images: pixel ``(i, j)`` of image ``b``'s crop is pixel
    ``(clamp(i + dy_b - pad, 0, H - 1), clamp(j + dx_b - pad, 0, W - 1))`` of the original (clamping is replicate
    padding), read with one ``gather`` over the flattened pixels. Works on any dtype (uint8 frames stay uint8).

    Shapes:
        images ``[B, C, H, W]``, offsets ``[B, 2]`` (``dy, dx``); output ``[B, C, H, W]``.
    """
    b, c, h, w = images.shape
    offsets = offsets.to(images.device)
    rows = (torch.arange(h, device=images.device) + offsets[:, :1] - pad).clamp(0, h - 1)  # [B, H]
    cols = (torch.arange(w, device=images.device) + offsets[:, 1:] - pad).clamp(0, w - 1)  # [B, W]
    flat = (rows[:, :, None] * w + cols[:, None, :]).reshape(b, 1, h * w).expand(b, c, h * w)  # [B, C, H*W]
    return torch.gather(images.reshape(b, c, h * w), 2, flat).reshape(b, c, h, w)


def random_shift(images: torch.Tensor, pad: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """DrQ's augmentation: each image shifted by an independent random offset in ``[-pad, pad]`` pixels.

    Shapes:
        images ``[B, C, H, W]``; output ``[B, C, H, W]``, same dtype.
    """
    if pad == 0:
        return images
    return shift_images(images, shift_offsets(images.shape[0], pad, generator), pad)


class PixelEncoder(nn.Module):
    """3x3 convolutions (``filters`` channels each, ReLU) over frames scaled to ``[-0.5, 0.5]``, flattened.

    Shapes:
        input ``[B, C, H, W]`` uint8; output ``[B, out_dim]``.
    """

    def __init__(self, obs_space: gym.Space, filters: int = 32, strides: tuple[int, ...] = (2, 2, 1)) -> None:
        super().__init__()
        shape = obs_space.shape
        assert shape is not None and len(shape) == 3
        layers: list[nn.Module] = []
        c = shape[0]
        for s in strides:
            layers += [nn.Conv2d(c, filters, 3, stride=s), nn.ReLU()]
            c = filters
        self.convs = nn.Sequential(*layers, nn.Flatten())
        with torch.no_grad():
            self.out_dim = int(self.convs(torch.zeros(1, *shape)).shape[1])

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.convs(obs.float() / 255.0 - 0.5)


def trunk(in_dim: int, feature_dim: int) -> nn.Sequential:
    """``Linear -> LayerNorm -> tanh``: DrQ's projection of the conv output to ``feature_dim``."""
    return nn.Sequential(nn.Linear(in_dim, feature_dim), nn.LayerNorm(feature_dim), nn.Tanh())


class TrunkMLP(nn.Module):
    """The actor's features: its own trunk on the (detached) conv output, then an MLP. ``[B, D] -> [B, hidden[-1]]``."""

    def __init__(self, in_dim: int, feature_dim: int, hidden: tuple[int, ...]) -> None:
        super().__init__()
        self.net = nn.Sequential(trunk(in_dim, feature_dim), mlp(feature_dim, hidden, None, "relu"))
        self.out_dim = hidden[-1] if hidden else feature_dim

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)


def trunk_mlp(feature_dim: int, hidden: tuple[int, ...]) -> FeaturesFactory:
    def make(space: gym.Space) -> nn.Module:
        return TrunkMLP(int(np.prod(space.shape or ())), feature_dim, hidden)

    return make


class TrunkTwinQ(nn.Module):
    """The critic's trunk then two Q MLPs: ``Q_i(h, a)``; ``[B, D], [B, A] -> [B], [B]``."""

    def __init__(self, in_dim: int, action_dim: int, feature_dim: int, hidden: tuple[int, ...]) -> None:
        super().__init__()
        self.trunk = trunk(in_dim, feature_dim)
        self.q1 = mlp(feature_dim + action_dim, hidden, 1, "relu")
        self.q2 = mlp(feature_dim + action_dim, hidden, 1, "relu")

    def forward(self, h: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([self.trunk(h), actions], dim=1)
        return self.q1(x).squeeze(-1), self.q2(x).squeeze(-1)


def polyak(net: nn.Module, target: nn.Module, tau: float) -> None:
    """``target <- (1 - tau) * target + tau * net``, parameter by parameter."""
    with torch.no_grad():
        for p, tp in zip(net.parameters(), target.parameters(), strict=True):
            tp.lerp_(p, tau)


@register_algorithm
class DrQ(Algorithm):
    """SAC from pixels with random-shift augmentation, for ``[C, H, W]`` uint8 observations and Box actions.

    Example::

        agent = DrQ("dlfrontier/InvertedPendulumPixels-v5", seed=0).learn(25_000)
    """

    name = "DrQ"
    config_cls = DrQConfig
    action_spaces = (gym.spaces.Box,)
    config: DrQConfig

    def _setup(self) -> None:
        c = self.config
        space, obs_space = self.action_space, self.observation_space
        assert isinstance(space, gym.spaces.Box)
        shape = obs_space.shape or ()
        if not (isinstance(obs_space, gym.spaces.Box) and obs_space.dtype == np.uint8 and len(shape) == 3):
            raise TypeError(f"DrQ learns from [C, H, W] uint8 images, got observations {obs_space}; use a pixel task "
                            f"such as 'dlfrontier/InvertedPendulumPixels-v5' (dlfrontier.rl.robot)")
        if self.features is not None:
            raise TypeError("DrQ builds its own conv encoder; features=... is not supported")
        self.encoder = PixelEncoder(obs_space, c.filters, c.strides).to(self.device)
        d, n_act = self.encoder.out_dim, int(np.prod(space.shape))
        self.critic = TrunkTwinQ(d, n_act, c.feature_dim, c.hidden).to(self.device)
        flat = gym.spaces.Box(-np.inf, np.inf, (d,), np.float32)
        self.actor = SquashedGaussianActor(flat, space, trunk_mlp(c.feature_dim, c.hidden)).to(self.device)
        self.encoder_target = copy.deepcopy(self.encoder).requires_grad_(False)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self._critic_params = list(self.critic.parameters())
        self.log_alpha = torch.tensor([float(np.log(c.init_alpha))], device=self.device, requires_grad=True)
        self.target_entropy = -float(n_act) if c.target_entropy is None else c.target_entropy
        self.critic_opt = adam([*self.encoder.parameters(), *self.critic.parameters()], lr=c.learning_rate)
        self.actor_opt = adam(self.actor.parameters(), lr=c.learning_rate)
        self.alpha_opt = adam([self.log_alpha], lr=c.learning_rate)
        self.aug_rng = torch.Generator().manual_seed(self.seed)
        # frames stored once: [C, H, W] stacks of RGB frames are kept as [C/3, 3, H, W] in the frame ring
        ch, h, w = shape
        self._stack_shape = (ch // 3, 3, h, w) if ch % 3 == 0 else (ch, 1, h, w)
        # n-step transitions write whole stacks (their next_obs is not obs shifted by one frame): room for them
        self.buffer = FrameReplayBuffer(c.buffer_size, self._stack_shape, np.uint8, space.shape, np.float32,
                                        device=self.device,
                                        frame_capacity=c.buffer_size * (self._stack_shape[0] + 1) if c.n_step > 1
                                        else None)
        self.adder = NStepAdder(c.n_step, c.gamma)
        self.env = make_env(self._env_arg)
        self._obs: np.ndarray | None = None
        self._ep_return = 0.0

    def _modules(self) -> dict[str, Any]:
        return {"encoder": self.encoder, "critic": self.critic, "actor": self.actor,
                "encoder_target": self.encoder_target, "critic_target": self.critic_target,
                "critic_opt": self.critic_opt, "actor_opt": self.actor_opt, "alpha_opt": self.alpha_opt}

    def _extra_state(self) -> dict[str, Any]:
        return {"buffer": self.buffer.state_dict(), "log_alpha": self.log_alpha.detach().clone(),
                "aug_rng": self.aug_rng.get_state()}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        if "buffer" in state:
            self.buffer.load_state_dict(state["buffer"])
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        if "aug_rng" in state:
            self.aug_rng.set_state(state["aug_rng"])

    def _act(self, obs: torch.Tensor, deterministic: bool) -> torch.Tensor:
        return self.actor(self.encoder(obs), deterministic)[0]

    def _augment(self, stacks: torch.Tensor) -> torch.Tensor:
        """Buffer stacks ``[B, k, 3, H, W]`` -> augmented ``[B, C, H, W]`` uint8."""
        x = stacks.reshape(stacks.shape[0], -1, *stacks.shape[-2:])
        return random_shift(x, self.config.pad, self.aug_rng)

    def _train_step(self) -> tuple[torch.Tensor, ...]:
        c = self.config
        b = self.buffer.sample(c.batch_size, self.rng)
        obs, next_obs = self._augment(b.obs), self._augment(b.next_obs)
        alpha = self.log_alpha.exp().detach()
        with torch.no_grad():
            next_h = self.encoder_target(next_obs)
            next_a, next_logp = self.actor(next_h)
            tq1, tq2 = self.critic_target(next_h, next_a)
            y = soft_q_target(b.rewards, tq1, tq2, next_logp, b.dones, b.discounts, alpha)
        h = self.encoder(obs)
        q1, q2 = self.critic(h, b.actions)
        lq = critic_loss(q1, q2, y)
        self.critic_opt.zero_grad(set_to_none=True)
        lq.backward()
        self.critic_opt.step()

        h = h.detach()  # the actor does not train the encoder
        a, logp = self.actor(h)
        for p in self._critic_params:  # the actor loss must not train the critics (and skips their grads)
            p.requires_grad_(False)
        pq1, pq2 = self.critic(h, a)
        for p in self._critic_params:
            p.requires_grad_(True)
        lpi = actor_loss(pq1, pq2, logp, alpha)
        self.actor_opt.zero_grad(set_to_none=True)
        lpi.backward()
        self.actor_opt.step()

        la = temperature_loss(self.log_alpha, logp, self.target_entropy)
        self.alpha_opt.zero_grad(set_to_none=True)
        la.backward()
        self.alpha_opt.step()
        polyak(self.critic, self.critic_target, c.tau)
        polyak(self.encoder, self.encoder_target, c.encoder_tau)
        self.num_updates += 1
        return lq.detach(), lpi.detach(), la.detach(), -logp.detach().mean()

    def _learn(self, total_steps: int, callback: Callback | None, callback_every: int) -> None:
        c = self.config
        end = self.num_steps + total_steps
        if self._obs is None:
            self._obs, _ = self.env.reset(seed=self.seed + self.num_steps)
            self._ep_return = 0.0
            self.adder.reset()
        obs = self._obs
        acc, count = torch.zeros(4), 0
        while self.num_steps < end:
            if self.num_steps < c.learning_starts:
                action = self.rng.uniform(self.action_space.low, self.action_space.high).astype(np.float32)  # type: ignore[attr-defined]
            else:
                with torch.no_grad():
                    x = torch.as_tensor(obs, device=self.device).unsqueeze(0)
                    action = self.actor(self.encoder(x))[0][0].cpu().numpy()
            next_obs, reward, terminated, truncated, _ = self.env.step(action)
            self.num_steps += 1
            self._on_steps()
            self._ep_return += float(reward)
            for o, a, g, no, done, discount in self.adder.push(obs, action, float(reward), next_obs, terminated,
                                                               truncated):
                self.buffer.add(o.reshape(self._stack_shape), a, g, no.reshape(self._stack_shape), done, discount)
            if terminated or truncated:
                self.episode_returns.append(self._ep_return)
                self._ep_return = 0.0
                next_obs, _ = self.env.reset()
            obs = next_obs
            if self.num_steps >= c.learning_starts and self.num_steps % c.train_freq == 0:
                for _ in range(c.gradient_steps):
                    acc += torch.stack(self._train_step())
                    count += 1
            at_callback = callback is not None and callback_every > 0 and self.num_steps % callback_every == 0
            if at_callback or self.num_steps >= end:
                if count:
                    s = (acc / count).tolist()
                    self.stats.update({"train/critic_loss": s[0], "train/actor_loss": s[1],
                                       "train/alpha_loss": s[2], "train/entropy": s[3]})
                    acc.zero_()
                    count = 0
                self.stats["train/alpha"] = float(self.log_alpha.detach().exp())
            if at_callback:
                self._obs = obs
                callback(self)  # type: ignore[misc]
        self._obs = obs

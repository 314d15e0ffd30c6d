"""A small residual policy/value network (AlphaZero's shape, scaled down) and its batched evaluator for search.

Silver et al., "A general reinforcement learning algorithm that masters chess, shogi, and Go through self-play"
(Science 2018): a 3x3 conv stem, residual blocks (two 3x3 convs with batch norm), a policy head (1x1 conv ->
linear to the action logits) and a value head (1x1 conv -> linear -> ReLU -> linear -> tanh). The value is for
the player to move (the input is canonical: plane 0 holds that player's stones).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn


class ResBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.b1 = nn.BatchNorm2d(channels)
        self.c2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.b2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.b1(self.c1(x)))
        return torch.relu(x + self.b2(self.c2(y)))


class PolicyValueNet(nn.Module):
    """``forward(planes [B, C, R, W]) -> (logits [B, A], value [B] in [-1, 1])``."""

    def __init__(self, planes: int, rows: int, cols: int, num_actions: int, *, channels: int = 32,
                 blocks: int = 2, value_hidden: int = 32) -> None:
        super().__init__()
        self.shape = {"planes": planes, "rows": rows, "cols": cols, "num_actions": num_actions,
                      "channels": channels, "blocks": blocks, "value_hidden": value_hidden}
        self.stem = nn.Sequential(nn.Conv2d(planes, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels),
                                  nn.ReLU())
        self.tower = nn.Sequential(*[ResBlock(channels) for _ in range(blocks)])
        cells = rows * cols
        self.policy_conv = nn.Sequential(nn.Conv2d(channels, 2, 1, bias=False), nn.BatchNorm2d(2), nn.ReLU())
        self.policy_fc = nn.Linear(2 * cells, num_actions)
        self.value_conv = nn.Sequential(nn.Conv2d(channels, 1, 1, bias=False), nn.BatchNorm2d(1), nn.ReLU())
        self.value_fc = nn.Sequential(nn.Linear(cells, value_hidden), nn.ReLU(), nn.Linear(value_hidden, 1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.tower(self.stem(x))                               # [B, ch, R, W]
        logits = self.policy_fc(self.policy_conv(h).flatten(1))    # [B, A]
        value = torch.tanh(self.value_fc(self.value_conv(h).flatten(1))).squeeze(1)  # [B]
        return logits, value


def build_network(game: Any, channels: int, blocks: int) -> PolicyValueNet:
    return PolicyValueNet(game.num_planes, game.rows, game.cols, game.num_actions, channels=channels, blocks=blocks)


def network_from_state(state: dict[str, Any]) -> PolicyValueNet:
    """Rebuild a network from ``{"shape": net.shape, "weights": state_dict}`` (what checkpoints store)."""
    net = PolicyValueNet(**{k: int(v) for k, v in state["shape"].items()})
    net.load_state_dict(state["weights"])
    return net.eval()


def encode_states(game: Any, states: Sequence[Any]) -> np.ndarray:
    """``float32[B, C, R, W]`` (the game's batched encoder when it has one)."""
    batch = getattr(game, "encode_batch", None)
    if batch is not None:
        return batch(list(states))
    return np.stack([game.encode(s) for s in states]).astype(np.float32)


class NetworkEvaluator:
    """The ``evaluate(states) -> (logits, values)`` a search calls: one no-grad forward pass per call.

    ``calls`` and ``positions`` count the forward passes and the states evaluated (for simulations/s).
    """

    def __init__(self, game: Any, net: nn.Module, device: Any = "cpu") -> None:
        self.game, self.net, self.device = game, net, torch.device(device)
        self.calls = 0
        self.positions = 0

    @torch.no_grad()
    def __call__(self, states: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        was_training = self.net.training
        self.net.eval()
        x = torch.from_numpy(encode_states(self.game, states)).to(self.device)
        logits, value = self.net(x)
        if was_training:
            self.net.train()
        self.calls += 1
        self.positions += len(states)
        return logits.double().cpu().numpy(), value.double().cpu().numpy()


__all__ = ["NetworkEvaluator", "PolicyValueNet", "ResBlock", "build_network", "encode_states", "network_from_state"]

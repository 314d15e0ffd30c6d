"""LeNet-300-100 and LeNet-5, the MNIST baselines of Deep Compression (Han et al., ICLR 2016, Table 2/3).

Both follow the Caffe definitions the paper used: LeNet-300-100 is 784-300-100-10 with ReLU (266,610
parameters, 1070 KB in float32); LeNet-5 is conv 20@5x5 - maxpool - conv 50@5x5 - maxpool - fc 500 -
fc 10 with ReLU after fc 500 (431,080 parameters, 1720 KB).
"""

from __future__ import annotations

import torch
from torch import nn


class LeNet300100(nn.Module):
    """784-300-100-10 fully connected network.

    Shapes:
        x: ``[B, 1, 28, 28]`` (or ``[B, 784]``) -> logits ``[B, 10]``.
    """

    def __init__(self, *, num_classes: int = 10) -> None:
        super().__init__()
        self.fc1 = nn.Linear(784, 300)
        self.fc2 = nn.Linear(300, 100)
        self.fc3 = nn.Linear(100, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)  # [B, 784]
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.fc3(x)


class LeNet5(nn.Module):
    """Caffe's LeNet-5 variant used by Deep Compression.

    Shapes:
        x: ``[B, 1, 28, 28]`` -> logits ``[B, 10]``.
    """

    def __init__(self, *, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 20, 5)  # -> [B, 20, 24, 24], pooled to 12x12
        self.conv2 = nn.Conv2d(20, 50, 5)  # -> [B, 50, 8, 8], pooled to 4x4
        self.fc1 = nn.Linear(50 * 4 * 4, 500)
        self.fc2 = nn.Linear(500, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.max_pool2d(self.conv1(x), 2)
        x = nn.functional.max_pool2d(self.conv2(x), 2)
        x = torch.relu(self.fc1(x.flatten(1)))  # [B, 800] -> [B, 500]
        return self.fc2(x)


def parameter_bytes(model: nn.Module) -> int:
    """Size of the model's parameters stored as float32, in bytes (the paper's "original size")."""
    return sum(p.numel() for p in model.parameters()) * 4

"""Channel and spatial attention (SE, CBAM, GC) in a small ResNet classifier for 28x28 grey images.

:class:`SmallResNet` places the module on every residual branch, before the addition (the SE-ResNet placement of
Hu et al., CVPR 2018); :func:`train_fashion_resnet` trains it on Fashion-MNIST with
:func:`dlfrontier.models.classifier.fit_classifier` and measures its parameters and latency.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from dlfrontier.attention import create_attention
from dlfrontier.data.mnist import ImageSet, load_fashion_mnist
from dlfrontier.models.blocks import conv_bn_relu
from dlfrontier.models.classifier import TrainConfig, fit_classifier, subset
from dlfrontier.models.measure import count_params, latency_ms
from dlfrontier.runtime import RunContext


class BasicBlock(nn.Module):
    """ResNet basic block with an attention module on the residual branch, before the addition."""

    def __init__(self, cin: int, cout: int, stride: int, attention: str | None) -> None:
        super().__init__()
        self.branch = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False),
            nn.BatchNorm2d(cout),
        )
        self.attention = create_attention(attention, cout) if attention is not None else nn.Identity()
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.shortcut(x) + self.attention(self.branch(x)))


class SmallResNet(nn.Module):
    """A 3-stage ResNet for 28x28 grey images (one block per stage, widths 16-32-64 at 14, 7, 4 px), 10 classes.

    Shapes:
        x: ``[B, 1, 28, 28]`` -> logits ``[B, 10]``.
    """

    def __init__(self, attention: str | None, *, widths: tuple[int, ...] = (16, 32, 64)) -> None:
        super().__init__()
        layers: list[nn.Module] = [conv_bn_relu(1, widths[0])]
        cin = widths[0]
        for w in widths:
            layers.append(BasicBlock(cin, w, 2, attention))  # 28 -> 14 -> 7 -> 4: cheap enough for a CPU quick run
            cin = w
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x).mean(dim=(2, 3)))

    def attention_params(self) -> int:
        """Parameters of the attention modules alone."""
        return sum(count_params(m.attention) for m in self.modules() if isinstance(m, BasicBlock))


@dataclass
class FashionConfig(TrainConfig):
    """The classifier's training settings plus the test subset."""

    test_subset: int | None = field(
        default=None, metadata={
            "help": "evaluate on the first N test images only (none: all 10,000)", "range": "[1, inf)"}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.test_subset is not None and self.test_subset < 1:
            raise ValueError(f"test_subset={self.test_subset}: expected a positive count, or none for all")


def train_fashion_resnet(ctx: RunContext, cfg: FashionConfig, attention: str | None) -> dict[str, float]:
    """Train :class:`SmallResNet` with ``attention`` on Fashion-MNIST; accuracy, parameters and latency."""
    model = SmallResNet(attention)
    test = subset(load_fashion_mnist("test"), cfg.test_subset)
    out = dict(fit_classifier(ctx, model, load_fashion_mnist("train"), test, cfg))
    out["time/latency_ms"] = latency_ms(model, torch.zeros(1, 1, 28, 28, device=ctx.device))
    out["model/params"] = float(count_params(model))
    out["model/attention_params"] = float(model.attention_params())
    return out


def untrained_accuracy(attention: str | None, seed: int, images: ImageSet) -> float:
    """Test accuracy of an untrained :class:`SmallResNet` (initialised with ``seed``) on ``images``."""
    from dlfrontier.models.classifier import evaluate_accuracy, to_float

    torch.manual_seed(seed)
    model = SmallResNet(attention)
    return evaluate_accuracy(model, to_float(images.images), images.labels)

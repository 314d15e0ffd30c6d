"""A small, deterministic, resumable training loop for image classifiers held in memory."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from dlfrontier.data.mnist import ImageSet
from dlfrontier.models.training import train_epochs

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def to_float(images: torch.Tensor, mean: float = MNIST_MEAN, std: float = MNIST_STD) -> torch.Tensor:
    """uint8 ``[N, 28, 28]`` -> normalised float ``[N, 1, 28, 28]``."""
    return ((images.float() / 255.0 - mean) / std).unsqueeze(1)


@dataclass
class TrainConfig:
    """Settings of :func:`fit_classifier` (also the config of the LeNet experiments)."""

    epochs: int = field(default=4, metadata={"help": "passes over the training set", "range": "[1, inf)"})
    batch_size: int = field(default=64, metadata={"help": "mini-batch size", "range": "[1, inf)"})
    optimizer: Literal["adam", "sgd"] = field(default="adam", metadata={"help": "adam or sgd (with momentum)"})
    lr: float = field(default=1e-3, metadata={"help": "learning rate", "range": "(0, inf)"})
    momentum: float = field(default=0.9, metadata={"help": "SGD momentum", "range": "[0, 1]"})
    weight_decay: float = field(default=0.0, metadata={"help": "L2 weight decay", "range": "[0, inf)"})
    schedule: Literal["constant", "cosine", "inv"] = field(
        default="cosine",
        metadata={"help": "lr schedule: constant, cosine to 0, or Caffe's inv (gamma 1e-4, power 0.75)"},
    )
    train_subset: int | None = field(
        default=None, metadata={"help": "train on the first N images only (none: all)", "range": "[1, inf)"}
    )
    log_every: int = field(default=100, metadata={"help": "log train/loss every N iterations", "range": "[1, inf)"})

    def __post_init__(self) -> None:
        if self.train_subset is not None and self.train_subset < 1:
            raise ValueError(f"train_subset={self.train_subset}: expected a positive count, or none for all")


def subset(images: ImageSet, n: int | None) -> ImageSet:
    """The first ``n`` images of ``images`` (``None``: all of them)."""
    return images if n is None else ImageSet(images.images[:n], images.labels[:n])


def train_size(cfg: TrainConfig, n_train: int) -> int:
    """Images one epoch of ``cfg`` trains on, out of ``n_train``."""
    return n_train if cfg.train_subset is None else min(cfg.train_subset, n_train)


def evaluate_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> float:
    """Top-1 accuracy of ``model`` on ``x`` (``[N, 1, 28, 28]``) against labels ``y`` (``[N]``)."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            correct += int((model(x[i : i + batch_size]).argmax(1) == y[i : i + batch_size]).sum())
    model.train()
    return correct / max(1, len(x))


def _lr_factor(cfg: TrainConfig, it: int, total: int) -> float:
    if cfg.schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * min(it, total) / max(1, total)))
    if cfg.schedule == "inv":
        return (1 + 1e-4 * it) ** -0.75
    return 1.0


def fit_classifier(
    ctx: Any,
    model: nn.Module,
    train: ImageSet,
    test: ImageSet,
    cfg: TrainConfig,
    *,
    prefix: str = "",
) -> dict[str, float]:
    """Train ``model`` with cross-entropy, checkpointing each epoch; resumes from ``ctx.resume_state``.

    The batch order of epoch ``e`` comes from a generator seeded with ``(seed, e)``, so a resumed run
    sees exactly the batches an uninterrupted one would.

    Returns:
        ``{"eval/accuracy": test accuracy, "train/loss": last epoch's mean loss}``.
    """
    device = ctx.device
    model.to(device)
    n = train_size(cfg, len(train.labels))
    x_train = to_float(train.images[:n]).to(device)
    y_train = train.labels[:n].to(device)
    x_test, y_test = to_float(test.images).to(device), test.labels.to(device)
    params = model.parameters()
    opt: torch.optim.Optimizer
    if cfg.optimizer == "adam":
        opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    else:
        opt = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    total = cfg.epochs * math.ceil(n / cfg.batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda it: _lr_factor(cfg, it, total))
    scores, mean_loss = train_epochs(
        ctx, model, opt, sched, n=n, batch_size=cfg.batch_size, epochs=cfg.epochs,
        batch_loss=lambda idx: nn.functional.cross_entropy(model(x_train[idx]), y_train[idx]),
        evaluate=lambda: {"eval/accuracy": evaluate_accuracy(model, x_test, y_test)},
        log_every=cfg.log_every, prefix=prefix,
    )
    return {f"{prefix}eval/accuracy": scores["eval/accuracy"], f"{prefix}train/loss": mean_loss}

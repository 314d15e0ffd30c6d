"""The MNIST baselines of the lecture's Deep Compression table: LeNet-300-100 and LeNet-5.

Quick budget: Adam with a cosine schedule for a few epochs on CPU. Full budget: Caffe's LeNet solver
(SGD, lr 0.01, momentum 0.9, weight decay 5e-4, the "inv" policy, 10,000 iterations of 64 = 10.7 epochs),
the recipe behind the paper's Caffe baselines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from dlfrontier.data.mnist import load_fashion_mnist, load_mnist
from dlfrontier.experiments.base import Anchor, Expect, RunContext, experiment
from dlfrontier.models.classifier import TrainConfig, fit_classifier
from dlfrontier.models.lenet import LeNet5, LeNet300100

CAFFE_SOLVER = {"optimizer": "sgd", "lr": 0.01, "momentum": 0.9, "weight_decay": 5e-4, "schedule": "inv", "epochs": 11}


@dataclass
class LeNetConfig(TrainConfig):
    dataset: Literal["mnist", "fashion-mnist"] = field(
        default="mnist", metadata={"help": "mnist or fashion-mnist (read from the data root)"}
    )


def _data(cfg: LeNetConfig):
    load = load_mnist if cfg.dataset == "mnist" else load_fashion_mnist
    return load("train"), load("test")


@experiment(
    "lenet300-mnist",
    group="compression",
    summary="LeNet-300-100 (784-300-100-10 MLP) trained on MNIST",
    topic="Deep Compression baseline (LeNet-300-100, 1070 KB)",
    config=LeNetConfig,
    budgets={"quick": {"epochs": 5}, "full": CAFFE_SOLVER},
    anchor=Anchor("eval/accuracy", 0.9836, "Han et al. 2016, Deep Compression, Table 1 (LeNet-300-100 reference)"),
    expect={"quick": Expect("eval/accuracy", ">=", 0.975), "full": Expect("eval/accuracy", ">=", 0.980)},
    demo=True,
    data=lambda cfg: (cfg.dataset,),
)
def lenet300_mnist(ctx: RunContext, cfg: LeNetConfig) -> dict[str, float]:
    train, test = _data(cfg)
    return fit_classifier(ctx, LeNet300100(), train, test, cfg)


@experiment(
    "lenet5-mnist",
    group="compression",
    summary="LeNet-5 (Caffe variant, 2 conv + 2 fc) trained on MNIST",
    topic="Deep Compression baseline (LeNet-5, 1720 KB)",
    config=LeNetConfig,
    budgets={"quick": {"epochs": 3}, "full": CAFFE_SOLVER},
    anchor=Anchor("eval/accuracy", 0.9920, "Han et al. 2016, Deep Compression, Table 1 (LeNet-5 reference)"),
    expect={"quick": Expect("eval/accuracy", ">=", 0.988), "full": Expect("eval/accuracy", ">=", 0.990)},
    demo=False,  # its quick criterion runs in CI; the demo keeps one experiment per capability
    data=lambda cfg: (cfg.dataset,),
)
def lenet5_mnist(ctx: RunContext, cfg: LeNetConfig) -> dict[str, float]:
    train, test = _data(cfg)
    return fit_classifier(ctx, LeNet5(), train, test, cfg)

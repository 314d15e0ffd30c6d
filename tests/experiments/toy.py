"""A tiny, fast, deterministic experiment used by the spine's tests (registered only in the test process)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch

from dlfrontier.experiments import EXPERIMENTS
from dlfrontier.experiments.base import Anchor, Baseline, Budget, Expect, Experiment, Paired, register
from dlfrontier.runtime import RunContext


@dataclass
class ToyConfig:
    steps: int = field(default=60, metadata={"help": "SGD steps"})
    lr: float = field(default=0.05, metadata={"help": "learning rate (0: no learning, for a failing run)",
                                              "range": "[0, inf)"})
    checkpoint_every: int = field(default=10, metadata={"help": "steps between checkpoints"})
    mode: Literal["fit", "crash"] = field(default="fit", metadata={"help": "crash raises an internal error"})
    widths: tuple[int, ...] = field(default=(4, 2), metadata={"help": "a tuple field"})
    note: Literal["hi", "bye"] | None = field(default=None, metadata={"help": "an optional string option"})
    verbose: bool = field(default=False, metadata={"help": "a bool field"})


def toy_run(ctx: RunContext, cfg: ToyConfig) -> dict[str, float]:
    """Linear regression by SGD on seeded random data; checkpoints model, optimizer and RNG."""
    if cfg.mode == "crash":
        raise RuntimeError("toy crash")
    x = torch.randn(256, 5)
    w_true = torch.arange(5, dtype=torch.float32)
    y = x @ w_true
    model = torch.nn.Linear(5, 1)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr)
    start = 0
    if ctx.resume_state is not None:
        model.load_state_dict(ctx.resume_state["model"])
        opt.load_state_dict(ctx.resume_state["opt"])
        torch.set_rng_state(ctx.resume_state["rng"])
        start = ctx.resume_state["step"]
    else:
        with torch.no_grad():  # the untrained model, logged at step 0 as the report's no-learning point
            ctx.logger.log({"eval/mse": float(((model(x).squeeze(1) - y) ** 2).mean())}, 0)
    ctx.progress.start(cfg.steps)
    loss = torch.tensor(float("nan"))
    for step in range(start, cfg.steps):
        idx = torch.randint(0, 256, (32,))  # uses the global RNG: resume must restore it
        loss = ((model(x[idx]).squeeze(1) - y[idx]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        ctx.logger.log({"train/loss": float(loss.detach())}, step + 1)
        if (step + 1) % cfg.checkpoint_every == 0:
            ctx.save_checkpoint(
                {"model": model.state_dict(), "opt": opt.state_dict(), "rng": torch.get_rng_state(),
                 "step": step + 1},
                step + 1,
            )
        ctx.progress.update(step + 1)
    with torch.no_grad():
        mse = float(((model(x).squeeze(1) - y) ** 2).mean())
    ctx.logger.log({"eval/mse": mse}, cfg.steps)
    return {"eval/mse": mse, "train/loss": float(loss.detach())}


if "toy-regression" not in EXPERIMENTS:
    register(Experiment(
        name="toy-regression",
        group="compression",
        summary="test-only linear regression",
        topic="tests",
        config=ToyConfig,
        run=toy_run,
        budgets={"quick": Budget({}, Expect("eval/mse", "<=", 1.0)),
                 "full": Budget({"steps": 200}, Expect("eval/mse", "<=", 0.5))},
        anchor=Anchor("eval/mse", 0.0, "exact solution", higher_is_better=False),
        baseline=Baseline(15.0, "an untrained linear model (x @ w_true has variance 30), about half of it"),
    ))

if "toy-regression-slow" not in EXPERIMENTS:  # a second toy, compared with the first on the same seeds
    register(Experiment(
        name="toy-regression-slow",
        group="compression",
        summary="test-only linear regression with a smaller learning rate",
        topic="tests",
        config=ToyConfig,
        run=toy_run,
        budgets={"quick": Budget({"lr": 0.002}, [Expect("eval/mse", "<=", 7.0),
                                                 Expect("train/loss", "<=", 100.0, name="loss finite"),
                                                 Paired("toy-regression", "eval/mse", ">", 0.0, name="slower")]),
                 "full": Budget({"lr": 0.002, "steps": 200}, Expect("eval/mse", "<=", 7.0))},
        anchor=Anchor("eval/mse", 0.0, "exact solution", higher_is_better=False),
        baseline=Baseline(15.0, "an untrained linear model (x @ w_true has variance 30), about half of it"),
    ))

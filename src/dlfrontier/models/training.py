"""The epoch loop shared by the supervised experiments: deterministic batches, logging, checkpoints, resume.

:func:`train_epochs` owns what every in-memory supervised run needs and nothing task-specific: the batch order
of epoch ``e`` comes from a generator seeded with ``(seed, e)``, so a resumed run sees exactly the batches an
uninterrupted one would; ``train/loss`` is logged every ``log_every`` iterations; after each epoch the task's
``evaluate`` is logged and a checkpoint (model, optimizer, scheduler, epoch, iteration, RNG states) is saved. The
caller supplies the loss of a batch of indices and the evaluation, e.g. cross-entropy on images
(:func:`dlfrontier.models.classifier.fit_classifier`), per-pixel cross-entropy (context-seg) or answers (VQA).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from dlfrontier.runtime import rng_state, set_rng_state


def cosine_schedule(opt: torch.optim.Optimizer, total: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Cosine decay of every group's learning rate from its initial value to 0 over ``total`` iterations."""
    return torch.optim.lr_scheduler.LambdaLR(
        opt, lambda it: 0.5 * (1 + math.cos(math.pi * min(it, total) / max(1, total)))
    )


def clip_grad_hook(module: nn.Module, max_norm: float) -> Callable[..., None]:
    """An optimizer step pre-hook that clips ``module``'s gradient norm to ``max_norm``: :func:`train_epochs` steps
    right after ``backward``, so ``opt.register_step_pre_hook(clip_grad_hook(model, 1.0))`` is where clipping goes."""

    def hook(*_: Any) -> None:
        nn.utils.clip_grad_norm_(module.parameters(), max_norm)

    return hook


def train_epochs(
    ctx: Any,
    model: nn.Module,
    opt: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.LRScheduler,
    *,
    n: int,
    batch_size: int,
    epochs: int,
    batch_loss: Callable[[torch.Tensor], torch.Tensor],
    evaluate: Callable[[], dict[str, float]],
    log_every: int = 100,
    prefix: str = "",
    show: str | None = None,
) -> tuple[dict[str, float], float]:
    """Train for ``epochs`` passes over ``n`` examples, resuming from ``ctx.resume_state`` when it is set.

    Args:
        ctx: a :class:`~dlfrontier.runtime.RunContext` (or anything with ``device``, ``seed``,
            ``logger``, ``progress``, ``save_checkpoint`` and ``resume_state``).
        model: the model; it is in train mode during the batches (``evaluate`` may switch modes, then back).
        opt, sched: optimizer and per-iteration scheduler, stepped once per batch.
        n: number of training examples; ``batch_loss`` receives a ``[<=batch_size]`` int64 tensor of indices
            into them, on ``ctx.device``, and returns the scalar loss to minimise.
        evaluate: called after each epoch; its metrics (un-prefixed names like ``eval/accuracy``) are logged
            with ``prefix`` and ``train/epoch_loss``.
        log_every: iterations between ``train/loss`` points (the mean over the window).
        prefix: prepended to every logged key (e.g. ``dense/`` for one phase of a pipeline).
        show: the evaluation metric shown beside the progress bar (default: the first one).

    Returns:
        ``(last evaluation, last epoch's mean loss)``; on a resume of a finished run the evaluation is re-run and
        the loss is NaN.
    """
    batches = math.ceil(n / batch_size)
    total = epochs * batches
    start_epoch, it = 0, 0
    state = ctx.resume_state
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        start_epoch, it = state["epoch"], state["iteration"]
        if "rng" in state:
            set_rng_state(state["rng"])
    ctx.progress.start(total, unit="it")
    ctx.progress.update(it)
    scores: dict[str, float] = {}
    mean_loss = float("nan")
    model.train()
    for epoch in range(start_epoch, epochs):
        gen = torch.Generator().manual_seed(ctx.seed * 100_003 + epoch)
        order = torch.randperm(n, generator=gen).to(ctx.device)
        loss_sum, window = 0.0, 0.0
        for b in range(batches):
            loss = batch_loss(order[b * batch_size : (b + 1) * batch_size])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            it += 1
            value = float(loss.detach())
            loss_sum += value
            window += value
            if it % log_every == 0:
                ctx.logger.log({f"{prefix}train/loss": window / log_every}, it)
                window = 0.0
            ctx.progress.update(it, loss=value)
        mean_loss = loss_sum / batches
        scores = evaluate()
        model.train()
        ctx.logger.log({**{prefix + k: v for k, v in scores.items()}, f"{prefix}train/epoch_loss": mean_loss}, it)
        key = show or next(iter(scores), None)
        if key is not None:
            ctx.progress.update(it, **{key.split("/")[-1]: scores[key]})
        ctx.save_checkpoint(
            {
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(),
                "epoch": epoch + 1,
                "iteration": it,
                "rng": rng_state(),
            },
            step=it,
        )
    if not scores:  # resumed a finished run: nothing trained, evaluate the restored model
        scores = evaluate()
        model.train()
    return scores, mean_loss

"""Training and scoring a VQA model on Sort-of-CLEVR: the run behind every ``vqa-<model>`` experiment.

:func:`train_vqa` generates the training images from the run's seed, optionally pretrains and freezes the model's
CNN as bottom-up features (:func:`bottom_up`), trains with AdamW under a linear warm-up then cosine schedule
(:func:`warmup_cosine`) through :func:`dlfrontier.models.training.train_epochs` (deterministic batches,
per-epoch checkpoints, resume), and after every epoch re-estimates the BatchNorm statistics (:func:`calibrate`) and
scores the fixed test set (:func:`predict`, :func:`score`; ``TEST_SEED``).
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch
from torch import nn

from dlfrontier.data.sort_of_clevr import QUESTION_TYPES, SortOfClevr, make_sort_of_clevr, to_float
from dlfrontier.models.measure import count_params
from dlfrontier.models.training import train_epochs
from dlfrontier.multimodal.batchnorm import recalibrate_batchnorm
from dlfrontier.multimodal.bottom_up import pretrain_bottom_up
from dlfrontier.multimodal.config import VQAConfig
from dlfrontier.multimodal.tables import write_tables
from dlfrontier.multimodal.vqa_base import VQAModel, build_vqa_model
from dlfrontier.runtime import RunContext, show_phase
from dlfrontier.tracking import read_metrics

TEST_SEED = 1_000_003  # every run is scored on the same test images
BOTTOM_UP_SEED = 500_009  # the bottom-up images are their own set, generated from seed + this offset
HEADLINE = ("eval/accuracy_relational", "eval/accuracy_nonrelational", "eval/accuracy")  # logged every epoch


def questions_of(model: VQAModel, data: SortOfClevr) -> torch.Tensor:
    """The question encoding ``model`` reads: ``data.tokens`` or ``data.vectors``."""
    return data.tokens if model.question_kind == "tokens" else data.vectors


def fixed_test_set(cfg: VQAConfig) -> SortOfClevr:
    """The fixed held-out test set of ``cfg.test_images`` images (seed ``TEST_SEED``, 10 + 10 questions each)."""
    return make_sort_of_clevr(cfg.test_images, seed=TEST_SEED)


def predict(model: VQAModel, data: SortOfClevr, *, device: Any = "cpu", batch_images: int = 50) -> torch.Tensor:
    """Predicted answer indices ``[N, Q]`` for every question of ``data``."""
    was_training = model.training
    model.eval()
    questions = questions_of(model, data)
    out = []
    with torch.no_grad():
        for i in range(0, len(data), batch_images):
            x = to_float(data.images[i : i + batch_images].to(device))
            out.append(model(x, questions[i : i + batch_images].to(device)).argmax(-1).cpu())
    model.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, data.answers.shape[1], dtype=torch.long)


def calibrate(model: VQAModel, train: SortOfClevr, *, device: Any = "cpu", images: int = 1000) -> None:
    """Precise BatchNorm statistics for the model's CNN from the first ``images`` training images (a frozen
    bottom-up CNN keeps the statistics it was frozen with)."""
    if not model.cnn_frozen:
        recalibrate_batchnorm(model.cnn, to_float(train.images[:images].to(device)))


def score(pred: torch.Tensor, data: SortOfClevr) -> dict[str, float]:
    """Accuracy overall, on relational and non-relational questions, and per question type (``eval/...`` keys)."""
    correct = (pred == data.answers).float()
    rel = data.relational
    out = {
        "eval/accuracy": float(correct.mean()),
        "eval/accuracy_relational": float(correct[rel].mean()) if rel.any() else float("nan"),
        "eval/accuracy_nonrelational": float(correct[~rel].mean()) if (~rel).any() else float("nan"),
    }
    for t, name in enumerate(QUESTION_TYPES):
        m = data.qtypes == t
        out[f"eval/accuracy_{name.replace('-', '_')}"] = float(correct[m].mean()) if m.any() else float("nan")
    return out


def warmup_cosine(opt: torch.optim.Optimizer, warmup: int, total: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over ``warmup`` iterations, then cosine decay to 0 at iteration ``total``."""

    def factor(it: int) -> float:
        if it < warmup:
            return (it + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * min(it - warmup, total) / max(1, total - warmup)))

    return torch.optim.lr_scheduler.LambdaLR(opt, factor)


def bottom_up(ctx: RunContext, cfg: VQAConfig, model: VQAModel) -> dict[str, float]:
    """Pretrain (on a fresh run) and freeze the model's CNN as bottom-up features; ``{}`` when ``bottom_up_steps``
    is 0. On a resume the checkpoint holds the pretrained CNN, and the pretraining metrics are read back."""
    if cfg.bottom_up_steps <= 0:
        return {}
    if ctx.resume_state is None:
        show_phase(ctx.progress, f"generating {cfg.bottom_up_images:,} Sort-of-CLEVR images for bottom-up features")
        data = make_sort_of_clevr(cfg.bottom_up_images, seed=ctx.seed + BOTTOM_UP_SEED, nonrelational=1,
                                  relational=1)
        show_phase(ctx.progress, f"pretraining bottom-up features ({cfg.bottom_up_steps:,} steps)")
        metrics = pretrain_bottom_up(model.cnn, data, steps=cfg.bottom_up_steps, seed=ctx.seed,
                                     bn_images=cfg.bn_images, head=model.detector, device=ctx.device)
        ctx.logger.log(metrics, 0)
    else:
        logged = read_metrics(ctx.run_dir)
        metrics = {k: v[-1][1] for k, v in logged.items() if k.startswith("bottom_up/")}
    model.freeze_cnn()
    return metrics


def train_vqa(ctx: RunContext, cfg: VQAConfig, model_name: str) -> dict[str, float]:
    """Train ``model_name`` on Sort-of-CLEVR and score it on the fixed test set; checkpoints every epoch.

    Writes ``tables/accuracy.json`` and ``tables/question_types.json`` into the run folder and returns the test
    scores (:func:`score`), the bottom-up metrics, ``train/loss``, ``model/params`` and the timings.
    """
    device = ctx.device
    show_phase(ctx.progress, f"generating {cfg.train_images:,} Sort-of-CLEVR images")
    train = make_sort_of_clevr(
        cfg.train_images, seed=ctx.seed, nonrelational=cfg.nonrelational, relational=cfg.relational
    )
    show_phase(ctx.progress, f"generating the fixed test set ({cfg.test_images:,} Sort-of-CLEVR images)")
    test = fixed_test_set(cfg)
    model = build_vqa_model(model_name, **cfg.model_kwargs()).to(device)
    bottom_up_metrics = bottom_up(ctx, cfg, model)
    questions = questions_of(model, train)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.lr,
                            weight_decay=cfg.weight_decay)
    total = cfg.epochs * math.ceil(len(train) / cfg.batch_images)
    sched = warmup_cosine(opt, cfg.warmup, total)
    start_iteration = ctx.resume_state["iteration"] if ctx.resume_state is not None else 0
    scores: dict[str, float] = {}

    def batch_loss(idx: torch.Tensor) -> torch.Tensor:
        idx = idx.cpu()  # the set stays on the CPU; each batch moves to the device
        logits = model(to_float(train.images[idx].to(device)), questions[idx].to(device))  # [b, Q, A]
        return nn.functional.cross_entropy(logits.flatten(0, 1), train.answers[idx].to(device).flatten())

    def per_epoch() -> dict[str, float]:
        calibrate(model, train, device=device, images=cfg.bn_images)
        scores.update(score(predict(model, test, device=device), test))
        return {k: scores[k] for k in HEADLINE}

    show_phase(ctx.progress, f"training {model_name}")
    start = time.perf_counter()
    _, mean_loss = train_epochs(ctx, model, opt, sched, n=len(train), batch_size=cfg.batch_images,
                                epochs=cfg.epochs, batch_loss=batch_loss, evaluate=per_epoch,
                                log_every=cfg.log_every)
    train_seconds = time.perf_counter() - start
    questions_seen = (total - start_iteration) * cfg.batch_images * (cfg.nonrelational + cfg.relational)
    write_tables(ctx.run_dir, model_name, scores, train_seconds)
    return {**scores, **bottom_up_metrics, "train/loss": mean_loss, "model/params": float(count_params(model)),
            "time/train_seconds": train_seconds,
            "time/questions_per_s": questions_seen / max(train_seconds, 1e-9)}


__all__ = ["BOTTOM_UP_SEED", "TEST_SEED", "bottom_up", "calibrate", "fixed_test_set", "predict", "questions_of",
           "score", "train_vqa", "warmup_cosine"]

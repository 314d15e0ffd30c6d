"""Training the per-frame network from constraints (free fall, walking, causal pair) or, as a ceiling, from labels.

:func:`train_free_fall` trains :class:`~dlfrontier.physics.models.FrameNet` on :func:`make_free_fall` videos
with one of three signals (``mode``): ``physics`` (the fixed-acceleration parabola loss, no labels),
``labels`` (mean squared error to the true heights: the supervised ceiling) or ``free-curvature`` (the ablation:
any parabola fits). :func:`train_walking` uses the constant-velocity loss with the terms against constant
outputs; :func:`train_causal` the implication loss with the terms that make both detectors vary. All are scored
on fixed held-out sets (:data:`TEST_SEED`) with :mod:`dlfrontier.physics.evaluation`, log every epoch, checkpoint
and resume through :func:`dlfrontier.models.training.train_epochs`. The network's initial weights come from the
run's seed alone (:func:`init_model`), so the untrained network of a run can be rebuilt: ``eval/output_spread``
is the trained network's output spread over the untrained one's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from dlfrontier.models.training import cosine_schedule, train_epochs
from dlfrontier.physics import constraints as C
from dlfrontier.physics.data import GRAVITY, make_causal, make_free_fall, make_walking, to_float
from dlfrontier.physics.evaluation import causal_scores, predict_frames, sequence_scores, write_strip
from dlfrontier.physics.models import EvidenceDetectors, FrameNet
from dlfrontier.runtime import RunContext, show_phase

TEST_SEED = 999_979  # every run of a task is scored on the same held-out videos / images
Mode = Literal["physics", "labels", "free-curvature"]


@dataclass
class VideoConfig:
    """Data, network and schedule of a free-fall or walking run (videos of ``frames`` frames)."""

    train_videos: int = field(default=1000, metadata={
        "help": "training videos (generated from the run's seed)", "range": "[1, inf)"})
    test_videos: int = field(default=300, metadata={
        "help": "held-out videos (a fixed seed, the same for every run)", "range": "[2, inf)"})
    image_size: int = field(default=32, metadata={"help": "frame side in pixels", "range": "[16, 128]"})
    frames: int = field(default=8, metadata={
        "help": "frames per video (>= 4, so a parabola does not fit every sequence)", "range": "[4, 64]"})
    width: int = field(default=16, metadata={"help": "channels of the first convolution", "range": "[1, inf)"})
    epochs: int = field(default=8, metadata={"help": "passes over the training videos", "range": "[1, inf)"})
    batch_size: int = field(default=16, metadata={"help": "videos per mini-batch", "range": "[2, inf)"})
    lr: float = field(default=1e-3, metadata={"help": "Adam learning rate (cosine schedule to 0)", "range": "(0, inf)"})
    distance: Literal["l1", "l2"] = field(default="l1", metadata={
        "help": "distance between the outputs and the fitted curve (the paper: l1)"})
    spread_weight: float = field(default=0.5, metadata={
        "help": "walking only: weight of the reward for outputs that vary over a video", "range": "[0, inf)"})
    range_weight: float = field(default=1.0, metadata={
        "help": "walking only: weight of the penalty for outputs outside [0, 1]", "range": "[0, inf)"})
    log_every: int = field(default=20, metadata={"help": "log train/loss every N iterations", "range": "[1, inf)"})


@dataclass
class CausalConfig:
    """Data, network and schedule of a causal-pair run (Peach => Mario)."""

    train_images: int = field(default=4000, metadata={
        "help": "training images (generated from the run's seed)", "range": "[2, inf)"})
    test_images: int = field(default=1000, metadata={
        "help": "held-out images (a fixed seed, the same for every run)", "range": "[1, inf)"})
    image_size: int = field(default=32, metadata={"help": "image side in pixels", "range": "[16, 128]"})
    width: int = field(default=16, metadata={"help": "channels of the first convolution", "range": "[1, inf)"})
    epochs: int = field(default=12, metadata={"help": "passes over the training images", "range": "[1, inf)"})
    batch_size: int = field(default=64, metadata={
        "help": "images per mini-batch (the spread terms are batch statistics)", "range": "[2, inf)"})
    lr: float = field(default=1e-3, metadata={"help": "Adam learning rate (cosine schedule to 0)", "range": "(0, inf)"})
    implication_weight: float = field(default=1.0, metadata={
        "help": "weight of the implication Peach => Mario", "range": "[0, inf)"})
    vary_weight: float = field(default=1.0, metadata={
        "help": "weight of the reward for each detector varying over a batch", "range": "[0, inf)"})
    differ_weight: float = field(default=1.0, metadata={
        "help": "weight of the reward for the two detectors differing", "range": "[0, inf)"})
    converse_weight: float = field(default=1.0, metadata={
        "help": "weight of the reward for Mario firing more often than Peach", "range": "[0, inf)"})
    bias: float = field(default=-2.0, metadata={
        "help": "initial logit of both detectors (an empty scene: absent)", "range": "(-inf, inf)"})
    log_every: int = field(default=20, metadata={"help": "log train/loss every N iterations", "range": "[1, inf)"})


def init_model(seed: int, **kwargs: Any) -> FrameNet:
    """A :class:`FrameNet` whose initial weights depend on ``seed`` only (the global RNG is left as it was)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return FrameNet(**kwargs)


def causal_model(seed: int, cfg: CausalConfig) -> EvidenceDetectors:
    """The two presence detectors (Peach, Mario), initial weights from ``seed`` only."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return EvidenceDetectors(channels=3, width=cfg.width, outputs=2, bias=cfg.bias)


def video_sets(task: str, cfg: VideoConfig, seed: int) -> tuple[Any, Any]:
    """(training videos from ``seed``, the fixed held-out videos) of ``task`` (``free-fall`` or ``walking``)."""
    make = make_free_fall if task == "free-fall" else make_walking
    return (make(cfg.train_videos, seed, size=cfg.image_size, frames=cfg.frames),
            make(cfg.test_videos, TEST_SEED, size=cfg.image_size, frames=cfg.frames))


def truth_of(task: str, videos: Any) -> torch.Tensor:
    """What the network should recover: heights (free fall) or horizontal positions (walking), ``[N, T]``."""
    return videos.heights if task == "free-fall" else videos.xs


def video_loss(task: str, mode: Mode, cfg: VideoConfig, y: torch.Tensor, t: torch.Tensor,
               truth: torch.Tensor) -> torch.Tensor:
    """The training loss of outputs ``y`` ``[B, T]``; only ``mode="labels"`` reads ``truth``."""
    if mode == "labels":
        return nn.functional.mse_loss(y, truth)
    if task == "walking":
        return C.walking_loss(y, t, spread_weight=cfg.spread_weight, range_weight=cfg.range_weight,
                              distance=cfg.distance)
    if mode == "free-curvature":
        return C.free_curvature_loss(y, t, cfg.distance)
    return C.free_fall_loss(y, t, GRAVITY, cfg.distance)


def train_videos(ctx: RunContext, cfg: VideoConfig, task: str, mode: Mode) -> dict[str, float]:
    """Train on ``task`` videos with ``mode``'s signal; resumable. Returns the held-out scores.

    Writes ``strip.png`` into the run folder: held-out frames with the predicted curve (affinely fitted to the
    truth) over the true one and the fitted parabola or line.
    """
    show_phase(ctx.progress, f"generating {cfg.train_videos:,} + {cfg.test_videos:,} {task} videos")
    train, test = video_sets(task, cfg, ctx.seed)
    dev = ctx.device
    model = init_model(ctx.seed, size=cfg.image_size, width=cfg.width).to(dev)
    x_test, y_test = test.frames.to(dev), truth_of(task, test)
    untrained = predict_frames(model, x_test)
    x_train, truth, t = train.frames.to(dev), truth_of(task, train).to(dev), train.times.to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    total = cfg.epochs * math.ceil(len(x_train) / cfg.batch_size)

    def batch_loss(idx: torch.Tensor) -> torch.Tensor:
        y = model.sequences(to_float(x_train[idx]))
        return video_loss(task, mode, cfg, y, t, truth[idx])

    def per_epoch() -> dict[str, float]:
        return sequence_scores(predict_frames(model, x_test), y_test, untrained)

    show_phase(ctx.progress, "training")
    scores, mean_loss = train_epochs(ctx, model, opt, cosine_schedule(opt, total), n=len(x_train),
                                     batch_size=cfg.batch_size, epochs=cfg.epochs, batch_loss=batch_loss,
                                     evaluate=per_epoch, log_every=cfg.log_every,
                                     show="eval/corr" if task == "free-fall" else "eval/abs_corr")
    write_strip(ctx.run_dir / "strip.png", test, predict_frames(model, x_test[:4]), task=task,
                title=f"{ctx.experiment} (seed {ctx.seed})")
    return {**scores, "train/loss": mean_loss}


def causal_sets(cfg: CausalConfig, seed: int) -> tuple[Any, Any]:
    """(training images from ``seed``, the fixed held-out images)."""
    return (make_causal(cfg.train_images, seed, size=cfg.image_size),
            make_causal(cfg.test_images, TEST_SEED, size=cfg.image_size))


def train_causal(ctx: RunContext, cfg: CausalConfig) -> dict[str, float]:
    """Train two presence detectors from Peach => Mario alone (no labels); resumable. Held-out accuracies."""
    show_phase(ctx.progress, f"generating {cfg.train_images:,} + {cfg.test_images:,} causal-pair images")
    train, test = causal_sets(cfg, ctx.seed)
    dev = ctx.device
    model = causal_model(ctx.seed, cfg).to(dev)
    x_train = train.images.to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    total = cfg.epochs * math.ceil(len(x_train) / cfg.batch_size)

    def batch_loss(idx: torch.Tensor) -> torch.Tensor:
        return C.causal_loss(model(to_float(x_train[idx])), implication_weight=cfg.implication_weight,
                             vary_weight=cfg.vary_weight, differ_weight=cfg.differ_weight,
                             converse_weight=cfg.converse_weight)

    show_phase(ctx.progress, "training")
    scores, mean_loss = train_epochs(
        ctx, model, opt, cosine_schedule(opt, total), n=len(x_train), batch_size=cfg.batch_size,
        epochs=cfg.epochs, batch_loss=batch_loss, evaluate=lambda: causal_scores(model, test, dev),
        log_every=cfg.log_every, show="eval/min_accuracy")
    return {**scores, "train/loss": mean_loss}


def untrained_video_scores(task: str, cfg: VideoConfig, seeds: range | list[int]) -> list[dict[str, float]]:
    """The held-out scores of the untrained network of each seed (the declared no-learning baselines)."""
    _, test = video_sets(task, VideoConfig(**{**cfg.__dict__, "train_videos": 1}), 0)
    out = []
    for s in seeds:
        pred = predict_frames(init_model(s, size=cfg.image_size, width=cfg.width), test.frames)
        out.append(sequence_scores(pred, truth_of(task, test), pred))
    return out


def untrained_causal_scores(cfg: CausalConfig, seeds: range | list[int]) -> list[dict[str, float]]:
    """The held-out accuracies of the untrained detectors of each seed."""
    test = make_causal(cfg.test_images, TEST_SEED, size=cfg.image_size)
    return [causal_scores(causal_model(s, cfg), test, torch.device("cpu")) for s in seeds]

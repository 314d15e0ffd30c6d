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
    restarts: int = field(default=1, metadata={
        "help": "initialisations trained in full; the one with the lowest label-free loss on the training images "
                "is kept (no labels read)", "range": "[1, inf)"})
    log_every: int = field(default=20, metadata={"help": "log train/loss every N iterations", "range": "[1, inf)"})


def init_model(seed: int, **kwargs: Any) -> FrameNet:
    """A :class:`FrameNet` whose initial weights depend on ``seed`` only (the global RNG is left as it was)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return FrameNet(**kwargs)


def restart_seed(seed: int, restart: int) -> int:
    """The initialisation seed of restart ``restart`` of a run (restart 0: the run's own seed)."""
    return seed + 7919 * restart


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


def causal_batch_loss(logits: torch.Tensor, cfg: CausalConfig) -> torch.Tensor:
    """The label-free training loss of presence logits ``[B, 2]`` (:func:`~.constraints.causal_loss`, ``cfg``'s
    weights)."""
    return C.causal_loss(logits, implication_weight=cfg.implication_weight, vary_weight=cfg.vary_weight,
                         differ_weight=cfg.differ_weight, converse_weight=cfg.converse_weight)


def causal_objective(model: nn.Module, images: torch.Tensor, cfg: CausalConfig, chunk: int = 500) -> float:
    """The label-free loss of ``model`` on all ``images`` (uint8 ``[N, 3, H, W]``) taken as one batch.

    This is the training objective evaluated at the final weights: it reads the images only, never whether Peach
    or Mario is in them, so selecting among restarts by it is model selection by the training objective.
    """
    was = model.training
    model.eval()
    with torch.no_grad():
        logits = torch.cat([model(to_float(images[i : i + chunk])) for i in range(0, len(images), chunk)])
    model.train(was)
    return float(causal_batch_loss(logits, cfg))


def select_restart(objectives: list[float]) -> int:
    """The index of the lowest objective (the first on ties): the restart that is kept."""
    return min(range(len(objectives)), key=lambda k: (objectives[k], k))


class _RestartView:
    """The run context seen by one restart: prefixed logs, offset progress, its own checkpoint slot. The seed (the
    batch order) is the run's: restarts differ only in their initial weights."""

    def __init__(self, ctx: Any, restart: int, total: int, resume_state: dict[str, Any] | None,
                 save: Any) -> None:
        self.seed, self.device, self.resume_state = ctx.seed, ctx.device, resume_state
        self._ctx, self._offset, self._save = ctx, restart * total, save
        self._prefix = f"restart{restart}/"
        self.logger, self.progress = self, self

    def log(self, metrics: dict[str, float], step: int) -> None:
        self._ctx.logger.log({self._prefix + k: v for k, v in metrics.items()}, step)

    def start(self, total: float, unit: str = "it") -> None:
        pass

    def update(self, completed: float, **info: float) -> None:
        self._ctx.progress.update(self._offset + completed, **info)

    def save_checkpoint(self, state: dict[str, Any], step: int) -> None:
        self._save(state, step)


def train_causal(ctx: RunContext, cfg: CausalConfig) -> dict[str, float]:
    """Train two presence detectors from Peach => Mario alone (no labels); resumable. Held-out accuracies.

    With ``cfg.restarts`` = K > 1, K initialisations (:func:`restart_seed`) are trained in full, one after the
    other, each logged under ``restartK/``; the one whose label-free loss on the training images
    (:func:`causal_objective`) is lowest is kept (:func:`select_restart`), and its held-out curve is logged under
    the usual keys. The held-out labels are read only to score, never to choose.
    """
    show_phase(ctx.progress, f"generating {cfg.train_images:,} + {cfg.test_images:,} causal-pair images")
    train, test = causal_sets(cfg, ctx.seed)
    dev = ctx.device
    x_train = train.images.to(dev)
    batches = math.ceil(len(x_train) / cfg.batch_size)
    total = cfg.epochs * batches
    if cfg.restarts == 1:  # a single training run, logged and checkpointed as it always was
        model = causal_model(ctx.seed, cfg).to(dev)
        scores, mean_loss = _fit_causal(ctx, cfg, model, x_train, test, total)
        return {**scores, "train/loss": mean_loss, "train/objective": causal_objective(model, x_train, cfg)}

    resume = (ctx.resume_state or {}).get("restarts") or {}
    start = int(resume.get("next", 0))
    objectives: list[float] = list(resume.get("objectives", []))
    best: dict[str, Any] | None = resume.get("best")
    ctx.progress.start(cfg.restarts * total, unit="it")
    ctx.progress.update(start * total)
    model = causal_model(ctx.seed, cfg).to(dev)
    for k in range(start, cfg.restarts):
        model = causal_model(restart_seed(ctx.seed, k), cfg).to(dev)
        history: list[tuple[int, dict[str, float]]] = list(resume.get("history", [])) if k == start else []

        def save(state: dict[str, Any], step: int, k: int = k, history: list = history, best: Any = best) -> None:
            ctx.save_checkpoint({"model": state["model"], "restarts": {
                "next": k, "objectives": list(objectives), "best": best, "inner": state, "history": list(history)}},
                step=k * total + step)

        view = _RestartView(ctx, k, total, resume.get("inner") if k == start else None, save)
        show_phase(ctx.progress, f"training restart {k + 1}/{cfg.restarts}")

        def evaluate(history: list = history, model: nn.Module = model) -> dict[str, float]:
            scores = causal_scores(model, test, dev)
            history.append(((len(history) + 1) * batches, scores))
            return scores

        scores, mean_loss = _fit_causal(view, cfg, model, x_train, test, total, evaluate=evaluate)
        objective = causal_objective(model, x_train, cfg)
        objectives.append(objective)
        ctx.logger.log({f"restart{k}/train/objective": objective}, total)
        if select_restart(objectives) == k:
            best = {"restart": k, "model": {n: t.detach().cpu().clone() for n, t in model.state_dict().items()},
                    "scores": scores, "loss": mean_loss, "history": list(history)}
        ctx.save_checkpoint({"model": best["model"] if best else model.state_dict(), "restarts": {
            "next": k + 1, "objectives": list(objectives), "best": best, "inner": None, "history": []}},
            step=(k + 1) * total)
    assert best is not None
    model.load_state_dict(best["model"])
    out = {**best["scores"], "train/loss": best["loss"], "train/objective": objectives[best["restart"]],
           "train/restart": float(best["restart"])}
    if start < cfg.restarts:  # the kept restart's held-out curve under the usual keys (once, not on a re-resume)
        for step, scores in best["history"]:
            ctx.logger.log(scores, step)
        ctx.logger.log({k: v for k, v in out.items() if k.startswith("train/")}, total)
    return out


def _fit_causal(ctx: Any, cfg: CausalConfig, model: nn.Module, x_train: torch.Tensor, test: Any, total: int,
                evaluate: Any = None) -> tuple[dict[str, float], float]:
    dev = x_train.device
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)

    def batch_loss(idx: torch.Tensor) -> torch.Tensor:
        return causal_batch_loss(model(to_float(x_train[idx])), cfg)

    show_phase(ctx.progress, "training")
    return train_epochs(
        ctx, model, opt, cosine_schedule(opt, total), n=len(x_train), batch_size=cfg.batch_size,
        epochs=cfg.epochs, batch_loss=batch_loss, evaluate=evaluate or (lambda: causal_scores(model, test, dev)),
        log_every=cfg.log_every, show="eval/min_accuracy")


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

"""Context modules in a small FCN on the procedural context-seg set: the model, its scoring and its training.

``SegFCN`` puts a context module (Non-local, DANet, OCNet, CCNet, EMANet, or none) between a stride-2 stem and a
3x3 head; :func:`train_context_seg` trains it on :func:`dlfrontier.data.context_seg.make_context_seg` images
(generated from the run's seed) and scores mIoU on a fixed test set (:data:`TEST_SEED`), so every run and every
module is judged on the same images. The objects' classes are only decidable from a far-away coloured key, so a
network without long-range context must guess them (see ``docs/attention.md``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from dlfrontier.attention import create_attention
from dlfrontier.data.context_seg import SegSet, confusion_matrix, make_context_seg, mean_iou
from dlfrontier.models.blocks import conv_bn_relu
from dlfrontier.models.measure import count_params, latency_ms
from dlfrontier.models.training import cosine_schedule, train_epochs
from dlfrontier.runtime import RunContext, show_phase
from dlfrontier.tracking import atomic_write_json

TEST_SEED = 999_983  # every context-seg run is scored on the same test images
LABELS = ("background", "red", "green", "blue")  # label 0 and the three key colours
NUM_LABELS = len(LABELS)


@dataclass
class ContextSegConfig:
    """Data, network width and training schedule of a context-seg run."""

    train_images: int = field(default=3200, metadata={
        "help": "training images (generated from the run's seed)", "range": "[1, inf)"})
    test_images: int = field(default=500, metadata={
        "help": "test images (a fixed seed, the same for every run)", "range": "[1, inf)"})
    image_size: int = field(default=32, metadata={"help": "image side in pixels (even)", "range": "[1, inf)"})
    key_size: int = field(default=5, metadata={
        "help": "side of the coloured key square in pixels", "range": "[1, inf)"})
    width: int = field(default=16, metadata={
        "help": "channels of the FCN and of the context module", "range": "[1, inf)"})
    epochs: int = field(default=12, metadata={"help": "passes over the training set", "range": "[1, inf)"})
    batch_size: int = field(default=32, metadata={"help": "mini-batch size", "range": "[1, inf)"})
    lr: float = field(default=1e-2, metadata={
        "help": "AdamW learning rate (cosine schedule to 0)", "range": "(0, inf)"})
    weight_decay: float = field(default=1e-4, metadata={"help": "AdamW weight decay", "range": "[0, inf)"})
    log_every: int = field(default=50, metadata={"help": "log train/loss every N iterations", "range": "[1, inf)"})


class SegFCN(nn.Module):
    """A small FCN: stem to stride 2, an optional context module, a 3x3 head, bilinear upsampling.

    The stem's receptive field is 9 input pixels and the whole network's 17, so without a context module a
    pixel cannot see a key more than 8 pixels away.

    Shapes:
        x: ``[B, 3, H, W]`` (H, W even) -> logits ``[B, num_labels, H, W]``.
    """

    def __init__(self, context: nn.Module | None, *, width: int = 32, num_labels: int = NUM_LABELS) -> None:
        super().__init__()
        self.stem = nn.Sequential(conv_bn_relu(3, width), conv_bn_relu(width, width, stride=2),
                                  conv_bn_relu(width, width))
        self.context = context if context is not None else nn.Identity()
        self.head = nn.Sequential(conv_bn_relu(width, width), nn.Conv2d(width, num_labels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.head(self.context(self.stem(x)))  # [B, L, H/2, W/2]
        return nn.functional.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)


def build_seg_fcn(module: str | None, width: int, options: dict[str, Any] | None = None) -> SegFCN:
    """:class:`SegFCN` with ``create_attention(module, width, **options)`` as its context (``None``: no module)."""
    context = create_attention(module, width, **(options or {})) if module is not None else None
    return SegFCN(context, width=width)


def segmentation_scores(conf: torch.Tensor) -> dict[str, Any]:
    """mIoU, pixel accuracy, per-label IoU and object-pixel accuracy from a ``[L, L]`` confusion matrix."""
    tp = conf.diag().double()
    union = conf.sum(0).double() + conf.sum(1).double() - tp
    return {
        "miou": mean_iou(conf),
        "pixel_acc": float(tp.sum() / conf.sum()),
        "object_acc": float(tp[1:].sum() / conf[1:].sum()),
        "iou": [float(t / u) if u > 0 else float("nan") for t, u in zip(tp, union, strict=True)],
    }


def evaluate_segmentation(model: nn.Module, images: torch.Tensor, masks: torch.Tensor, *, batch: int = 250) -> dict:
    """mIoU, pixel accuracy, per-label IoU and object-pixel accuracy of ``model`` on a labelled set."""
    was_training = model.training
    model.eval()
    conf = torch.zeros(NUM_LABELS, NUM_LABELS, dtype=torch.long)
    with torch.no_grad():
        for i in range(0, len(images), batch):
            pred = model(images[i : i + batch]).argmax(1).cpu()
            conf += confusion_matrix(pred, masks[i : i + batch].cpu(), NUM_LABELS)
    model.train(was_training)
    return segmentation_scores(conf)


def fixed_test_set(cfg: ContextSegConfig) -> SegSet:
    """The fixed test set every context-seg run is scored on (seed :data:`TEST_SEED`)."""
    return make_context_seg(cfg.test_images, seed=TEST_SEED, size=cfg.image_size, key_size=cfg.key_size)


def train_context_seg(ctx: RunContext, cfg: ContextSegConfig, module: str | None,
                      options: dict[str, Any] | None = None) -> dict[str, float]:
    """Train :func:`build_seg_fcn` on context-seg with AdamW and a cosine schedule; resumable.

    Returns the final test scores (``eval/miou``, ``eval/pixel_acc``, ``eval/object_acc``), the last epoch's
    mean loss, parameter counts, the forward latency of one image and the training speed; writes
    ``tables/iou.json`` (IoU per label) into the run folder.
    """
    return _train(ctx, cfg, module, options or {})


def _train(ctx: RunContext, cfg: ContextSegConfig, module: str | None, options: dict[str, Any]) -> dict[str, float]:
    device = ctx.device
    show_phase(ctx.progress, f"generating {cfg.train_images:,} context-segmentation images")
    train = make_context_seg(cfg.train_images, seed=ctx.seed, size=cfg.image_size, key_size=cfg.key_size)
    show_phase(ctx.progress, f"generating the fixed test set ({cfg.test_images:,} images)")
    test = fixed_test_set(cfg)
    model = build_seg_fcn(module, cfg.width, options).to(device)
    x_train, y_train = train.images.to(device), train.masks.to(device)
    x_test, y_test = test.images.to(device), test.masks.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    n = len(x_train)
    total = cfg.epochs * math.ceil(n / cfg.batch_size)
    start_iteration = ctx.resume_state["iteration"] if ctx.resume_state is not None else 0
    show_phase(ctx.progress, "training")
    start = time.perf_counter()

    def per_epoch() -> dict[str, float]:
        scores = evaluate_segmentation(model, x_test, y_test)
        return {"eval/miou": scores["miou"], "eval/object_acc": scores["object_acc"]}

    _, mean_loss = train_epochs(
        ctx, model, opt, cosine_schedule(opt, total), n=n, batch_size=cfg.batch_size, epochs=cfg.epochs,
        batch_loss=lambda idx: nn.functional.cross_entropy(model(x_train[idx]), y_train[idx]),
        evaluate=per_epoch, log_every=cfg.log_every,
    )
    train_seconds = time.perf_counter() - start
    scores = evaluate_segmentation(model, x_test, y_test)
    lat = latency_ms(model, x_test[:1])
    write_iou_table(ctx, scores["iou"], module)
    return {
        "eval/miou": scores["miou"],
        "eval/pixel_acc": scores["pixel_acc"],
        "eval/object_acc": scores["object_acc"],
        "train/loss": mean_loss,
        "model/params": float(count_params(model)),
        "model/context_params": float(count_params(model.context)),
        "time/latency_ms": lat,
        "time/train_sps": (total - start_iteration) * cfg.batch_size / max(train_seconds, 1e-9),
    }


def write_iou_table(ctx: RunContext, iou: list[float], module: str | None) -> None:
    """``tables/iou.json`` in the run folder: IoU per label."""
    ctx.run_dir.joinpath("tables").mkdir(parents=True, exist_ok=True)
    atomic_write_json(
        ctx.run_dir / "tables" / "iou.json",
        {
            "title": f"context-seg IoU per label ({module or 'none'})",
            "columns": ["label", "IoU"],
            "rows": [[name, round(v, 4)] for name, v in zip(LABELS, iou, strict=True)],
        },
    )


def untrained_miou(cfg: ContextSegConfig, module: str | None, seed: int,
                   options: dict[str, Any] | None = None) -> float:
    """mIoU of an untrained :func:`build_seg_fcn` (initialised with ``seed``) on the fixed test set."""
    torch.manual_seed(seed)
    model = build_seg_fcn(module, cfg.width, options)
    test = fixed_test_set(cfg)
    return evaluate_segmentation(model, test.images, test.masks)["miou"]


def background_miou(cfg: ContextSegConfig) -> float:
    """mIoU of predicting background everywhere on the fixed test set (the majority-label answer)."""
    masks = fixed_test_set(cfg).masks
    return segmentation_scores(confusion_matrix(torch.zeros_like(masks), masks, NUM_LABELS))["miou"]

"""Does attention help? Context modules in a small FCN on context-seg, and SE/CBAM/GC in a small ResNet.

Papers: Wang et al., "Non-local Neural Networks", CVPR 2018 (https://arxiv.org/abs/1711.07971); Fu et al.,
"Dual Attention Network for Scene Segmentation", CVPR 2019 (https://arxiv.org/abs/1809.02983); Yuan et al.,
"OCNet: Object Context Network for Scene Parsing", 2018 (https://arxiv.org/abs/1809.00916); Huang et al.,
"CCNet: Criss-Cross Attention for Semantic Segmentation", ICCV 2019 (https://arxiv.org/abs/1811.11721); Li et al.,
"Expectation-Maximization Attention Networks for Semantic Segmentation", ICCV 2019
(https://arxiv.org/abs/1907.13426); Hu et al., "Squeeze-and-Excitation Networks", CVPR 2018
(https://arxiv.org/abs/1709.01507); Woo et al., "CBAM", ECCV 2018 (https://arxiv.org/abs/1807.06521);
Cao et al., "GCNet", ICCVW 2019 (https://arxiv.org/abs/1904.11492).

``context-seg-<module>``: the same FCN (stride-2 stem, context module at 16x16, 3x3 head) on the procedural
context-seg set (:mod:`dlfrontier.data.context_seg`), whose object classes are only decidable from a far-away
key; mIoU on a fixed test set, parameters and CPU latency. ``attention-fashion-mnist-<module>``: a 3-stage
ResNet with the module on every residual branch (SE-ResNet placement), Fashion-MNIST accuracy.
"""

from __future__ import annotations

import contextlib
import math
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from dlfrontier.attention import create_attention
from dlfrontier.data.context_seg import confusion_matrix, make_context_seg, mean_iou
from dlfrontier.data.mnist import ImageSet, load_fashion_mnist
from dlfrontier.experiments.base import Anchor, Expect, RunContext, experiment
from dlfrontier.models.classifier import TrainConfig, fit_classifier
from dlfrontier.models.training import cosine_schedule, train_epochs
from dlfrontier.tracking import atomic_write_json

TEST_SEED = 999_983  # every context-seg run is scored on the same test images
LABELS = ("background", "red", "green", "blue")  # label 0 and the three key colours
NUM_LABELS = len(LABELS)


def _conv_bn_relu(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class SegFCN(nn.Module):
    """A small FCN: stem to stride 2, an optional context module, a 3x3 head, bilinear upsampling.

    The stem's receptive field is 9 input pixels and the whole network's 17, so without a context module a
    pixel cannot see a key more than 8 pixels away.

    Shapes:
        x: ``[B, 3, H, W]`` (H, W even) -> logits ``[B, num_labels, H, W]``.
    """

    def __init__(self, context: nn.Module | None, *, width: int = 32, num_labels: int = NUM_LABELS) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            _conv_bn_relu(3, width), _conv_bn_relu(width, width, stride=2), _conv_bn_relu(width, width)
        )
        self.context = context if context is not None else nn.Identity()
        self.head = nn.Sequential(_conv_bn_relu(width, width), nn.Conv2d(width, num_labels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.head(self.context(self.stem(x)))  # [B, L, H/2, W/2]
        return nn.functional.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def latency_ms(model: nn.Module, x: torch.Tensor, *, repeats: int = 20) -> float:
    """Median wall time of one forward pass (eval mode, no gradients), in milliseconds."""
    was_training = model.training
    model.eval()
    times = []
    with torch.no_grad():
        model(x)  # warm-up
        for _ in range(repeats):
            t = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t)
    model.train(was_training)
    return 1000.0 * statistics.median(times)


@contextlib.contextmanager
def cpu_threads(n: int) -> Iterator[None]:
    """Use ``n`` torch CPU threads inside the block (0: unchanged). Small nets on a shared 2-core machine run
    many times faster on one thread than on two oversubscribed ones."""
    before = torch.get_num_threads()
    if n > 0:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# --------------------------------------------------------------------------------------------- context-seg


@dataclass
class ContextSegConfig:
    train_images: int = field(default=3200, metadata={"help": "training images (generated from the run's seed)"})
    test_images: int = field(default=500, metadata={"help": "test images (a fixed seed, the same for every run)"})
    image_size: int = field(default=32, metadata={"help": "image side in pixels (even)"})
    key_size: int = field(default=5, metadata={"help": "side of the coloured key square in pixels"})
    width: int = field(default=16, metadata={"help": "channels of the FCN and of the context module"})
    epochs: int = field(default=12, metadata={"help": "passes over the training set"})
    batch_size: int = field(default=32, metadata={"help": "mini-batch size"})
    lr: float = field(default=1e-2, metadata={"help": "AdamW learning rate (cosine schedule to 0)"})
    weight_decay: float = field(default=1e-4, metadata={"help": "AdamW weight decay"})
    log_every: int = field(default=50, metadata={"help": "log train/loss every N iterations"})
    threads: int = field(default=1, metadata={"help": "torch CPU threads during the run (0: leave torch's setting)"})


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
    tp = conf.diag().double()
    union = conf.sum(0).double() + conf.sum(1).double() - tp
    return {
        "miou": mean_iou(conf),
        "pixel_acc": float(tp.sum() / conf.sum()),
        "object_acc": float(tp[1:].sum() / conf[1:].sum()),
        "iou": [float(t / u) if u > 0 else float("nan") for t, u in zip(tp, union, strict=True)],
    }


def train_context_seg(ctx: RunContext, cfg: ContextSegConfig, module: str | None, options: dict[str, Any]) -> dict:
    """Train :class:`SegFCN` with ``create_attention(module, width, **options)`` on context-seg; resumable."""
    with cpu_threads(cfg.threads):
        return _train_context_seg(ctx, cfg, module, options)


def _train_context_seg(ctx: RunContext, cfg: ContextSegConfig, module: str | None, options: dict[str, Any]) -> dict:
    device = ctx.device
    train = make_context_seg(cfg.train_images, seed=ctx.seed, size=cfg.image_size, key_size=cfg.key_size)
    test = make_context_seg(cfg.test_images, seed=TEST_SEED, size=cfg.image_size, key_size=cfg.key_size)
    context = create_attention(module, cfg.width, **options) if module is not None else None
    model = SegFCN(context, width=cfg.width).to(device)
    x_train, y_train = train.images.to(device), train.masks.to(device)
    x_test, y_test = test.images.to(device), test.masks.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    n = len(x_train)
    batches = math.ceil(n / cfg.batch_size)
    total = cfg.epochs * batches
    start_iteration = ctx.resume_state["iteration"] if ctx.resume_state is not None else 0
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
    ctx.run_dir.joinpath("tables").mkdir(parents=True, exist_ok=True)
    atomic_write_json(
        ctx.run_dir / "tables" / "iou.json",
        {
            "title": f"context-seg IoU per label ({module or 'none'})",
            "columns": ["label", "IoU"],
            "rows": [[name, round(v, 4)] for name, v in zip(LABELS, scores["iou"], strict=True)],
        },
    )
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


NO_CONTEXT_MIOU = 0.4  # background IoU 1 + three object classes guessed (IoU 1/5 each), averaged over 4 labels
SEG_ANCHOR = Anchor(
    "eval/miou",
    NO_CONTEXT_MIOU,
    "analytic ceiling without context: perfect object/background split, class guessed (IoU 1/5 per object class)",
)

# name -> (registry name, options, quick criterion, summary)
CONTEXT_SEG: dict[str, tuple[str | None, dict[str, Any], float, str]] = {
    "none": (None, {}, 0.35, "no context module (the baseline FCN)"),
    "non-local": ("non-local", {}, 0.80, "embedded-Gaussian non-local block"),
    "danet": ("danet", {"reduction": 2}, 0.80, "DANet position + channel attention (summed)"),
    "oc": ("oc", {}, 0.80, "OCNet base object context"),
    "cc-r1": ("cc", {"recurrence": 1, "reduction": 2}, 0.50, "criss-cross attention, one loop (row and column)"),
    "cc-r2": ("cc", {"recurrence": 2, "reduction": 2}, 0.85, "criss-cross attention, two loops (whole image)"),
    "ema": ("ema", {"num_bases": 16, "grad_through_em": True}, 0.80, "EMANet EM attention unit (16 bases, T=3)"),
}


def _register_context_seg(
    suffix: str, module: str | None, options: dict[str, Any], threshold: float, what: str
) -> None:
    def run(ctx: RunContext, cfg: ContextSegConfig) -> dict[str, float]:
        return train_context_seg(ctx, cfg, module, options)

    experiment(
        f"context-seg-{suffix}",
        group="attention",
        summary=f"small FCN with {what} on the procedural context-seg set (mIoU)",
        topic="Self-attention for scene parsing: does long-range context help?",
        config=ContextSegConfig,
        budgets={"quick": {}, "full": {"train_images": 20000, "epochs": 20, "width": 32, "lr": 3e-3}},
        anchor=SEG_ANCHOR,
        expect=Expect("eval/miou", ">=", threshold),
        curve="eval/miou",
        demo=suffix == "non-local",  # the module that learns the task on every seed
    )(run)


for _suffix, (_module, _options, _threshold, _what) in CONTEXT_SEG.items():
    _register_context_seg(_suffix, _module, _options, _threshold, _what)


# ------------------------------------------------------------------------------------ Fashion-MNIST ResNet


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
    """A 3-stage ResNet for 28x28 grey images (one block per stage, widths 16-32-64 at 14, 7, 4 px), 10 classes."""

    def __init__(self, attention: str | None, *, widths: tuple[int, ...] = (16, 32, 64)) -> None:
        super().__init__()
        layers: list[nn.Module] = [_conv_bn_relu(1, widths[0])]
        cin = widths[0]
        for w in widths:
            layers.append(BasicBlock(cin, w, 2, attention))  # 28 -> 14 -> 7 -> 4: cheap enough for a CPU quick run
            cin = w
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x).mean(dim=(2, 3)))


@dataclass
class FashionConfig(TrainConfig):
    test_subset: int = field(default=0, metadata={"help": "evaluate on the first N test images only (0: all)"})
    threads: int = field(default=1, metadata={"help": "torch CPU threads during the run (0: leave torch's setting)"})


def _register_fashion(module: str | None) -> None:
    suffix = module or "none"

    def run(ctx: RunContext, cfg: FashionConfig) -> dict[str, float]:
        model = SmallResNet(module)
        test = load_fashion_mnist("test")
        if cfg.test_subset:
            test = ImageSet(test.images[: cfg.test_subset], test.labels[: cfg.test_subset])
        with cpu_threads(cfg.threads):
            out = dict(fit_classifier(ctx, model, load_fashion_mnist("train"), test, cfg))
        attn = sum(count_params(m.attention) for m in model.modules() if isinstance(m, BasicBlock))
        out["model/params"] = float(count_params(model))
        out["model/attention_params"] = float(attn)
        with cpu_threads(cfg.threads):
            out["time/latency_ms"] = latency_ms(model, torch.zeros(1, 1, 28, 28, device=ctx.device))
        return out

    experiment(
        f"attention-fashion-mnist-{suffix}",
        group="attention",
        summary=f"3-stage ResNet with {suffix.upper() if module else 'no'} attention on Fashion-MNIST",
        topic="Channel and spatial attention (SE, CBAM, GC) in a classifier",
        config=FashionConfig,
        budgets={"quick": {"epochs": 2, "train_subset": 10000, "lr": 2e-3}, "full": {"epochs": 30}},
        anchor=Anchor(
            "eval/accuracy", 0.897, "Xiao et al. 2017, Fashion-MNIST paper: best scikit-learn baseline (SVC, RBF, C=10)"
        ),
        expect={"quick": Expect("eval/accuracy", ">=", 0.80), "full": Expect("eval/accuracy", ">=", 0.90)},
        data=("fashion-mnist",),
    )(run)


for _m in (None, "se", "cbam", "gc"):
    _register_fashion(_m)

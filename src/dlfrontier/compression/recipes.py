"""Binary-weight and int8 LeNet-5 runs on MNIST, and what every compression run shares.

Each run trains its own float32 baseline (the inherited :class:`~dlfrontier.models.classifier.TrainConfig`
fields), compresses it and reports the size of the real file next to the accuracy of the model rebuilt from it.
``compress/ratio_at_tol`` is the compression ratio (float32 parameter bytes / file bytes) when the compressed
model's test accuracy is within ``tolerance`` of the run's own baseline, else 0: one number that fails when
either the size or the accuracy target is missed.

* :func:`train_binary`: BinaryConnect / XNOR-Net BWN weights (sign x per-filter scale, STE training), stored at
  1 bit per weight (:mod:`dlfrontier.compression.binary`).
* :func:`train_int8`: post-training quantization and quantization-aware training with ``torch.ao.quantization``
  (:mod:`dlfrontier.compression.int8`), file = ``torch.save`` of the int8 state dict, CPU latency of both.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from dlfrontier.compression import int8
from dlfrontier.compression.binary import Granularity, binarize
from dlfrontier.compression.fileformat import compress, decompress, size_breakdown
from dlfrontier.compression.pipeline import Pipeline
from dlfrontier.compression.report import LAYER_COLUMNS, kb, layer_rows, pct, write_table
from dlfrontier.data.mnist import ImageSet, load_mnist
from dlfrontier.models.classifier import TrainConfig, evaluate_accuracy, subset, to_float, train_size
from dlfrontier.models.lenet import parameter_bytes
from dlfrontier.runtime import RunContext, cpu_threads
from dlfrontier.tracking import atomic_write_bytes

TABLE1_COLUMNS = ["Network", "Original Size", "Compressed Size", "Ratio", "Original Accuracy", "Compressed Accuracy"]


@dataclass
class MnistCompressionConfig(TrainConfig):
    """Baseline training (the inherited fields) plus what every compression run has: a test subset."""

    test_subset: int | None = field(
        default=None, metadata={
            "help": "evaluate on the first N test images only (none: all 10,000)", "range": "[1, inf)"}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.test_subset is not None and self.test_subset < 1:
            raise ValueError(f"test_subset={self.test_subset}: expected a positive count, or none for all")


def mnist_test(n: int | None) -> ImageSet:
    """The MNIST test set, or its first ``n`` images."""
    return subset(load_mnist("test"), n)


def phase_config(cfg: TrainConfig, **changes: Any) -> TrainConfig:
    """The plain :class:`TrainConfig` part of ``cfg`` with ``changes`` (the settings of one training phase)."""
    base = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(TrainConfig)}
    base.update(changes)
    return TrainConfig(**base)


def iterations(cfg: TrainConfig, n_train: int) -> int:
    """Training iterations of ``cfg`` on ``n_train`` images."""
    return cfg.epochs * -(-train_size(cfg, n_train) // cfg.batch_size)


def ratio_at_tol(ratio: float, drop: float, tolerance: float) -> float:
    """``ratio`` when the accuracy ``drop`` is within ``tolerance``, else 0."""
    return ratio if drop <= tolerance + 1e-12 else 0.0


@dataclass
class BinaryConfig(MnistCompressionConfig):
    """Baseline training plus the binary-weight training."""

    binary_epochs: int = field(default=2, metadata={
        "help": "training epochs with binary weights (from the baseline)", "range": "[0, inf)"})
    binary_lr: float = field(default=1e-3, metadata={
        "help": "learning rate of the binary-weight training", "range": "(0, inf)"})
    per: Granularity = field(default="filter", metadata={"help": "scale granularity: filter or layer"})
    tolerance: float = field(default=0.005, metadata={
        "help": "allowed test-accuracy drop (fraction) vs baseline", "range": "[0, 1]"})


def train_binary(ctx: RunContext, cfg: BinaryConfig, make_model: Callable[[], nn.Module],
                 network: str = "LeNet-5") -> dict[str, float]:
    """Train the float32 baseline, binarize every weight, train on with the STE, store the 1-bit file."""
    return _train_binary(ctx, cfg, make_model, network)


def _train_binary(ctx: RunContext, cfg: BinaryConfig, make_model: Callable[[], nn.Module],
                  network: str) -> dict[str, float]:
    t0 = time.perf_counter()
    model = make_model().to(ctx.device)
    train, test = load_mnist("train"), mnist_test(cfg.test_subset)
    x_test, y_test = to_float(test.images).to(ctx.device), test.labels.to(ctx.device)
    base_cfg, bin_cfg = phase_config(cfg), phase_config(cfg, epochs=cfg.binary_epochs, lr=cfg.binary_lr)
    pipe = Pipeline(ctx, iterations(base_cfg, len(train.labels)) + iterations(bin_cfg, len(train.labels)))
    orig_bytes = parameter_bytes(model)
    base = pipe.phase("baseline", model, lambda: {"acc": pipe.fit(model, train, test, base_cfg)["eval/accuracy"]})

    def train_binary_weights() -> dict[str, Any]:
        binarize(model, per=cfg.per)
        before = evaluate_accuracy(model, x_test, y_test)
        acc = pipe.fit(model, train, test, bin_cfg)["eval/accuracy"] if cfg.binary_epochs > 0 else before
        return {"acc": acc, "acc_before": before}

    binres = pipe.phase("binary", model, train_binary_weights)
    data = compress(model)
    atomic_write_bytes(ctx.run_dir / "model.dlfc", data)
    restored = decompress(data, make_model()).to(ctx.device)
    with torch.no_grad():
        model.eval()
        exact = torch.equal(model(x_test[:1000]), restored(x_test[:1000]))
    acc = evaluate_accuracy(restored, x_test, y_test)
    ratio, drop = orig_bytes / len(data), base["acc"] - acc
    metrics = {
        "eval/accuracy": acc,
        "baseline/eval/accuracy": base["acc"],
        "binary/accuracy_before_training": binres["acc_before"],
        "compress/accuracy_drop": drop,
        "compress/ratio": ratio,
        "compress/ratio_at_tol": ratio_at_tol(ratio, drop, cfg.tolerance),
        "compress/file_bytes": float(len(data)),
        "compress/roundtrip_exact": float(exact),
        "time/compress_seconds": time.perf_counter() - t0,
    }
    ctx.logger.log(metrics, pipe.offset)
    write_table(ctx.run_dir, "binary", f"{network} with binary weights on MNIST (1 bit per weight + float32 scales)",
                TABLE1_COLUMNS,
                [[f"{network} binary, per-{cfg.per} scale (ours, seed {ctx.seed}, {ctx.budget})", kb(orig_bytes),
                  kb(len(data)), f"{ratio:.1f}x", pct(base["acc"]), pct(acc)],
                 ["LeNet-5 Deep Compression (paper)", "1720 KB", "44 KB", "39x", "99.20%", "99.26%"]])
    write_table(ctx.run_dir, "layers", f"binary {network}: per-layer breakdown of model.dlfc ({len(data):,} bytes)",
                LAYER_COLUMNS, layer_rows(size_breakdown(data)))
    return metrics


@dataclass
class Int8Config(MnistCompressionConfig):
    """Baseline training plus int8 calibration and quantization-aware training."""

    calibration_images: int = field(default=2000, metadata={
        "help": "training images used to calibrate PTQ", "range": "[1, inf)"})
    qat_epochs: int = field(default=1, metadata={
        "help": "quantization-aware training epochs (from the baseline)", "range": "[0, inf)"})
    qat_lr: float = field(default=1e-4, metadata={
        "help": "learning rate of quantization-aware training", "range": "(0, inf)"})
    tolerance: float = field(default=0.003, metadata={
        "help": "allowed test-accuracy drop (fraction) vs baseline", "range": "[0, 1]"})
    latency_repeats: int = field(default=30, metadata={
        "help": "timed forward passes per latency measurement", "range": "[1, inf)"})


def train_int8(ctx: RunContext, cfg: Int8Config, make_model: Callable[[], nn.Module],
               network: str = "LeNet-5") -> dict[str, float]:
    """Train the float32 baseline, quantize it (PTQ), fine-tune with fake quantization (QAT), time both."""
    return _train_int8(ctx, cfg, make_model, network)


def _train_int8(ctx: RunContext, cfg: Int8Config, make_model: Callable[[], nn.Module],
                network: str) -> dict[str, float]:
    t0 = time.perf_counter()
    model = make_model().to(ctx.device)
    train, test = load_mnist("train"), mnist_test(cfg.test_subset)
    x_test, y_test = to_float(test.images), test.labels
    base_cfg, qat_cfg = phase_config(cfg), phase_config(cfg, epochs=cfg.qat_epochs, lr=cfg.qat_lr)
    pipe = Pipeline(ctx, iterations(base_cfg, len(train.labels)) + iterations(qat_cfg, len(train.labels)))
    orig_bytes = parameter_bytes(model)
    base = pipe.phase("baseline", model, lambda: {"acc": pipe.fit(model, train, test, base_cfg)["eval/accuracy"]})
    model = model.cpu().eval()
    fp32_bytes = int8.serialized_bytes(model)
    ptq = int8.quantize_ptq(model, to_float(train.images[: cfg.calibration_images]))
    acc_ptq = evaluate_accuracy(ptq, x_test, y_test)
    qat = int8.prepare_qat(model)
    if cfg.qat_epochs > 0:  # not a pipeline phase: a fake-quantized model is not snapshot-able; it is short
        pipe.fit(qat, train, test, qat_cfg)
    qat_int8 = int8.convert_qat(qat)
    acc_qat = evaluate_accuracy(qat_int8, x_test, y_test)
    size = int8.serialized_bytes(qat_int8)
    with cpu_threads(1):
        lat = {bs: (int8.latency(model, x_test[:bs], repeats=cfg.latency_repeats),
                    int8.latency(qat_int8, x_test[:bs], repeats=cfg.latency_repeats)) for bs in (1, 256)}
    ratio, drop = orig_bytes / size, base["acc"] - acc_qat
    metrics = {
        "eval/accuracy": acc_qat,
        "baseline/eval/accuracy": base["acc"],
        "int8/ptq_accuracy": acc_ptq,
        "int8/qat_accuracy": acc_qat,
        "compress/accuracy_drop": drop,
        "compress/ptq_accuracy_drop": base["acc"] - acc_ptq,
        "compress/ratio": ratio,
        "compress/ratio_at_tol": ratio_at_tol(ratio, drop, cfg.tolerance),
        "compress/file_bytes": float(size),
        "compress/fp32_file_bytes": float(fp32_bytes),
        **{f"latency/{p}_b{bs}_ms": 1e3 * lat[bs][i] for bs in (1, 256) for i, p in enumerate(("fp32", "int8"))},
        **{f"latency/speedup_b{bs}": lat[bs][0] / lat[bs][1] for bs in (1, 256)},
        "time/compress_seconds": time.perf_counter() - t0,
    }
    ctx.logger.log(metrics, pipe.offset)
    _int8_table(ctx, cfg, metrics, orig_bytes, int8.serialized_bytes(ptq), network)
    return metrics


def _int8_table(ctx: RunContext, cfg: Int8Config, m: dict[str, float], orig: int, ptq_bytes: int,
                network: str) -> None:
    write_table(ctx.run_dir, "int8", f"{network} int8 on MNIST ({int8.engine()} engine, 1 thread, seed {ctx.seed})",
                ["Model", "File (torch.save)", "Ratio", "Accuracy", "Latency b=1", "Latency b=256"],
                [["float32 baseline", kb(m["compress/fp32_file_bytes"]), "1.0x", pct(m["baseline/eval/accuracy"]),
                  f"{m['latency/fp32_b1_ms']:.3f} ms", f"{m['latency/fp32_b256_ms']:.2f} ms"],
                 ["int8 post-training (PTQ)", kb(ptq_bytes), f"{orig / ptq_bytes:.2f}x", pct(m["int8/ptq_accuracy"]),
                  "–", "–"],
                 [f"int8 QAT ({cfg.qat_epochs} epoch)", kb(m["compress/file_bytes"]), f"{m['compress/ratio']:.2f}x",
                  pct(m["int8/qat_accuracy"]),
                  f"{m['latency/int8_b1_ms']:.3f} ms ({m['latency/speedup_b1']:.2f}x)",
                  f"{m['latency/int8_b256_ms']:.2f} ms ({m['latency/speedup_b256']:.2f}x)"]])

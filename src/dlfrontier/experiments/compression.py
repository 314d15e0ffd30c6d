"""Deep Compression of LeNet-300-100 and LeNet-5 on MNIST: prune, share weights, Huffman-code, store.

Han, Mao and Dally, "Deep Compression: Compressing Deep Neural Networks with Pruning, Trained Quantization
and Huffman Coding", ICLR 2016, https://arxiv.org/abs/1510.00149 (Table 1: LeNet-300-100 1070 KB -> 27 KB,
40x, 98.36% -> 98.42%; LeNet-5 1720 KB -> 44 KB, 39x, 99.20% -> 99.26%).

Each run trains its own float32 baseline with the recipe of ``lenet300-mnist`` / ``lenet5-mnist``, then
prunes it in ``prune_rounds`` prune-retrain rounds to the paper's per-layer densities, clusters the
survivors of each layer into ``2**bits`` shared weights (linear k-means initialisation), fine-tunes the
shared values, and writes the real compressed file (``model.dlfc`` in the run folder). The reported size is
that file's length; the compressed accuracy is measured on the model decompressed from it.

Criterion metric ``compress/ratio_at_tol``: the compression ratio (float32 parameter bytes / file bytes)
when the compressed model's test accuracy is within ``tolerance`` of the run's own baseline, else 0. One
number that fails when either the size or the accuracy target is missed; both parts are logged
(``compress/ratio``, ``compress/accuracy_drop``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from dlfrontier.compression.fileformat import compress, decompress, size_breakdown
from dlfrontier.compression.pipeline import Pipeline
from dlfrontier.compression.prune import prune_to_density, weight_count
from dlfrontier.compression.report import LAYER_COLUMNS, kb, layer_rows, pct, plot_accuracy_vs_size, write_table
from dlfrontier.compression.sharing import share_weights
from dlfrontier.compression.state import restore, snapshot
from dlfrontier.data.mnist import ImageSet, load_mnist
from dlfrontier.experiments.base import Anchor, Expect, RunContext, experiment
from dlfrontier.models.classifier import TrainConfig, evaluate_accuracy, to_float
from dlfrontier.models.lenet import LeNet5, LeNet300100, parameter_bytes
from dlfrontier.tracking import atomic_write_bytes

CAFFE_SOLVER = {"optimizer": "sgd", "lr": 0.01, "momentum": 0.9, "weight_decay": 5e-4, "schedule": "inv", "epochs": 11}

TEST_HELP = "evaluate on the first N test images only (0: all 10,000; for quick tests)"
THREADS_HELP = "torch intra-op threads during the run (0: torch's default); 1 avoids oversubscribing shared CPUs"

# The paper's rows (Table 1) and per-layer densities (Tables 2 and 3).
PAPER: dict[str, dict[str, Any]] = {
    "LeNet-300-100": {"orig_kb": 1070, "comp_kb": 27, "ratio": 40, "acc": 0.9836, "comp_acc": 0.9842,
                      "kept": {"fc1": 0.08, "fc2": 0.09, "fc3": 0.26}},
    "LeNet-5": {"orig_kb": 1720, "comp_kb": 44, "ratio": 39, "acc": 0.9920, "comp_acc": 0.9926,
                "kept": {"conv1": 0.66, "conv2": 0.12, "fc1": 0.08, "fc2": 0.19}},
}


@dataclass
class CompressionConfig(TrainConfig):
    """Baseline training (the inherited fields) plus the compression schedule."""

    prune_rounds: int = field(default=3, metadata={"help": "prune-retrain rounds (densities shrink geometrically)"})
    retrain_epochs: int = field(default=2, metadata={"help": "retraining epochs after each pruning round"})
    retrain_lr: float = field(default=1e-3, metadata={"help": "learning rate of the retraining after pruning"})
    share_epochs: int = field(default=1, metadata={"help": "fine-tuning epochs of the shared weights"})
    share_lr: float = field(default=1e-4, metadata={"help": "learning rate of the shared-weight fine-tuning"})
    index_bits: int = field(default=0, metadata={"help": "relative index width (0: per layer, smallest file)"})
    threads: int = field(default=1, metadata={"help": THREADS_HELP})
    test_subset: int = field(default=0, metadata={"help": TEST_HELP})
    tolerance: float = field(default=0.003, metadata={"help": "allowed test-accuracy drop (fraction) vs baseline"})
    curve_bits: tuple[int, ...] = field(
        default=(1, 2, 3, 4, 5, 6, 8), metadata={"help": "bit widths of the sharing sweep (accuracy-vs-size curve)"}
    )


@dataclass
class LeNet300CompressionConfig(CompressionConfig):
    densities: tuple[float, ...] = field(
        default=(0.08, 0.09, 0.26), metadata={"help": "final fraction of weights kept per layer (fc1, fc2, fc3)"}
    )
    bits: tuple[int, ...] = field(default=(5, 5, 5), metadata={"help": "weight-sharing bits per layer"})


@dataclass
class LeNet5CompressionConfig(CompressionConfig):
    densities: tuple[float, ...] = field(
        default=(0.66, 0.12, 0.08, 0.19), metadata={"help": "final fraction kept per layer (conv1, conv2, fc1, fc2)"}
    )
    bits: tuple[int, ...] = field(default=(6, 6, 5, 5), metadata={"help": "weight-sharing bits per layer"})


def _test_set(n: int) -> ImageSet:
    test = load_mnist("test")
    return ImageSet(test.images[:n], test.labels[:n]) if n > 0 else test


def _train_cfg(cfg: TrainConfig, **changes: Any) -> TrainConfig:
    base = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(TrainConfig)}
    base.update(changes)
    return TrainConfig(**base)


def _iterations(cfg: TrainConfig, n_train: int, epochs: int) -> int:
    n = cfg.train_subset or n_train
    return epochs * -(-n // cfg.batch_size)


def deep_compression(
    ctx: RunContext, cfg: LeNet300CompressionConfig | LeNet5CompressionConfig, make_model: Callable[[], nn.Module],
    network: str,
) -> dict[str, float]:
    """Baseline -> iterative pruning -> weight sharing + fine-tuning -> Huffman-coded file; table and plot."""
    from dlfrontier.compression.layers import compressible_layers

    t0 = time.perf_counter()
    model = make_model().to(ctx.device)
    names = [n for n, _ in compressible_layers(model)]
    for what, values in (("densities", cfg.densities), ("bits", cfg.bits)):
        if len(values) != len(names):
            from dlfrontier.errors import ConfigError

            raise ConfigError(f"{what} needs one value per layer ({', '.join(names)}), got {len(values)}")
    train, test = load_mnist("train"), _test_set(cfg.test_subset)
    x_test, y_test = to_float(test.images).to(ctx.device), test.labels.to(ctx.device)
    n_train = len(train.labels)
    base_cfg = _train_cfg(cfg)
    retrain_cfg = _train_cfg(cfg, epochs=cfg.retrain_epochs, lr=cfg.retrain_lr)
    share_cfg = _train_cfg(cfg, epochs=cfg.share_epochs, lr=cfg.share_lr)
    total = sum(_iterations(c, n_train, c.epochs) for c in (base_cfg, share_cfg)) + cfg.prune_rounds * _iterations(
        retrain_cfg, n_train, retrain_cfg.epochs
    )
    pipe = Pipeline(ctx, total)
    ib = cfg.index_bits or None
    orig_bytes = parameter_bytes(model)

    def evaluate(m: nn.Module) -> float:
        return evaluate_accuracy(m, x_test, y_test)

    def baseline() -> dict[str, Any]:
        acc = pipe.fit(model, train, test, base_cfg)["eval/accuracy"]
        return {"acc": acc, "file": len(compress(model, huffman=False))}

    base = pipe.phase("baseline", model, baseline)
    ctx.logger.log({"baseline/eval/accuracy": base["acc"]}, pipe.offset)

    rounds = max(1, cfg.prune_rounds)
    for r in range(1, rounds + 1):

        def prune_round(r: int = r) -> dict[str, Any]:
            prune_to_density(model, {n: d ** (r / rounds) for n, d in zip(names, cfg.densities, strict=True)})
            before = evaluate(model)
            acc = pipe.fit(model, train, test, retrain_cfg)["eval/accuracy"] if cfg.retrain_epochs > 0 else before
            nz, tot = weight_count(model)
            return {"acc": acc, "acc_before_retrain": before, "density": nz / tot,
                    "file": len(compress(model, huffman=False, index_bits=ib))}

        res = pipe.phase(f"prune{r}", model, prune_round)
        ctx.logger.log({"prune/density": res["density"], "prune/accuracy_before_retrain": res["acc_before_retrain"],
                        "prune/accuracy": res["acc"], "prune/file_bytes": res["file"]}, pipe.offset)

    def sweep() -> dict[str, Any]:
        points = []
        for b in cfg.curve_bits:
            m = restore(make_model(), snapshot(model)).to(ctx.device)
            share_weights(m, int(b))
            points.append([int(b), evaluate(m), len(compress(m, huffman=False, index_bits=ib)),
                           len(compress(m, huffman=True, index_bits=ib))])
        return {"points": points}

    swept = pipe.phase("sweep", model, sweep)["points"]

    def share() -> dict[str, Any]:
        share_weights(model, {n: int(b) for n, b in zip(names, cfg.bits, strict=True)})
        before = evaluate(model)
        acc = pipe.fit(model, train, test, share_cfg)["eval/accuracy"] if cfg.share_epochs > 0 else before
        return {"acc": acc, "acc_before_finetune": before}

    shared = pipe.phase("share", model, share)

    # The real file, and the model rebuilt from it.
    data = compress(model, huffman=True, index_bits=ib)
    data_fixed = compress(model, huffman=False, index_bits=ib)
    atomic_write_bytes(ctx.run_dir / "model.dlfc", data)
    restored = decompress(data, make_model()).to(ctx.device)
    model.eval()
    restored.eval()
    with torch.no_grad():
        exact = all(torch.equal(model(x_test[i : i + 1000]), restored(x_test[i : i + 1000]))
                    for i in range(0, len(x_test), 1000))
    acc = evaluate(restored)
    nz, tot = weight_count(model)
    ratio = orig_bytes / len(data)
    drop = base["acc"] - acc
    metrics = {
        "eval/accuracy": acc,
        "baseline/eval/accuracy": base["acc"],
        "compress/accuracy_drop": drop,
        "compress/ratio": ratio,
        "compress/ratio_at_tol": ratio if drop <= cfg.tolerance + 1e-12 else 0.0,
        "compress/file_bytes": float(len(data)),
        "compress/file_bytes_no_huffman": float(len(data_fixed)),
        "compress/ratio_no_huffman": orig_bytes / len(data_fixed),
        "compress/ratio_pruning_only": orig_bytes / pipe.results[f"prune{rounds}"]["file"],
        "compress/density": nz / tot,
        "compress/accuracy_before_finetune": shared["acc_before_finetune"],
        "compress/roundtrip_exact": float(exact),
        "time/compress_seconds": time.perf_counter() - t0,
    }
    ctx.logger.log(metrics, pipe.offset)

    paper = PAPER[network]
    write_table(ctx.run_dir, "deep_compression", f"Deep Compression, {network} on MNIST (paper's Table 1 beside ours)",
                ["Network", "Original Size", "Compressed Size", "Ratio", "Original Accuracy", "Compressed Accuracy"],
                [[f"{network} (paper)", f"{paper['orig_kb']} KB", f"{paper['comp_kb']} KB", f"{paper['ratio']}x",
                  pct(paper["acc"]), pct(paper["comp_acc"])],
                 [f"{network} (ours, seed {ctx.seed}, {ctx.budget})", kb(orig_bytes), kb(len(data)), f"{ratio:.1f}x",
                  pct(base["acc"]), pct(acc)]])
    write_table(ctx.run_dir, "layers", f"{network}: per-layer breakdown of model.dlfc ({len(data):,} bytes in all)",
                LAYER_COLUMNS, layer_rows(size_breakdown(data), paper["kept"]))
    stages = [["dense float32 (file)", base["file"], f"{orig_bytes / base['file']:.1f}x", pct(base["acc"])]]
    for r in range(1, rounds + 1):
        p = pipe.results[f"prune{r}"]
        stages.append([f"pruned round {r} ({100 * p['density']:.1f}% kept), fixed-width indices", p["file"],
                       f"{orig_bytes / p['file']:.1f}x", pct(p["acc"])])
    stages.append(["+ weight sharing (before fine-tuning), fixed width", len(data_fixed),
                   f"{orig_bytes / len(data_fixed):.1f}x", pct(shared["acc_before_finetune"])])
    stages.append(["+ fine-tuning + Huffman coding (final)", len(data), f"{ratio:.1f}x", pct(acc)])
    write_table(ctx.run_dir, "stages", f"{network}: size and accuracy after each stage", ["Stage", "Bytes", "Ratio",
                "Accuracy"], stages)
    plot_accuracy_vs_size(
        ctx.run_dir / "accuracy_vs_size.png",
        {
            "pruning only (float32 values)": [(p["file"], p["acc"]) for p in
                                              (pipe.results[f"prune{r}"] for r in range(1, rounds + 1))],
            "pruning + sharing (fixed width, no fine-tuning)": [(p[2], p[1]) for p in swept],
            "full pipeline (+ Huffman, no fine-tuning)": [(p[3], p[1]) for p in swept],
        },
        baseline=(orig_bytes, base["acc"]), final=(len(data), acc), tolerance=cfg.tolerance,
        title=f"{network} on MNIST: accuracy vs compressed size (seed {ctx.seed})",
    )
    return metrics


@experiment(
    "deep-compression-lenet300",
    group="compression",
    summary="Deep Compression (prune + share + Huffman) of LeNet-300-100 on MNIST into a real file",
    topic="Deep Compression (Han et al. 2016): LeNet-300-100 1070 KB -> 27 KB",
    config=LeNet300CompressionConfig,
    budgets={"quick": {"epochs": 5}, "full": {**CAFFE_SOLVER, "prune_rounds": 5, "retrain_epochs": 4,
                                              "retrain_lr": 1e-3, "share_epochs": 4, "share_lr": 1e-4,
                                              "tolerance": 0.0}},
    anchor=Anchor("compress/ratio", 40.0, "Han et al. 2016, Deep Compression, Table 1: LeNet-300-100 1070 KB -> 27 KB "
                  "(40x), 98.36% -> 98.42%"),
    expect={"quick": Expect("compress/ratio_at_tol", ">=", 35.0), "full": Expect("compress/ratio_at_tol", ">=", 40.0)},
    curve="eval/accuracy",
    demo=True,
    data=("mnist",),
)
def deep_compression_lenet300(ctx: RunContext, cfg: LeNet300CompressionConfig) -> dict[str, float]:
    with _threads(cfg.threads):
        return deep_compression(ctx, cfg, LeNet300100, "LeNet-300-100")


@experiment(
    "deep-compression-lenet5",
    group="compression",
    summary="Deep Compression (prune + share + Huffman) of LeNet-5 on MNIST into a real file",
    topic="Deep Compression (Han et al. 2016): LeNet-5 1720 KB -> 44 KB",
    config=LeNet5CompressionConfig,
    budgets={"quick": {"epochs": 3, "retrain_epochs": 1},
             "full": {**CAFFE_SOLVER, "prune_rounds": 5, "retrain_epochs": 4, "retrain_lr": 1e-3, "share_epochs": 4,
                      "share_lr": 1e-4, "tolerance": 0.0}},
    anchor=Anchor("compress/ratio", 39.0, "Han et al. 2016, Deep Compression, Table 1: LeNet-5 1720 KB -> 44 KB "
                  "(39x), 99.20% -> 99.26%"),
    expect={"quick": Expect("compress/ratio_at_tol", ">=", 30.0), "full": Expect("compress/ratio_at_tol", ">=", 39.0)},
    curve="eval/accuracy",
    data=("mnist",),
)
def deep_compression_lenet5(ctx: RunContext, cfg: LeNet5CompressionConfig) -> dict[str, float]:
    with _threads(cfg.threads):
        return deep_compression(ctx, cfg, LeNet5, "LeNet-5")


# ---------------------------------------------------------------------------------------------------------
# binary weights (BinaryConnect / XNOR-Net BWN) and int8 (PTQ and QAT) on LeNet-5


@dataclass
class BinaryConfig(TrainConfig):
    """Baseline training (the inherited fields) plus the binary-weight fine-tuning."""

    binary_epochs: int = field(default=2, metadata={"help": "training epochs with binary weights (from the baseline)"})
    binary_lr: float = field(default=1e-3, metadata={"help": "learning rate of the binary-weight training"})
    per: str = field(default="filter", metadata={"help": "scale granularity: filter or layer"})
    threads: int = field(default=1, metadata={"help": THREADS_HELP})
    test_subset: int = field(default=0, metadata={"help": TEST_HELP})
    tolerance: float = field(default=0.005, metadata={"help": "allowed test-accuracy drop (fraction) vs baseline"})


@experiment(
    "binary-lenet5",
    group="compression",
    summary="LeNet-5 with binary weights (sign x per-filter scale, STE training) on MNIST, stored at 1 bit/weight",
    topic="Binary networks (BinaryConnect 2015, XNOR-Net BWN 2016)",
    config=BinaryConfig,
    budgets={"quick": {"epochs": 3}, "full": {**CAFFE_SOLVER, "binary_epochs": 10, "binary_lr": 1e-3}},
    anchor=Anchor("compress/ratio", 32.0, "1 bit instead of 32 per weight (BinaryConnect, Courbariaux et al. 2015; "
                  "XNOR-Net BWN, Rastegari et al. 2016): at most 32x"),
    expect=Expect("compress/ratio_at_tol", ">=", 28.0),
    curve="eval/accuracy",
    data=("mnist",),
)
def binary_lenet5(ctx: RunContext, cfg: BinaryConfig) -> dict[str, float]:
    """Train the float32 baseline, binarize every weight, train on with the STE, store the 1-bit file."""
    with _threads(cfg.threads):
        return _binary_lenet5(ctx, cfg)


def _binary_lenet5(ctx: RunContext, cfg: BinaryConfig) -> dict[str, float]:
    from dlfrontier.compression.binary import binarize
    from dlfrontier.errors import ConfigError

    if cfg.per not in ("filter", "layer"):
        raise ConfigError(f"per={cfg.per!r}: expected filter or layer")
    t0 = time.perf_counter()
    model = LeNet5().to(ctx.device)
    train, test = load_mnist("train"), _test_set(cfg.test_subset)
    x_test, y_test = to_float(test.images).to(ctx.device), test.labels.to(ctx.device)
    base_cfg = _train_cfg(cfg)
    bin_cfg = _train_cfg(cfg, epochs=cfg.binary_epochs, lr=cfg.binary_lr)
    n = len(train.labels)
    pipe = Pipeline(ctx, _iterations(base_cfg, n, base_cfg.epochs) + _iterations(bin_cfg, n, bin_cfg.epochs))
    orig_bytes = parameter_bytes(model)
    base = pipe.phase("baseline", model, lambda: {"acc": pipe.fit(model, train, test, base_cfg)["eval/accuracy"]})

    def train_binary() -> dict[str, Any]:
        binarize(model, per=cfg.per)  # type: ignore[arg-type]
        before = evaluate_accuracy(model, x_test, y_test)
        acc = pipe.fit(model, train, test, bin_cfg)["eval/accuracy"] if cfg.binary_epochs > 0 else before
        return {"acc": acc, "acc_before": before}

    binres = pipe.phase("binary", model, train_binary)
    data = compress(model)
    atomic_write_bytes(ctx.run_dir / "model.dlfc", data)
    restored = decompress(data, LeNet5()).to(ctx.device)
    with torch.no_grad():
        model.eval()
        exact = torch.equal(model(x_test[:1000]), restored(x_test[:1000]))
    acc = evaluate_accuracy(restored, x_test, y_test)
    ratio = orig_bytes / len(data)
    drop = base["acc"] - acc
    metrics = {
        "eval/accuracy": acc,
        "baseline/eval/accuracy": base["acc"],
        "binary/accuracy_before_training": binres["acc_before"],
        "compress/accuracy_drop": drop,
        "compress/ratio": ratio,
        "compress/ratio_at_tol": ratio if drop <= cfg.tolerance + 1e-12 else 0.0,
        "compress/file_bytes": float(len(data)),
        "compress/roundtrip_exact": float(exact),
        "time/compress_seconds": time.perf_counter() - t0,
    }
    ctx.logger.log(metrics, pipe.offset)
    write_table(ctx.run_dir, "binary", "LeNet-5 with binary weights on MNIST (1 bit per weight + float32 scales)",
                ["Network", "Original Size", "Compressed Size", "Ratio", "Original Accuracy", "Compressed Accuracy"],
                [[f"LeNet-5 binary, per-{cfg.per} scale (ours, seed {ctx.seed}, {ctx.budget})", kb(orig_bytes),
                  kb(len(data)), f"{ratio:.1f}x", pct(base["acc"]), pct(acc)],
                 ["LeNet-5 Deep Compression (paper)", "1720 KB", "44 KB", "39x", "99.20%", "99.26%"]])
    write_table(ctx.run_dir, "layers", f"binary LeNet-5: per-layer breakdown of model.dlfc ({len(data):,} bytes)",
                LAYER_COLUMNS, layer_rows(size_breakdown(data)))
    return metrics


@dataclass
class Int8Config(TrainConfig):
    """Baseline training (the inherited fields) plus int8 calibration and quantization-aware training."""

    calibration_images: int = field(default=2000, metadata={"help": "training images used to calibrate PTQ"})
    qat_epochs: int = field(default=1, metadata={"help": "quantization-aware training epochs (from the baseline)"})
    qat_lr: float = field(default=1e-4, metadata={"help": "learning rate of quantization-aware training"})
    tolerance: float = field(default=0.003, metadata={"help": "allowed test-accuracy drop (fraction) vs baseline"})
    latency_repeats: int = field(default=30, metadata={"help": "timed forward passes per latency measurement"})
    threads: int = field(default=1, metadata={"help": THREADS_HELP})
    test_subset: int = field(default=0, metadata={"help": TEST_HELP})


@experiment(
    "int8-lenet5",
    group="compression",
    summary="LeNet-5 quantized to int8 on MNIST: post-training (PTQ) and quantization-aware training (QAT)",
    topic="int8 quantization (Jacob et al. 2018) via torch.ao.quantization",
    config=Int8Config,
    budgets={"quick": {"epochs": 3}, "full": {**CAFFE_SOLVER, "qat_epochs": 3}},
    anchor=Anchor("compress/ratio", 4.0, "int8 instead of float32 weights: at most 4x (Jacob et al. 2018)"),
    expect=Expect("compress/ratio_at_tol", ">=", 3.5),
    curve="eval/accuracy",
    data=("mnist",),
)
def int8_lenet5(ctx: RunContext, cfg: Int8Config) -> dict[str, float]:
    """Train the float32 baseline, quantize it (PTQ), fine-tune with fake quantization (QAT), time both."""
    with _threads(cfg.threads):
        return _int8_lenet5(ctx, cfg)


def _int8_lenet5(ctx: RunContext, cfg: Int8Config) -> dict[str, float]:
    from dlfrontier.compression import int8

    t0 = time.perf_counter()
    model = LeNet5().to(ctx.device)
    train, test = load_mnist("train"), _test_set(cfg.test_subset)
    x_test, y_test = to_float(test.images), test.labels
    base_cfg = _train_cfg(cfg)
    qat_cfg = _train_cfg(cfg, epochs=cfg.qat_epochs, lr=cfg.qat_lr)
    n = len(train.labels)
    pipe = Pipeline(ctx, _iterations(base_cfg, n, base_cfg.epochs) + _iterations(qat_cfg, n, qat_cfg.epochs))
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
    lat = {}
    with _threads(1):
        for bs in (1, 256):
            x = x_test[:bs]
            lat[bs] = (int8.latency(model, x, repeats=cfg.latency_repeats),
                       int8.latency(qat_int8, x, repeats=cfg.latency_repeats))
    ratio = orig_bytes / size
    drop = base["acc"] - acc_qat
    metrics = {
        "eval/accuracy": acc_qat,
        "baseline/eval/accuracy": base["acc"],
        "int8/ptq_accuracy": acc_ptq,
        "int8/qat_accuracy": acc_qat,
        "compress/accuracy_drop": drop,
        "compress/ptq_accuracy_drop": base["acc"] - acc_ptq,
        "compress/ratio": ratio,
        "compress/ratio_at_tol": ratio if drop <= cfg.tolerance + 1e-12 else 0.0,
        "compress/file_bytes": float(size),
        "compress/fp32_file_bytes": float(fp32_bytes),
        "latency/fp32_b1_ms": 1e3 * lat[1][0],
        "latency/int8_b1_ms": 1e3 * lat[1][1],
        "latency/fp32_b256_ms": 1e3 * lat[256][0],
        "latency/int8_b256_ms": 1e3 * lat[256][1],
        "latency/speedup_b1": lat[1][0] / lat[1][1],
        "latency/speedup_b256": lat[256][0] / lat[256][1],
        "time/compress_seconds": time.perf_counter() - t0,
    }
    ctx.logger.log(metrics, pipe.offset)
    write_table(ctx.run_dir, "int8", f"LeNet-5 int8 on MNIST ({int8.engine()} engine, 1 thread, seed {ctx.seed})",
                ["Model", "File (torch.save)", "Ratio", "Accuracy", "Latency b=1", "Latency b=256"],
                [["float32 baseline", kb(fp32_bytes), "1.0x", pct(base["acc"]), f"{1e3 * lat[1][0]:.3f} ms",
                  f"{1e3 * lat[256][0]:.2f} ms"],
                 ["int8 post-training (PTQ)", kb(int8.serialized_bytes(ptq)),
                  f"{orig_bytes / int8.serialized_bytes(ptq):.2f}x", pct(acc_ptq), "–", "–"],
                 [f"int8 QAT ({cfg.qat_epochs} epoch)", kb(size), f"{ratio:.2f}x", pct(acc_qat),
                  f"{1e3 * lat[1][1]:.3f} ms ({lat[1][0] / lat[1][1]:.2f}x)",
                  f"{1e3 * lat[256][1]:.2f} ms ({lat[256][0] / lat[256][1]:.2f}x)"]])
    return metrics


class _threads:
    """Temporarily set torch's intra-op threads (``n <= 0``: leave them)."""

    def __init__(self, n: int) -> None:
        self.n, self.old = n, torch.get_num_threads()

    def __enter__(self) -> None:
        if self.n > 0:
            torch.set_num_threads(self.n)

    def __exit__(self, *exc: object) -> None:
        torch.set_num_threads(self.old)

"""Deep Compression of a LeNet on MNIST: train, prune/retrain, share/fine-tune, Huffman-code, store a real file.

Han, Mao and Dally, "Deep Compression: Compressing Deep Neural Networks with Pruning, Trained Quantization
and Huffman Coding", ICLR 2016, https://arxiv.org/abs/1510.00149 (Table 1: LeNet-300-100 1070 KB -> 27 KB,
40x, 98.36% -> 98.42%; LeNet-5 1720 KB -> 44 KB, 39x, 99.20% -> 99.26%).

:func:`deep_compression` trains a float32 baseline, prunes it in ``prune_rounds`` prune-retrain rounds to the
given per-layer densities (geometric steps), clusters the survivors of each layer into ``2**bits`` shared
weights (linear k-means initialisation), fine-tunes the shared values, and writes the real compressed file
(``model.dlfc`` in the run folder). The reported size is that file's length; the compressed accuracy is measured
on the model decompressed from it. Every phase is checkpointed (:class:`~dlfrontier.compression.pipeline.Pipeline`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from dlfrontier.compression.fileformat import compress, decompress, size_breakdown
from dlfrontier.compression.layers import compressible_layers
from dlfrontier.compression.pipeline import Pipeline
from dlfrontier.compression.prune import prune_to_density, weight_count
from dlfrontier.compression.recipes import (
    TABLE1_COLUMNS,
    MnistCompressionConfig,
    iterations,
    mnist_test,
    phase_config,
    ratio_at_tol,
)
from dlfrontier.compression.report import LAYER_COLUMNS, kb, layer_rows, pct, plot_accuracy_vs_size, write_table
from dlfrontier.compression.sharing import share_weights
from dlfrontier.compression.state import restore, snapshot
from dlfrontier.data.mnist import load_mnist
from dlfrontier.errors import ConfigError
from dlfrontier.models.classifier import evaluate_accuracy, to_float
from dlfrontier.models.lenet import parameter_bytes
from dlfrontier.runtime import RunContext
from dlfrontier.tracking import atomic_write_bytes

# The paper's rows (Table 1) and per-layer densities (Tables 2 and 3).
PAPER: dict[str, dict[str, Any]] = {
    "LeNet-300-100": {"orig_kb": 1070, "comp_kb": 27, "ratio": 40, "acc": 0.9836, "comp_acc": 0.9842,
                      "kept": {"fc1": 0.08, "fc2": 0.09, "fc3": 0.26}},
    "LeNet-5": {"orig_kb": 1720, "comp_kb": 44, "ratio": 39, "acc": 0.9920, "comp_acc": 0.9926,
                "kept": {"conv1": 0.66, "conv2": 0.12, "fc1": 0.08, "fc2": 0.19}},
}


@dataclass
class CompressionConfig(MnistCompressionConfig):
    """Baseline training (the inherited fields) plus the compression schedule."""

    prune_rounds: int = field(default=3, metadata={
        "help": "prune-retrain rounds (densities shrink geometrically)", "range": "[1, inf)"})
    retrain_epochs: int = field(default=2, metadata={
        "help": "retraining epochs after each pruning round", "range": "[0, inf)"})
    retrain_lr: float = field(default=1e-3, metadata={
        "help": "learning rate of the retraining after pruning", "range": "(0, inf)"})
    share_epochs: int = field(default=1, metadata={
        "help": "fine-tuning epochs of the shared weights", "range": "[0, inf)"})
    share_lr: float = field(default=1e-4, metadata={
        "help": "learning rate of the shared-weight fine-tuning", "range": "(0, inf)"})
    index_bits: int | None = field(
        default=None, metadata={
            "help": "relative index width in bits (none: chosen per layer, smallest file)", "range": "[1, 16]"}
    )
    tolerance: float = field(default=0.003, metadata={
        "help": "allowed test-accuracy drop (fraction) vs baseline", "range": "[0, 1]"})
    curve_bits: tuple[int, ...] = field(
        default=(1, 2, 3, 4, 5, 6, 8), metadata={
            "help": "bit widths of the sharing sweep (accuracy-vs-size curve)", "range": "[1, 16]"}
    )


@dataclass
class LeNet300CompressionConfig(CompressionConfig):
    densities: tuple[float, ...] = field(
        default=(0.08, 0.09, 0.26), metadata={
            "help": "final fraction of weights kept per layer (fc1, fc2, fc3)", "range": "(0, 1]"}
    )
    bits: tuple[int, ...] = field(default=(5, 5, 5), metadata={
        "help": "weight-sharing bits per layer", "range": "[1, 16]"})


@dataclass
class LeNet5CompressionConfig(CompressionConfig):
    densities: tuple[float, ...] = field(
        default=(0.66, 0.12, 0.08, 0.19), metadata={
            "help": "final fraction kept per layer (conv1, conv2, fc1, fc2)", "range": "(0, 1]"}
    )
    bits: tuple[int, ...] = field(default=(6, 6, 5, 5), metadata={
        "help": "weight-sharing bits per layer", "range": "[1, 16]"})


Config = LeNet300CompressionConfig | LeNet5CompressionConfig


def deep_compression(ctx: RunContext, cfg: Config, make_model: Callable[[], nn.Module],
                     network: str) -> dict[str, float]:
    """Baseline -> iterative pruning -> weight sharing + fine-tuning -> Huffman-coded file; tables and plot.

    ``network`` names the paper's row (a key of :data:`PAPER`). Returns the final metrics, among them
    ``compress/ratio_at_tol`` (the ratio when the accuracy drop is within ``cfg.tolerance``, else 0).
    """
    t0 = time.perf_counter()
    run = _Run(ctx, cfg, make_model)
    base = run.pipe.phase("baseline", run.model, run.baseline)
    ctx.logger.log({"baseline/eval/accuracy": base["acc"]}, run.pipe.offset)
    for r in range(1, run.rounds + 1):
        res = run.pipe.phase(f"prune{r}", run.model, lambda r=r: run.prune_round(r))
        ctx.logger.log({"prune/density": res["density"], "prune/accuracy_before_retrain": res["acc_before_retrain"],
                        "prune/accuracy": res["acc"], "prune/file_bytes": res["file"]}, run.pipe.offset)
    swept = run.pipe.phase("sweep", run.model, run.sweep)["points"]
    shared = run.pipe.phase("share", run.model, run.share)
    metrics = run.finish(base, shared, t0)
    _write_reports(run, network, metrics, base, shared, swept)
    return metrics


class _Run:
    """The state shared by the phases of one run (model, data, pipeline) and the phases themselves."""

    def __init__(self, ctx: RunContext, cfg: Config, make_model: Callable[[], nn.Module]) -> None:
        self.ctx, self.cfg, self.make_model = ctx, cfg, make_model
        self.model = make_model().to(ctx.device)
        self.names = [n for n, _ in compressible_layers(self.model)]
        for what, values in (("densities", cfg.densities), ("bits", cfg.bits)):
            if len(values) != len(self.names):
                raise ConfigError(f"{what} needs one value per layer ({', '.join(self.names)}), got {len(values)}")
        self.train, self.test = load_mnist("train"), mnist_test(cfg.test_subset)
        self.x_test, self.y_test = to_float(self.test.images).to(ctx.device), self.test.labels.to(ctx.device)
        n_train = len(self.train.labels)
        self.base_cfg = phase_config(cfg)
        self.retrain_cfg = phase_config(cfg, epochs=cfg.retrain_epochs, lr=cfg.retrain_lr)
        self.share_cfg = phase_config(cfg, epochs=cfg.share_epochs, lr=cfg.share_lr)
        total = iterations(self.base_cfg, n_train) + iterations(self.share_cfg, n_train)
        self.pipe = Pipeline(ctx, total + cfg.prune_rounds * iterations(self.retrain_cfg, n_train))
        self.orig_bytes = parameter_bytes(self.model)
        self.rounds = max(1, cfg.prune_rounds)

    def evaluate(self, m: nn.Module) -> float:
        return evaluate_accuracy(m, self.x_test, self.y_test)

    def fixed(self, m: nn.Module) -> int:
        return len(compress(m, huffman=False, index_bits=self.cfg.index_bits))

    def baseline(self) -> dict[str, Any]:
        acc = self.pipe.fit(self.model, self.train, self.test, self.base_cfg)["eval/accuracy"]
        return {"acc": acc, "file": len(compress(self.model, huffman=False))}

    def prune_round(self, r: int) -> dict[str, Any]:
        prune_to_density(self.model, {n: d ** (r / self.rounds) for n, d in zip(self.names, self.cfg.densities,
                                                                                  strict=True)})
        before = self.evaluate(self.model)
        acc = (self.pipe.fit(self.model, self.train, self.test, self.retrain_cfg)["eval/accuracy"]
               if self.cfg.retrain_epochs > 0 else before)
        nz, tot = weight_count(self.model)
        return {"acc": acc, "acc_before_retrain": before, "density": nz / tot, "file": self.fixed(self.model)}

    def sweep(self) -> dict[str, Any]:
        """Accuracy and file size of the pruned model shared at each of ``curve_bits`` (no fine-tuning)."""
        points = []
        for b in self.cfg.curve_bits:
            m = restore(self.make_model(), snapshot(self.model)).to(self.ctx.device)
            share_weights(m, int(b))
            points.append([int(b), self.evaluate(m), self.fixed(m),
                           len(compress(m, huffman=True, index_bits=self.cfg.index_bits))])
        return {"points": points}

    def share(self) -> dict[str, Any]:
        share_weights(self.model, {n: int(b) for n, b in zip(self.names, self.cfg.bits, strict=True)})
        before = self.evaluate(self.model)
        acc = (self.pipe.fit(self.model, self.train, self.test, self.share_cfg)["eval/accuracy"]
               if self.cfg.share_epochs > 0 else before)
        return {"acc": acc, "acc_before_finetune": before}

    def finish(self, base: dict[str, Any], shared: dict[str, Any], t0: float) -> dict[str, float]:
        """Write the real file, rebuild the model from it, and measure what the run reports."""
        data = compress(self.model, huffman=True, index_bits=self.cfg.index_bits)
        data_fixed = self.fixed(self.model)
        atomic_write_bytes(self.ctx.run_dir / "model.dlfc", data)
        restored = decompress(data, self.make_model()).to(self.ctx.device)
        self.model.eval()
        restored.eval()
        with torch.no_grad():
            exact = all(torch.equal(self.model(self.x_test[i : i + 1000]), restored(self.x_test[i : i + 1000]))
                        for i in range(0, len(self.x_test), 1000))
        acc = self.evaluate(restored)
        nz, tot = weight_count(self.model)
        ratio, drop = self.orig_bytes / len(data), base["acc"] - acc
        metrics = {
            "eval/accuracy": acc,
            "baseline/eval/accuracy": base["acc"],
            "compress/accuracy_drop": drop,
            "compress/ratio": ratio,
            "compress/ratio_at_tol": ratio_at_tol(ratio, drop, self.cfg.tolerance),
            "compress/file_bytes": float(len(data)),
            "compress/file_bytes_no_huffman": float(data_fixed),
            "compress/ratio_no_huffman": self.orig_bytes / data_fixed,
            "compress/ratio_pruning_only": self.orig_bytes / self.pipe.results[f"prune{self.rounds}"]["file"],
            "compress/density": nz / tot,
            "compress/accuracy_before_finetune": shared["acc_before_finetune"],
            "compress/roundtrip_exact": float(exact),
            "time/compress_seconds": time.perf_counter() - t0,
        }
        self.ctx.logger.log(metrics, self.pipe.offset)
        return metrics


def _write_reports(run: _Run, network: str, m: dict[str, float], base: dict[str, Any], shared: dict[str, Any],
                   swept: list[list[Any]]) -> None:
    """The paper's Table 1 beside ours, the per-layer breakdown, the stages table and the accuracy-vs-size plot."""
    ctx, orig, size, acc = run.ctx, run.orig_bytes, int(m["compress/file_bytes"]), m["eval/accuracy"]
    paper = PAPER[network]
    write_table(ctx.run_dir, "deep_compression", f"Deep Compression, {network} on MNIST (paper's Table 1 beside ours)",
                TABLE1_COLUMNS,
                [[f"{network} (paper)", f"{paper['orig_kb']} KB", f"{paper['comp_kb']} KB", f"{paper['ratio']}x",
                  pct(paper["acc"]), pct(paper["comp_acc"])],
                 [f"{network} (ours, seed {ctx.seed}, {ctx.budget})", kb(orig), kb(size), f"{m['compress/ratio']:.1f}x",
                  pct(base["acc"]), pct(acc)]])
    data = (ctx.run_dir / "model.dlfc").read_bytes()
    write_table(ctx.run_dir, "layers", f"{network}: per-layer breakdown of model.dlfc ({size:,} bytes in all)",
                LAYER_COLUMNS, layer_rows(size_breakdown(data), paper["kept"]))
    prunes = [run.pipe.results[f"prune{r}"] for r in range(1, run.rounds + 1)]
    fixed = int(m["compress/file_bytes_no_huffman"])
    stages = [["dense float32 (file)", base["file"], f"{orig / base['file']:.1f}x", pct(base["acc"])]]
    stages += [[f"pruned round {r} ({100 * p['density']:.1f}% kept), fixed-width indices", p["file"],
                f"{orig / p['file']:.1f}x", pct(p["acc"])] for r, p in enumerate(prunes, start=1)]
    stages.append(["+ weight sharing (before fine-tuning), fixed width", fixed, f"{orig / fixed:.1f}x",
                   pct(shared["acc_before_finetune"])])
    stages.append(["+ fine-tuning + Huffman coding (final)", size, f"{m['compress/ratio']:.1f}x", pct(acc)])
    write_table(ctx.run_dir, "stages", f"{network}: size and accuracy after each stage",
                ["Stage", "Bytes", "Ratio", "Accuracy"], stages)
    plot_accuracy_vs_size(
        ctx.run_dir / "accuracy_vs_size.png",
        {
            "pruning only (float32 values)": [(p["file"], p["acc"]) for p in prunes],
            "pruning + sharing (fixed width, no fine-tuning)": [(p[2], p[1]) for p in swept],
            "full pipeline (+ Huffman, no fine-tuning)": [(p[3], p[1]) for p in swept],
        },
        baseline=(orig, base["acc"]), final=(size, acc), tolerance=run.cfg.tolerance,
        title=f"{network} on MNIST: accuracy vs compressed size (seed {ctx.seed})",
    )


def no_compression_ratio(model: nn.Module, *, huffman: bool = False) -> float:
    """The ratio of storing ``model`` as it is (dense float32, no pruning or sharing): the no-compression score."""
    return parameter_bytes(model) / len(compress(model, huffman=huffman))

"""``dlfrontier bench compression``: do compressed LeNets run faster on this CPU, and how big are their files?

Han, Mao and Dally, "Deep Compression", ICLR 2016, https://arxiv.org/abs/1510.00149 (Section 6.3 measured
pruned fc layers 3-4x faster on CPU with sparse BLAS at batch 1, and no gain at large batches) and Jacob et
al., "Quantization and Training of Neural Networks for Efficient Integer-Arithmetic-Only Inference", CVPR
2018, https://arxiv.org/abs/1712.05877 (int8 kernels).

Latency (median of timed forward passes, one thread, batch 1 and 256) of LeNet-300-100 and LeNet-5 as:
dense float32; pruned to the paper's densities with the Linear layers run as torch sparse CSR matmuls
(convolutions stay dense); weight-shared (codebook lookup ``centroids[labels]`` then the dense product, as a
CPU without EIE-style hardware must do); int8 (torch.ao.quantization, x86 engine). Ratios are to dense
float32 measured in the same run. Weights are random (magnitude-pruned): latency does not depend on them.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dlfrontier.bench import benchmark
from dlfrontier.compression import int8
from dlfrontier.compression.binary import binarize
from dlfrontier.compression.fileformat import compress
from dlfrontier.compression.layers import compressible_layers, strip_transforms
from dlfrontier.compression.prune import prune_to_density
from dlfrontier.compression.sharing import SharedWeight, share_weights
from dlfrontier.compression.state import clone
from dlfrontier.models.lenet import LeNet5, LeNet300100, parameter_bytes
from dlfrontier.runtime import cpu_threads
from dlfrontier.tracking import atomic_write_json

DENSITIES = {
    "LeNet-300-100": {"fc1": 0.08, "fc2": 0.09, "fc3": 0.26},
    "LeNet-5": {"conv1": 0.66, "conv2": 0.12, "fc1": 0.08, "fc2": 0.19},
}
BITS: dict[str, int | dict[str, int]] = {"LeNet-300-100": 5, "LeNet-5": {"conv1": 6, "conv2": 6, "fc1": 5, "fc2": 5}}


class CSRLinear(nn.Module):
    """A pruned Linear layer computed as ``W_csr @ x^T`` with torch's sparse CSR kernels."""

    def __init__(self, layer: nn.Linear) -> None:
        super().__init__()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*Sparse CSR tensor support is in beta.*")
            self.weight = layer.weight.detach().to_sparse_csr()
        self.bias = None if layer.bias is None else layer.bias.detach().clone()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.mm(self.weight, x.t()).t()  # [B, out]
        return y if self.bias is None else y + self.bias


def to_csr(model: nn.Module) -> nn.Module:
    """Replace every (pruned) Linear layer of a plain model by :class:`CSRLinear` (in place)."""
    for name, layer in compressible_layers(model):
        if isinstance(layer, nn.Linear):
            parent = model.get_submodule(name.rsplit(".", 1)[0]) if "." in name else model
            setattr(parent, name.rsplit(".", 1)[-1], CSRLinear(layer))
    return model


def _variants(net: str, make: Any) -> dict[str, tuple[nn.Module, int | None]]:
    torch.manual_seed(0)
    dense = make().eval()
    pruned = clone(dense, make)
    prune_to_density(pruned, DENSITIES[net])
    pruned_file = len(compress(pruned, huffman=False))
    shared = clone(pruned, make)
    share_weights(shared, BITS[net])
    shared_file = len(compress(shared))
    csr = to_csr(strip_transforms(clone(pruned, make))).eval()
    x = torch.randn(512, 1, 28, 28)
    q = int8.quantize_ptq(dense, x)
    binary_file = len(compress(binarize(clone(dense, make))))
    return {
        "dense float32": (dense, len(compress(dense))),
        "pruned, zeros in dense kernels": (strip_transforms(clone(pruned, make)).eval(), pruned_file),
        "pruned, sparse CSR": (csr, pruned_file),
        "pruned + shared (lookup + dense)": (shared.eval(), shared_file),
        "int8 (torch.ao, x86)": (q, int8.serialized_bytes(q)),
        "binary weights (1 bit)": (None, binary_file),  # type: ignore[dict-item]
    }


@benchmark("compression", summary="latency (batch 1 / 256) and file size of dense, pruned-CSR, shared, int8 LeNets")
def run(quick: bool, out: Path) -> dict[str, Any]:
    """Time every variant of both networks; write ``compression.json``; print the table."""
    repeats = 20 if quick else 200
    rows = []
    with cpu_threads(1):
        for net, make in (("LeNet-300-100", LeNet300100), ("LeNet-5", LeNet5)):
            variants = _variants(net, make)
            orig = parameter_bytes(make())
            base: dict[int, float] = {}
            for name, (model, size) in variants.items():
                row: dict[str, Any] = {"network": net, "variant": name, "file_bytes": size,
                                       "ratio": orig / size if size else None}
                for bs in (1, 256):
                    if model is None:
                        row[f"ms_b{bs}"] = row[f"speedup_b{bs}"] = None
                        continue
                    x = torch.randn(bs, 1, 28, 28, generator=torch.Generator().manual_seed(bs))
                    t = int8.latency(model, x, repeats=repeats)
                    base.setdefault(bs, t)
                    row[f"ms_b{bs}"] = 1e3 * t
                    row[f"speedup_b{bs}"] = base[bs] / t
                rows.append(row)
    result = {"benchmark": "compression", "quick": quick, "threads": 1, "torch": torch.__version__,
              "engine": int8.engine(), "rows": rows}
    atomic_write_json(Path(out) / "compression.json", result)
    _print(rows)
    return result


def _print(rows: list[dict[str, Any]]) -> None:
    def f(v: Any, fmt: str) -> str:
        return "–" if v is None else format(v, fmt)

    header = f"{'network':<14} {'variant':<34} {'file KB':>9} {'ratio':>6} {'b=1 ms':>8} {'x dense':>7} " \
             f"{'b=256 ms':>9} {'x dense':>7}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['network']:<14} {r['variant']:<34} {r['file_bytes'] / 1000:>9.1f} {f(r['ratio'], '.1f'):>6} "
              f"{f(r['ms_b1'], '.3f'):>8} {f(r['speedup_b1'], '.2f'):>7} {f(r['ms_b256'], '.2f'):>9} "
              f"{f(r['speedup_b256'], '.2f'):>7}")


__all__ = ["CSRLinear", "SharedWeight", "run", "to_csr"]

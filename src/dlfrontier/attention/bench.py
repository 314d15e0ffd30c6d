"""Benchmark ``attention``: parameters, counted multiply-accumulates, latency and memory of every module.

Papers: see each module's file; the goals come from Huang et al., "CCNet: Criss-Cross Attention for Semantic
Segmentation", ICCV 2019 (https://arxiv.org/abs/1811.11721): recurrent criss-cross attention (R=2) needs 11x less
GPU memory than a non-local block and ~85% fewer FLOPs at 97x97.

Measured per module, channels C and size H = W, on a batch of one image:

* ``params``: parameter count;
* ``gmacs``: multiply-accumulates of one forward pass, *counted* by :class:`torch.utils.flop_counter.FlopCounterMode`
  (convolutions, matrix products, einsums; FLOPs / 2), not estimated by hand;
* ``ms``: median wall time of forward + backward over the repeats;
* ``saved_mb``: bytes of the tensors autograd saves for backward during the forward pass (unique storages, the
  input and the parameters excluded): the memory a training step must hold, measured identically on CPU and GPU;
* ``peak_mb`` (CUDA only): ``torch.cuda.max_memory_allocated`` during forward + backward, above the start.

The CCNet goal speaks of the *attention's* memory and FLOPs, so the same run also measures the attention core
alone (:func:`measure_core`): given the projected queries, keys and values of the module's widths, the logits,
softmax and weighted sum, R times for criss-cross; MACs counted and saved bytes measured as above (the q, k, v
inputs excluded, like ``x`` in the whole-block rows).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from dlfrontier.attention import create_attention
from dlfrontier.attention.ccnet import criss_cross_aggregate, criss_cross_weights
from dlfrontier.bench import benchmark
from dlfrontier.tracking import atomic_write_json

# (row name, registry name, options); MHA runs on the H*W pixels as a sequence; the relation module's N^2
# pairs make it a set module, not a per-pixel one, so it is not part of this table.
MODULES: list[tuple[str, str, dict[str, Any]]] = [
    ("se", "se", {}),
    ("cbam", "cbam", {}),
    ("gc", "gc", {}),
    ("non-local", "non-local", {}),
    ("pam", "pam", {}),
    ("cam", "cam", {}),
    ("danet", "danet", {}),
    ("oc", "oc", {}),
    ("asp-oc", "asp-oc", {}),
    ("cc-r1", "cc", {"recurrence": 1}),
    ("cc-r2", "cc", {"recurrence": 2}),
    ("ema", "ema", {}),
    ("carafe-x2", "carafe", {}),
    ("mha-8", "mha", {"num_heads": 8}),
]


def _input(name: str, c: int, size: int, device: torch.device) -> torch.Tensor:
    x = torch.randn(1, c, size, size, device=device)
    if name == "mha":
        return x.flatten(2).transpose(1, 2).contiguous()  # [1, HW, C]
    return x


def count_saved(call: Callable[[], torch.Tensor], exclude: Iterable[torch.Tensor]) -> tuple[torch.Tensor, int]:
    """Run ``call()`` and count the bytes of the unique storages autograd saves for backward, ``exclude`` left out."""
    skip = {t.untyped_storage().data_ptr() for t in exclude}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        s = t.untyped_storage()
        if s.data_ptr() not in skip:
            seen[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = call()
    return y, sum(seen.values())


def saved_bytes(module: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Run ``module(x)`` and count the bytes autograd saves for backward (the input and parameters excluded)."""
    return count_saved(partial(module, x), [*module.parameters(), x])


def measure(row: str, name: str, options: dict[str, Any], c: int, size: int, *, repeats: int, device: torch.device):
    """One table row: params, GMACs, fwd+bwd latency (ms), saved MB and (CUDA) peak MB."""
    torch.manual_seed(0)
    module = create_attention(name, c, **options).to(device)
    x = _input(name, c, size, device).requires_grad_(True)
    with FlopCounterMode(display=False) as counter:
        with torch.no_grad():
            if name == "mha":  # the fused CPU kernel is invisible to the counter: count the explicit path
                module(x, need_weights=True)
            else:
                module(x)
    macs = counter.get_total_flops() / 2
    cuda = device.type == "cuda"
    times = []
    saved = 0
    peak = float("nan")
    for r in range(repeats + 1):  # the first pass warms up
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
        t = time.perf_counter()
        y, saved = saved_bytes(module, x)
        y.sum().backward()
        if cuda:
            torch.cuda.synchronize()
            peak = (torch.cuda.max_memory_allocated() - base) / 2**20
        if r > 0:
            times.append(time.perf_counter() - t)
        x.grad = None
        module.zero_grad(set_to_none=True)
        del y
    return {
        "module": row,
        "channels": c,
        "size": size,
        "device": device.type,
        "params": sum(p.numel() for p in module.parameters()),
        "gmacs": macs / 1e9,
        "ms": 1000 * statistics.median(times),
        "saved_mb": saved / 2**20,
        "peak_mb": peak,
    }


def measure_core(row: str, c: int, size: int, *, device: torch.device) -> dict[str, Any]:
    """The attention core of ``non-local`` (embedded Gaussian, width C/2) or ``cc-r1``/``cc-r2`` (queries and keys
    C/8, values C): MACs and saved bytes of logits + softmax + weighted sum, without the 1x1 projections."""
    torch.manual_seed(0)
    n = size * size
    inputs: list[torch.Tensor]
    if row == "non-local":
        inter = max(1, c // 2)
        inputs = [torch.randn(1, n, inter, device=device), torch.randn(1, inter, n, device=device),
                  torch.randn(1, n, inter, device=device)]

        def core(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
            return torch.bmm(torch.softmax(torch.bmm(q, k), dim=-1), v)

        loops = 1
    elif row in ("cc-r1", "cc-r2"):
        qk = max(1, c // 8)
        inputs = [torch.randn(1, qk, size, size, device=device), torch.randn(1, qk, size, size, device=device),
                  torch.randn(1, c, size, size, device=device)]

        def core(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
            return criss_cross_aggregate(criss_cross_weights(q, k), v)

        loops = 1 if row == "cc-r1" else 2
    else:
        raise ValueError(f"no attention core defined for {row!r}; use non-local, cc-r1 or cc-r2")
    macs = 0.0
    saved = 0
    for _ in range(loops):  # each loop attends on fresh projections of the previous loop's output
        leaves = [t.clone().requires_grad_(True) for t in inputs]
        with FlopCounterMode(display=False) as counter:
            with torch.no_grad():
                core(*leaves)
        macs += counter.get_total_flops() / 2
        y, nbytes = count_saved(partial(core, *leaves), leaves)
        y.sum().backward()
        saved += nbytes
    return {"module": row, "channels": c, "size": size, "device": device.type, "gmacs": macs / 1e9,
            "saved_mb": saved / 2**20}


def cc_vs_non_local_core(cores: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """CC (R=2) / Non-local ratios of the attention cores' saved memory and MACs, per (C, size, device)."""
    index = {(r["module"], r["channels"], r["size"], r["device"]): r for r in cores}
    out = []
    for (mod, c, size, dev), cc in index.items():
        nl = index.get(("non-local", c, size, dev))
        if mod != "cc-r2" or nl is None:
            continue
        out.append({"channels": c, "size": size, "device": dev,
                    "memory_ratio": cc["saved_mb"] / nl["saved_mb"], "macs_ratio": cc["gmacs"] / nl["gmacs"],
                    "memory_goal_met": cc["saved_mb"] <= nl["saved_mb"] / 10,
                    "macs_goal_met": cc["gmacs"] <= 0.15 * nl["gmacs"]})
    return out


def _print_table(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="attention modules: forward MACs, forward+backward latency and memory (batch 1)")
    for col in ("module", "C", "HxW", "device", "params", "GMACs", "ms", "saved MB", "peak MB"):
        table.add_column(col, justify="left" if col == "module" else "right")
    for r in rows:
        table.add_row(
            r["module"], str(r["channels"]), f"{r['size']}x{r['size']}", r["device"], f"{r['params']:,}",
            f"{r['gmacs']:.3f}", f"{r['ms']:.1f}", f"{r['saved_mb']:.1f}",
            "-" if r["peak_mb"] != r["peak_mb"] else f"{r['peak_mb']:.1f}",
        )
    Console().print(table)


def cc_vs_non_local(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The CCNet goals: CC (R=2) / Non-local ratios of saved memory and MACs for every measured (C, size)."""
    out = []
    index = {(r["module"], r["channels"], r["size"], r["device"]): r for r in rows}
    for (mod, c, size, dev), cc in index.items():
        nl = index.get(("non-local", c, size, dev))
        if mod != "cc-r2" or nl is None:
            continue
        out.append(
            {
                "channels": c,
                "size": size,
                "device": dev,
                "memory_ratio": cc["saved_mb"] / nl["saved_mb"],
                "macs_ratio": cc["gmacs"] / nl["gmacs"],
                "memory_goal_met": cc["saved_mb"] <= nl["saved_mb"] / 10,
                "macs_goal_met": cc["gmacs"] <= 0.15 * nl["gmacs"],
            }
        )
    return out


@benchmark("attention", summary="params, counted MACs, fwd+bwd latency and memory of every attention module")
def run_benchmark(quick: bool, out: Path) -> dict[str, Any]:
    """Quick: C=64, every module at 32x32 and 64x64, Non-local and CC at 97x97, 2 repeats (minutes on a
    2-core CPU). Full: C in {64, 512}, every module at 32x32, 64x64 and 97x97, 5 repeats."""
    channels = (64,) if quick else (64, 512)
    sizes = (32, 64, 97)
    repeats = 2 if quick else 5
    goal_rows = {"non-local", "cc-r1", "cc-r2"}
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    rows = []
    for device in devices:
        for c in channels:
            for size in sizes:
                for row, name, options in MODULES:
                    if quick and size == 97 and row not in goal_rows:
                        continue
                    rows.append(measure(row, name, options, c, size, repeats=repeats, device=device))
                    print(f"  {row:10s} C={c:<4d} {size}x{size} {device.type}: {rows[-1]['ms']:.1f} ms", flush=True)
    _print_table(rows)
    cores = [
        measure_core(row, c, size, device=device)
        for device in devices for c in channels for size in sizes for row in ("non-local", "cc-r1", "cc-r2")
    ]
    goals = cc_vs_non_local(rows)
    core_goals = cc_vs_non_local_core(cores)
    for what, gs in (("whole block", goals), ("attention core", core_goals)):
        for g in gs:
            print(
                f"CC(R=2) / Non-local, {what}, at C={g['channels']} {g['size']}x{g['size']} ({g['device']}): "
                f"memory {g['memory_ratio']:.3f} (goal <= 0.10: {g['memory_goal_met']}), MACs "
                f"{g['macs_ratio']:.3f} (goal <= 0.15: {g['macs_goal_met']})"
            )
    result = {
        "benchmark": "attention",
        "quick": quick,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "rows": rows,
        "cc_vs_non_local": goals,
        "attention_cores": cores,
        "cc_vs_non_local_core": core_goals,
    }
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "attention.json", result)
    return result

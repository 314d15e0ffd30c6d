"""Tables and the accuracy-vs-size plot of the compression experiments (run-folder extras).

Reproduces the presentation of Han, Mao and Dally, "Deep Compression", ICLR 2016,
https://arxiv.org/abs/1510.00149 (Table 1: network, original and compressed size, ratio, accuracies;
Tables 2/3: per-layer breakdown; Figure 6: accuracy against compression).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dlfrontier.compression.fileformat import TensorInfo
from dlfrontier.tracking import atomic_write_bytes, atomic_write_json

KB = 1000  # the paper's KB (1720 KB for LeNet-5's 1,724,320 bytes)


def kb(nbytes: float) -> str:
    return f"{nbytes / KB:,.1f} KB"


def pct(acc: float) -> str:
    return f"{100 * acc:.2f}%"


def write_table(run_dir: Path, name: str, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """``run_dir/tables/<name>.json`` in the report's table format."""
    atomic_write_json(run_dir / "tables" / f"{name}.json", {"title": title, "columns": list(columns),
                                                            "rows": [list(r) for r in rows]})


def layer_rows(infos: Sequence[TensorInfo], paper_kept: dict[str, float] | None = None) -> list[list[Any]]:
    """Per-layer rows: layer, weights, kept %, weight bits, index bits, bytes in file, bits per kept weight."""
    rows = []
    for i in infos:
        if not i.name.endswith("weight"):
            continue
        layer = i.name.rsplit(".", 1)[0]
        kept = i.nonzero / max(1, i.numel)
        per = 8 * i.nbytes / max(1, i.nonzero)
        paper = f"{100 * paper_kept[layer]:.0f}%" if paper_kept and layer in paper_kept else "–"
        rows.append([layer, i.numel, f"{100 * kept:.1f}%", paper, i.encoding, i.bits,
                     i.index_bits or "–", i.nbytes, f"{per:.2f}"])
    biases = [i for i in infos if not i.name.endswith("weight")]
    if biases:
        rows.append(["biases (float32)", sum(i.numel for i in biases), "100%", "–", "dense", 32, "–",
                     sum(i.nbytes for i in biases), "–"])
    return rows


LAYER_COLUMNS = ["Layer", "#Weights", "Kept (ours)", "Kept (paper)", "Encoding", "Weight bits", "Index bits",
                 "Bytes in file", "Bits per kept weight"]


def plot_accuracy_vs_size(path: Path, series: dict[str, list[tuple[float, float]]], *, baseline: tuple[float, float],
                          final: tuple[float, float], tolerance: float, title: str) -> None:
    """Accuracy (y) against file size in KB (x, log scale); one line per pipeline stage."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.0, 3.8), dpi=100)
    for label, pts in series.items():
        if pts:
            pts = sorted(pts)
            ax.plot([p[0] / KB for p in pts], [100 * p[1] for p in pts], marker="o", ms=3.5, lw=1.2, label=label)
    ax.scatter([baseline[0] / KB], [100 * baseline[1]], marker="s", color="black", zorder=5, label="dense float32")
    ax.scatter([final[0] / KB], [100 * final[1]], marker="*", s=140, color="red", zorder=6, label="final (fine-tuned)")
    tol_label = f"baseline - {100 * tolerance:g} pt"
    ax.axhline(100 * (baseline[1] - tolerance), color="gray", ls="--", lw=0.8, label=tol_label)
    ax.set_xscale("log")
    ax.set_xlabel("compressed file size (KB, log scale)")
    ax.set_ylabel("test accuracy (%)")
    lo = min([100 * p[1] for pts in series.values() for p in pts] + [100 * final[1]])
    ax.set_ylim(max(lo - 0.5, 100 * baseline[1] - 5), 100 * max(baseline[1], final[1]) + 0.3)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())

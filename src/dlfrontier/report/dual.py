"""The report's extras for the dual-learning experiments (``group`` "dual", issue 21).

Each result of the group gets, in its own section: a table of test BLEU per direction over its seeds (mean and a 95%
bootstrap CI, each seed, and the gain over the run's own warm start where the run has one) and, where its runs logged
them, one figure of learning curves: validation BLEU per direction and the two rewards of the dual games
(language-model log-probability of the middle translation and reconstruction log-probability of the original, per
token, for the games that start from English and from Spanish). The dual-learning result's section also shows the
published numbers it stands beside: the paper's Table 1 and a public reimplementation (:data:`REFERENCES`).

Everything is read from the run folders' ``summary.json`` and ``metrics.csv``; nothing is imported from the
experiment registry, so a report of another person's runs needs no dual-learning code.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from dlfrontier.report.collect import ExperimentResult, curves_of, on_grid
from dlfrontier.stats import bootstrap_ci

GROUP = "dual"
DIRECTIONS = (("en->es", "eval/bleu_en_es", "eval/gain_en_es"), ("es->en", "eval/bleu_es_en", "eval/gain_es_en"))
# (panel title, [(metric, label)]): drawn when at least one of the panel's metrics was logged
PANELS = (
    ("validation BLEU (greedy)", [("val/bleu_en_es", "en->es"), ("val/bleu_es_en", "es->en")]),
    ("LM reward: log P_LM(middle) / token", [("dual/lm_en", "game from en (middle es)"),
                                             ("dual/lm_es", "game from es (middle en)")]),
    ("reconstruction reward: log P(original | middle) / token", [("dual/recon_en", "game from en"),
                                                                 ("dual/recon_es", "game from es")]),
)
CURVE_KEYS = [key for _, keys in PANELS for key, _ in keys]
# The published numbers the dual-learning result stands beside (test BLEU; other corpora, so the scale, not a target).
REFERENCES = {
    "title": "Beside the paper and a reimplementation (their corpora and models, not this one)",
    "columns": ["source", "setting", "10% warm start", "dual learning", "all pairs", "gain (10% -> dual)"],
    "rows": [
        ["github.com/yistLin/pytorch-dual-learning", "WMT16 En->De (450k pairs, 10% warm start)", "20.54", "21.60",
         "22.94", "+1.06"],
        ["github.com/yistLin/pytorch-dual-learning", "WMT16 De->En", "24.69", "26.20", "26.73", "+1.51"],
        ["He et al. NIPS 2016, Table 1", "WMT'14 En<->Fr (12M pairs; test newstest2014)", "–", "–", "–",
         "Fr->En: dual learning from the 10% warm start comparable to the all-pairs model (the paper's claim; its "
         "numbers not read here)"],
    ],
}


def is_dual(result: ExperimentResult) -> bool:
    return bool(result.runs) and result.runs[0].summary.get("group") == GROUP


def _cell(values: list[float], signed: bool = False) -> str:
    """``mean [lo, hi]`` over seeds (95% percentile bootstrap of the mean)."""
    lo, hi = bootstrap_ci(values, stat=np.mean)
    f = "{:+.2f}" if signed else "{:.2f}"
    return f"{f.format(float(np.mean(values)))} [{f.format(lo)}, {f.format(hi)}]"


def bleu_table(result: ExperimentResult) -> dict[str, Any] | None:
    """Test BLEU per direction over the finished seeds (None: the runs have no per-direction BLEU)."""
    runs = sorted((r for r in result.finished if all(b in r.summary["metrics"] for _, b, _ in DIRECTIONS)),
                  key=lambda r: int(r.summary.get("seed", 0)))
    if not runs:
        return None
    with_gain = all(g in r.summary["metrics"] for r in runs for _, _, g in DIRECTIONS)
    columns = ["direction", f"test BLEU, mean over {len(runs)} seed(s) [95% CI]",
               "seeds " + " / ".join(str(r.summary.get("seed", 0)) for r in runs)]
    if with_gain:
        columns += ["gain over the run's warm start [95% CI]", "warm start (10%), per seed"]
    m = [r.summary["metrics"] for r in runs]
    per_direction = [(label, [float(x[b]) for x in m], [float(x[g]) for x in m] if with_gain else [])
                     for label, b, g in DIRECTIONS]
    (_, b1, g1), (_, b2, g2) = per_direction
    both = ("mean of the two", [(x + y) / 2 for x, y in zip(b1, b2, strict=True)],
            [(x + y) / 2 for x, y in zip(g1, g2, strict=True)])
    rows = []
    for label, bleu, gain in [*per_direction, both]:
        row = [label, _cell(bleu), " / ".join(f"{v:.2f}" for v in bleu)]
        if with_gain:
            row += [_cell(gain, signed=True), " / ".join(f"{v - d:.2f}" for v, d in zip(bleu, gain, strict=True))]
        rows.append(row)
    return {"title": f"{result.experiment}: test BLEU per direction (sacreBLEU, detokenized)", "columns": columns,
            "rows": rows}


def curves_png(result: ExperimentResult, logged: dict[str, Any] | None = None) -> bytes | None:
    """Validation BLEU per direction and the games' two rewards over training: each seed thin, the mean bold
    (None: none of the metrics was logged). ``logged``: :func:`curves_of` of :data:`CURVE_KEYS`, when read already."""
    logged = logged if logged is not None else curves_of(result, CURVE_KEYS)
    panels = []
    for title, keys in PANELS:
        lines = [(label, logged[key]) for key, label in keys if logged[key]]
        if lines:
            panels.append((title, lines))
    if not panels:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.2), dpi=100, squeeze=False)
    for ax, (title, lines) in zip(axes[0], panels, strict=True):
        for i, (label, data) in enumerate(lines):
            color = f"C{i}"
            for _, pts in data:
                ax.plot(*zip(*pts, strict=True), lw=0.7, alpha=0.35, color=color)
            grid, ys = on_grid(data)
            ax.plot(grid, ys.mean(0), lw=1.8, color=color, label=f"{label} (mean of {len(data)})")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"{result.experiment} ({result.budget})", fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def extras(result: ExperimentResult) -> tuple[list[dict[str, Any]], dict[str, bytes]]:
    """The tables and plots (stem -> PNG) this module adds to a dual-group result's section."""
    if not is_dual(result):
        return [], {}
    logged = curves_of(result, CURVE_KEYS)
    tables = [t for t in [bleu_table(result)] if t is not None]
    if tables and logged["dual/lm_en"]:  # the dual games ran: the dual-learning result
        tables.append(REFERENCES)
    png = curves_png(result, logged)
    return tables, ({"curves": png} if png else {})

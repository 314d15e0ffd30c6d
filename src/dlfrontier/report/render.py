"""Render grouped results as one self-contained HTML page (plots embedded) and a markdown table."""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import os
from pathlib import Path
from typing import Any

from dlfrontier.report.collect import ExperimentResult, at_step0, curves, extras, find_runs, group_runs, judge
from dlfrontier.tracking import atomic_write_bytes, atomic_write_text


def _fmt(v: Any, digits: int = 4) -> str:
    if v is None:
        return "–"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if f != f:
        return "–"
    if abs(f) >= 1000:
        return f"{f:,.1f}"
    return f"{f:.{digits}g}"


def plot_png(result: ExperimentResult) -> bytes | None:
    """The learning curve of every seed, their mean and min-max band, as PNG bytes (None: no data)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    key = result.curve or result.metric
    data = curves(result, key)
    if not data:
        return None
    fig, ax = plt.subplots(figsize=(5.2, 3.2), dpi=100)
    for seed, pts in data:
        s, v = zip(*pts, strict=True)
        ax.plot(s, v, lw=0.8, alpha=0.45, label=f"seed {seed}")
    steps = sorted({p[0] for _, pts in data for p in pts})
    if len(data) > 1 and len(steps) > 1:
        grid = np.array(steps, dtype=float)
        ys = np.array([np.interp(grid, [p[0] for p in pts], [p[1] for p in pts]) for _, pts in data])
        ax.fill_between(grid, ys.min(0), ys.max(0), alpha=0.15, color="C0", lw=0)
        ax.plot(grid, ys.mean(0), color="k", lw=1.6, label="mean")
    if result.threshold == result.threshold:
        label = f"criterion {result.op} {_fmt(result.threshold)}"
        ax.axhline(result.threshold, ls="--", color="tab:red", lw=1, label=label)
    anchor_v = result.anchor.get("value")
    if result.anchor.get("metric") == key and anchor_v is not None:
        ax.axhline(float(anchor_v), ls=":", color="tab:green", lw=1, label="anchor")
    ax.set_title(f"{result.experiment} ({result.budget})", fontsize=10)
    ax.set_xlabel("step")
    ax.set_ylabel(key)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def _row(result: ExperimentResult, others: dict[tuple[str, str], ExperimentResult] | None = None) -> dict[str, str]:
    a = result.aggregate()
    ci = a.get("ci")
    anchor = result.anchor
    verdict = "–"
    if "passed" in a:
        verdict = ("pass" if a["passed"] else "FAIL") + f" ({a['runs_passed']}/{a['n']} seeds)"
    incomplete = a["n_runs"] - a["n"]
    step0 = at_step0(result)
    more = judge(result, others or {})
    return {
        "experiment": result.experiment,
        "budget": result.budget,
        "metric": result.metric,
        "seeds": f"{a['n']}" + (f" (+{incomplete} unfinished)" if incomplete else ""),
        "mean ± std": f"{_fmt(a.get('mean'))} ± {_fmt(a.get('std'), 2)}" if a["n"] else "–",
        "IQM": _fmt(a.get("iqm")),
        "95% CI (IQM)": f"[{_fmt(ci[0])}, {_fmt(ci[1])}]" if ci else "–",
        "anchor": f"{_fmt(anchor.get('value'))} ({anchor.get('source', '')})",
        "no learning": (f"{_fmt(result.baseline.get('value'))}" if result.baseline else "–")
        + (f"; step 0: {_fmt(sum(step0) / len(step0))}" if step0 else ""),
        "criterion": f"{result.op} {_fmt(result.threshold)}",
        "verdict": verdict,
        "other criteria": "; ".join(f"{m['name']} ({m['text']}): {m['verdict']}" for m in more) or "–",
        "wall (s/run)": f"{a['wall_mean']:.0f}",
    }


COLUMNS = ["experiment", "budget", "metric", "seeds", "mean ± std", "IQM", "95% CI (IQM)", "anchor",
           "no learning", "criterion", "verdict", "other criteria", "wall (s/run)"]


def _index(results: list[ExperimentResult]) -> dict[tuple[str, str], ExperimentResult]:
    return {(r.experiment, r.budget): r for r in results}


def _md_table(t: dict[str, Any]) -> list[str]:
    cols = [str(c) for c in t["columns"]]
    out = [f"**{t['title']}**", "", "| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in t["rows"]:
        out.append("| " + " | ".join(_fmt(c) if isinstance(c, float) else str(c) for c in row) + " |")
    return out + [""]


def _html_table(t: dict[str, Any]) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in t["columns"])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(c) if isinstance(c, float) else str(c))}</td>" for c in row) + "</tr>"
        for row in t["rows"]
    )
    return f"<h3>{html.escape(t['title'])}</h3><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def markdown(
    results: list[ExperimentResult],
    plots: dict[str, str] | None = None,
    tables: dict[str, list[dict[str, Any]]] | None = None,
) -> str:
    lines = [
        "# dlfrontier results",
        "",
        "Generated by `dlfrontier report` from run folders. Per experiment and budget: the key metric over",
        "seeds (mean ± std, interquartile mean, 95% percentile-bootstrap CI of the IQM), the paper's or",
        "peer's number it is compared with, the measured score of no learning (the declared baseline, and the",
        "mean of the runs' own step-0 evaluation where they log one), and whether the IQM meets the budget's",
        "criterion. Other criteria: thresholds judged on every run, and paired comparisons with another",
        "experiment on the same seeds.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join("---" for _ in COLUMNS) + "|",
    ]
    index = _index(results)
    for r in results:
        row = _row(r, index)
        lines.append("| " + " | ".join(row[c].replace("|", "/") for c in COLUMNS) + " |")
    if tables and any(tables.values()):
        lines += ["", "## Tables", ""]
        for name, ts in tables.items():
            for t in ts:
                lines += [f"### {name}", ""] + _md_table(t)
    if plots:
        lines += ["", "## Plots", ""]
        for name, rel in plots.items():
            lines += [f"### {name}", "", f"![{name}]({rel})", ""]
    return "\n".join(lines) + "\n"


_CSS = """
body{font-family:system-ui,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1200px;color:#222}
table{border-collapse:collapse;font-size:13px;width:100%}th,td{border:1px solid #ccc;padding:4px 6px;text-align:left}
th{background:#f3f3f3}.pass{color:#1a7f37;font-weight:600}.FAIL{color:#cf222e;font-weight:600}
.plots{display:flex;flex-wrap:wrap;gap:12px}.plots figure{margin:0}figcaption{font-size:12px;color:#555}
"""


def html_page(
    results: list[ExperimentResult],
    images: dict[str, bytes],
    title: str = "dlfrontier report",
    tables: dict[str, list[dict[str, Any]]] | None = None,
) -> str:
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Generated {now} from {sum(len(r.runs) for r in results)} run folder(s). "
        "IQM: interquartile mean over seeds; CI: 95% percentile bootstrap of the IQM; the verdict applies "
        "the budget's criterion to the IQM.</p>",
        "<table><thead><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS) + "</tr></thead><tbody>",
    ]
    index = _index(results)
    for r in results:
        row = _row(r, index)
        cells = []
        for c in COLUMNS:
            cls = ""
            if c == "verdict":
                word = row[c].split(" ")[0]
                cls = f" class='{word}'" if word in ("pass", "FAIL") else ""
            cells.append(f"<td{cls}>{html.escape(row[c])}</td>")
        out.append(f"<tr id='{html.escape(r.experiment)}-{html.escape(r.budget)}'>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    if tables and any(tables.values()):
        out.append("<h2>Tables</h2>")
        for ts in tables.values():
            out.extend(_html_table(t) for t in ts)
    out.append("<h2>Plots</h2><div class='plots'>")
    for name, png in images.items():
        b64 = base64.b64encode(png).decode("ascii")
        out.append(
            f"<figure><img alt='{html.escape(name)}' src='data:image/png;base64,{b64}'>"
            f"<figcaption>{html.escape(name)}</figcaption></figure>"
        )
    out.append("</div></body></html>")
    return "\n".join(out) + "\n"


def write_report(
    runs_dir: str | os.PathLike[str] = "runs",
    html_path: str | os.PathLike[str] | None = None,
    md_path: str | os.PathLike[str] | None = None,
) -> tuple[Path, Path, list[ExperimentResult]]:
    """Write the HTML report and its markdown twin (plots beside it in ``<md stem>_plots/``).

    Returns:
        The HTML path, the markdown path and the grouped results.
    """
    from dlfrontier.errors import DLFrontierError

    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise DLFrontierError(
            f"runs folder {runs_dir} does not exist; run an experiment first (dlfrontier run NAME)"
        )
    runs = find_runs(runs_dir)
    if not runs:
        raise DLFrontierError(f"no run folders (summary.json) under {runs_dir}")
    results = group_runs(runs)
    html_path = Path(html_path) if html_path else runs_dir / "report.html"
    md_path = Path(md_path) if md_path else html_path.with_suffix(".md")
    images: dict[str, bytes] = {}
    tables: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        name = f"{r.experiment}-{r.budget}"
        png = plot_png(r)
        if png:
            images[name] = png
        ts, extra_plots = extras(r)
        tables[name] = ts
        for stem, data in extra_plots.items():
            images[f"{name}-{stem}"] = data
    plot_dir = md_path.parent / f"{md_path.stem}_plots"
    rel = {}
    for name, png in images.items():
        atomic_write_bytes(plot_dir / f"{name}.png", png)
        rel[name] = f"{plot_dir.name}/{name}.png"
    atomic_write_text(html_path, html_page(results, images, tables=tables))
    atomic_write_text(md_path, markdown(results, rel, tables))
    return html_path, md_path, results

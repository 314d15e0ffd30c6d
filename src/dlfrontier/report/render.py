"""Render grouped results as one self-contained HTML page (plots embedded) and a markdown table."""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dlfrontier.errors import DLFrontierError
from dlfrontier.report.collect import (
    ExperimentResult,
    Scan,
    at_step0,
    curves,
    extras,
    group_runs,
    judge,
    on_grid,
    scan_runs,
)
from dlfrontier.report.dual import extras as dual_extras
from dlfrontier.report.previous import CarriedRow, Previous, carried_cells, read_previous
from dlfrontier.tracking import atomic_write_bytes, atomic_write_text

_TAG = re.compile(r"<(?=[A-Za-z/!?])")


def _md(text: Any) -> str:
    """``text`` as markdown table-cell text: no raw HTML (a ``<`` that could open a tag becomes ``&lt;``; ``<=``
    stays readable), no ``|`` that would split the cell, no line break."""
    return _TAG.sub("&lt;", str(text)).replace("|", "/").replace("\r", " ").replace("\n", " ")


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


def _short_source(source: Any, limit: int = 40) -> str:
    """The first clause of a source ("Han et al. 2016, Deep Compression, Table 1" -> "Han et al. 2016")."""
    text = re.split(r"[,;(]", str(source or ""), maxsplit=1)[0].strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def plot_spec(result: ExperimentResult) -> dict[str, Any] | None:
    """What :func:`plot_png` draws, as data (None: no curve data).

    Returns:
        ``{"title", "ylabel", "curves": [{"label", "x", "y", "lw", "alpha", "marker"}], "band": (x, lo, hi) | None,
        "hlines": [{"kind": "criterion" | "anchor", "y", "label"}]}``. The criterion's line is drawn only on a plot
        of the criterion's own metric, the anchor's only on its metric's; a single seed is drawn bold with markers
        (there is no mean or band to show).
    """
    key = result.curve or result.metric
    data = curves(result, key)
    if not data:
        return None
    single = len(data) == 1
    spec: dict[str, Any] = {"title": f"{result.experiment} ({result.budget})", "ylabel": key, "curves": [],
                            "band": None, "hlines": []}
    for seed, pts in data:
        s, v = zip(*pts, strict=True)
        spec["curves"].append({"label": f"seed {seed}" + (" (the only seed)" if single else ""), "x": list(s),
                               "y": list(v), "lw": 2.0 if single else 0.8, "alpha": 1.0 if single else 0.45,
                               "marker": "o" if single else None})
    grid, ys = on_grid(data)
    if not single and len(grid) > 1:
        spec["band"] = (grid.tolist(), ys.min(0).tolist(), ys.max(0).tolist())
        spec["curves"].append({"label": "mean", "x": grid.tolist(), "y": ys.mean(0).tolist(), "lw": 1.6,
                               "alpha": 1.0, "marker": None, "color": "k"})
    if result.metric == key and result.threshold == result.threshold:
        spec["hlines"].append({"kind": "criterion", "y": float(result.threshold),
                               "label": f"criterion {result.op} {_fmt(result.threshold)}"})
    anchor_v = result.anchor.get("value")
    if result.anchor.get("metric") == key and anchor_v is not None:
        source = _short_source(result.anchor.get("source"))
        spec["hlines"].append({"kind": "anchor", "y": float(anchor_v),
                               "label": f"anchor {_fmt(anchor_v)}" + (f" ({source})" if source else "")})
    return spec


_HLINE_STYLE = {"criterion": {"ls": "--", "color": "tab:red"}, "anchor": {"ls": ":", "color": "tab:green"}}


def plot_png(result: ExperimentResult) -> bytes | None:
    """The learning curve of every seed, their mean and min-max band, as PNG bytes (None: no data)."""
    spec = plot_spec(result)
    if spec is None:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 3.2), dpi=100)
    if spec["band"] is not None:
        grid, lo, hi = spec["band"]
        ax.fill_between(grid, lo, hi, alpha=0.15, color="C0", lw=0)
    for c in spec["curves"]:
        extra = {"color": c["color"]} if "color" in c else {}
        ax.plot(c["x"], c["y"], lw=c["lw"], alpha=c["alpha"], marker=c["marker"], markersize=3, label=c["label"],
                **extra)
    for h in spec["hlines"]:
        ax.axhline(h["y"], lw=1, label=h["label"], **_HLINE_STYLE[h["kind"]])
    ax.set_title(spec["title"], fontsize=10)
    ax.set_xlabel("step")
    ax.set_ylabel(spec["ylabel"])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


ONE_SEED = "n/a (1 seed)"  # a spread or CI of one value is not zero but unknown


def _row(result: ExperimentResult, others: dict[tuple[str, str], ExperimentResult] | None = None) -> dict[str, str]:
    a = result.aggregate()
    ci = a.get("ci")
    anchor = result.anchor
    verdict = "–"
    if "passed" in a:
        verdict = ("pass" if a["passed"] else "FAIL") + f" ({a['runs_passed']}/{a['n']} seeds)"
    unfinished = _unfinished(result)
    repeats = f" ({result.ignored} older repeat{'s' if result.ignored != 1 else ''} ignored)" if result.ignored else ""
    step0 = at_step0(result)
    more = judge(result, others or {})
    return {
        "experiment": result.experiment,
        "budget": result.budget,
        "metric": result.metric,
        "seeds": f"{a['n']}" + (f" ({unfinished})" if unfinished else "") + repeats,
        "mean ± std": (f"{_fmt(a.get('mean'))} ± " + (_fmt(a.get("std"), 2) if a["n"] > 1 else ONE_SEED))
        if a["n"] else "–",
        "IQM": _fmt(a.get("iqm")),
        "95% CI (IQM)": (f"[{_fmt(ci[0])}, {_fmt(ci[1])}]" if a["n"] > 1 else ONE_SEED) if ci else "–",
        "anchor": f"{_fmt(anchor.get('value'))} ({anchor.get('source', '')})",
        "no learning": (f"{_fmt(result.baseline.get('value'))}" if result.baseline else "–")
        + (f"; step 0: {_fmt(sum(step0) / len(step0))}" if step0 else ""),
        "criterion": f"{result.op} {_fmt(result.threshold)}",
        "verdict": verdict,
        "other criteria": "; ".join(f"{m['name']} ({m['text']}): {m['verdict']}" for m in more) or "–",
        "wall (s/run)": f"{a['wall_mean']:.0f}",
    }


def _unfinished(result: ExperimentResult) -> str:
    """The runs without a result, by status: ``"+1 stale, +2 failed"`` ("" if none)."""
    finished = {id(r) for r in result.finished}
    counts: dict[str, int] = {}
    for r in result.runs:
        if id(r) not in finished:
            status = str(r.summary.get("status", "unknown"))
            label = f"{status} without {result.metric or 'a metric'}" if status == "done" else status
            counts[label] = counts.get(label, 0) + 1
    return ", ".join(f"+{n} {label}" for label, n in sorted(counts.items()))


COLUMNS = ["experiment", "budget", "metric", "seeds", "mean ± std", "IQM", "95% CI (IQM)", "anchor",
           "no learning", "criterion", "verdict", "other criteria", "wall (s/run)"]


def _index(results: list[ExperimentResult]) -> dict[tuple[str, str], ExperimentResult]:
    return {(r.experiment, r.budget): r for r in results}


def _sections(
    results: list[ExperimentResult],
    plot_keys: list[str],
    tables: dict[str, list[dict[str, Any]]],
    groups: dict[str, list[str]] | None,
) -> list[tuple[str, ExperimentResult, list[str], list[dict[str, Any]]]]:
    """Per result with a plot or a table: ``(name, result, its plot keys in order, its tables)``. ``groups`` names
    each section's plots (name -> keys); without it a plot belongs to the result whose ``experiment-budget`` name
    it is or starts with (the longest such name)."""
    names = [f"{r.experiment}-{r.budget}" for r in results]
    if groups is None:
        groups = {n: [] for n in names}
        for key in plot_keys:
            owners = [n for n in names if key == n or key.startswith(n + "-")]
            if owners:
                groups[max(owners, key=len)].append(key)
    present = set(plot_keys)
    out = []
    for name, r in zip(names, results, strict=True):
        keys = [k for k in groups.get(name, []) if k in present]
        ts = tables.get(name, [])
        if keys or ts:
            out.append((name, r, keys, ts))
    return out


def _md_table(t: dict[str, Any]) -> list[str]:
    cols = [_md(c) for c in t["columns"]]
    out = [f"**{_md(t['title'])}**", "", "| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in t["rows"]:
        out.append("| " + " | ".join(_md(_fmt(c) if isinstance(c, float) else c) for c in row) + " |")
    return out + [""]


def _html_table(t: dict[str, Any]) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in t["columns"])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(c) if isinstance(c, float) else str(c))}</td>" for c in row) + "</tr>"
        for row in t["rows"]
    )
    return f"<h3>{html.escape(t['title'])}</h3><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _entries(
    results: list[ExperimentResult],
    carried: list[CarriedRow],
    plot_keys: list[str],
    tables: dict[str, list[dict[str, Any]]],
    groups: dict[str, list[str]] | None,
) -> tuple[list[tuple[str, dict[str, str]]], list[tuple[str, dict[str, str], list[str], list[dict[str, Any]]]]]:
    """The summary rows ``(name, cells)`` and the sections ``(name, cells, plot keys, tables)`` of the fresh
    results and the carried rows together, in (experiment, budget) order."""
    index = _index(results)
    fresh = {id(r): _row(r, index) for r in results}
    kept = {id(c): carried_cells(c) for c in carried}
    rows = [((r.experiment, r.budget), f"{r.experiment}-{r.budget}", fresh[id(r)]) for r in results]
    rows += [((c.experiment, c.budget), f"{c.experiment}-{c.budget}", kept[id(c)]) for c in carried]
    rows.sort(key=lambda t: t[0])
    secs = [((r.experiment, r.budget), name, fresh[id(r)], keys, ts)
            for name, r, keys, ts in _sections(results, plot_keys, tables, groups)]
    secs += [((c.experiment, c.budget), f"{c.experiment}-{c.budget}", kept[id(c)],
              [k for k in c.plots if k in plot_keys], c.tables) for c in carried if c.plots or c.tables]
    secs.sort(key=lambda t: t[0])
    return [(n, cells) for _, n, cells in rows], [(n, cells, keys, ts) for _, n, cells, keys, ts in secs]


def markdown(
    results: list[ExperimentResult],
    plots: dict[str, str] | None = None,
    tables: dict[str, list[dict[str, Any]]] | None = None,
    notes: str = "",
    groups: dict[str, list[str]] | None = None,
    appendix: list[dict[str, Any]] | None = None,
    carried: list[CarriedRow] | None = None,
) -> str:
    """The markdown twin of :func:`html_page`: the summary table, then per experiment and budget its key figures,
    its plots (``plots``: name -> relative path) and its tables; then the ``appendix`` sections (sweeps, RL
    aggregates: ``{"title", "text", "tables", "plots"}``). ``carried``: rows of an earlier report shown as they
    were (see :mod:`dlfrontier.report.previous`)."""
    lines = [
        "# dlfrontier results",
        "",
        "Generated by `dlfrontier report` from run folders. Per experiment and budget: the key metric over",
        "seeds (mean ± std, interquartile mean, 95% percentile-bootstrap CI of the IQM), the paper's or",
        "peer's number it is compared with, the measured score of no learning (the declared baseline, and the",
        "mean of the runs' own step-0 evaluation where they log one), and whether the IQM meets the budget's",
        "criterion. Other criteria: thresholds judged on every run, and paired comparisons with another",
        "experiment on the same seeds.",
        *(["", notes] if notes else []),
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join("---" for _ in COLUMNS) + "|",
    ]
    rows, sections = _entries(results, carried or [], list((plots or {}).keys()), tables or {}, groups)
    for _, cells in rows:
        lines.append("| " + " | ".join(_md(cells[c]) for c in COLUMNS) + " |")
    if sections:
        lines += ["", "## Results by experiment and budget", ""]
    for name, row, keys, ts in sections:
        lines += [f"### {_md(name)}", "",
                  f"{_md(row['experiment'])} ({_md(row['budget'])}), {_md(row['metric'])}: {_md(row['mean ± std'])};"
                  f" IQM {_md(row['IQM'])}; {_md(row['verdict'])}; seeds: {_md(row['seeds'])} (its row in the table "
                  "above)", ""]
        for key in keys:
            lines += [f"![{_md(key)}]({(plots or {})[key]})", ""]
        for t in ts:
            lines += _md_table(t)
    if appendix:
        lines += ["", "## Statistics across runs: sweeps and aggregates", ""]
    for sec in appendix or []:
        lines += [f"### {_md(sec['title'])}", "", _md(sec["text"]), ""]
        for t in sec["tables"]:
            lines += _md_table(t)
        for key in sec["plots"]:
            if key in (plots or {}):
                lines += [f"![{_md(key)}]({(plots or {})[key]})", ""]
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
    notes: str = "",
    groups: dict[str, list[str]] | None = None,
    appendix: list[dict[str, Any]] | None = None,
    carried: list[CarriedRow] | None = None,
) -> str:
    """One self-contained page: the summary table (a row per experiment and budget, linking to its section), then
    per experiment and budget its learning curve, its other plots and its tables (``images``: name -> PNG)."""
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Generated {now} from {sum(len(r.runs) for r in results)} run folder(s). "
        + (f"{html.escape(notes)} " if notes else "") +
        "IQM: interquartile mean over seeds; CI: 95% percentile bootstrap of the IQM; the verdict applies "
        "the budget's criterion to the IQM.</p>",
        "<table><thead><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS) + "</tr></thead><tbody>",
    ]
    rows, sections = _entries(results, carried or [], list(images), tables or {}, groups)
    for name, row in rows:
        cells = []
        for c in COLUMNS:
            cls = ""
            if c == "verdict":
                word = row[c].split(" ")[0]
                cls = f" class='{word}'" if word in ("pass", "FAIL") else ""
            cells.append(f"<td{cls}>{html.escape(row[c])}</td>")
        out.append(f"<tr id='{html.escape(name)}'>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    if sections:
        out.append("<h2>Results by experiment and budget</h2>")
    for name, row, keys, ts in sections:
        anchor = html.escape(name)
        out.append(f"<section id='section-{anchor}'><h3><a href='#{anchor}'>{html.escape(row['experiment'])} "
                   f"({html.escape(row['budget'])})</a></h3>")
        if keys:
            out.append("<div class='plots'>")
            for key in keys:
                b64 = base64.b64encode(images[key]).decode("ascii")
                out.append(f"<figure><img alt='{html.escape(key)}' src='data:image/png;base64,{b64}'>"
                           f"<figcaption>{html.escape(key)}</figcaption></figure>")
            out.append("</div>")
        out.extend(_html_table(t) for t in ts)
        out.append("</section>")
    if appendix:
        out.append("<h2>Statistics across runs: sweeps and aggregates</h2>")
    for sec in appendix or []:
        out.append(f"<section><h3>{html.escape(sec['title'])}</h3><p>{html.escape(sec['text'])}</p>")
        out.extend(_html_table(t) for t in sec["tables"])
        for key in sec["plots"]:
            if key in images:
                b64 = base64.b64encode(images[key]).decode("ascii")
                out.append(f"<figure><img alt='{html.escape(key)}' src='data:image/png;base64,{b64}'>"
                           f"<figcaption>{html.escape(key)}</figcaption></figure>")
        out.append("</section>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _notes(scan: Scan) -> str:
    """The header's account of the folders the report did not use."""
    out = []
    if scan.skipped:
        out.append(f"{len(scan.skipped)} run folder(s) skipped (malformed summary.json or a symbolic link; "
                   "`dlfrontier report` prints why).")
    ignored = sum(scan.ignored.values())
    if ignored:
        out.append(f"{ignored} older repeat(s) of a seed ignored (the newest finished run of each experiment, "
                   "budget, seed and config is used).")
    return " ".join(out)


def _warn(line: str) -> None:
    print(line, file=sys.stderr)


def _writable(path: Path, what: str) -> None:
    if path.is_dir():
        raise DLFrontierError(f"{what} {path} is a folder; name a file in it, e.g. {path / 'report.html'}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DLFrontierError(f"cannot write {what} {path}: {e.strerror or type(e).__name__}") from None


def _inside(base: Path, name: str) -> Path:
    path = base / name
    if Path(os.path.abspath(path)).parent != Path(os.path.abspath(base)):
        raise DLFrontierError(f"{name!r} cannot name a file in {base}")  # unreachable: names are checked
    return path


KEPT = "Carried from the previous report, not recomputed while rows are carried:"


def _carry(
    prev: Previous, results: list[ExperimentResult], appendix: list[dict[str, Any]], images: dict[str, bytes],
) -> tuple[list[CarriedRow], list[dict[str, Any]]]:
    """The previous report's rows without fresh results, and the appendix with its sections merged in (``images``
    gains their plots)."""
    fresh = {(r.experiment, r.budget) for r in results}
    carried = [c for c in prev.rows if (c.experiment, c.budget) not in fresh]
    for c in carried:
        for key in c.plots:
            images.setdefault(key, prev.images[key])
    by_title = {sec["title"]: sec for sec in appendix}
    for sec in prev.appendix:
        new = by_title.get(sec["title"])
        if new is not None and (sec["title"].startswith("Sweep ") or not carried):
            continue  # a fresh sweep holds all its runs; a fresh aggregate holds every row
        kept = dict(sec, text=sec["text"] if sec["text"].startswith(KEPT) else f"{KEPT} {sec['text']}")
        for key in kept["plots"]:
            images[key] = prev.images[key]  # its own plot, over a fresh one of the same name
        by_title[sec["title"]] = kept
    order = [sec["title"] for sec in appendix] + [s["title"] for s in prev.appendix
                                                  if s["title"] not in {a["title"] for a in appendix}]
    return carried, [by_title[t] for t in order]


def write_report(
    runs_dir: str | os.PathLike[str] = "runs",
    html_path: str | os.PathLike[str] | None = None,
    md_path: str | os.PathLike[str] | None = None,
    warn: Callable[[str], None] | None = _warn,
    previous: str | os.PathLike[str] | None = None,
) -> tuple[Path, Path, list[ExperimentResult]]:
    """Write the HTML report and its markdown twin (plots beside it in ``<md stem>_plots/``).

    ``previous``: an earlier markdown report; its rows for experiment/budget pairs without run folders here are
    carried over as they were (their plots and tables too), each marked in its seeds cell. Its sweep sections give
    way to fresh ones of the same sweep; its other appendix sections (aggregates across experiments) are kept,
    marked, while any row is carried, since the run folders here alone would aggregate fewer experiments.

    Every file written lies in the HTML file's folder, the markdown file's folder or its ``_plots`` folder. Folders
    with a malformed ``summary.json`` (or symbolic links) are skipped with one ``warn`` line each and counted in
    the header; of repeated runs of one seed and config the newest finished one is used.

    Returns:
        The HTML path, the markdown path and the grouped results.

    Raises:
        DLFrontierError: no runs folder or no usable run in it, or an output that cannot be written.
    """
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise DLFrontierError(
            f"runs folder {runs_dir} does not exist; run an experiment first (dlfrontier run NAME)"
        )
    scan = scan_runs(runs_dir)
    for k in scan.skipped:
        if warn is not None:
            warn(f"dlfrontier report: warning: skipped {k.path}: {k.problem}")
    if not scan.runs:
        raise DLFrontierError(f"no usable run folders (summary.json) under {runs_dir}"
                              + (f" ({len(scan.skipped)} skipped)" if scan.skipped else ""))
    prev = None
    if previous is not None:
        prev, problems = read_previous(previous, COLUMNS)
        for line in problems:
            if warn is not None:
                warn(f"dlfrontier report: warning: {line}")
    from dlfrontier.report.collect import sweep_entry
    from dlfrontier.report.scaleout import group_sweeps, sections

    swept = [r for r in scan.runs if sweep_entry(r) is not None]  # a sweep's runs get their own per-config table
    results = group_runs([r for r in scan.runs if sweep_entry(r) is None], scan.ignored)
    html_path = Path(html_path) if html_path else runs_dir / "report.html"
    md_path = Path(md_path) if md_path else html_path.with_suffix(".md")
    _writable(html_path, "the report")
    _writable(md_path, "the markdown report")
    images: dict[str, bytes] = {}
    tables: dict[str, list[dict[str, Any]]] = {}
    groups: dict[str, list[str]] = {}
    for r in results:  # the learning curves first: their names win over a same-named extra plot
        name = f"{r.experiment}-{r.budget}"
        groups[name] = []
        png = plot_png(r)
        if png:
            images[name] = png
            groups[name].append(name)
    for r in results:
        name = f"{r.experiment}-{r.budget}"
        ts, extra_plots = extras(r)
        dual_tables, dual_plots = dual_extras(r)  # per direction BLEU and the games' curves (group "dual")
        tables[name] = dual_tables + ts
        extra_plots = {**dual_plots, **extra_plots}
        for stem, data in extra_plots.items():
            if f"{name}-{stem}" not in images:  # a name already taken keeps its plot
                images[f"{name}-{stem}"] = data
                groups[name].append(f"{name}-{stem}")
    appendix, extra_images = sections(results, group_sweeps(swept))
    for key, png in extra_images.items():
        images.setdefault(key, png)
    carried: list[CarriedRow] = []
    if prev is not None:
        carried, appendix = _carry(prev, results, appendix, images)
    plot_dir = md_path.parent / f"{md_path.stem}_plots"
    rel = {}
    notes = _notes(scan) + (f" {len(carried)} row(s) carried from the previous report ({prev.path.name}): their "
                             "run folders were not among these; their cells, plots and tables are as it showed them."
                             if prev is not None and carried else "")
    notes = notes.strip()
    try:
        for name, png in images.items():
            atomic_write_bytes(_inside(plot_dir, f"{name}.png"), png)
            rel[name] = f"{plot_dir.name}/{name}.png"
        atomic_write_text(html_path, html_page(results, images, tables=tables, notes=notes, groups=groups,
                                               appendix=appendix, carried=carried))
        atomic_write_text(md_path, markdown(results, rel, tables, notes=notes, groups=groups, appendix=appendix,
                                            carried=carried))
    except OSError as e:
        where = e.filename if isinstance(e.filename, str) else str(md_path.parent)
        raise DLFrontierError(f"cannot write the report into {where}: {e.strerror or type(e).__name__}") from None
    return html_path, md_path, results

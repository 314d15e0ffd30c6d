"""The report's statistics across many runs: sweeps (a table per sweep, one row per config, the best marked) and
rliable's aggregates across the RL experiments (Agarwal et al. 2021).

Everything here reads the runs that :mod:`dlfrontier.report.collect` found (run folders only) and returns plain
sections, ``{"title", "text", "tables", "plots"}``, with the PNG bytes of their plots, which
:mod:`dlfrontier.report.render` writes into the HTML page and the markdown file.

Normalized scores: ``(score - baseline) / (anchor - baseline)`` per experiment with the values its runs recorded
(0 = the measured no-learning score, 1 = the paper's or peer's number); an experiment whose anchor equals its
baseline (the MinAtar games, anchored at the random policy) has no scale and is left out, and said so.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dlfrontier import stats
from dlfrontier.report.collect import ExperimentResult, Run, group_runs, sweep_entry

REPS = 2000  # bootstrap resamples, fixed seed (as the per-experiment CIs)
PROFILE_POINTS = 61


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "–"
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    return f"{v:,.1f}" if abs(v) >= 1000 else f"{v:.4g}"


def _ci(point: Any, lo: Any, hi: Any) -> str:
    return f"{_fmt(float(point))} [{_fmt(float(lo))}, {_fmt(float(hi))}]"


def _higher(result: ExperimentResult) -> bool:
    return result.op not in ("<=", "<")


# ------------------------------------------------------------------------------------------------ sweeps


@dataclass
class SweepResult:
    """The runs of one sweep: one :class:`ExperimentResult` per config (point), in the sweep's point order."""

    id: str
    experiment: str
    budget: str
    points: list[dict[str, Any]] = field(default_factory=list)
    configs: list[ExperimentResult] = field(default_factory=list)

    @property
    def keys(self) -> list[str]:
        return list(dict.fromkeys(k for p in self.points for k in p))

    def best(self) -> int | None:
        """The config with the best IQM in the criterion's direction (ties, as when several reach a capped score:
        the better mean, then the earlier point); None if none ran."""
        aggs = [(i, c.aggregate()) for i, c in enumerate(self.configs)]
        scored = [(i, float(a["iqm"]), float(a["mean"])) for i, a in aggs if a["n"]]
        if not scored:
            return None
        sign = 1.0 if _higher(self.configs[0]) else -1.0
        return max(scored, key=lambda t: (sign * t[1], sign * t[2], -t[0]))[0]


def group_sweeps(runs: list[Run]) -> list[SweepResult]:
    """Runs that carry a ``sweep`` entry, grouped per (sweep id, experiment, budget) and then per point."""
    out: dict[tuple[str, str, str], dict[str, tuple[int, dict[str, Any], list[Run]]]] = {}
    for r in runs:
        entry = sweep_entry(r)
        if entry is None:
            continue
        key = (entry["id"], r.experiment, str(r.summary.get("budget", "quick")))
        point_key = repr(sorted(entry["point"].items(), key=lambda kv: kv[0]))
        points = out.setdefault(key, {})
        if point_key not in points:
            points[point_key] = (entry["index"], entry["point"], [])
        points[point_key][2].append(r)
    sweeps = []
    for (sid, name, budget), points in sorted(out.items()):
        sweep = SweepResult(sid, name, budget)
        for _, point, prs in sorted(points.values(), key=lambda t: (t[0], repr(t[1]))):
            (result,) = group_runs(prs)
            sweep.points.append(point)
            sweep.configs.append(result)
        sweeps.append(sweep)
    return sweeps


def _signed(result: ExperimentResult) -> list[float]:
    return [v if _higher(result) else -v for v in result.values]


def sweep_section(sweep: SweepResult) -> tuple[dict[str, Any], dict[str, bytes]]:
    """A sweep's table (a row per config: seeds, mean ± std, IQM and its 95% CI, the criterion's verdict on the
    IQM, the probability that the best config beats it) and its performance profile."""
    keys, best = sweep.keys, sweep.best()
    first = sweep.configs[0]
    rows = []
    for i, (point, c) in enumerate(zip(sweep.points, sweep.configs, strict=True)):
        a = c.aggregate()
        poi = "–"
        if best is not None and i != best and a["n"]:
            p, lo, hi = stats.stratified_bootstrap(([_signed(sweep.configs[best])], [_signed(c)]),
                                                   stats.probability_of_improvement, reps=REPS)
            poi = _ci(p, lo, hi)
        n_runs = f"{a['n']}" + (f" (+{a['n_runs'] - a['n']} without a result)" if a["n_runs"] > a["n"] else "")
        rows.append([
            f"{i}" + (" ★ best" if i == best else ""), *[_fmt(point.get(k)) for k in keys], n_runs,
            f"{_fmt(a['mean'])} ± {_fmt(a['std'])}" if a["n"] > 1 else (_fmt(a.get("mean")) if a["n"] else "–"),
            _fmt(a.get("iqm")) if a["n"] else "–",
            f"[{_fmt(a['ci'][0])}, {_fmt(a['ci'][1])}]" if a["n"] > 1 else ("n/a (1 seed)" if a["n"] else "–"),
            ("pass" if a["passed"] else "FAIL") + f" ({a['runs_passed']}/{a['n']} seeds)" if a["n"] else "–",
            poi, f"{a['wall_mean']:.0f}",
        ])
    n_seeds = max(c.aggregate()["n_runs"] for c in sweep.configs)
    stopped = [i for i, c in enumerate(sweep.configs) if c.aggregate()["n_runs"] < n_seeds]
    text = (f"Sweep `{sweep.id}` of {sweep.experiment} ({sweep.budget}): {len(sweep.configs)} configs, up to "
            f"{n_seeds} seeds each; metric {first.metric}, criterion {first.op} {_fmt(first.threshold)} applied to "
            "each config's IQM. ★: the best IQM (ties: the better mean). P(best > config): the probability that a "
            "run of the best config scores better than a run of this one (ties count half), with a 95% bootstrap "
            f"CI (runs resampled within each config, {REPS} resamples).")
    if stopped:
        text += f" Configs {stopped} ran on fewer seeds (stopped early by successive halving, or unfinished)."
    table = {"title": f"{sweep.id}: per-config results",
             "columns": ["config", *keys, "seeds", "mean ± std", "IQM", "95% CI (IQM)", "verdict",
                         "P(best > config) [95% CI]", "wall (s/run)"], "rows": rows}
    name = f"sweep-{sweep.id}-profile"
    labels = [f"{i}: " + ", ".join(f"{k.split('.')[-1]}={_fmt(p.get(k))}" for k in keys)
              for i, p in enumerate(sweep.points)]
    groups = {lab: [c.values] for lab, c in zip(labels, sweep.configs, strict=True) if c.values}
    png = profile_png(groups, f"{sweep.experiment}: performance profile per config", first.metric,
                      anchor=first.anchor.get("value"), higher=_higher(first))
    section = {"title": f"Sweep {sweep.id}", "text": text, "tables": [table], "plots": [name] if png else []}
    return section, ({name: png} if png else {})


# --------------------------------------------------------------------------------------- RL aggregates


def _scale(result: ExperimentResult) -> tuple[float, float] | None:
    """(baseline, anchor) of an experiment, or None when they give no scale: missing or not finite, or the anchor
    not better than the no-learning baseline in the criterion's direction (equal, as the MinAtar games anchored
    at the random policy; or a claim such as "Gumbel >= PUCT", anchored at 0, below a noisy baseline)."""
    b, a = result.baseline.get("value"), result.anchor.get("value")
    if not isinstance(b, (int, float)) or not isinstance(a, (int, float)):
        return None
    if not (math.isfinite(a) and math.isfinite(b)) or (a - b) * (1 if _higher(result) else -1) <= 0:
        return None
    return float(b), float(a)


def _is_difference(metric: str) -> bool:
    """A comparison inside one run (``eval/gumbel_minus_puct``, ``eval/elo_pool_minus_naive``): its scale is the
    noise between two learners, so a normalized score of it means nothing beside task scores."""
    return "_minus_" in metric


def _split(name: str) -> tuple[str, str]:
    """``dqn-minatar-breakout`` -> (``dqn``, ``minatar-breakout``): the algorithm, then the task."""
    algo, _, task = name.partition("-")
    return algo, task or name


def rl_section(results: list[ExperimentResult]) -> tuple[dict[str, Any] | None, dict[str, bytes]]:
    """rliable's aggregates over the RL experiments (quick budget; one task per experiment)."""
    rl = [r for r in results if r.budget == "quick" and r.values and r.runs
          and r.runs[0].summary.get("group") == "rl"]
    differences = sorted(r.experiment for r in rl if _is_difference(r.metric))
    scaled = {r.experiment: (r, _scale(r)) for r in rl if r.experiment not in differences}
    unscaled = sorted(n for n, (_, s) in scaled.items() if s is None)
    norm = {n: stats.normalize(r.values, *s) for n, (r, s) in scaled.items() if s is not None}
    if not norm:
        return None, {}
    by_algo: dict[str, dict[str, np.ndarray]] = {}
    raw: dict[str, dict[str, tuple[str, list[float]]]] = {}  # per algorithm and task: (metric, signed scores)
    for n, v in sorted(norm.items()):
        algo, task = _split(n)
        by_algo.setdefault(algo, {})[task] = v
        r = scaled[n][0]
        raw.setdefault(algo, {})[task] = (r.metric, _signed(r))
    rows = [_aggregate_row("all RL experiments", list(norm.values()))]
    rows += [_aggregate_row(algo, list(tasks.values())) for algo, tasks in sorted(by_algo.items())]
    agg = {"title": "RL: aggregates of normalized scores (stratified bootstrap, 95% CIs)",
           "columns": ["algorithm", "tasks", "runs", "IQM", "optimality gap", "mean", "median"], "rows": rows}
    poi_rows = []
    algos = sorted(by_algo)
    for i, x in enumerate(algos):
        for y in algos[i + 1:]:
            common = sorted(t for t in set(raw[x]) & set(raw[y]) if raw[x][t][0] == raw[y][t][0])
            if common:  # on the task's own metric: two experiments of one task may declare different anchors
                pair = ([raw[x][t][1] for t in common], [raw[y][t][1] for t in common])
                p, lo, hi = stats.stratified_bootstrap(pair, stats.probability_of_improvement, reps=REPS)
                poi_rows.append([f"P({x} > {y})", ", ".join(common), _ci(p, lo, hi)])
    tables = [agg]
    if poi_rows:
        tables.append({"title": "RL: probability of improvement on the tasks both algorithms ran",
                       "columns": ["comparison", "tasks", "P(X > Y) [95% CI]"], "rows": poi_rows})
    text = ("Scores normalized per experiment: (score - baseline) / (anchor - baseline), with the experiment's "
            "declared no-learning baseline (0) and anchor (1). IQM: interquartile mean of all runs of all tasks "
            "pooled; optimality gap: mean shortfall below 1 (the anchor; lower is better); mean and median: of the "
            "per-task means. CIs: stratified bootstrap (runs resampled within each task, tasks kept; "
            f"{REPS} resamples, fixed seed), the method and estimators of rliable (Agarwal et al. 2021), checked "
            "against the rliable package in tests/scaleout/test_stats.py. Algorithm = the experiment name's first "
            "word; tasks differ between algorithms, so compare rows with care. P(X > Y): on the tasks both ran, from "
            "the runs' own metric (two experiments of one task may declare different anchors).")
    if unscaled:
        text += (" Left out (no scale: the anchor is not better than the no-learning baseline in the criterion's "
                 f"direction): {', '.join(unscaled)}.")
    if differences:
        text += (" Left out (the metric is a difference between two learners of one run, not a task score): "
                 f"{', '.join(differences)}.")
    name = "rl-aggregate-profile"
    png = profile_png({a: list(t.values()) for a, t in sorted(by_algo.items())},
                      "RL: performance profiles (normalized scores)", "normalized score", anchor=1.0, higher=True,
                      tau_range=(0.0, 2.0))  # from no learning (0) to twice the anchor's gain, as rliable's plots
    section = {"title": "RL aggregates (rliable statistics)", "text": text, "tables": tables,
               "plots": [name] if png else []}
    return section, ({name: png} if png else {})


def _aggregate_row(label: str, tasks: list[np.ndarray]) -> list[str]:
    def both(t: Any) -> Any:
        return np.stack([stats.aggregate_iqm(t), stats.optimality_gap(t), stats.aggregate_mean(t),
                         stats.aggregate_median(t)], axis=-1)

    p, lo, hi = stats.stratified_bootstrap(tasks, both, reps=REPS)
    return [label, str(len(tasks)), str(sum(len(t) for t in tasks)),
            *[_ci(p[k], lo[k], hi[k]) for k in range(4)]]


# ---------------------------------------------------------------------------------------------- plots


def profile_spec(groups: dict[str, list[Any]], higher: bool = True,
                 tau_range: tuple[float, float] | None = None) -> dict[str, Any] | None:
    """Score distributions (rliable's performance profiles) as data: per group the fraction of runs (all tasks
    pooled) scoring above each tau, with a 95% stratified-bootstrap band. ``higher=False`` (a loss): the fraction
    below tau. None without data."""
    groups = {k: v for k, v in groups.items() if v and all(len(t) for t in v)}
    if not groups:
        return None
    allv = np.concatenate([np.asarray(t, dtype=float) for v in groups.values() for t in v])
    lo, hi = float(allv.min()), float(allv.max())
    pad = 0.05 * (hi - lo) if hi > lo else max(abs(lo) * 0.05, 0.05)
    taus = np.linspace(*(tau_range or (lo - pad, hi + pad)), PROFILE_POINTS)
    sign = 1.0 if higher else -1.0
    out = {"taus": taus.tolist(), "curves": []}
    for label, tasks in groups.items():
        signed = [sign * np.asarray(t, dtype=float) for t in tasks]
        p, plo, phi = stats.stratified_bootstrap(signed, lambda t: stats.score_distribution(t, sign * taus), reps=REPS)
        out["curves"].append({"label": label, "y": np.asarray(p).tolist(), "lo": np.asarray(plo).tolist(),
                              "hi": np.asarray(phi).tolist()})
    return out


def profile_png(groups: dict[str, list[Any]], title: str, xlabel: str, *, anchor: Any = None,
                higher: bool = True, tau_range: tuple[float, float] | None = None) -> bytes | None:
    spec = profile_spec(groups, higher, tau_range)
    if spec is None:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 3.2), dpi=100)
    for c in spec["curves"]:
        (line,) = ax.plot(spec["taus"], c["y"], lw=1.5, label=c["label"])
        ax.fill_between(spec["taus"], c["lo"], c["hi"], color=line.get_color(), alpha=0.15, lw=0)
    if isinstance(anchor, (int, float)) and spec["taus"][0] <= anchor <= spec["taus"][-1]:
        ax.axvline(float(anchor), ls=":", color="tab:green", lw=1, label=f"anchor {_fmt(float(anchor))}")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(f"{xlabel} (tau)")
    ax.set_ylabel(f"fraction of runs {'>' if higher else '<'} tau")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def sections(results: list[ExperimentResult], sweeps: list[SweepResult]) -> tuple[list[dict[str, Any]],
                                                                                  dict[str, bytes]]:
    """Every sweep's section, then the RL aggregate section; with their plots (name -> PNG)."""
    out: list[dict[str, Any]] = []
    images: dict[str, bytes] = {}
    for sw in sweeps:
        sec, imgs = sweep_section(sw)
        out.append(sec)
        images.update(imgs)
    rl, imgs = rl_section(results)
    if rl is not None:
        out.append(rl)
        images.update(imgs)
    return out, images

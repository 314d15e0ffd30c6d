"""Read run folders (only their files: runs from other machines work the same)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlfrontier.stats import bootstrap_ci, iqm
from dlfrontier.tracking import SUMMARY, read_metrics


@dataclass
class Run:
    path: Path
    summary: dict[str, Any]

    @property
    def experiment(self) -> str:
        return str(self.summary["experiment"])


@dataclass
class ExperimentResult:
    """The runs of one experiment at one budget, and their aggregate."""

    experiment: str
    budget: str
    metric: str
    op: str
    threshold: float
    anchor: dict[str, Any]
    curve: str = ""
    baseline: dict[str, Any] = field(default_factory=dict)
    criteria: list[dict[str, Any]] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)

    @property
    def finished(self) -> list[Run]:
        return [r for r in self.runs if r.summary.get("status") == "done" and self.metric in r.summary["metrics"]]

    @property
    def values(self) -> list[float]:
        return [float(r.summary["metrics"][self.metric]) for r in self.finished]

    def aggregate(self) -> dict[str, Any]:
        import numpy as np

        v = self.values
        agg: dict[str, Any] = {"n": len(v), "n_runs": len(self.runs)}
        if v:
            agg["mean"] = float(np.mean(v))
            agg["std"] = float(np.std(v, ddof=1)) if len(v) > 1 else 0.0
            agg["iqm"] = iqm(v)
            agg["ci"] = bootstrap_ci(v, iqm)
            agg["passed"] = _passes(agg["iqm"], self.op, self.threshold)
            agg["runs_passed"] = sum(bool(r.summary.get("expect", {}).get("passed")) for r in self.finished)
        walls = [float(r.summary.get("wall_seconds", 0.0)) for r in self.runs]
        agg["wall_mean"] = float(np.mean(walls)) if walls else 0.0
        agg["statuses"] = {s: sum(r.summary.get("status") == s for r in self.runs)
                           for s in ("done", "running", "failed", "interrupted")}
        return agg


def _passes(value: float, op: str, threshold: float) -> bool:
    import operator

    ops = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
    return bool(ops.get(op, operator.ge)(value, threshold))


def find_runs(root: str | Path) -> list[Run]:
    """Every run folder (a folder with a readable summary.json) under ``root``."""
    runs = []
    for p in sorted(Path(root).rglob(SUMMARY)):
        try:
            s = json.loads(p.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(s, dict) and "experiment" in s and "metrics" in s:
            runs.append(Run(p.parent, s))
    return runs


def group_runs(runs: list[Run]) -> list[ExperimentResult]:
    """Runs grouped by (experiment, budget), in name order."""
    out: dict[tuple[str, str], ExperimentResult] = {}
    for r in runs:
        s = r.summary
        key = (s["experiment"], s.get("budget", "quick"))
        if key not in out:
            e = s.get("expect", {})
            metric = str(e.get("metric", ""))
            criteria = [c for c in s.get("criteria", []) if isinstance(c, dict)]
            out[key] = ExperimentResult(
                experiment=s["experiment"], budget=key[1], metric=metric,
                op=e.get("op", ">="), threshold=float(e.get("threshold", float("nan"))),
                anchor=s.get("anchor", {}), curve=str(s.get("curve") or metric),
                baseline=s.get("baseline", {}) if isinstance(s.get("baseline"), dict) else {},
                criteria=criteria[1:],  # the first is the primary one, shown as the verdict
            )
        out[key].runs.append(r)
    return [out[k] for k in sorted(out)]


def extras(result: ExperimentResult) -> tuple[list[dict[str, Any]], dict[str, bytes]]:
    """Tables (``tables/*.json``) and plots (``*.png``) written by the first finished run (lowest seed)."""
    done = sorted(result.finished, key=lambda r: int(r.summary.get("seed", 0)))
    if not done:
        return [], {}
    run = done[0].path
    tables = []
    for p in sorted((run / "tables").glob("*.json")):
        try:
            t = json.loads(p.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(t, dict) and isinstance(t.get("columns"), list) and isinstance(t.get("rows"), list):
            tables.append({"title": str(t.get("title", p.stem)), "columns": t["columns"], "rows": t["rows"]})
    plots = {p.stem: p.read_bytes() for p in sorted(run.glob("*.png"))}
    return tables, plots


def curves(result: ExperimentResult, key: str) -> list[tuple[int, list[tuple[int, float]]]]:
    """``[(seed, [(step, value), ...]), ...]`` of metric ``key`` for each run of ``result``."""
    out = []
    for r in result.runs:
        points = read_metrics(r.path).get(key, [])
        if points:
            out.append((int(r.summary.get("seed", 0)), points))
    return out


def at_step0(result: ExperimentResult) -> list[float]:
    """The primary metric logged at step 0 (the untrained model or policy) by each run that logged one."""
    out = []
    for r in result.runs:
        points = read_metrics(r.path).get(result.metric, [])
        if points and points[0][0] == 0:
            out.append(points[0][1])
    return out


def _by_seed(result: ExperimentResult, metric: str) -> dict[int, float]:
    return {int(r.summary.get("seed", -1)): float(r.summary["metrics"][metric])
            for r in result.finished if metric in r.summary["metrics"]}


def judge(result: ExperimentResult, others: dict[tuple[str, str], ExperimentResult]) -> list[dict[str, Any]]:
    """Each secondary criterion of ``result`` judged over its runs: a threshold on each run (``k/n`` runs pass),
    or a paired comparison with another experiment's runs of the same budget and seeds (the mean difference)."""
    import numpy as np

    out = []
    for c in result.criteria:
        name = str(c.get("name") or c.get("metric"))
        if c.get("kind") == "paired":
            other = others.get((str(c.get("other")), result.budget))
            mine = _by_seed(result, str(c.get("metric")))
            theirs = _by_seed(other, str(c.get("metric"))) if other else {}
            seeds = sorted(set(mine) & set(theirs))
            text = f"{c.get('metric')} - {c.get('other')} {c.get('op')} {c.get('margin')}"
            if not seeds:
                out.append({"name": name, "text": text, "verdict": "no paired runs", "passed": None})
                continue
            diff = np.array([mine[s] - theirs[s] for s in seeds])
            passed = _passes(float(diff.mean()), str(c.get("op")), float(c.get("margin", 0.0)))
            out.append({"name": name, "text": text, "passed": passed,
                        "verdict": f"{'pass' if passed else 'FAIL'}: mean difference {diff.mean():+.4g} over "
                                   f"{len(seeds)} paired seeds ({int((diff > 0).sum())} of them > 0)"})
        else:
            runs = list(result.finished)
            verdicts = [r.summary.get("criteria", []) for r in runs]
            k = sum(1 for v in verdicts for x in v if isinstance(x, dict) and x.get("name") == c.get("name")
                    and x.get("metric") == c.get("metric") and x.get("passed"))
            text = f"{c.get('metric')} {c.get('op')} {c.get('threshold')}"
            out.append({"name": name, "text": text, "passed": bool(runs) and k == len(runs),
                        "verdict": f"{'pass' if runs and k == len(runs) else 'FAIL'} ({k}/{len(runs)} seeds)"})
    return out

"""Read run folders (only their files: runs from other machines work the same)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlfrontier.report.stats import bootstrap_ci, iqm
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
            out[key] = ExperimentResult(
                experiment=s["experiment"], budget=key[1], metric=e.get("metric", ""),
                op=e.get("op", ">="), threshold=float(e.get("threshold", float("nan"))),
                anchor=s.get("anchor", {}),
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

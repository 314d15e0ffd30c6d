"""Read run folders (only their files: runs from other machines work the same).

Run folders may come from strangers: a ``summary.json`` is checked field by field before it is used (a malformed
one is skipped with a reason), names that end up in file names must be plain names, and symbolic links (run
folders, ``summary.json``, ``metrics.csv``, plots, tables) are never followed.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlfrontier.stats import bootstrap_ci, iqm
from dlfrontier.tracking import CONFIG, METRICS, SUMMARY, read_metrics, run_status, safe_name


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
    ignored: int = 0  # older repeats of a (seed, config) that the newest finished run replaces

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
                           for s in ("done", "running", "stale", "failed", "interrupted")}
        return agg


def _passes(value: float, op: str, threshold: float) -> bool:
    import operator

    ops = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
    return bool(ops.get(op, operator.ge)(value, threshold))


@dataclass
class Skipped:
    """A folder the report does not use, and why."""

    path: Path
    problem: str


@dataclass
class Scan:
    """What :func:`scan_runs` found: the usable runs, the skipped folders, and the older repeats it ignored."""

    runs: list[Run]
    skipped: list[Skipped]
    ignored: dict[tuple[str, str], int] = field(default_factory=dict)  # per (experiment, budget)


def _kind(v: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null",
            int: "an integer too large for a float"}.get(
        type(v), f"a {type(v).__name__}")


def _is_number(v: Any) -> bool:
    """A JSON number a float can hold (an integer literal of 400 digits cannot)."""
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return False
    try:
        float(v)
    except OverflowError:
        return False
    return True


def summary_problem(s: Any) -> str | None:
    """What is wrong with a parsed ``summary.json`` (``None``: nothing the report relies on)."""
    if not isinstance(s, dict):
        return f"summary.json holds {_kind(s)}, not a JSON object"
    for key, ok, want in (("experiment", lambda v: isinstance(v, str), "a string"),
                          ("metrics", lambda v: isinstance(v, dict), "an object")):
        if key not in s:
            return f"summary.json has no {key!r}"
        if not ok(s[key]):
            return f"{key!r} is {_kind(s[key])}, not {want}"
    for key, name in (("experiment", s["experiment"]), ("budget", s.get("budget", "quick"))):
        if not isinstance(name, str):
            return f"{key!r} is {_kind(name)}, not a string"
        try:
            safe_name(name)
        except ValueError:
            return f"{key} {name!r} is not a plain name (letters, digits, '-', '_', '.')"
    if "seed" in s and (not isinstance(s["seed"], int) or isinstance(s["seed"], bool)):
        return f"'seed' is {_kind(s['seed'])} ({s['seed']!r}), not an integer"
    for key, want in (("status", str), ("curve", (str, type(None))), ("expect", dict), ("anchor", dict),
                      ("baseline", (dict, type(None))), ("criteria", list)):
        if key in s and not isinstance(s[key], want):
            return f"{key!r} is {_kind(s[key])}"
    for k, v in s["metrics"].items():
        if not _is_number(v):
            return f"metric {k!r} is {_kind(v)}, not a number"
    e = s.get("expect", {})
    if "metric" in e and not isinstance(e["metric"], str):
        return f"expect.metric is {_kind(e['metric'])}, not a string"
    if "op" in e and e["op"] not in (">=", ">", "<=", "<"):
        return f"expect.op {e['op']!r} is not one of >=, >, <=, <"
    for where, d, key in (("expect", e, "threshold"), ("summary", s, "wall_seconds")):
        if key in d and not _is_number(d[key]):
            return f"{where}.{key} is {_kind(d[key])}, not a number"
    for where, d in (("anchor", s.get("anchor", {})), ("baseline", s.get("baseline") or {})):
        if d.get("value") is not None and not _is_number(d["value"]):
            return f"{where}.value is {_kind(d['value'])}, not a number"
    for i, c in enumerate(s.get("criteria", [])):
        if not isinstance(c, dict):
            return f"criteria[{i}] is {_kind(c)}, not an object"
        for key in ("threshold", "margin"):
            if key in c and not _is_number(c[key]):
                return f"criteria[{i}].{key} is {_kind(c[key])}, not a number"
    return None


def _read_summary(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    if path.is_symlink():
        return None, "summary.json is a symbolic link (not followed)"
    try:
        s = json.loads(path.read_text())
    except OSError as e:
        return None, f"summary.json is not readable ({e.strerror or type(e).__name__})"
    except ValueError as e:
        return None, f"summary.json is not valid JSON ({e})"
    problem = summary_problem(s)
    return (None, problem) if problem else (s, None)


def scan_runs(root: str | Path) -> Scan:
    """Every run folder (a folder with a ``summary.json``) under ``root``, without following symbolic links;
    malformed ones are listed in :attr:`Scan.skipped`; of repeats, :func:`latest` keeps the newest finished one."""
    runs, skipped = [], []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        for d in dirnames:
            if (here / d).is_symlink():
                skipped.append(Skipped(here / d, "a symbolic link to a folder (not followed)"))
        if SUMMARY in filenames:
            s, problem = _read_summary(here / SUMMARY)
            if s is None:
                skipped.append(Skipped(here, str(problem)))
            else:  # "running" whose process died on this host (SIGKILL) is shown as stale
                runs.append(Run(here, {**s, "status": run_status(s)} if s.get("status") == "running" else s))
    runs.sort(key=lambda r: str(r.path))
    skipped.sort(key=lambda k: str(k.path))
    kept, ignored = latest(runs)
    return Scan(kept, skipped, ignored)


def find_runs(root: str | Path) -> list[Run]:
    """The usable run folders under ``root`` (see :func:`scan_runs`)."""
    return scan_runs(root).runs


def _saved(run: Run) -> Any:
    """The run's parsed ``config.json`` (``None``: missing, a symbolic link or not JSON)."""
    path = run.path / CONFIG
    if path.is_symlink() or not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _flat_config(run: Run) -> dict[str, str] | None:
    """The run's saved config as ``{dotted key: JSON of the value}`` (``None``: no readable config.json)."""
    saved = _saved(run)
    if saved is None:
        return None
    values = saved.get("config") if isinstance(saved, dict) else saved
    if not isinstance(values, dict):
        return {"": json.dumps(values, sort_keys=True)}
    out: dict[str, str] = {}

    def walk(d: dict[str, Any], prefix: str) -> None:
        for k, v in d.items():
            if isinstance(v, dict) and v:
                walk(v, f"{prefix}{k}.")
            else:
                out[prefix + str(k)] = json.dumps(v, sort_keys=True)

    walk(values, "")
    return out


def same_config(a: dict[str, str] | None, b: dict[str, str] | None) -> bool:
    """Two saved configs describe the same run settings: equal on every key both have. A key only one has is a
    field added (or retired) between the versions that wrote them; fields are added with the default that keeps
    the earlier behaviour (a run written before ``lr_decay`` existed ran without decay), so it does not tell two
    repeats apart. Unreadable configs match only each other."""
    if a is None or b is None:
        return a is None and b is None
    return all(a[k] == b[k] for k in a.keys() & b.keys())


MALFORMED_SWEEP = "malformed-sweep"


def sweep_entry(run: Run) -> dict[str, Any] | None:
    """The ``"sweep"`` entry of the run's ``config.json`` (``dlfrontier sweep``): ``{"id", "point", "index"}``
    checked (a plain-name id, a point of scalar values), or ``None`` for a run outside a sweep. A malformed entry
    reads as the sweep ``malformed-sweep`` (kept apart from the experiment's own runs, shown, never trusted)."""
    saved = _saved(run)
    entry = saved.get("sweep") if isinstance(saved, dict) else None
    if entry is None:
        return None
    bad = {"id": MALFORMED_SWEEP, "point": {}, "index": 0}
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not _PLAIN.fullmatch(entry["id"]) \
            or len(entry["id"]) > 100 or not isinstance(entry.get("point"), dict):
        return bad
    point = entry["point"]
    if len(point) > 50 or not all(isinstance(k, str) and (v is None or isinstance(v, (str, bool)) or _is_number(v)
                                                         or isinstance(v, list)) for k, v in point.items()):
        return bad
    index = entry.get("index", 0)
    return {"id": entry["id"], "point": point, "index": index if isinstance(index, int) else 0}


def _age(run: Run) -> tuple[str, str]:
    """Sorts runs oldest first: the UTC time in the folder name ``<seed>-<time>``, then the path."""
    name = run.path.name
    return (name.split("-", 1)[1] if "-" in name else name, str(run.path))


def latest(runs: list[Run]) -> tuple[list[Run], dict[tuple[str, str], int]]:
    """Of the runs of one (experiment, budget, seed, config), the newest finished one (or the newest, if none
    finished); returns the kept runs and, per (experiment, budget), how many older repeats were ignored."""
    groups: dict[tuple[str, str, int, int, str], list[Run]] = {}
    configs: dict[tuple[str, str, int, str], list[dict[str, str] | None]] = {}
    for r in sorted(runs, key=_age):
        s = r.summary
        sweep = sweep_entry(r)  # a sweep's run is not a repeat of the same config run outside it (or in another)
        where = (s["experiment"], s.get("budget", "quick"), int(s.get("seed", 0)), sweep["id"] if sweep else "")
        flat, seen = _flat_config(r), configs.setdefault(where, [])
        i = next((j for j, c in enumerate(seen) if same_config(c, flat)), None)
        if i is None:
            seen.append(flat)
            i = len(seen) - 1
        elif flat is not None:
            seen[i] = {**seen[i], **flat}  # the newest version's keys
        groups.setdefault((*where[:3], i, where[3]), []).append(r)
    kept, ignored = [], {}
    for key, group in groups.items():
        group.sort(key=_age)
        done = [r for r in group if r.summary.get("status") == "done"]
        kept.append((done or group)[-1])
        if len(group) > 1 and not key[4]:
            ignored[key[:2]] = ignored.get(key[:2], 0) + len(group) - 1
    kept.sort(key=lambda r: str(r.path))
    return kept, ignored


def group_runs(runs: list[Run], ignored: dict[tuple[str, str], int] | None = None) -> list[ExperimentResult]:
    """Runs grouped by (experiment, budget), in name order (``ignored``: older repeats per group, from
    :func:`latest`)."""
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
    for key, n in (ignored or {}).items():
        if key in out:
            out[key].ignored = n
    return [out[k] for k in sorted(out)]


def extras(result: ExperimentResult) -> tuple[list[dict[str, Any]], dict[str, bytes]]:
    """Tables (``tables/*.json``) and plots (``*.png``) written by the first finished run (lowest seed)."""
    # a folder without a primary metric (a tournament) still shows its tables and plots
    finished = result.finished or [r for r in result.runs if r.summary.get("status") == "done"]
    done = sorted(finished, key=lambda r: int(r.summary.get("seed", 0)))
    if not done:
        return [], {}
    run = done[0].path
    tables = []
    folder = run / "tables"
    for p in sorted(folder.glob("*.json")) if folder.is_dir() and not folder.is_symlink() else []:
        if p.is_symlink() or not p.is_file():
            continue
        try:
            t = json.loads(p.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(t, dict) and isinstance(t.get("columns"), list) and isinstance(t.get("rows"), list):
            rows = [r for r in t["rows"] if isinstance(r, list)]
            tables.append({"title": str(t.get("title", p.stem)), "columns": t["columns"], "rows": rows})
    plots = {p.stem: p.read_bytes() for p in sorted(run.glob("*.png"))
             if not p.is_symlink() and p.is_file() and _PLAIN.fullmatch(p.stem)}
    return tables, plots


_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def _metrics(run: Run) -> dict[str, list[tuple[int, float]]]:
    """The run's ``metrics.csv`` (nothing if it is a symbolic link)."""
    return {} if (run.path / METRICS).is_symlink() else read_metrics(run.path)


def curves(result: ExperimentResult, key: str) -> list[tuple[int, list[tuple[int, float]]]]:
    """``[(seed, [(step, value), ...]), ...]`` of metric ``key`` for each run of ``result``."""
    return curves_of(result, [key])[key]


def curves_of(result: ExperimentResult, keys: list[str]) -> dict[str, list[tuple[int, list[tuple[int, float]]]]]:
    """:func:`curves` of several metrics, reading each run's ``metrics.csv`` once."""
    out: dict[str, list[tuple[int, list[tuple[int, float]]]]] = {key: [] for key in keys}
    for r in result.runs:
        logged = _metrics(r)
        for key in keys:
            if logged.get(key):
                out[key].append((int(r.summary.get("seed", 0)), logged[key]))
    return out


def on_grid(data: list[tuple[int, list[tuple[int, float]]]]) -> tuple[Any, Any]:
    """The seeds' curves (:func:`curves`) linearly interpolated onto the union of their steps: ``(grid [S],
    values [seeds, S])``."""
    import numpy as np

    grid = np.array(sorted({p[0] for _, pts in data for p in pts}), dtype=float)
    ys = np.array([np.interp(grid, [p[0] for p in pts], [p[1] for p in pts]) for _, pts in data])
    return grid, ys


def at_step0(result: ExperimentResult) -> list[float]:
    """The primary metric logged at step 0 (the untrained model or policy) by each run that logged one."""
    out = []
    for r in result.runs:
        points = _metrics(r).get(result.metric, [])
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
            if not runs:  # nothing finished yet: nothing judged (not a failure)
                out.append({"name": name, "text": text, "verdict": "no finished runs", "passed": None})
                continue
            out.append({"name": name, "text": text, "passed": k == len(runs),
                        "verdict": f"{'pass' if k == len(runs) else 'FAIL'} ({k}/{len(runs)} seeds)"})
    return out

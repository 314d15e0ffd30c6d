"""Hyper-parameter sweeps: grid and random search over an experiment's config, every (point, seed) one run.

``dlfrontier sweep dqn-cartpole --grid algo.learning_rate=1e-3,2.3e-3 --grid algo.n_step=1,3 --seeds 0-4``
expands the grid (the product of the ``--grid`` values, in the order given), plans every (point, seed) with
:func:`~dlfrontier.experiments.runner.plan_run` before anything runs (a bad value is one line, no folder is
written) and runs the plans through :func:`~dlfrontier.experiments.executors.run_jobs` on any executor. Random
search draws ``--samples N`` points from ``--range key=lo:hi[:log]`` (uniform, or log-uniform with ``:log``; an
int field is rounded) with its own generator (``--sweep-seed``), so a sweep is reproducible. Each run folder's
``config.json`` holds the resolved config as usual plus ``"sweep": {"id", "point", "index", "rung"}``: the report
groups a sweep's runs per point and marks the best one.

Early stopping is successive halving (Jamieson & Talwalkar 2016; ASHA, Li et al. 2020, is its asynchronous
form) written here on the same executor, with **seeds as the resource**: rung 0 runs every point on
``min_seeds`` seed(s); each rung keeps the best ``ceil(n / eta)`` points by the rung metric (the IQM over the
seeds run so far of the experiment's primary criterion metric, in the criterion's direction) and runs them on
``eta`` times as many seeds, until the survivors have every seed. Why not steps as the resource (pausing runs
at rung milestones, as Ray Tune's ASHA does): our RL runs resume as valid continuations, not bit-identical ones
(environment state is not checkpointed), so a promoted run's published number would depend on when it was
paused; with seeds every run is a complete run of the experiment's own schedule and counts in the report as
is. Why not Ray Tune: it would tie sweeps to one executor and a heavy optional dependency; this works with
``local``, ``process`` and ``ray`` alike.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import re
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dlfrontier.errors import ConfigError, DLFrontierError
from dlfrontier.experiments.config import config_fields, flatten
from dlfrontier.experiments.executors import Job, Outcome, run_jobs
from dlfrontier.experiments.runner import json_roundtrip, plan_run

MAX_RUNS = 10_000  # one sweep; a typo like --samples 1e9 is refused instead of planned


@dataclasses.dataclass(frozen=True)
class Range:
    """A random-search range ``lo:hi`` (``log``: log-uniform)."""

    lo: float
    hi: float
    log: bool = False


@dataclasses.dataclass(frozen=True)
class Halving:
    """Successive halving over seeds: keep the best ``ceil(n / eta)`` points per rung; rung 0 has ``min_seeds``."""

    eta: int = 2
    min_seeds: int = 1

    def __post_init__(self) -> None:
        if self.eta < 2:
            raise ConfigError(f"--halving-eta {self.eta}: expected a whole number >= 2")
        if self.min_seeds < 1:
            raise ConfigError(f"--halving-min-seeds {self.min_seeds}: expected a whole number >= 1")

    def rungs(self, n_seeds: int) -> list[int]:
        """Seeds per point at each rung: ``[1, 2, 4, 5]`` for 5 seeds, eta 2 (the last rung has every seed)."""
        counts = [min(self.min_seeds, n_seeds)]
        while counts[-1] < n_seeds:
            counts.append(min(n_seeds, counts[-1] * self.eta))
        return counts


def split_values(text: str) -> list[str]:
    """``"1e-3,3e-4"`` -> ``["1e-3", "3e-4"]``; commas inside ``()``/``[]`` stay (``"(64,64),(256,256)"``)."""
    out, depth, cur = [], 0, ""
    for ch in text:
        depth += ch in "([" and 1 or (-1 if ch in ")]" else 0)
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    out.append(cur.strip())
    return out


def parse_grid(items: Sequence[str] | None) -> dict[str, list[str]]:
    """``["algo.n_step=1,3", "lr=1e-3,3e-4"]`` -> ``{"algo.n_step": ["1", "3"], "lr": ["1e-3", "3e-4"]}``."""
    grid: dict[str, list[str]] = {}
    for item in items or []:
        key, sep, values = item.partition("=")
        key = key.strip()
        vals = split_values(values)
        if not sep or not key or any(v == "" for v in vals):
            raise ConfigError(f"--grid {item!r}: expected key=v1,v2,... (values separated by commas)")
        if key in grid:
            raise ConfigError(f"--grid {key}: given twice; list all its values in one --grid")
        if len(set(vals)) != len(vals):
            raise ConfigError(f"--grid {item!r}: a value is repeated")
        grid[key] = vals
    return grid


def parse_ranges(items: Sequence[str] | None) -> dict[str, Range]:
    """``["lr=1e-4:1e-2:log", "gamma=0.9:0.999"]`` -> ``{"lr": Range(1e-4, 1e-2, True), ...}``."""
    out: dict[str, Range] = {}
    for item in items or []:
        key, sep, spec = item.partition("=")
        key, parts = key.strip(), spec.split(":")
        try:
            if not sep or not key or len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] != "log"):
                raise ValueError
            lo, hi = float(parts[0]), float(parts[1])
        except ValueError:
            raise ConfigError(f"--range {item!r}: expected key=lo:hi or key=lo:hi:log") from None
        log = len(parts) == 3
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi) or (log and lo <= 0):
            raise ConfigError(f"--range {item!r}: expected finite lo < hi" + (" and lo > 0 (log)" if log else ""))
        if key in out:
            raise ConfigError(f"--range {key}: given twice")
        out[key] = Range(lo, hi, log)
    return out


def grid_points(grid: Mapping[str, Sequence[str]]) -> list[dict[str, str]]:
    """Every combination of the grid's values; the last key varies fastest (``itertools.product`` order)."""
    keys = list(grid)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*(grid[k] for k in keys))]


def _is_int_field(tp: Any) -> bool:
    members = typing.get_args(tp) if typing.get_origin(tp) in (typing.Union, type(int | None)) else (tp,)
    return int in members and float not in members


def random_points(config: type, ranges: Mapping[str, Range], samples: int, seed: int) -> list[dict[str, Any]]:
    """``samples`` points drawn with ``numpy.random.default_rng(seed)``: per point, per key in the order given,
    one ``rng.random()`` u mapped to ``lo + u (hi - lo)`` (or ``exp`` of it in log space); int fields rounded,
    floats kept to 6 significant digits (readable configs; the draw is the same)."""
    import numpy as np

    fields = config_fields(config)
    for key in ranges:
        if key not in fields:
            raise ConfigError(f"--range: unknown key {key!r}; valid keys: {', '.join(fields)}")
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(samples):
        point: dict[str, Any] = {}
        for key, r in ranges.items():
            u = float(rng.random())
            v = math.exp(math.log(r.lo) + u * (math.log(r.hi) - math.log(r.lo))) if r.log else r.lo + u * (r.hi - r.lo)
            point[key] = int(round(v)) if _is_int_field(fields[key]) else float(f"{v:.6g}")
        out.append(point)
    return out


def sweep_points(config: type, grid: Mapping[str, Sequence[str]], ranges: Mapping[str, Range] | None = None,
                 samples: int = 0, seed: int = 0) -> list[dict[str, Any]]:
    """The grid's points, each combined with every random point (either part may be absent, not both)."""
    ranges = ranges or {}
    if samples < 0 or (samples and not ranges) or (ranges and not samples):
        raise ConfigError("--samples N and --range key=lo:hi go together (N >= 1)")
    if samples > MAX_RUNS:
        raise ConfigError(f"--samples {samples}: at most {MAX_RUNS}")
    if not grid and not samples:
        raise ConfigError("a sweep needs --grid key=v1,v2 and/or --samples N with --range key=lo:hi")
    both = sorted(set(grid) & set(ranges))
    if both:
        raise ConfigError(f"{both[0]}: given in both --grid and --range")
    randoms = random_points(config, ranges, samples, seed) if samples else [{}]
    points = [{**g, **r} for g in (grid_points(grid) if grid else [{}]) for r in randoms]
    return points


@dataclasses.dataclass
class Sweep:
    """A planned sweep: ``jobs[i][j]`` runs point ``i`` on ``seeds[j]`` (all validated, nothing written)."""

    id: str
    name: str
    points: list[dict[str, Any]]
    seeds: list[int]
    jobs: list[list[Job]]

    @property
    def n_runs(self) -> int:
        return sum(len(js) for js in self.jobs)


def make_id(name: str, budget: str, points: list[dict[str, Any]], overrides: Mapping[str, Any]) -> str:
    """``NAME-<8 hex>`` from what defines the sweep (the same sweep again gets the same id)."""
    text = json.dumps({"budget": budget, "points": points, "set": dict(overrides)}, sort_keys=True, default=str)
    return f"{name}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def describe(point: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in point.items()) or "defaults"


def plan_sweep(name: str, points: list[dict[str, Any]], seeds: list[int], *, budget: str = "quick",
               device: str = "auto", overrides: Mapping[str, str] | None = None, out: str = "runs",
               threads: int = 1, tensorboard: bool = True, sweep_id: str | None = None,
               halving: Halving | None = None) -> Sweep:
    """Plan every (point, seed) without writing; any bad value is one :class:`ConfigError` naming the point.

    Raises:
        DLFrontierError: an unknown experiment or key, a value of the wrong type or out of range, a key in both
            ``--set`` and the sweep, two points that give the same config, more than ``MAX_RUNS`` runs.
    """
    overrides = dict(overrides or {})
    if len(points) * len(seeds) > MAX_RUNS:
        raise ConfigError(f"sweep: {len(points)} points x {len(seeds)} seeds is more than {MAX_RUNS} runs")
    for key in overrides:
        if points and key in points[0]:
            raise ConfigError(f"{key}: given in both --set and the sweep")
    sid = sweep_id or make_id(name, budget, points, overrides)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}", sid):
        raise ConfigError(f"--id {sid!r}: expected a plain name (letters, digits, '-', '_', '.'; up to 100)")
    typed: list[dict[str, Any]] = []
    jobs: list[list[Job]] = []
    seen: dict[str, int] = {}
    for i, point in enumerate(points):
        row = []
        for seed in seeds:
            try:
                plan = plan_run(name, seed, budget=budget, device=device, overrides={**overrides, **point}, out=out)
            except DLFrontierError as e:
                raise type(e)(f"sweep point {i} ({describe(point)}): {e}") from None
            row.append(plan)
        flat = flatten(json_roundtrip(dataclasses.asdict(row[0].config)))
        values = {k: flat[k] for k in point}
        key = json.dumps(flat, sort_keys=True)
        if key in seen:
            raise ConfigError(f"sweep points {seen[key]} ({describe(typed[seen[key]])}) and {i} "
                              f"({describe(values)}) give the same config")
        seen[key] = i
        typed.append(values)
        for plan in row:
            plan.sweep = {"id": sid, "point": values, "index": i,
                          **({"halving": dataclasses.asdict(halving)} if halving else {})}
        jobs.append([Job(p, tensorboard=tensorboard, threads=threads) for p in row])
    return Sweep(sid, name, typed, list(seeds), jobs)


def only_points(sweep: Sweep, text: str | None) -> Sweep:
    """Keep the runs of the points listed in ``text`` (``"2"``, ``"0,3"``): completes or repeats part of a sweep
    with its id and point indices unchanged (every point is still planned and validated)."""
    if not text:
        return sweep
    try:
        keep = {int(t) for t in text.split(",") if t.strip()}
    except ValueError:
        keep = set()
    if not keep or not keep <= set(range(len(sweep.points))):
        raise ConfigError(f"--points {text!r}: expected point indices from 0 to {len(sweep.points) - 1}, like 0,2")
    jobs = [row if i in keep else [] for i, row in enumerate(sweep.jobs)]
    return dataclasses.replace(sweep, jobs=jobs)


def rung_score(outcomes: Sequence[Outcome]) -> float:
    """The rung metric of one point: the IQM of its primary metric over its finished runs, signed so that larger
    is better (a criterion ``<=`` or ``<`` is negated); ``-inf`` when no run finished."""
    from dlfrontier.stats import iqm

    values, sign = [], 1.0
    for o in outcomes:
        s = o.summary
        if s is None or s.get("status") != "done":
            continue
        e = s.get("expect", {})
        sign = -1.0 if e.get("op") in ("<=", "<") else 1.0
        if e.get("metric") in s.get("metrics", {}):
            values.append(float(s["metrics"][e["metric"]]))
    return sign * iqm(values) if values else -math.inf


@dataclasses.dataclass
class Rung:
    """One rung of successive halving: which points ran on how many seeds, their scores, which were kept."""

    seeds: int
    points: list[int]
    scores: list[float]
    kept: list[int]


def run_sweep(sweep: Sweep, *, executor: str = "local", workers: int | None = None, ray_address: str | None = None,
              halving: Halving | None = None, progress_for: Callable[[Job], Any] | None = None,
              on_outcome: Callable[[Outcome], None] | None = None,
              on_rung: Callable[[Rung], None] | None = None, ray_options: Any = None,
              ) -> tuple[list[Outcome], list[Rung]]:
    """Run the sweep's jobs (every one, or by successive halving); returns the outcomes and the rungs.
    ``ray_options``: the Ray executor's resources and retries (as ``dlfrontier run``'s flags give them)."""
    kw: dict[str, Any] = {"executor": executor, "workers": workers, "ray_address": ray_address,
                          "progress_for": progress_for, "on_outcome": on_outcome,
                          **({"ray_options": ray_options} if ray_options is not None else {})}
    if halving is None:
        return run_jobs([j for row in sweep.jobs for j in row], **kw), []
    outcomes: list[Outcome] = []
    by_point: dict[int, list[Outcome]] = {i: [] for i in range(len(sweep.points))}
    alive, done_seeds, rungs = list(range(len(sweep.points))), 0, []
    counts = halving.rungs(len(sweep.seeds))
    for k, count in enumerate(counts):
        jobs = []
        for i in alive:
            for job in sweep.jobs[i][done_seeds:count]:
                job.plan.sweep = {**(job.plan.sweep or {}), "rung": k}
                jobs.append(job)
        for o in run_jobs(jobs, **kw):
            by_point[int((o.job.plan.sweep or {})["index"])].append(o)  # survives pickling (process, ray)
            outcomes.append(o)
        done_seeds = count
        scores = [rung_score(by_point[i]) for i in alive]
        n_keep = len(alive) if k == len(counts) - 1 else max(1, math.ceil(len(alive) / halving.eta))
        order = sorted(range(len(alive)), key=lambda j: -scores[j])  # stable: ties keep the earlier point
        kept = sorted(alive[j] for j in order[:n_keep])
        rung = Rung(count, list(alive), scores, kept)
        rungs.append(rung)
        if on_rung:
            on_rung(rung)
        alive = kept
    return outcomes, rungs

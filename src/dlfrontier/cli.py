"""The ``dlfrontier`` command: list | show | run | sweep | report | demo | bench | eval.

User errors (unknown name, bad ``--set``, missing data, corrupt checkpoint) print one line and exit 2;
an interrupt exits 130 after the run folder was marked ``interrupted``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dlfrontier.errors import ConfigError, DLFrontierError

EXIT_USER, EXIT_FAILED, EXIT_INTERRUPTED = 2, 1, 130


def _console():
    from rich.console import Console

    console = Console(highlight=False)
    if not console.is_terminal:  # piped or captured: do not fold tables at 80 columns
        console = Console(highlight=False, width=220)
    return console


# --------------------------------------------------------------------------------------------- list


def _duration(seconds: float | None) -> str:
    """``12s``, ``4.5m`` (minutes), ``1.2h``; ``–`` when unknown."""
    if seconds is None or seconds != seconds:
        return "–"
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"


def cmd_list(args: argparse.Namespace) -> int:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    from dlfrontier.experiments import EXPERIMENTS
    from dlfrontier.experiments.base import GROUPS

    if args.name:
        return show_experiment(EXPERIMENTS.get(args.name))
    if args.group and args.group not in GROUPS:
        raise DLFrontierError(f"--group {args.group!r}: choose one of {', '.join(GROUPS)}")
    wide = bool(getattr(args, "wide", False))
    table = Table(title="dlfrontier experiments", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                  padding=(0, 0))
    table.add_column("name", no_wrap=True)
    table.add_column("group", no_wrap=True)
    if wide:
        for col in ("lecture topic", "anchor", "baseline"):
            table.add_column(col, overflow="fold")
    else:
        table.add_column("anchor", no_wrap=True, justify="right")
    table.add_column("quick criterion", overflow="fold")
    table.add_column("time", no_wrap=True, justify="right")
    n = 0
    for name in EXPERIMENTS.names():
        e = EXPERIMENTS.get(name)
        if args.group and e.group != args.group:
            continue
        a = e.anchor
        more = [e.topic, f"{a.metric} {a.value:g} ({a.source})", f"{e.baseline.value:g}"] if wide else [f"{a.value:g}"]
        criterion = "; ".join(str(c) for c in e.criteria("quick")) if wide else str(e.criterion("quick"))
        table.add_row(name, e.group, *more, criterion, _duration(e.typical_seconds))
        n += 1
    # the default table fits the terminal (80 columns when piped); --wide may use 220 columns when piped
    (_console() if wide else Console(highlight=False)).print(table)
    print(f"{n} experiment(s); time: one quick run on 2 CPU cores (s, m, h)")
    print("`dlfrontier show NAME`: its settings" + ("" if wide else "; --wide: topics, sources, baselines"))
    return 0


def show_experiment(e: Any) -> int:
    """Print an experiment's card: anchor, baseline, criteria per budget and every config field."""
    from rich.table import Table

    from dlfrontier.experiments.config import config_fields, field_help, flatten, type_name
    from dlfrontier.ranges import field_ranges

    console = _console()
    console.print(f"[bold]{e.name}[/bold] ({e.group}): {e.summary}", markup=True)
    console.print(f"topic: {e.topic}", markup=False)
    console.print(f"anchor: {e.anchor.metric} {e.anchor.value:g} ({e.anchor.source})", markup=False)
    console.print(f"baseline (no learning): {e.baseline.value:g} ({e.baseline.source})", markup=False)
    for b in e.budgets:
        console.print(f"{b} criteria: " + "; ".join(f"{c.name}: {c}" if c.name else str(c) for c in e.criteria(b)),
                      markup=False)
    defaults = flatten(dataclasses.asdict(e.config()))
    budgets = {b: flatten(dict(e.budgets[b].settings)) for b in e.budgets}
    table = Table(title=f"{e.name} settings (--set KEY=VALUE)")
    for col in ("key", "type", "default", *budgets, "help"):
        table.add_column(col, overflow="fold")
    ranges = field_ranges(e.config)
    helps = field_help(e.config)
    for key, tp in config_fields(e.config).items():
        shown = [repr(budgets[b][key]) if key in budgets[b] else "" for b in budgets]
        allowed = ranges.get(key)
        table.add_row(key, type_name(tp) + (f" ({allowed})" if allowed else ""), repr(defaults.get(key)), *shown,
                      helps.get(key, ""))
    console.print(table)
    return 0


# ---------------------------------------------------------------------------------------------- run


class RichProgress:
    """A rich progress bar for one run (the ``Progress`` protocol of experiments)."""

    def __init__(self, bar: Any, description: str) -> None:
        self.bar = bar
        self.task = bar.add_task(description, total=None, info="")

    def start(self, total: float, unit: str = "steps") -> None:
        self.bar.update(self.task, total=total)

    def phase(self, name: str) -> None:
        self.bar.update(self.task, info=name)

    def update(self, completed: float, **info: float) -> None:
        text = " ".join(f"{k}={v:.4g}" for k, v in info.items())
        if text:
            self.bar.update(self.task, completed=completed, info=text)
        else:
            self.bar.update(self.task, completed=completed)


class PlainProgress:
    """The ``Progress`` of one run as plain lines, for output that is not a terminal (a log file, CI).

    A line when the run has gone ``every`` (a fraction) further and ``min_gap`` seconds have passed, or
    ``max_gap`` seconds have passed with progress made: a slow run shows it lives, a fast one prints nothing. A
    named phase (data generation, a pipeline's stage) always gets its line.
    """

    def __init__(self, name: str, write: Any = print, *, every: float = 0.1, min_gap: float = 5.0,
                 max_gap: float = 30.0, clock: Any = time.monotonic) -> None:
        self.name, self.write, self.clock = name, write, clock
        self.every, self.min_gap, self.max_gap = every, min_gap, max_gap
        self.total: float | None = None
        self.unit = "steps"
        self.shown = 0.0
        self.last = clock()

    def start(self, total: float, unit: str = "steps") -> None:
        self.total, self.unit, self.shown, self.last = float(total), unit, 0.0, self.clock()

    def phase(self, name: str) -> None:
        self.write(f"  {self.name}: {name}")

    def update(self, completed: float, **info: float) -> None:
        now = self.clock()
        gap = now - self.last
        frac = completed / self.total if self.total else 0.0
        step_due = self.total and frac - self.shown >= self.every - 1e-9 and gap >= self.min_gap
        if not (step_due or (gap >= self.max_gap and completed > 0)):
            return
        self.shown, self.last = frac, now
        of = f"/{self.total:g}" if self.total else ""
        pct = f" ({100 * frac:.0f}%)" if self.total else ""
        extra = "".join(f" {k}={v:.4g}" for k, v in info.items())
        self.write(f"  {self.name}: {completed:g}{of} {self.unit}{pct}{extra}")


class Overall:
    """The "k of N" count of a ``run``/``demo`` and its estimated time left.

    Each run counts its expected seconds, ``typical(job)`` (the quick budget's measured wall time for the job's
    config); a run without one, or at another budget, counts the mean measured wall time of the runs finished so
    far. ``parallel`` runs at once share the time.
    """

    def __init__(self, jobs: list[Any], typical: Callable[[Any], float | None], parallel: int = 1,
                 clock: Any = time.monotonic) -> None:
        self.jobs, self.typical, self.parallel, self.clock = jobs, typical, max(1, parallel), clock
        self.done: list[tuple[Any, float]] = []
        self.started = clock()
        self.current_start = self.started

    def finished(self, job: Any, wall: float | None) -> None:
        self.done.append((job, wall if wall is not None else self.clock() - self.current_start))
        self.current_start = self.clock()

    def left(self) -> float | None:
        measured = [w for _, w in self.done]
        fallback = sum(measured) / len(measured) if measured else None
        # a finished job is matched by name and seed, not identity: the process and Ray executors hand back a copy
        finished = Counter((j.name, getattr(j, "seed", None)) for j, _ in self.done)
        remaining = []
        for j in self.jobs:
            key = (j.name, getattr(j, "seed", None))
            if finished[key] > 0:
                finished[key] -= 1
            else:
                remaining.append(j)
        total = 0.0
        for j in remaining:
            t = self.typical(j) or fallback
            if t is None:
                return None
            total += t
        if self.parallel == 1 and remaining:  # the running one is partly done
            total -= min(self.clock() - self.current_start, self.typical(remaining[0]) or fallback or 0.0)
        return max(0.0, total) / min(self.parallel, max(1, len(remaining)))

    def eta(self) -> str:
        left = self.left()
        return "time left unknown" if left is None else f"about {_duration(left)} left"

    def line(self) -> str:
        k, n = len(self.done), len(self.jobs)
        if k == n:
            return f"{k} of {n} runs done in {_duration(self.clock() - self.started)}"
        return f"{k} of {n} runs done, {self.eta()}"


def _result_line(o: Any) -> str:
    job = o.job
    if o.summary is None:
        return f"{job.name} seed {job.seed}: error: {o.error}"
    s = o.summary
    e = s["expect"]
    value = s["metrics"].get(e["metric"])
    shown = f"{value:.4g}" if isinstance(value, float) else "–"
    verdict = "pass" if e.get("passed") else "FAIL"
    return (f"{job.name} seed {job.seed}: {s['status']} {e['metric']}={shown} "
            f"({verdict} {e['op']} {e['threshold']:g}) in {s['wall_seconds']:.0f}s -> {s.get('run_dir', '')}")


def run_experiments(
    names: list[str], seeds: list[int], *, budget: str, device: str, overrides: dict[str, str], out: str,
    resume: bool, executor: str, workers: int | None, ray_address: str | None = None,
    reuse: bool = False, threads: int = 1, ray_options: Any = None, batch_seeds: bool = True,
) -> list[Any]:
    """Validate everything first (so a typo costs nothing), then run every (name, seed).

    ``threads``: torch's CPU thread count, pinned in this process and in every worker before anything is built,
    so that a seed's numbers do not depend on the executor or the machine's core count.

    On a terminal: a rich bar per run under one "k of N" bar with the time left. Otherwise plain lines: each
    finished run, then "k of N runs done, about T left", and a run's own progress now and then (``local``).
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from dlfrontier.experiments.executors import Job, run_jobs
    from dlfrontier.experiments.runner import plan_run
    from dlfrontier.runtime import pin_threads

    pin_threads(threads)
    # every plan first, so that a typo or a corrupt checkpoint costs nothing; the jobs carry these plans
    jobs = [Job(plan_run(n, s, budget=budget, device=device, overrides=overrides, out=out, resume=resume,
                         reuse=reuse), threads=threads, batch_seeds=batch_seeds)
            for n in names for s in seeds]
    console = _console()
    outcomes = []
    parallel = 1 if executor == "local" else (workers or os.cpu_count() or 1)
    overall = Overall(jobs, lambda j: j.plan.experiment.seconds_for(j.plan.config) if budget == "quick" else None,
                      parallel)
    tty = console.is_terminal

    def plain(line: str) -> None:
        console.print(line, markup=False, soft_wrap=True)

    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[info]}")]
    with Progress(*columns, console=console, transient=False, disable=not tty) as bar:
        total = bar.add_task(f"{len(jobs)} runs ({executor})", total=len(jobs), info=overall.line())

        def progress_for(job: Any) -> Any:
            if tty:
                return RichProgress(bar, f"{job.name} s{job.seed}")
            return PlainProgress(f"{job.name} seed {job.seed}", plain)

        def on_outcome(o: Any) -> None:
            outcomes.append(o)
            overall.finished(o.job, o.summary.get("wall_seconds") if o.summary else None)
            bar.update(total, advance=1, info=overall.line())
            plain(_result_line(o))
            if not tty or executor != "local":
                plain(overall.line())

        if not tty:
            plain(f"{len(jobs)} run(s) ({executor}): {overall.eta()}")
        run_jobs(jobs, executor=executor, workers=workers, ray_address=ray_address,
                 progress_for=progress_for, on_outcome=on_outcome, ray_options=ray_options)
    return outcomes


def add_ray_arguments(s: argparse.ArgumentParser) -> None:
    """The flags of ``--executor ray`` beyond ``--ray-address`` (see experiments/ray_executor.py)."""
    s.add_argument("--cpus-per-run", type=float, default=None, metavar="N",
                   help="ray: CPUs each run holds (default: --threads); torch runs on floor(N) threads")
    s.add_argument("--gpus-per-run", type=float, default=0.0, metavar="N",
                   help="ray: GPUs each run holds; a fraction like 0.5 shares one GPU between runs (default 0)")
    s.add_argument("--max-retries", type=int, default=2, metavar="N",
                   help="ray: retries of a run whose worker died, each from its last checkpoint (default 2)")
    s.add_argument("--ray-checkpoints", action="store_true",
                   help="ray: also bring finished runs' checkpoint.pt back to --out (for `dlfrontier eval`)")
    s.add_argument("--ray-shared-out", action="store_true",
                   help="ray: --out is on a file system every node mounts; workers write there directly")


def ray_options_from(args: argparse.Namespace) -> tuple[int, Any]:
    """``(torch threads, RayOptions or None)`` from the flags of :func:`add_ray_arguments` (one-line errors)."""
    from dlfrontier.experiments.ray_executor import RayOptions, threads_for

    given = [flag for flag, on in (("--cpus-per-run", args.cpus_per_run is not None), ("--gpus-per-run",
             args.gpus_per_run != 0.0), ("--max-retries", args.max_retries != 2), ("--ray-checkpoints",
             args.ray_checkpoints), ("--ray-shared-out", args.ray_shared_out)) if on]
    if args.executor != "ray":
        if given:
            raise DLFrontierError(f"{given[0]}: only with --executor ray")
        return args.threads, None
    threads, cpus = threads_for(None if args.threads == 1 else args.threads, args.cpus_per_run)
    opts = RayOptions(address=args.ray_address, cpus_per_run=cpus, gpus_per_run=args.gpus_per_run,
                      max_retries=args.max_retries, checkpoints=args.ray_checkpoints, shared_out=args.ray_shared_out)
    opts.validate()
    return threads, opts


def cmd_run(args: argparse.Namespace) -> int:
    from dlfrontier.experiments.config import parse_set_args
    from dlfrontier.experiments.executors import parse_seeds
    from dlfrontier.tracking import check_writable_folder

    check_writable_folder(args.out, "--out")  # once, before any run (not one error per run)
    threads, ray_options = ray_options_from(args)
    outcomes = run_experiments(
        args.names, parse_seeds(args.seeds), budget=args.budget, device=args.device,
        overrides=parse_set_args(args.set), out=args.out, resume=args.resume, executor=args.executor,
        workers=args.workers, ray_address=args.ray_address, threads=threads, ray_options=ray_options,
        batch_seeds=args.batch_seeds,
    )
    bad = [o for o in outcomes if o.summary is None or o.summary["status"] != "done"]
    return EXIT_FAILED if bad else 0


# -------------------------------------------------------------------------------------------- sweep


def cmd_sweep(args: argparse.Namespace) -> int:
    """Plan every (point, seed) of a grid or random search first, then run them (optionally halving)."""
    from dlfrontier.experiments import EXPERIMENTS
    from dlfrontier.experiments import sweep as sw
    from dlfrontier.experiments.config import parse_set_args
    from dlfrontier.experiments.executors import parse_seeds
    from dlfrontier.runtime import pin_threads
    from dlfrontier.tracking import check_writable_folder

    exp = EXPERIMENTS.get(args.name)
    seeds = parse_seeds(args.seeds)
    halving = sw.Halving(args.halving_eta, args.halving_min_seeds) if args.halving else None
    points = sw.sweep_points(exp.config, sw.parse_grid(args.grid), sw.parse_ranges(args.range), args.samples,
                             args.sweep_seed)
    threads, ray_options = ray_options_from(args)
    check_writable_folder(args.out, "--out")
    pin_threads(threads)
    plan = sw.plan_sweep(args.name, points, seeds, budget=args.budget, device=args.device,
                         overrides=parse_set_args(args.set), out=args.out, threads=threads, sweep_id=args.id,
                         halving=halving)
    if args.points and halving:
        raise DLFrontierError("--points and --halving do not go together (halving decides which points run)")
    plan = sw.only_points(plan, args.points)
    console = _console()

    def plain(line: str) -> None:
        console.print(line, markup=False, soft_wrap=True)

    how = (f"successive halving over seeds (eta {halving.eta}, seeds per point by rung {halving.rungs(len(seeds))})"
           if halving else "every run")
    plain(f"sweep {plan.id}: {len(plan.points)} point(s) x {len(seeds)} seed(s) = {plan.n_runs} runs at most "
          f"({args.executor}; {how})")
    for i, point in enumerate(plan.points):
        plain(f"  point {i}: {sw.describe(point)}")
    jobs = [j for row in plan.jobs for j in row]
    parallel = 1 if args.executor == "local" else (args.workers or os.cpu_count() or 1)
    overall = Overall(jobs, lambda j: exp.seconds_for(j.plan.config) if args.budget == "quick" else None, parallel)

    def on_outcome(o: Any) -> None:
        overall.finished(o.job, o.summary.get("wall_seconds") if o.summary else None)
        plain(f"[point {o.job.plan.sweep['index']}] " + _result_line(o))
        plain(overall.line())

    def on_rung(r: Any) -> None:
        scores = ", ".join(f"{i}: {s:.4g}" for i, s in zip(r.points, r.scores, strict=True))
        plain(f"rung with {r.seeds} seed(s) per point: IQM (larger is better) {scores}; kept points {r.kept}")

    outcomes, _ = sw.run_sweep(plan, executor=args.executor, workers=args.workers, ray_address=args.ray_address,
                               halving=halving, on_outcome=on_outcome, on_rung=on_rung, ray_options=ray_options)
    plain(f"sweep {plan.id}: {len(outcomes)} run(s) in {args.out}; `dlfrontier report {args.out}` shows the "
          "per-config table")
    bad = [o for o in outcomes if o.summary is None or o.summary["status"] != "done"]
    return EXIT_FAILED if bad else 0


# ------------------------------------------------------------------------------------------- report


def cmd_report(args: argparse.Namespace) -> int:
    from dlfrontier.report import write_report

    html_path, md_path, results = write_report(args.runs_dir, args.output, args.markdown,
                                               previous=args.previous)
    print(f"report: {html_path} ({len(results)} experiment/budget rows); markdown: {md_path}")
    return 0


# --------------------------------------------------------------------------------------------- demo


def demo_names() -> list[str]:
    """The experiments ``dlfrontier demo`` runs (``demo=True``: the fastest experiment of each capability)."""
    from dlfrontier.experiments import EXPERIMENTS

    return [n for n in EXPERIMENTS.names() if EXPERIMENTS.get(n).demo]


def cmd_demo(args: argparse.Namespace) -> int:
    from dlfrontier.report import write_report
    from dlfrontier.tracking import check_writable_folder

    check_writable_folder(args.out, "--out")
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers {args.workers}: give 1 or more (1: one run after another in this process)")
    names = demo_names()
    workers = min(args.workers or os.cpu_count() or 1, len(names))
    start = time.perf_counter()
    print(f"dlfrontier demo: {len(names)} quick experiments ({', '.join(names)}), seed 0, into {args.out}, "
          f"{workers} at a time")
    # a run already done in this folder with the same settings is kept (--force: run it again); each run pins its
    # torch threads (--threads), so its numbers are the same one at a time or side by side
    outcomes = run_experiments(
        names, [0], budget="quick", device=args.device, overrides={}, out=args.out, resume=False,
        executor="process" if workers > 1 else "local", workers=workers, reuse=not args.force, threads=args.threads,
    )
    kept = sum(1 for o in outcomes if o.job.plan.done_summary is not None)
    if kept:
        print(f"{kept} of {len(outcomes)} runs already done in {args.out} with these settings: kept "
              "(--force runs them again)")
    html_path, md_path, _ = write_report(args.out, Path(args.out) / "report.html", Path(args.out) / "report.md")
    passed = sum(1 for o in outcomes if o.summary and o.summary["expect"]["passed"])
    print(f"demo finished in {time.perf_counter() - start:.0f}s: {passed}/{len(outcomes)} criteria met")
    print(f"report: {html_path.resolve()}")
    return 0 if all(o.summary and o.summary["status"] == "done" for o in outcomes) else EXIT_FAILED


# -------------------------------------------------------------------------------------------- bench


def cmd_bench(args: argparse.Namespace) -> int:
    from dlfrontier.bench import default_out, load_benchmarks

    registry = load_benchmarks()
    if not args.name:
        if not len(registry):
            print("no benchmarks registered yet")
        for name in registry.names():
            print(f"{name}: {registry.get(name).summary}")
        return 0
    b = registry.get(args.name)
    b.fn(quick=args.quick, out=Path(args.out) if args.out else default_out())
    return 0


# --------------------------------------------------------------------------------------------- eval


def cmd_eval(args: argparse.Namespace) -> int:
    from dlfrontier.experiments import EXPERIMENTS
    from dlfrontier.experiments.runner import load_run
    from dlfrontier.runtime import pin_threads
    from dlfrontier.tracking import RunDir, check_writable_folder

    if args.episodes < 1:
        raise DLFrontierError(f"--episodes {args.episodes}: expected a whole number >= 1")
    pin_threads(args.threads)
    run_dir = RunDir(args.run_dir)
    if not run_dir.is_run():
        raise DLFrontierError(f"{run_dir.path} is not a run folder (no summary.json); "
                              "pass runs/<experiment>/<seed>-<time>")
    exp = EXPERIMENTS.get(str(run_dir.read_summary().get("experiment")))
    if exp.evaluate is None:
        raise DLFrontierError(f"experiment {exp.name} has no evaluator; `dlfrontier eval` supports: "
                              + ", ".join(n for n in EXPERIMENTS.names() if EXPERIMENTS.get(n).evaluate))
    # what eval draws goes to OUT_DIR/<experiment>/<run folder>/, never into the run folder the report reads
    name = run_dir.path.resolve().name
    out_dir = Path(args.out_dir) / exp.name / (name if name and all(c.isalnum() or c in "-_." for c in name)
                                               and name.strip(".") else "run")
    check_writable_folder(out_dir, "--out-dir")
    gif = args.gif
    if gif == "":  # --gif without a path
        gif = str(out_dir / f"{exp.name}.gif")
    if gif:
        check_writable_folder(Path(gif).parent, "--gif")
        if Path(gif).is_dir():
            raise DLFrontierError(f"--gif {gif}: is a folder; give a file name like play.gif")
        if Path(gif).suffix.lower() != ".gif":
            raise DLFrontierError(f"--gif {gif}: expected a file name ending in .gif, like play.gif")
    loaded = load_run(run_dir.path)
    exp.evaluate(loaded, episodes=args.episodes, gif=gif, device=args.device, out_dir=out_dir)
    return 0


# --------------------------------------------------------------------------------------------- main


THREADS_HELP = ("torch CPU threads of every run (default 1, the published numbers' setting): fixed before anything "
                "is built, so a seed gives the same numbers with any executor on any machine")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dlfrontier", description=__doc__.splitlines()[0])
    from dlfrontier import __version__

    p.add_argument("--version", action="version", version=f"dlfrontier {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("list", help="table of every registered experiment (NAME: its settings and criteria)")
    s.add_argument("name", nargs="?", metavar="NAME", help="show this experiment's config fields and criteria")
    s.add_argument("--group", help="only this group (rl, attention, multimodal, compression, dual, physics)")
    s.add_argument("--wide", action="store_true", help="also the lecture topic, anchor and baseline (wide table)")
    s.set_defaults(fn=cmd_list)

    s = sub.add_parser("show", help="one experiment: anchor, baseline, criteria, config fields with help")
    s.add_argument("name", metavar="NAME")
    s.add_argument("--group", default=None, help=argparse.SUPPRESS)
    s.set_defaults(fn=cmd_list)

    s = sub.add_parser("run", help="train experiments, one run folder per seed")
    s.add_argument("names", nargs="+", metavar="NAME", help="experiment name(s); see `dlfrontier list`")
    s.add_argument("--budget", default="quick", help="quick (minutes on CPU) or full (the paper's scale)")
    s.add_argument("--seeds", default="0", help="seeds: 0,1,2 or a range 0-4 (default 0)")
    s.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    s.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config field (repeatable)")
    s.add_argument("--out", default="runs", help="runs folder (default runs)")
    s.add_argument(
        "--resume", action="store_true", help="continue the newest run folder of each seed from its checkpoint"
    )
    s.add_argument("--executor", default="local", choices=["local", "process", "ray"], help="where runs execute")
    s.add_argument("--workers", type=int, default=None, help="process pool size (default: cores)")
    s.add_argument("--ray-address", default=None, help="Ray cluster address for --executor ray")
    s.add_argument("--threads", type=int, default=1, help=THREADS_HELP)
    s.add_argument("--no-batch-seeds", dest="batch_seeds", action="store_false",
                   help="train the seeds one by one even where the experiment can train them as one population "
                        "(local executor; the default batches the fresh seeds of population-capable RL experiments)")
    add_ray_arguments(s)
    s.set_defaults(fn=cmd_run)

    s = sub.add_parser("sweep", help="grid or random search over an experiment's config: every point x seed a run")
    s.add_argument("name", metavar="NAME", help="experiment name; see `dlfrontier show NAME` for its keys")
    s.add_argument("--grid", action="append", metavar="KEY=V1,V2", help="values of one key (repeatable: product)")
    s.add_argument("--samples", type=int, default=0, help="random search: points drawn from the --range keys")
    s.add_argument("--range", action="append", metavar="KEY=LO:HI[:log]", help="random-search range (repeatable)")
    s.add_argument("--sweep-seed", type=int, default=0, help="seed of the random-search draws (default 0)")
    s.add_argument("--id", default=None, help="sweep id recorded in config.json (default NAME-<hash of the sweep>)")
    s.add_argument("--points", default=None, metavar="I,J",
                   help="run only these point indices (complete or repeat part of a sweep; same --id and values)")
    s.add_argument("--halving", action="store_true",
                   help="early stopping: successive halving with seeds as the resource (keep the best 1/eta)")
    s.add_argument("--halving-eta", type=int, default=2, help="reduction factor of --halving (default 2)")
    s.add_argument("--halving-min-seeds", type=int, default=1, help="seeds per point at the first rung (default 1)")
    s.add_argument("--budget", default="quick", help="quick (minutes on CPU) or full (the paper's scale)")
    s.add_argument("--seeds", default="0", help="seeds: 0,1,2 or a range 0-4 (default 0)")
    s.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    s.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config field of every point")
    s.add_argument("--out", default="runs", help="runs folder (default runs)")
    s.add_argument("--executor", default="local", choices=["local", "process", "ray"], help="where runs execute")
    s.add_argument("--workers", type=int, default=None, help="process pool size (default: cores)")
    s.add_argument("--ray-address", default=None, help="Ray cluster address for --executor ray")
    s.add_argument("--threads", type=int, default=1, help=THREADS_HELP)
    add_ray_arguments(s)
    s.set_defaults(fn=cmd_sweep)

    s = sub.add_parser("report", help="run folders -> HTML report + markdown table")
    s.add_argument("runs_dir", nargs="?", default="runs", help="folder with run folders (default runs)")
    s.add_argument("-o", "--output", default=None, help="HTML file (default RUNS_DIR/report.html)")
    s.add_argument("--markdown", default=None, help="markdown file (default: the HTML path with .md)")
    s.add_argument("--previous", default=None, metavar="MD",
                   help="an earlier markdown report: keep its rows (with plots and tables) for experiments "
                        "without run folders in RUNS_DIR, marked as carried")
    s.set_defaults(fn=cmd_report)

    s = sub.add_parser("demo", help="run the curated quick experiments and write the report")
    s.add_argument("--out", default="runs-demo", help="runs folder (default runs-demo, apart from runs/)")
    s.add_argument("--device", default="auto")
    s.add_argument("--force", action="store_true",
                   help="run again the experiments already done in --out (default: keep them)")
    s.add_argument("--threads", type=int, default=1, help=THREADS_HELP)
    s.add_argument("--workers", type=int, default=None,
                   help="runs at once, one process each (default: the CPU count; 1: one after another here)")
    s.set_defaults(fn=cmd_demo)

    s = sub.add_parser("bench", help="speed/memory benchmarks against peers (no NAME: list them)")
    s.add_argument("name", nargs="?", help="benchmark name")
    s.add_argument("--quick", action="store_true", help="a small version that finishes in about a minute")
    s.add_argument("--out", default=None, help="results folder (default benchmarks/results)")
    s.set_defaults(fn=cmd_bench)

    s = sub.add_parser("eval", help="load a run's checkpoint and evaluate it (episodes, GIF, attention maps)")
    s.add_argument("run_dir", help="a run folder")
    s.add_argument("--episodes", type=int, default=10, help="episodes (games, drawn examples) to evaluate; >= 1")
    s.add_argument("--gif", nargs="?", const="", default=None, metavar="PATH",
                   help="write an animated GIF of one episode to PATH (no PATH: into --out-dir)")
    s.add_argument("--out-dir", default="eval",
                   help="where eval writes its figures: OUT_DIR/<experiment>/<run folder>/ (default eval)")
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=int, default=1, help=THREADS_HELP)
    s.set_defaults(fn=cmd_eval)

    s = sub.add_parser("play", help="play a board game in the terminal against a trained agent or a classic opponent")
    s.add_argument("game", metavar="GAME", help="tictactoe, connect4-5x4, connect4, gomoku-6x6-4, ...")
    s.add_argument("--agent", default=None, metavar="RUN_DIR", help="an AlphaZero run folder (its checkpoint)")
    s.add_argument("--opponent", default=None, help="a classic opponent: random, lookahead, minimax-K, uct-N, perfect")
    s.add_argument("--simulations", type=int, default=None, help="agent simulations per move (default: the run's)")
    s.add_argument("--second", action="store_true", help="let the opponent move first")
    s.add_argument("--seed", type=int, default=0, help="seed of the opponent's random choices")
    s.set_defaults(fn=lambda a: __import__("dlfrontier.rl.search.play", fromlist=["main"]).main(a))  # lazy: torch

    s = sub.add_parser("tournament", help="round robin between built-in players and agent run folders -> Elo table")
    s.add_argument("players", nargs="+", metavar="PLAYER",
                   help="random, lookahead, minimax-N, perfect, uct-N, or a selfplay-*/alphazero-* run folder")
    s.add_argument("--game", required=True, help="tictactoe, connect4-5x4, connect4, ...")
    s.add_argument("--games", type=int, default=100, help="games per pair, even (each side starts half; default 100)")
    s.add_argument("--seed", type=int, default=0, help="seed of the games and the bootstrap (default 0)")
    s.add_argument("--out", default="runs", help="runs folder; writes OUT/tournament-GAME/SEED-TIME/ (default runs)")
    s.set_defaults(fn=lambda a: __import__("dlfrontier.rl.selfplay.tournament", fromlist=["main"]).main(a))
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.fn(args) or 0)
    except DLFrontierError as e:
        print(f"dlfrontier {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USER
    except KeyboardInterrupt:
        print(f"dlfrontier {args.command}: interrupted; the run folder keeps its checkpoint "
              "(continue with --resume)", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        os._exit(0)


if __name__ == "__main__":
    sys.exit(main())

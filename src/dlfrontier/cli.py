"""The ``dlfrontier`` command: list | show | run | report | demo | bench | eval.

User errors (unknown name, bad ``--set``, missing data, corrupt checkpoint) print one line and exit 2;
an interrupt exits 130 after the run folder was marked ``interrupted``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path
from typing import Any

from dlfrontier.errors import DLFrontierError

EXIT_USER, EXIT_FAILED, EXIT_INTERRUPTED = 2, 1, 130
TRUST_HELP = ("load a checkpoint that holds more than tensors, numbers and arrays (unpickling it can run code: "
              "only for files from someone you trust)")


def _console():
    from rich.console import Console

    console = Console(highlight=False)
    if not console.is_terminal:  # piped or captured: do not fold tables at 80 columns
        console = Console(highlight=False, width=220)
    return console


# --------------------------------------------------------------------------------------------- list


def cmd_list(args: argparse.Namespace) -> int:
    from rich.table import Table

    from dlfrontier.experiments import EXPERIMENTS
    from dlfrontier.experiments.base import GROUPS

    if args.name:
        return show_experiment(EXPERIMENTS.get(args.name))
    if args.group and args.group not in GROUPS:
        raise DLFrontierError(f"--group {args.group!r}: choose one of {', '.join(GROUPS)}")
    table = Table(title="dlfrontier experiments", show_lines=False)
    table.add_column("name", no_wrap=True)
    for col in ("group", "lecture topic", "anchor", "baseline", "quick criterion"):
        table.add_column(col, overflow="fold")
    n = 0
    for name in EXPERIMENTS.names():
        e = EXPERIMENTS.get(name)
        if args.group and e.group != args.group:
            continue
        a = e.anchor
        table.add_row(name, e.group, e.topic, f"{a.metric} {a.value:g} ({a.source})", f"{e.baseline.value:g}",
                      "; ".join(str(c) for c in e.criteria("quick")))
        n += 1
    _console().print(table)
    print(f"{n} experiment(s); `dlfrontier show NAME` lists an experiment's settings")
    return 0


def show_experiment(e: Any) -> int:
    """Print an experiment's card: anchor, baseline, criteria per budget and every config field."""
    from rich.table import Table

    from dlfrontier.experiments.config import config_fields, field_help, flatten, type_name

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
    helps = field_help(e.config)
    for key, tp in config_fields(e.config).items():
        shown = [repr(budgets[b][key]) if key in budgets[b] else "" for b in budgets]
        table.add_row(key, type_name(tp), repr(defaults.get(key)), *shown, helps.get(key, ""))
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

    def update(self, completed: float, **info: float) -> None:
        text = " ".join(f"{k}={v:.4g}" for k, v in info.items())
        if text:
            self.bar.update(self.task, completed=completed, info=text)
        else:
            self.bar.update(self.task, completed=completed)


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
    resume: bool, executor: str, workers: int | None, ray_address: str | None = None, trust_checkpoint: bool = False,
) -> list[Any]:
    """Validate everything first (so a typo costs nothing), then run every (name, seed)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from dlfrontier.experiments.executors import Job, run_jobs
    from dlfrontier.experiments.runner import plan_run

    # every plan first, so that a typo or a corrupt checkpoint costs nothing; the jobs carry these plans
    jobs = [Job(plan_run(n, s, budget=budget, device=device, overrides=overrides, out=out, resume=resume,
                         trust_checkpoint=trust_checkpoint))
            for n in names for s in seeds]
    console = _console()
    outcomes = []

    def report(o: Any) -> None:
        outcomes.append(o)
        console.print(_result_line(o), markup=False)

    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[info]}")]
    with Progress(*columns, console=console, transient=False, disable=not console.is_terminal) as bar:
        def progress_for(job: Any) -> RichProgress:
            return RichProgress(bar, f"{job.name} s{job.seed}")

        if executor != "local":
            overall = bar.add_task(f"{len(jobs)} runs ({executor})", total=len(jobs), info="")

            def on_outcome(o: Any) -> None:
                bar.advance(overall)
                report(o)
        else:
            on_outcome = report
        run_jobs(jobs, executor=executor, workers=workers, ray_address=ray_address,
                 progress_for=progress_for, on_outcome=on_outcome)
    return outcomes


def cmd_run(args: argparse.Namespace) -> int:
    from dlfrontier.experiments.config import parse_set_args
    from dlfrontier.experiments.executors import parse_seeds

    outcomes = run_experiments(
        args.names, parse_seeds(args.seeds), budget=args.budget, device=args.device,
        overrides=parse_set_args(args.set), out=args.out, resume=args.resume, executor=args.executor,
        workers=args.workers, ray_address=args.ray_address, trust_checkpoint=args.trust_checkpoint,
    )
    bad = [o for o in outcomes if o.summary is None or o.summary["status"] != "done"]
    return EXIT_FAILED if bad else 0


# ------------------------------------------------------------------------------------------- report


def cmd_report(args: argparse.Namespace) -> int:
    from dlfrontier.report import write_report

    html_path, md_path, results = write_report(args.runs_dir, args.output, args.markdown)
    print(f"report: {html_path} ({len(results)} experiment/budget rows); markdown: {md_path}")
    return 0


# --------------------------------------------------------------------------------------------- demo


def cmd_demo(args: argparse.Namespace) -> int:
    from dlfrontier.experiments import EXPERIMENTS
    from dlfrontier.report import write_report

    names = [n for n in EXPERIMENTS.names() if EXPERIMENTS.get(n).demo]
    start = time.perf_counter()
    print(f"dlfrontier demo: {len(names)} quick experiments ({', '.join(names)}), seed 0, into {args.out}")
    outcomes = run_experiments(
        names, [0], budget="quick", device=args.device, overrides={}, out=args.out, resume=False,
        executor="local", workers=None,
    )
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
    from dlfrontier.tracking import RunDir

    run_dir = RunDir(args.run_dir)
    if not run_dir.is_run():
        raise DLFrontierError(f"{run_dir.path} is not a run folder (no summary.json); "
                              "pass runs/<experiment>/<seed>-<time>")
    exp = EXPERIMENTS.get(str(run_dir.read_summary().get("experiment")))
    if exp.evaluate is None:
        raise DLFrontierError(f"experiment {exp.name} has no evaluator; `dlfrontier eval` supports: "
                              + ", ".join(n for n in EXPERIMENTS.names() if EXPERIMENTS.get(n).evaluate))
    loaded = load_run(run_dir.path, trust_checkpoint=args.trust_checkpoint)
    exp.evaluate(loaded, episodes=args.episodes, gif=args.gif, device=args.device)
    return 0


# --------------------------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dlfrontier", description=__doc__.splitlines()[0])
    from dlfrontier import __version__

    p.add_argument("--version", action="version", version=f"dlfrontier {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("list", help="table of every registered experiment (NAME: its settings and criteria)")
    s.add_argument("name", nargs="?", metavar="NAME", help="show this experiment's config fields and criteria")
    s.add_argument("--group", help="only this group (rl, attention, multimodal, compression, dual, physics)")
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
    s.add_argument("--trust-checkpoint", action="store_true", help=TRUST_HELP)
    s.add_argument("--executor", default="local", choices=["local", "process", "ray"], help="where runs execute")
    s.add_argument("--workers", type=int, default=None, help="process pool size (default: cores)")
    s.add_argument("--ray-address", default=None, help="Ray cluster address for --executor ray")
    s.set_defaults(fn=cmd_run)

    s = sub.add_parser("report", help="run folders -> HTML report + markdown table")
    s.add_argument("runs_dir", nargs="?", default="runs", help="folder with run folders (default runs)")
    s.add_argument("-o", "--output", default=None, help="HTML file (default RUNS_DIR/report.html)")
    s.add_argument("--markdown", default=None, help="markdown file (default: the HTML path with .md)")
    s.set_defaults(fn=cmd_report)

    s = sub.add_parser("demo", help="run the curated quick experiments and write the report")
    s.add_argument("--out", default="runs-demo", help="runs folder (default runs-demo, apart from runs/)")
    s.add_argument("--device", default="auto")
    s.set_defaults(fn=cmd_demo)

    s = sub.add_parser("bench", help="speed/memory benchmarks against peers (no NAME: list them)")
    s.add_argument("name", nargs="?", help="benchmark name")
    s.add_argument("--quick", action="store_true", help="a small version that finishes in about a minute")
    s.add_argument("--out", default=None, help="results folder (default benchmarks/results)")
    s.set_defaults(fn=cmd_bench)

    s = sub.add_parser("eval", help="load a run's checkpoint and evaluate it (episodes, GIF, attention maps)")
    s.add_argument("run_dir", help="a run folder")
    s.add_argument("--episodes", type=int, default=10)
    s.add_argument("--gif", default=None, help="write an animated GIF of the agent here")
    s.add_argument("--trust-checkpoint", action="store_true", help=TRUST_HELP)
    s.add_argument("--device", default="auto")
    s.set_defaults(fn=cmd_eval)
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

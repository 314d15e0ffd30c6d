"""Run one experiment for one seed into a run folder: plan -> open -> execute -> finalize.

:func:`plan_run` validates everything (name, config, device, data files, and on ``--resume`` the folder and its
checkpoint) without writing; :func:`execute` opens the run folder, calls the experiment's run function with a
:class:`~dlfrontier.runtime.RunContext` and writes the summary whatever happens (done, failed, interrupted).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import platform
import signal
import sys
import time
import traceback
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from dlfrontier import tracking
from dlfrontier.errors import ConfigError, DLFrontierError, require
from dlfrontier.experiments.base import EXPERIMENTS, Experiment
from dlfrontier.experiments.config import build_config
from dlfrontier.runtime import NullProgress, Progress, RunContext, pinned_threads, resolve_device, seed_everything
from dlfrontier.tracking import Checkpoint, RunDir


def versions() -> dict[str, str]:
    import numpy
    import torch

    import dlfrontier

    out = {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__,
           "dlfrontier": dlfrontier.__version__}
    try:
        import gymnasium

        out["gymnasium"] = gymnasium.__version__
    except ImportError:  # pragma: no cover - core dependency
        pass
    out.update(simulator_versions())
    return out


# Optional packages whose arithmetic a run's numbers depend on (read from the installed metadata, not imported):
# measured, MuJoCo 4.0.0 and 3.17.0 step Hopper-v5 one rounding unit apart within 3,000 random steps (a chaotic
# training run can grow such a difference), and the `mujoco>=3.0` extra resolves to either
SIMULATORS = ("mujoco", "ale-py", "minatar", "pettingzoo", "sentencepiece", "sacrebleu")


def simulator_versions() -> dict[str, str]:
    """The installed versions of :data:`SIMULATORS` (those present)."""
    from importlib import metadata

    out = {}
    for name in SIMULATORS:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


@dataclasses.dataclass
class RunPlan:
    """What :func:`execute` will do, worked out without writing anything (picklable: executors ship it)."""

    name: str
    seed: int
    budget: str
    config: Any
    device: str
    out: str
    resume: bool = False
    run_dir: Path | None = None
    checkpoint: Checkpoint | None = None
    done_summary: dict[str, Any] | None = None
    sweep: dict[str, Any] | None = None  # {"id", "point", ...} of a run of `dlfrontier sweep`, kept in config.json

    @property
    def experiment(self) -> Experiment:
        return EXPERIMENTS.get(self.name)

    @property
    def config_dict(self) -> dict[str, Any]:
        return json_roundtrip(dataclasses.asdict(self.config))


def plan_run(name: str, seed: int, *, budget: str = "quick", device: str = "auto",
             overrides: Mapping[str, str] | None = None, out: str | Path = "runs", resume: bool = False,
             reuse: bool = False) -> RunPlan:
    """Validate a run without writing.

    ``resume``: continue the newest run folder of ``(name, seed)`` under ``out`` from its checkpoint (a finished
    one is returned as is, a ``stale`` one, whose process died, is continued); its budget and config must match.
    ``reuse``: the same where the newest folder's budget and config match and it is not running; otherwise a
    new folder is started (``demo`` does not redo the runs already in its folder).
    Checkpoints are loaded safely (tensors, numbers, arrays only): a crafted file is refused, never unpickled.

    Raises:
        DLFrontierError: unknown name, bad config, missing data files, no CUDA, a resume whose settings differ
            (finished or not) or whose run is still running, a corrupt checkpoint.
    """
    exp = EXPERIMENTS.get(name)
    cfg = exp.make_config(budget, overrides)
    for module, extra in exp.requires:  # a missing extra is one line naming its install command, before any folder
        require(module, extra)
    if exp.datasets(cfg):
        from dlfrontier.data.mnist import require_idx_dataset  # torch-free callers (list, report) skip the import

        for dataset in exp.datasets(cfg):
            if dataset == "coco":  # Karpathy-split captions + region features (the captioning full budgets)
                from dlfrontier.multimodal.captioning.coco import require_coco

                require_coco()
            elif dataset == "parallel-en-es":  # the verse-aligned English-Spanish corpus (dual learning)
                from dlfrontier.data.parallel import require_corpus

                require_corpus()
            else:
                require_idx_dataset(dataset)
    resolve_device(device)
    plan = RunPlan(name, int(seed), budget, cfg, device, str(out), resume)
    if resume or reuse:
        _plan_resume(plan, reuse=reuse and not resume)
    if exp.preflight is not None and plan.checkpoint is None and plan.done_summary is None:
        exp.preflight(cfg, int(seed))  # e.g. the warm-start run a translation run reads (a resume has it already)
    return plan


def _plan_resume(plan: RunPlan, *, reuse: bool = False) -> None:
    found = RunDir.newest(plan.out, plan.name, plan.seed)
    if found is None:
        return
    old = found.read_summary()
    saved = found.read_config()
    status = tracking.run_status(old)
    same = saved.get("budget") == plan.budget and saved_config(plan.experiment, saved) == plan.config_dict
    if reuse and (not same or status == "running"):
        return  # a new folder beside it
    if not same:
        verb = "finished" if status == "done" else "was started"
        raise ConfigError(f"--resume: {found.path} {verb} with another budget or config; "
                          "repeat its settings, or run without --resume for a new run folder")
    proc = old.get("process") if isinstance(old.get("process"), dict) else None
    if status == "running" and proc is not None:  # (a summary without a record, from older versions: resumed)
        if tracking.process_alive(proc):
            raise ConfigError(f"--resume: {found.path} is still running (pid {proc.get('pid')}, started "
                              f"{proc.get('started')}); wait for it or stop it first")
        raise ConfigError(f"--resume: {found.path} is marked running by pid {proc.get('pid')} on host "
                          f"{proc.get('host')}; resume it there (where a dead run shows as stale), or run "
                          "without --resume for a new run folder")
    plan.run_dir = found.path
    if status == "done":
        plan.done_summary = old
        return
    if found.checkpoint_path.exists():
        plan.checkpoint = found.load_checkpoint(plan.name)


def run_one(name: str, seed: int, *, budget: str = "quick", device: str = "auto",
            overrides: Mapping[str, str] | None = None, out: str | Path = "runs", resume: bool = False,
            progress: Progress | None = None, tensorboard: bool = True) -> dict[str, Any]:
    """Plan and execute experiment ``name`` with ``seed``; returns its ``summary.json`` content."""
    plan = plan_run(name, seed, budget=budget, device=device, overrides=overrides, out=out, resume=resume)
    return execute(plan, progress=progress, tensorboard=tensorboard)


class _Terminate(KeyboardInterrupt):
    """SIGTERM, turned into an interrupt so that the run stops the same way as on Ctrl-C."""


def _raise_terminate(signum: int, frame: Any) -> None:
    exc = _Terminate() if signum == signal.SIGTERM else KeyboardInterrupt()
    if tracking.in_critical():  # not inside TensorBoard's writer: raised as the section ends (tracking.critical)
        tracking.defer_interrupt(exc)
        return
    raise exc


def _open(plan: RunPlan, exp: Experiment, dev: Any) -> RunDir:
    if plan.run_dir is not None:
        return RunDir(plan.run_dir)
    run = RunDir.create(plan.out, plan.name, plan.seed)
    run.write_config({"experiment": plan.name, "seed": plan.seed, "budget": plan.budget, "config": plan.config_dict,
                      "device": str(dev), "threads": pinned_threads(), "versions": versions(),
                      "started": tracking._timestamp(),
                      "command": sys.argv, **({"sweep": plan.sweep} if plan.sweep else {})})
    return run


def _summary(plan: RunPlan, exp: Experiment, run: RunDir, metrics: Mapping[str, float], status: str,
             wall: float) -> dict[str, Any]:
    criteria = [c.verdict(metrics) for c in exp.criteria(plan.budget)]
    if status != "done":
        for c in criteria:
            c["passed"] = False if c["kind"] == "threshold" else None
    expect = {k: criteria[0][k] for k in ("metric", "op", "threshold", "passed")}
    return {"experiment": plan.name, "seed": plan.seed, "budget": plan.budget, "status": status,
            "metrics": dict(metrics), "expect": expect, "criteria": criteria, "anchor": exp.anchor.as_dict(),
            "baseline": exp.baseline.as_dict(), "curve": exp.curve, "group": exp.group, "wall_seconds": wall,
            "run_dir": str(run.path)}


@dataclasses.dataclass
class _Started:
    """A run folder opened by :func:`_start`: what :func:`_finish` needs to write its summary."""

    plan: RunPlan
    run: RunDir
    logger: Any
    ctx: RunContext
    previous_wall: float
    start: float


def _start(plan: RunPlan, progress: Progress | None, tensorboard: bool,
           on_save: Callable[[RunDir, str], None] | None) -> _Started:
    """Open the planned folder, mark it running, and build the run's context (logger, checkpoint hook)."""
    exp, dev = plan.experiment, resolve_device(plan.device)
    run = _open(plan, exp, dev)
    ckpt = plan.checkpoint
    previous_wall = ckpt.wall_seconds if ckpt is not None else 0.0
    running = _summary(plan, exp, run, {}, "running", previous_wall)
    running["process"] = tracking.process_record()  # a SIGKILL leaves "running": a dead pid here reads as stale
    run.write_summary(running)
    if on_save is not None:
        on_save(run, "open")
    logger = run.logger(tensorboard=tensorboard, resume=ckpt, keep=plan.resume)
    start = time.perf_counter()

    def hook(state: dict[str, Any], step: int) -> None:
        run.save_checkpoint(state, experiment=plan.name, seed=plan.seed, step=step, metrics_rows=logger.rows,
                            wall_seconds=previous_wall + time.perf_counter() - start)
        if on_save is not None:
            on_save(run, "checkpoint")

    ctx = RunContext(experiment=plan.name, seed=plan.seed, budget=plan.budget, device=dev, run_dir=run.path,
                     logger=logger, progress=progress or NullProgress(),
                     resume_state=ckpt.state if ckpt is not None else None, checkpoint_hook=hook)
    return _Started(plan, run, logger, ctx, previous_wall, start)


def _finish(st: _Started, status: str, metrics: Mapping[str, float], error: str | None) -> dict[str, Any]:
    """Close the logger and write the final summary (the last logged metrics unless done)."""
    st.logger.close()
    summary = _summary(st.plan, st.plan.experiment, st.run, metrics if status == "done" else dict(st.logger.last),
                       status, st.previous_wall + time.perf_counter() - st.start)
    summary["finished"] = tracking._timestamp()
    if error:
        summary["error"] = error
    st.run.write_summary(summary)
    return summary


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM raises :class:`KeyboardInterrupt` inside the block (main thread only), as Ctrl-C does; both wait
    for the end of a :func:`dlfrontier.tracking.critical` section (a TensorBoard write) if one is running."""
    old_handlers: dict[int, Any] = {}
    try:
        for sig in (signal.SIGTERM, signal.SIGINT):
            old_handlers[sig] = signal.signal(sig, _raise_terminate)
    except ValueError:  # not the main thread: leave the signals alone
        pass
    try:
        yield
    finally:
        for number, handler in old_handlers.items():
            signal.signal(number, handler)


def execute(plan: RunPlan, *, progress: Progress | None = None, tensorboard: bool = True,
            on_save: Callable[[RunDir, str], None] | None = None) -> dict[str, Any]:
    """Open the planned run folder, run, and finalize its summary; returns the summary.

    ``on_save(run, event)``: called with ``"open"`` once the folder holds its config and running summary, and with
    ``"checkpoint"`` after each checkpoint is written (the Ray executor ships the folder to its driver then).

    Raises:
        KeyboardInterrupt: after the run folder was marked ``interrupted`` (Ctrl-C or SIGTERM).
        Exception: the run's own error, after the folder was marked ``failed`` (``error.log`` has the traceback).
    """
    if plan.done_summary is not None:
        return plan.done_summary
    st = _start(plan, progress, tensorboard, on_save)
    seed_everything(plan.seed)
    return _train_and_finish([st], lambda: [plan.experiment.run(st.ctx, plan.config)])[0]


def _train_and_finish(started: Sequence[_Started], train: Callable[[], Sequence[Mapping[str, float]]]
                      ) -> list[dict[str, Any]]:
    """Call ``train()`` (one metrics mapping per started folder) and write every folder's summary whatever happens:
    done, failed (``error.log`` with the traceback) or interrupted (Ctrl-C or SIGTERM); re-raises."""
    status, error, results = "failed", None, None
    summaries: list[dict[str, Any]] = []
    try:
        with _sigterm_interrupts():
            results = [{k: float(v) for k, v in dict(m).items()} for m in train()]
        status = "done"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    except DLFrontierError as e:
        error = str(e)
        raise
    except Exception as e:
        error = f"{type(e).__name__}: {e}"
        for st in started:
            tracking.atomic_write_text(st.run.path / "error.log", traceback.format_exc())
        raise
    finally:
        summaries = [_finish(st, status, results[i] if results else {}, error) for i, st in enumerate(started)]
    return summaries


def population_ready(plans: Sequence[RunPlan]) -> bool:
    """Whether ``plans`` can run as one population (:func:`execute_population`): two or more fresh runs (no
    folder to resume or reuse) of one experiment with one budget, config and device, whose experiment has a
    population path that supports this config."""
    if len(plans) < 2:
        return False
    first = plans[0]
    exp = first.experiment
    if exp.population is None or exp.population_supports is None:
        return False
    same = all(p.name == first.name and p.budget == first.budget and p.device == first.device
               and p.config == first.config for p in plans)
    fresh = all(p.run_dir is None and p.checkpoint is None and p.done_summary is None for p in plans)
    return same and fresh and len({p.seed for p in plans}) == len(plans) and exp.population_supports(first.config)


def execute_population(plans: Sequence[RunPlan], *, progresses: Sequence[Progress | None] | None = None,
                       tensorboard: bool = True) -> list[dict[str, Any]]:
    """Run the seeds of ``plans`` as one population (``experiment.population``): one run folder per seed with the
    same contract as :func:`execute` (config, metrics, checkpoints a single run resumes, summary); returns the
    summaries in the plans' order. Check :func:`population_ready` first.

    Raises:
        KeyboardInterrupt: after every folder was marked ``interrupted``.
        Exception: the population's error, after every folder was marked ``failed``.
    """
    if not population_ready(plans):
        raise ConfigError("these runs cannot train as one population: run them one by one (--no-batch-seeds)")
    exp = plans[0].experiment
    progresses = list(progresses) if progresses is not None else [None] * len(plans)
    started = [_start(p, pr, tensorboard, None) for p, pr in zip(plans, progresses, strict=True)]
    seed_everything(plans[0].seed)
    population = exp.population
    assert population is not None
    return _train_and_finish(started, lambda: population([st.ctx for st in started], plans[0].config))


@dataclasses.dataclass
class LoadedRun:
    """A run folder read back for ``dlfrontier eval``: its experiment, seed, typed config and checkpoint state."""

    path: Path
    experiment: str
    seed: int
    budget: str
    config: Any
    step: int
    state: dict[str, Any]


def load_run(run_dir: str | Path) -> LoadedRun:
    """Read a run folder (its config rebuilt as the experiment's config class, its checkpoint's state).

    The checkpoint is loaded safely (tensors, numbers, arrays only).

    Raises:
        DLFrontierError: not a run folder, an unknown experiment, a config this version cannot read, a corrupt or
            foreign checkpoint.
    """
    run = RunDir(run_dir)
    saved = run.read_config()
    name = str(saved.get("experiment"))
    exp = EXPERIMENTS.get(name)
    cfg = build_config(exp.config, saved_config(exp, saved), what=f"{run.path / tracking.CONFIG}")
    ckpt = run.load_checkpoint(name)
    return LoadedRun(run.path, name, int(saved.get("seed", 0)), str(saved.get("budget", "quick")), cfg, ckpt.step,
                     ckpt.state)


# Fields added since runs were published, per config class (top-level or nested, e.g. an RL run's ``algo``), with the
# value those runs ran as (so that they still resume, are reused by demo, and compare equal): the captioning data
# source (issue 20's COCO path); AlphaZero's learning-rate decay, labelled-position range, value-target mix and
# evaluation interval (issue 18); PPO's observation/reward normalization (issue 24); the translators' warm-start
# run folder (issue 21)
ADDED_KEYS: dict[str, dict[str, Any]] = {
    "CaptionConfig": {"data": "generated", "max_regions": 50},
    "AlphaZeroConfig": {"lr_decay": False, "final_plies": [], "final_informative": False, "value_mix": 0.0,
                        "eval_every": 1},
    "PPOConfig": {"normalize_obs": False, "normalize_reward": False, "norm_clip": 10.0},
    "DualConfig": {"warm_start": ""}}
# config keys that earlier versions saved and this one sets elsewhere: dropped when a saved config is read
RETIRED_KEYS = ("threads",)  # torch CPU threads: the CLI's --threads since issue 16, recorded beside the config


def _with_added(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` (a saved config of dataclass ``cls``) with the fields added since, nested configs included."""
    hints = typing.get_type_hints(cls)
    out = dict(values)
    for f in dataclasses.fields(cls):
        sub = hints.get(f.name)
        if dataclasses.is_dataclass(sub) and isinstance(out.get(f.name), Mapping):
            out[f.name] = _with_added(sub, out[f.name])  # type: ignore[arg-type]
        elif f.name not in out and f.name in ADDED_KEYS.get(cls.__name__, {}):
            out[f.name] = ADDED_KEYS[cls.__name__][f.name]  # written before the field existed: it ran as this
    return out


def saved_config(exp: Experiment, saved: Mapping[str, Any]) -> dict[str, Any]:
    """A run folder's saved config, without the keys retired since it was written (when its class lacks them)."""
    values = saved.get("config", {})
    if not isinstance(values, Mapping):
        return values  # build_config names the problem
    fields = {f.name for f in dataclasses.fields(exp.config)}
    out = {k: v for k, v in values.items() if k in fields or k not in RETIRED_KEYS}
    return _with_added(exp.config, out)


def json_roundtrip(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=tracking._json_default))

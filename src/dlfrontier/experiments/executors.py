"""Run seeds x experiments through an executor: ``local`` (in process), ``process`` (a pool), ``ray``."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from dlfrontier.errors import ConfigError, DLFrontierError
from dlfrontier.experiments.runner import RunPlan, execute, execute_population, population_ready
from dlfrontier.runtime import Progress

EXECUTORS = ("local", "process", "ray")
MAX_SEEDS = 1000  # one --seeds list; a typo like 0-99999999999 is refused instead of expanded


@dataclass(frozen=True)
class Job:
    """One planned (experiment, seed) run; ``plan_run`` validated it before any job starts."""

    plan: RunPlan
    tensorboard: bool = True
    threads: int = 1  # torch CPU threads, pinned in the worker before the run builds anything
    batch_seeds: bool = True  # local executor: train this run's seeds as one population where the experiment can

    @property
    def name(self) -> str:
        return self.plan.name

    @property
    def seed(self) -> int:
        return self.plan.seed


@dataclass(frozen=True)
class Outcome:
    job: Job
    summary: dict[str, Any] | None
    error: str | None = None


def _run_job(job: Job, progress: Progress | None = None) -> Outcome:
    try:
        return Outcome(job, execute(job.plan, progress=progress, tensorboard=job.tensorboard))
    except DLFrontierError as e:
        return Outcome(job, None, str(e))
    except KeyboardInterrupt:
        raise
    except Exception as e:  # the run folder holds error.log with the traceback
        return Outcome(job, None, f"{type(e).__name__}: {e}")


def population_batches(jobs: Iterable[Job]) -> list[list[Job]]:
    """``jobs`` in order, consecutive seeds of one experiment grouped where they can train as one population
    (:func:`~dlfrontier.experiments.runner.population_ready`; every job's ``batch_seeds``); the rest one by one."""
    groups: list[list[Job]] = []
    for job in jobs:
        last = groups[-1] if groups else None
        if last is not None and job.batch_seeds and last[-1].batch_seeds and job.name == last[-1].name:
            last.append(job)
        else:
            groups.append([job])
    out: list[list[Job]] = []
    for group in groups:
        if population_ready([j.plan for j in group]):
            out.append(group)
        else:
            out.extend([j] for j in group)
    return out


def _run_population(jobs: list[Job], progress_for: Callable[[Job], Progress | None] | None) -> list[Outcome]:
    progresses = [progress_for(j) if progress_for else None for j in jobs]
    try:
        summaries = execute_population([j.plan for j in jobs], progresses=progresses,
                                       tensorboard=jobs[0].tensorboard)
        return [Outcome(j, s) for j, s in zip(jobs, summaries, strict=True)]
    except DLFrontierError as e:
        return [Outcome(j, None, str(e)) for j in jobs]
    except KeyboardInterrupt:
        raise
    except Exception as e:  # each run folder holds error.log with the traceback
        return [Outcome(j, None, f"{type(e).__name__}: {e}") for j in jobs]


class _RelayProgress:
    """A worker's :class:`Progress` that sends what the run reports to the parent process through ``queue``.

    Updates are sent at most every ``min_gap`` seconds (and always the last one before a phase or the end): the
    parent only shows them, so fewer messages change nothing but the load on the pipe. Reads no RNG.
    """

    def __init__(self, queue: Any, index: int, min_gap: float = 0.2) -> None:
        self.queue, self.index, self.min_gap = queue, index, min_gap
        self.last = 0.0
        self.pending: tuple[float, dict[str, float]] | None = None

    def _send(self, kind: str, *payload: Any) -> None:
        try:
            self.queue.put((self.index, kind, payload))
        except (OSError, EOFError, BrokenPipeError):  # the parent went away: keep training, show nothing
            pass

    def start(self, total: float, unit: str = "steps") -> None:
        self._send("start", float(total), unit)

    def phase(self, name: str) -> None:
        self.flush()
        self._send("phase", name)

    def update(self, completed: float, **info: float) -> None:
        import time

        now = time.monotonic()
        self.pending = (float(completed), {k: float(v) for k, v in info.items()})
        if now - self.last >= self.min_gap:
            self.last = now
            self.flush()

    def flush(self) -> None:
        if self.pending is not None:
            completed, info = self.pending
            self.pending = None
            self._send("update", completed, info)


def _run_in_worker(jobs: list[Job], queue: Any = None, indices: list[int] | None = None) -> list[Outcome]:
    """Run ``jobs`` in a pool worker: one job as a single run, several (consecutive seeds of one experiment) as one
    population; each job's progress relayed under its index in the parent's job list."""
    from dlfrontier.runtime import pin_threads

    pin_threads(jobs[0].threads)  # first: results depend on the thread count and on its history in a process
    import dlfrontier.experiments  # noqa: F401  (registers experiments in a fresh process)

    relays = {} if queue is None else {
        id(j): _RelayProgress(queue, i) for j, i in zip(jobs, indices or range(len(jobs)), strict=True)}
    try:
        if len(jobs) == 1:
            return [_run_job(jobs[0], relays.get(id(jobs[0])))]  # type: ignore[arg-type]
        return _run_population(jobs, lambda j: relays.get(id(j)))  # type: ignore[arg-type,return-value]
    finally:
        for relay in relays.values():
            relay.flush()


def split_population(group: list[Job], workers: int) -> list[list[Job]]:
    """A population's jobs split into at most ``workers`` populations of consecutive seeds, as even as can be
    (five seeds on two workers: three and two); a one-seed part runs as a single run."""
    n = max(1, min(workers, len(group)))
    size, extra = divmod(len(group), n)
    parts, start = [], 0
    for i in range(n):
        end = start + size + (1 if i < extra else 0)
        parts.append(group[start:end])
        start = end
    return parts


def _show_relayed(queue: Any, jobs: list[Job], progress_for: Callable[[Job], Progress | None]) -> None:
    """Parent side of :class:`_RelayProgress`: forward each worker's messages to its job's progress, until the
    ``None`` that :func:`run_jobs` puts when every job is done."""
    shown: dict[int, Progress | None] = {}
    while True:
        msg = queue.get()
        if msg is None:
            return
        index, kind, payload = msg
        if index not in shown:
            shown[index] = progress_for(jobs[index])
        target = shown[index]
        if target is None:
            continue
        if kind == "start":
            target.start(*payload)
        elif kind == "update":
            target.update(payload[0], **payload[1])
        elif kind == "phase":
            from dlfrontier.runtime import show_phase

            show_phase(target, payload[0])


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"``, ``"0-4"`` or a mix like ``"0-2,7"`` -> a list of seeds."""
    seeds: list[int] = []
    try:
        for part in str(text).split(","):
            part = part.strip()
            if not part:
                continue
            if "-" in part[1:]:
                lo, hi = part.split("-", 1) if not part.startswith("-") else (part, part)
                a, b = int(lo), int(hi)
                if b < a:
                    raise ValueError
                if b - a + 1 + len(seeds) > MAX_SEEDS:
                    raise ConfigError(f"--seeds {text!r}: more than {MAX_SEEDS} seeds")
                seeds.extend(range(a, b + 1))
            else:
                seeds.append(int(part))
            if len(seeds) > MAX_SEEDS:
                raise ConfigError(f"--seeds {text!r}: more than {MAX_SEEDS} seeds")
    except ValueError as e:
        if isinstance(e, ConfigError):
            raise
        raise ConfigError(f"--seeds {text!r}: expected a list like 0,1,2 or a range like 0-4") from None
    if not seeds or any(not 0 <= s < 2**32 for s in seeds):
        raise ConfigError(f"--seeds {text!r}: expected seeds from 0 to 2^32-1, like 0,1,2 or 0-4")
    return list(dict.fromkeys(seeds))


def run_jobs(
    jobs: Iterable[Job],
    *,
    executor: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    progress_for: Callable[[Job], Progress | None] | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
    ray_options: Any = None,
) -> list[Outcome]:
    """Run every job and return their outcomes in completion order.

    Args:
        executor: ``local`` runs jobs one after another in this process (with live progress), the fresh seeds of
            an experiment with a population path as one population (:func:`population_batches`);
            ``process`` runs them in a pool of ``workers`` processes (an experiment's fresh seeds as up to
            ``workers`` populations of consecutive seeds, :func:`split_population`); ``ray`` submits them to a Ray
            cluster.
        progress_for: gives the progress bar of a job (``local``; ``process`` relays each worker's progress, its
            phases included, to it through a queue).
        on_outcome: called as each job finishes.
        ray_options: a :class:`~dlfrontier.experiments.ray_executor.RayOptions` (resources per run, retries, where
            folders go); default: its defaults at ``ray_address``.
    """
    jobs = list(jobs)
    outcomes: list[Outcome] = []

    def done(o: Outcome) -> None:
        outcomes.append(o)
        if on_outcome:
            on_outcome(o)

    if executor == "local":  # fresh seeds of a population-capable experiment train as one population (issue 17)
        for group in population_batches(jobs):
            if len(group) > 1:
                for outcome in _run_population(group, progress_for):
                    done(outcome)
            else:
                done(_run_job(group[0], progress_for(group[0]) if progress_for else None))
    elif executor == "process":
        n = max(1, min(workers or mp.cpu_count(), len(jobs)))
        ctx = mp.get_context("spawn")
        with ctx.Manager() if progress_for else contextlib.nullcontext() as manager:
            queue = manager.Queue() if manager is not None else None
            relay = None
            if queue is not None and progress_for is not None:
                relay = threading.Thread(target=_show_relayed, args=(queue, jobs, progress_for), daemon=True)
                relay.start()
            index = {id(job): i for i, job in enumerate(jobs)}
            # one task per job, but a population's seeds split across the workers (issue 17)
            tasks = [part for group in population_batches(jobs) for part in split_population(group, n)]
            try:
                with ProcessPoolExecutor(max_workers=n, mp_context=ctx) as pool:
                    futures = [pool.submit(_run_in_worker, task, queue, [index[id(j)] for j in task]) for task in tasks]
                    for fut in as_completed(futures):
                        for outcome in fut.result():
                            done(outcome)
            finally:
                if relay is not None:
                    queue.put(None)
                    relay.join(timeout=5)
    elif executor == "ray":  # experiments/ray_executor.py: resources, shipping folders back, retries, Ctrl-C
        from dlfrontier.experiments.ray_executor import RayOptions, run_ray_jobs

        run_ray_jobs(jobs, ray_options or RayOptions(address=ray_address), progress_for=progress_for, on_outcome=done)
    else:
        raise ConfigError(f"--executor {executor!r}: choose one of {', '.join(EXECUTORS)}")
    return outcomes

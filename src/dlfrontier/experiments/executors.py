"""Run seeds x experiments through an executor: ``local`` (in process), ``process`` (a pool), ``ray``."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from dlfrontier.errors import ConfigError, DLFrontierError, require
from dlfrontier.experiments.runner import RunPlan, execute
from dlfrontier.runtime import Progress

EXECUTORS = ("local", "process", "ray")
MAX_SEEDS = 1000  # one --seeds list; a typo like 0-99999999999 is refused instead of expanded


@dataclass(frozen=True)
class Job:
    """One planned (experiment, seed) run; ``plan_run`` validated it before any job starts."""

    plan: RunPlan
    tensorboard: bool = True
    threads: int = 1  # torch CPU threads, pinned in the worker before the run builds anything

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


def _run_job_in_worker(job: Job) -> Outcome:
    from dlfrontier.runtime import pin_threads

    pin_threads(job.threads)  # first: results depend on the thread count and on its history in a process
    import dlfrontier.experiments  # noqa: F401  (registers experiments in a fresh process)

    return _run_job(job)


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
) -> list[Outcome]:
    """Run every job and return their outcomes in completion order.

    Args:
        executor: ``local`` runs jobs one after another in this process (with live progress);
            ``process`` runs them in a pool of ``workers`` processes; ``ray`` submits them to a Ray cluster.
        progress_for: gives the progress bar of a job (``local`` only).
        on_outcome: called as each job finishes.
    """
    jobs = list(jobs)
    outcomes: list[Outcome] = []

    def done(o: Outcome) -> None:
        outcomes.append(o)
        if on_outcome:
            on_outcome(o)

    if executor == "local":
        for job in jobs:
            done(_run_job(job, progress_for(job) if progress_for else None))
    elif executor == "process":
        n = max(1, min(workers or mp.cpu_count(), len(jobs)))
        with ProcessPoolExecutor(max_workers=n, mp_context=mp.get_context("spawn")) as pool:
            futures = [pool.submit(_run_job_in_worker, job) for job in jobs]
            for fut in as_completed(futures):
                done(fut.result())
    elif executor == "ray":
        ray = require("ray", "ray")
        if not ray.is_initialized():
            ray.init(address=ray_address, ignore_reinit_error=True)
        remote = ray.remote(num_cpus=1)(_run_job_in_worker)
        pending = [remote.remote(job) for job in jobs]
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            done(ray.get(ready[0]))
    else:
        raise ConfigError(f"--executor {executor!r}: choose one of {', '.join(EXECUTORS)}")
    return outcomes

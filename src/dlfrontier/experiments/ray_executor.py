"""``--executor ray``: every run a Ray task on any node of a cluster, its folder shipped back to the driver's ``--out``.

Moritz et al., "Ray: A Distributed Framework for Emerging AI Applications", OSDI 2018,
https://arxiv.org/abs/1712.05889 (tasks, actors, the object store used here).

- **One task per run, in a fresh worker process** (``max_calls=1``). torch's thread count is pinned per process
  (:func:`dlfrontier.runtime.pin_threads`) and a run's numbers depend on it and on its history, so a worker never
  carries one run's state into the next: a seed gives the same numbers as with ``local`` or ``process``. The price
  is a process start and the torch import per run (``dlfrontier bench executor`` measures it).
- **Resources per run**: ``--cpus-per-run`` (Ray's ``num_cpus``; torch runs on ``floor`` of it, at least 1
  thread, so runs never oversubscribe the cores Ray gave them) and ``--gpus-per-run`` (``num_gpus``, fractions
  below 1 share a GPU; Ray sets ``CUDA_VISIBLE_DEVICES`` and ``--device auto`` picks it).
- **Without a shared file system** (the default) a worker runs into a private staging folder on its node and
  returns the finished folder's files (config, metrics, summary, plots, tables, TensorBoard events;
  ``checkpoint.pt`` only with ``--ray-checkpoints``, or when the run did not finish, so that ``--resume`` can
  continue it). The driver writes them under ``--out`` through a hidden folder and a rename: a folder appears
  whole or not at all. **With ``--ray-shared-out``** the workers write into ``--out`` themselves: it must be an
  absolute path every node mounts with POSIX renames (NFS, Lustre, a cluster file system; not an object store
  mounted through FUSE, whose renames are copies).
- **A worker that dies** (``kill -9``, the OOM killer, a lost node) is retried: at each checkpoint the run's folder
  (its files, or its path with a shared ``--out``) goes to a small actor on the driver's node, and the retry
  continues from it exactly as ``--resume`` would. After ``--max-retries`` retries the run is ``failed``, its
  folder (with the checkpoint) kept with the reason. A run whose own code raises is not retried: it fails as with
  any executor (``error.log``).
- **Ctrl-C on the driver** cancels every task (pending ones never start; running ones are stopped), brings the
  started runs back as ``interrupted`` from their last checkpoint (``--resume`` continues them) and leaves the
  finished folders as they are.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath
from typing import Any

from dlfrontier import tracking
from dlfrontier.errors import ConfigError, DLFrontierError, require
from dlfrontier.experiments.executors import Job, Outcome, _RelayProgress, _show_relayed
from dlfrontier.runtime import Progress

Files = dict[str, bytes]  # a run folder as {relative posix path: bytes}


@dataclasses.dataclass(frozen=True)
class RayOptions:
    """How ``--executor ray`` runs: the cluster, each run's resources, retries, where folders are written."""

    address: str | None = None  # None: a Ray instance started on this machine, or RAY_ADDRESS; "auto": the local one
    cpus_per_run: float = 1.0
    gpus_per_run: float = 0.0
    max_retries: int = 2  # retries of a run whose worker died, each from its last checkpoint
    checkpoints: bool = False  # also ship checkpoint.pt of finished runs back
    shared_out: bool = False  # --out is a shared file system: workers write there directly

    def validate(self) -> None:
        """One-line errors before anything starts.

        Raises:
            ConfigError: a count out of range (Ray needs whole numbers above 1).
        """
        for flag, v, low in (("--cpus-per-run", self.cpus_per_run, 0.0), ("--gpus-per-run", self.gpus_per_run, None)):
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and (v > low if low is not None else v >= 0)
            if not ok or (v > 1 and v != int(v)):
                what = "> 0" if low is not None else ">= 0"
                raise ConfigError(f"{flag} {v!r}: expected a number {what}, a fraction below 1 or a whole number "
                                  "(like 1, 2 or 0.5)")
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise ConfigError(f"--max-retries {self.max_retries!r}: expected a whole number >= 0")

    @property
    def threads(self) -> int:
        """torch's CPU threads for a run: the whole CPUs it holds, at least one."""
        return max(1, int(self.cpus_per_run))


def threads_for(threads: int | None, cpus_per_run: float | None) -> tuple[int, float]:
    """``(torch threads, CPUs per run)`` from ``--threads`` and ``--cpus-per-run``: either sets the other.

    Raises:
        ConfigError: both given and they disagree (a run would use more or fewer cores than Ray gave it).
    """
    if cpus_per_run is None:
        t = 1 if threads is None else threads
        return t, float(t)
    RayOptions(cpus_per_run=cpus_per_run).validate()
    t = max(1, int(cpus_per_run))
    if threads is not None and threads != t:
        raise ConfigError(f"--threads {threads} and --cpus-per-run {cpus_per_run:g} disagree: a run on "
                          f"{cpus_per_run:g} CPU(s) runs torch on {t} thread(s); give one of the two")
    return t, float(cpus_per_run)


# ----------------------------------------------------------------------------------------- folders as bytes


def pack(folder: Path, *, checkpoint: bool) -> Files:
    """The files of run folder ``folder`` (no symbolic links, no temporary files of atomic writes in flight);
    ``checkpoint.pt`` only if ``checkpoint``."""
    out: Files = {}
    for p in sorted(Path(folder).rglob("*")):
        if p.is_symlink() or not p.is_file() or (p.name.startswith(".") and p.name.endswith(".tmp")):
            continue
        rel = p.relative_to(folder).as_posix()
        if rel == tracking.CHECKPOINT and not checkpoint:
            continue
        out[rel] = p.read_bytes()
    return out


def _checked(rel: str) -> str:
    parts = PurePosixPath(rel).parts
    if not parts or rel.startswith("/") or "\\" in rel or any(p in ("", ".", "..") for p in parts):
        raise DLFrontierError(f"a Ray worker sent a file named {rel!r}; refused (not a path inside a run folder)")
    return rel


def unpack(files: Files, folder: Path) -> None:
    """Write ``files`` under ``folder``, ``summary.json`` last (each file atomically)."""
    for rel in sorted(files, key=lambda r: r == tracking.SUMMARY):
        tracking.atomic_write_bytes(Path(folder) / _checked(rel), files[rel])


def land(files: Files, out: str | Path, name: str, folder: str, patch: dict[str, Any]) -> Path:
    """Write a shipped run folder to ``out/name/folder`` whole or not at all (a hidden folder, then a rename;
    an existing folder of that name, a resumed run's, is replaced). ``patch`` updates its ``summary.json``."""
    out = Path(out)
    target = out / tracking.safe_name(name) / tracking.safe_name(folder)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".ray-landing-", dir=out))
    try:
        files = dict(files)
        summary = json.loads(files.pop(tracking.SUMMARY).decode()) if tracking.SUMMARY in files else {}
        summary.update(patch)
        for key in [k for k, v in patch.items() if v is None]:
            summary.pop(key, None)
        summary["run_dir"] = str(target)
        files[tracking.SUMMARY] = (json.dumps(summary, indent=2, default=tracking._json_default) + "\n").encode()
        unpack(files, staging / "run")
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            os.rename(target, staging / "replaced")
        os.rename(staging / "run", target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _patch_in_place(folder: Path, patch: dict[str, Any]) -> None:
    run = tracking.RunDir(folder)
    summary = run.read_summary()
    summary.update(patch)
    for key in [k for k, v in patch.items() if v is None]:
        summary.pop(key, None)
    run.write_summary(summary)


# ------------------------------------------------------------------------------------------- worker side


@dataclasses.dataclass(frozen=True)
class _Attempt:
    """What one task gets beside its job: which try this is, the folder to continue, the driver's settings."""

    index: int
    attempt: int
    folder: str | None  # the run folder to continue: its name (files shipped) or, with a shared --out, its path
    files: Files | None
    argv: tuple[str, ...]
    shared_out: bool
    checkpoints: bool
    relay: bool


class _HubQueue:
    """The ``put`` that :class:`~dlfrontier.experiments.executors._RelayProgress` needs, sent to the hub actor."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub

    def put(self, msg: Any) -> None:
        self.hub.progress.remote(msg)


def _worker_plan(job: Job, att: _Attempt, staging: Path | None) -> Any:
    """The plan this worker executes: into its staging folder (or the shared ``--out``), continuing the folder
    ``att`` names, if any, from its checkpoint."""
    plan = job.plan
    if att.shared_out:
        if not Path(plan.out).is_dir():
            raise DLFrontierError(f"--ray-shared-out: {plan.out} does not exist on node {socket.gethostname()}; "
                                  "mount the shared file system there, or run without --ray-shared-out")
        folder = Path(att.folder) if att.folder else None
    else:
        plan = dataclasses.replace(plan, out=str(staging), run_dir=None, checkpoint=None, resume=False)
        folder = None
        if att.folder and staging is not None:
            folder = staging / plan.name / att.folder
            unpack(att.files or {}, folder)
    if folder is None:
        return plan
    run = tracking.RunDir(folder)
    ckpt = run.load_checkpoint(plan.name) if run.checkpoint_path.exists() else None
    return dataclasses.replace(plan, resume=True, run_dir=folder, checkpoint=ckpt, done_summary=None)


def _reap_staging() -> None:
    """Remove the staging folders of dead workers (killed: no chance to clean up) in this node's temp dir."""
    for old in Path(tempfile.gettempdir()).glob("dlfrontier-ray-*-*"):
        pid = old.name.split("-")[2]
        if pid.isdigit() and tracking.process_alive({"host": socket.gethostname(), "pid": int(pid)}) is False:
            shutil.rmtree(old, ignore_errors=True)


def _staging() -> Path:
    """A private folder for this worker's run; those of dead workers go first."""
    _reap_staging()
    return Path(tempfile.mkdtemp(prefix=f"dlfrontier-ray-{os.getpid()}-", dir=tempfile.gettempdir()))


def _task(job: Job, att: _Attempt, hub: Any) -> dict[str, Any]:
    """One run in a fresh Ray worker: returns its summary or error, where it ran and (no shared ``--out``) its
    folder's files. Run errors are returned, not raised: only a dead worker is retried."""
    import ray

    from dlfrontier.runtime import pin_threads

    where = {"node_id": ray.get_runtime_context().get_node_id(), "host": socket.gethostname(), "pid": os.getpid(),
             "attempt": att.attempt}
    result: dict[str, Any] = {"summary": None, "error": None, "folder": None, "files": None, "where": where,
                              "resumed_from": None}
    staging = None if att.shared_out else _staging()
    opened: list[Path] = []

    def on_save(run: tracking.RunDir, event: str) -> None:
        if not opened:
            opened.append(run.path)
        folder = str(run.path) if att.shared_out else run.path.name
        files = None if att.shared_out else pack(run.path, checkpoint=True)
        ray.get(hub.saved.remote(att.index, att.attempt, event, folder, files, where))

    relay = _RelayProgress(_HubQueue(hub), att.index) if att.relay else None
    try:  # a cancelled task (Ctrl-C on the driver) gets KeyboardInterrupt: the run is marked, the staging removed
        try:
            pin_threads(job.threads)  # first: results depend on the thread count and on its history in a process
            import dlfrontier.experiments  # noqa: F401  (registers experiments in a fresh process)
            from dlfrontier.experiments.runner import execute

            sys.argv = list(att.argv)  # config.json records the driver's command, as a process pool's worker does
            plan = _worker_plan(job, att, staging)
            result["resumed_from"] = plan.checkpoint.step if plan.checkpoint is not None else None
            result["summary"] = execute(plan, progress=relay, tensorboard=job.tensorboard, on_save=on_save)
        except DLFrontierError as e:
            result["error"] = str(e)
        except Exception as e:  # the run folder holds error.log with the traceback
            result["error"] = f"{type(e).__name__}: {e}"
        finally:
            if relay is not None:
                relay.flush()
        if opened:
            result["folder"] = str(opened[0]) if att.shared_out else opened[0].name
            if not att.shared_out:
                unfinished = result["summary"] is None or result["summary"].get("status") != "done"
                result["files"] = pack(opened[0], checkpoint=att.checkpoints or unfinished)
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    return result


class _Hub:
    """An actor on the driver's node: each run's last folder snapshot (at its opening and at each checkpoint),
    progress messages for the driver's bars, and checkpoint events for ``on_checkpoint``."""

    def __init__(self, hold: bool) -> None:
        self.hold = hold
        self.latest: dict[int, tuple[int, str, str, Files | None, dict[str, Any]]] = {}
        self.messages: list[Any] = []
        self.events: list[tuple[int, dict[str, Any]]] = []
        self.waiting: dict[tuple[int, int, int], Any] = {}
        self.counts: dict[tuple[int, int], int] = {}

    async def saved(self, index: int, attempt: int, event: str, folder: str, files: Files | None,
                    where: dict[str, Any]) -> None:
        import asyncio

        if index in self.latest and self.latest[index][0] > attempt:
            return  # a late message of an attempt already given up
        self.latest[index] = (attempt, event, folder, files, where)
        if event != "checkpoint":
            return
        n = self.counts[(index, attempt)] = self.counts.get((index, attempt), 0) + 1
        self.events.append((index, {**where, "checkpoint": n}))
        if self.hold:  # the driver's on_checkpoint runs before the worker goes on
            done = self.waiting[(index, attempt, n)] = asyncio.Event()
            await done.wait()

    async def progress(self, msg: Any) -> None:
        self.messages.append(msg)

    async def drain(self) -> tuple[list[Any], list[tuple[int, dict[str, Any]]]]:
        messages, events = self.messages, self.events
        self.messages, self.events = [], []
        return messages, events

    async def release(self, index: int, attempt: int, n: int) -> None:
        done = self.waiting.pop((index, attempt, n), None)
        if done is not None:
            done.set()

    async def take(self, index: int) -> tuple[int, str, str, Files | None, dict[str, Any]] | None:
        return self.latest.get(index)

    async def forget(self, index: int) -> None:
        """A run is over: its snapshot (checkpoints can be large) is not kept any longer."""
        self.latest[index] = (1 << 30, "over", "", None, {})


# ------------------------------------------------------------------------------------------- driver side


def _connect(ray: Any, address: str | None) -> None:
    import logging

    try:
        if address is None and "RAY_ADDRESS" not in os.environ:
            ray.init(include_dashboard=False, logging_level=logging.WARNING)
        else:
            ray.init(address=address, logging_level=logging.WARNING)
    except Exception as e:  # ConnectionError, ValueError, RuntimeError: Ray's messages are long
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DLFrontierError(f"--ray-address {address or os.environ.get('RAY_ADDRESS', '(local)')}: cannot start "
                              f"or join a Ray cluster ({first})") from None


def _check_resources(ray: Any, opts: RayOptions) -> None:
    """A run that no node can hold would wait forever: one line instead."""
    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    for flag, key, want in (("--cpus-per-run", "CPU", opts.cpus_per_run), ("--gpus-per-run", "GPU", opts.gpus_per_run)):
        most = max((float(r.get(key, 0.0)) for r in nodes), default=0.0)
        if want > most:
            raise ConfigError(f"{flag} {want:g}: no node of the Ray cluster has that many {key}s "
                              f"(the largest has {most:g})")


def _short(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0]}" if text else type(e).__name__


class _Driver:
    """Submits the jobs, lands what comes back, retries dead workers, cancels on Ctrl-C."""

    def __init__(self, ray: Any, jobs: list[Job], opts: RayOptions, progress_for: Callable[[Job], Progress | None]
                 | None, on_outcome: Callable[[Outcome], None], on_checkpoint: Callable[[Job, dict], None] | None):
        self.ray, self.jobs, self.opts = ray, jobs, opts
        self.progress_for, self.on_outcome, self.on_checkpoint = progress_for, on_outcome, on_checkpoint
        self.active: dict[Any, tuple[int, int]] = {}  # task -> (job index, attempt)
        self.died: dict[int, list[str]] = {}
        self.first: dict[int, tuple[str | None, Files | None]] = {}  # the folder a job starts from (--resume)
        self.groups: dict[Any, Any] = {}  # task -> its placement group
        self.local: Any = None

    def run(self) -> None:
        ray = self.ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=True)
        self.hub = ray.remote(num_cpus=0)(_Hub).options(scheduling_strategy=here).remote(self.on_checkpoint is not None)
        self.remote = ray.remote(num_cpus=self.opts.cpus_per_run, num_gpus=self.opts.gpus_per_run, max_calls=1,
                                 max_retries=0)(_task)
        relay = self._start_relay()
        try:
            for i, job in enumerate(self.jobs):
                if job.plan.done_summary is not None:  # --resume of a finished run: returned as is
                    self.on_outcome(Outcome(job, job.plan.done_summary))
                    continue
                self.first[i] = self._start_folder(job)
                self._submit(i, 0, *self.first[i])
            while self.active:
                ready, _ = ray.wait(list(self.active), num_returns=1, timeout=0.25)
                self._drain()
                for ref in ready:
                    self._finish(ref)
        except BaseException:  # Ctrl-C (or an error of a callback): nothing may keep running
            self.cancel()
            raise
        finally:
            for ref in list(self.groups):
                self._release(ref)
            ray.kill(self.hub)  # a driver that calls again (a sweep) starts a new one
            if relay is not None:
                self.local.put(None)
                relay.join(timeout=5)

    def _start_relay(self) -> threading.Thread | None:
        if self.progress_for is None:
            return None
        import queue

        self.local = queue.Queue()
        relay = threading.Thread(target=_show_relayed, args=(self.local, self.jobs, self.progress_for), daemon=True)
        relay.start()
        return relay

    def _start_folder(self, job: Job) -> tuple[str | None, Files | None]:
        """The folder a ``--resume`` continues: shipped to the worker, or its path on a shared ``--out``."""
        run_dir = job.plan.run_dir
        if run_dir is None:
            return None, None
        if self.opts.shared_out:
            return str(Path(run_dir).resolve()), None
        return Path(run_dir).name, pack(Path(run_dir), checkpoint=True)

    def _submit(self, i: int, attempt: int, folder: str | None, files: Files | None) -> None:
        job = self.jobs[i]
        plan = job.plan
        if self.opts.shared_out:
            plan = dataclasses.replace(plan, out=str(Path(plan.out).resolve()), checkpoint=None, run_dir=None)
            Path(plan.out).mkdir(parents=True, exist_ok=True)
        else:
            plan = dataclasses.replace(plan, checkpoint=None, run_dir=None)
        att = _Attempt(i, attempt, folder, files, tuple(sys.argv), self.opts.shared_out, self.opts.checkpoints,
                       self.progress_for is not None)
        # Each run holds its CPUs (and GPUs) in a placement group of its own: Ray lends a task's CPUs to pending
        # tasks while it waits in ray.get (here: while its checkpoint goes to the hub), which put three runs on two
        # cores (measured); a group's CPUs go to no other task.
        from ray.util.placement_group import placement_group
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        bundle = {"CPU": self.opts.cpus_per_run, **({"GPU": self.opts.gpus_per_run} if self.opts.gpus_per_run else {})}
        group = placement_group([bundle])
        ref = self.remote.options(scheduling_strategy=PlacementGroupSchedulingStrategy(group, 0)).remote(
            dataclasses.replace(job, plan=plan), att, self.hub)
        self.active[ref], self.groups[ref] = (i, attempt), group

    def _release(self, ref: Any) -> None:
        from ray.util.placement_group import remove_placement_group

        group = self.groups.pop(ref, None)
        if group is not None:
            try:
                remove_placement_group(group)
            except Exception:  # the cluster is going away
                pass

    def _drain(self) -> None:
        if self.progress_for is None and self.on_checkpoint is None:
            return
        messages, events = self.ray.get(self.hub.drain.remote())
        if self.local is not None:
            for m in messages:
                self.local.put(m)
        for i, info in events:
            try:
                if self.on_checkpoint is not None:
                    self.on_checkpoint(self.jobs[i], info)
            finally:
                self.hub.release.remote(i, info["attempt"], info["checkpoint"])

    def _record(self, i: int, attempt: int, where: dict[str, Any] | None, resumed_from: int | None) -> dict:
        where = where or {}
        return {"ray": {"node_id": where.get("node_id"), "host": where.get("host"), "pid": where.get("pid"),
                        "attempts": attempt + 1,
                        "resumed_from_step": resumed_from, "worker_deaths": self.died.get(i, [])}}

    def _finish(self, ref: Any) -> None:
        ray = self.ray
        i, attempt = self.active.pop(ref)
        self._release(ref)
        job = self.jobs[i]
        try:
            result = ray.get(ref)
        except ray.exceptions.RayTaskError as e:  # the task's code could not run there (dlfrontier not installed?)
            cause = getattr(e, "cause", None) or e
            self.on_outcome(Outcome(job, None, f"the Ray task could not run: {_short(cause)}"))
            return
        except ray.exceptions.RayError as e:  # the worker died: kill -9, the OOM killer, a lost node
            self.died.setdefault(i, []).append(_short(e))
            self._retry_or_fail(i, attempt)
            return
        if result["folder"] is None:  # failed before its folder existed (e.g. no CUDA on that node)
            self.on_outcome(Outcome(job, None, result["error"]))
            return
        patch = self._record(i, attempt, result["where"], result["resumed_from"])
        if self.opts.shared_out:
            path = Path(result["folder"])
            _patch_in_place(path, patch)
        else:
            path = land(result["files"], job.plan.out, job.name, result["folder"], patch)
        self.hub.forget.remote(i)
        summary = result["summary"]
        if summary is not None:
            summary = {**summary, **patch, "run_dir": str(path)}
        self.on_outcome(Outcome(job, summary, result["error"]))

    def _retry_or_fail(self, i: int, attempt: int) -> None:
        """Continue a run whose worker died from its last snapshot, or give it up after ``--max-retries``."""
        snap = self.ray.get(self.hub.take.remote(i))
        folder, files = (snap[2], snap[3]) if snap is not None else self.first[i]
        if attempt < self.opts.max_retries:
            self._submit(i, attempt + 1, folder, files)
            return
        deaths = self.died[i]
        reason = (f"its Ray worker died {len(deaths)} time(s), given up after --max-retries "
                  f"{self.opts.max_retries} (last: {deaths[-1]})")
        if folder is not None:
            self._land_snapshot(i, attempt, snap, folder, files, "failed", reason)
        self.hub.forget.remote(i)
        self.on_outcome(Outcome(self.jobs[i], None, reason))

    def _land_snapshot(self, i: int, attempt: int, snap: Any, folder: str, files: Files | None, status: str,
                       reason: str | None) -> None:
        """Keep a run that did not finish as ``status`` (its checkpoint with it: ``--resume`` continues it)."""
        patch = {"status": status, "process": None, "finished": tracking._timestamp(), "error": reason,
                 **self._record(i, attempt, snap[4] if snap is not None else None, None)}
        if self.opts.shared_out:
            _patch_in_place(Path(folder), patch)
        else:
            land(files or {}, self.jobs[i].plan.out, self.jobs[i].name, folder, patch)

    def cancel(self) -> None:
        """Ctrl-C: cancel every task (pending ones never start, running ones are stopped), then keep each started
        run as ``interrupted`` from its last snapshot; finished folders are not touched."""
        ray = self.ray
        refs = list(self.active)
        for force, wait in ((False, 15.0), (True, 10.0)):  # KeyboardInterrupt in the task first: it cleans up
            for ref in refs:
                try:
                    ray.cancel(ref, force=force)
                except Exception:  # already finished, or the cluster is going away
                    pass
            if refs:  # the workers are gone before their folders are kept
                refs = ray.wait(refs, num_returns=len(refs), timeout=wait)[1]
        for i, attempt in list(self.active.values()):
            try:
                snap = ray.get(self.hub.take.remote(i), timeout=10)
            except Exception:
                continue
            if snap is not None:  # None: it never started
                self._land_snapshot(i, attempt, snap, snap[2], snap[3], "interrupted", None)
        self.active.clear()
        for ref in list(self.groups):
            self._release(ref)
        _reap_staging()  # a force-killed worker on this node left its staging folder (other nodes: their next task)


def run_ray_jobs(jobs: Iterable[Job], options: RayOptions | None = None, *,
                 progress_for: Callable[[Job], Progress | None] | None = None,
                 on_outcome: Callable[[Outcome], None] | None = None,
                 on_checkpoint: Callable[[Job, dict[str, Any]], None] | None = None) -> list[Outcome]:
    """Run every job as a Ray task; returns their outcomes in completion order (see the module's docstring).

    Connects to ``options.address`` unless Ray is already initialized in this process (then that cluster is used
    and left running); a cluster this call started is shut down at the end.

    Args:
        progress_for: a job's progress bar; the workers' progress and phases are relayed to it.
        on_outcome: called as each job finishes (a run given up after its retries: ``summary`` ``None`` and the
            reason in ``error``, its folder kept as ``failed``).
        on_checkpoint: called on the driver as each checkpoint of a run reaches it, with ``{"node_id", "host",
            "pid", "attempt", "checkpoint"}`` (its count in this attempt); the worker waits until it returns.

    Raises:
        DLFrontierError: Ray is not installed, the cluster cannot be reached, or no node has the resources a run
            asks for (before any run starts).
        KeyboardInterrupt: after the tasks were cancelled and the started runs kept as ``interrupted``.
    """
    opts = options or RayOptions()
    opts.validate()
    jobs = list(jobs)
    ray = require("ray", "ray")
    outcomes: list[Outcome] = []

    def done(o: Outcome) -> None:
        outcomes.append(o)
        if on_outcome is not None:
            on_outcome(o)

    started = not ray.is_initialized()
    if started:
        _connect(ray, opts.address)
    try:
        _check_resources(ray, opts)
        _Driver(ray, jobs, opts, progress_for, done, on_checkpoint).run()
    finally:
        if started:
            ray.shutdown()
    return outcomes

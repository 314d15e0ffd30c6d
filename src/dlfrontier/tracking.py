"""Run folders and metric logging.

A run folder (``runs/<experiment>/<seed>-<UTC timestamp>/``) holds ``config.json``, ``metrics.csv``
(``step,key,value``), ``summary.json``, ``checkpoint.pt`` (written atomically) and ``tb/`` TensorBoard
events. Every file is written through a temporary file and a rename, so a crash never leaves half a file.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import math
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from dlfrontier.errors import CheckpointError

CONFIG = "config.json"
METRICS = "metrics.csv"
SUMMARY = "summary.json"
CHECKPOINT = "checkpoint.pt"
TB_DIR = "tb"


def _umask() -> int:
    """The process's umask, read without changing it where Linux says it (``/proc/self/status``)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A temporary file in ``path``'s folder, open for writing (and reading back); on a clean exit it is flushed,
    fsynced and renamed over ``path`` atomically, on an exception removed (``path`` keeps its old content).

    The file gets the mode a plain ``open(path, "w")`` would give (``0o666`` less the umask), not ``mkstemp``'s 0600.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w+b") as f:
            os.fchmod(f.fileno(), 0o666 & ~_umask())
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and an atomic rename."""
    with atomic_file(path) as f:
        f.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):  # numpy / torch scalars
        return o.item()
    if isinstance(o, (set, tuple)):
        return list(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    return json.loads(Path(path).read_text())


def _numpy_safe_globals() -> list[Any]:
    """NumPy arrays, dtypes and scalars (replay buffers, NumPy's RNG state): data only, no code on unpickling."""
    import numpy as np

    try:
        from numpy._core import multiarray
    except ImportError:  # NumPy < 2
        from numpy.core import multiarray  # type: ignore[no-redef]
    out: list[Any] = [multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype]
    out += [type(np.dtype(t)) for t in "?bBhHiIlLqQefdgFDGSUV"]  # dtype classes, where NumPy pickles them by class
    return out


def _safe_names() -> set[str]:
    return {f"{g.__module__}.{g.__qualname__}" for g in _numpy_safe_globals()}


def torch_load(path: str | os.PathLike[str], *, map_location: Any = "cpu") -> Any:
    """``torch.load`` that unpickles only tensors, containers, numbers, strings and NumPy arrays.

    Anything else (a class, a function: what a crafted file uses to run code) is refused with one line. There is
    no way around it: :func:`save_checkpoint` refuses to write anything else, so no dlfrontier file needs more.

    Raises:
        CheckpointError: missing, corrupt or truncated, or holding objects the safe loader refuses.
    """
    import pickle

    import torch

    path = Path(path)
    try:
        with torch.serialization.safe_globals(_numpy_safe_globals()):
            state = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"no checkpoint at {path}") from None
    except pickle.UnpicklingError:
        try:  # refused for what it holds, or not a checkpoint at all?
            names = sorted(set(torch.serialization.get_unsafe_globals_in_checkpoint(path)) - _safe_names())
        except Exception:
            names = []
        if not names:
            raise CheckpointError(f"checkpoint {path} is corrupt or truncated (UnpicklingError); "
                                  "delete the run folder to start over, or run without --resume") from None
        raise CheckpointError(f"{path} holds objects that could run code when loaded ({', '.join(names[:3])}); "
                              "refused: dlfrontier loads only tensors, numbers, strings, containers and NumPy arrays"
                              ) from None
    except Exception as e:  # torch raises many types for a damaged zip/pickle
        raise CheckpointError(
            f"checkpoint {path} is corrupt or truncated ({type(e).__name__}); "
            "delete the run folder to start over, or run without --resume"
        ) from None
    if isinstance(state, dict) and DIGEST_KEY in state:  # written by save_checkpoint: check every byte it holds
        expected = state.pop(DIGEST_KEY)
        if not isinstance(expected, str) or state_digest(state) != expected:
            raise CheckpointError(f"checkpoint {path} is corrupt (its contents do not match the SHA-256 written with "
                                  "them); delete the run folder to start over, or run without --resume")
    return state


DIGEST_KEY = "__dlfrontier_sha256__"


def state_digest(state: Any) -> str:
    """SHA-256 over everything a checkpoint state holds: every tensor's and array's dtype, shape and bytes, every
    number, string and container (in order). :func:`save_checkpoint` stores it beside the state and
    :func:`torch_load` recomputes it, so a bit flipped inside a tensor's payload (which the zip and pickle layers
    do not notice) is refused instead of loading silently changed weights."""
    import numpy as np
    import torch

    h = hashlib.sha256()

    def walk(x: Any) -> None:
        if isinstance(x, torch.Tensor):
            t = x.detach().cpu().contiguous().reshape(-1)
            h.update(f"T{t.dtype}{tuple(x.shape)}".encode())
            h.update(t.view(torch.uint8).numpy().data)  # the bytes in place: no copy of a large replay buffer
        elif isinstance(x, np.ndarray):
            h.update(f"A{x.dtype.str}{x.shape}".encode())
            h.update(np.ascontiguousarray(x).reshape(-1).view(np.uint8).data)
        elif isinstance(x, dict):
            h.update(f"D{len(x)}".encode())
            for k, v in x.items():
                walk(k)
                walk(v)
        elif isinstance(x, (list, tuple)):
            h.update(f"{type(x).__name__[0]}{len(x)}".encode())
            for v in x:
                walk(v)
        else:
            h.update(f"{type(x).__name__}:{x!r};".encode())

    walk(state)
    return h.hexdigest()


def save_checkpoint(path: str | os.PathLike[str], state: Mapping[str, Any]) -> None:
    """``torch.save`` to memory, then an atomic write: a crash mid-save keeps the previous checkpoint. The state's
    :func:`state_digest` is stored with it (key :data:`DIGEST_KEY`; loading checks and removes it).

    Raises:
        CheckpointError: ``state`` holds something :func:`load_checkpoint` would refuse (nothing is written).
    """
    import torch

    state = dict(state)
    state.pop(DIGEST_KEY, None)
    state[DIGEST_KEY] = state_digest(state)
    # Straight into the temporary file (not through memory: a replay buffer of gigabytes would be held twice more),
    # checked there, then renamed over the old checkpoint.
    with atomic_file(path) as f:
        torch.save(state, f)
        f.flush()
        check_safe(f)


def check_safe(f: Any) -> None:
    """Raise :class:`CheckpointError` if the ``torch.save`` output ``f`` needs more than the safe loader allows."""
    import torch

    f.seek(0)
    unsafe = sorted(set(torch.serialization.get_unsafe_globals_in_checkpoint(f)) - _safe_names())
    f.seek(0)
    if unsafe:
        raise CheckpointError(f"a checkpoint may hold only tensors, containers, numbers, strings and NumPy arrays; "
                              f"this state holds {', '.join(unsafe)}")


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint`, safely (see :func:`torch_load`).

    Raises:
        CheckpointError: missing, corrupt, not a dlfrontier state dict, or refused by the safe loader.
    """
    path = Path(path)
    state = torch_load(path)
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {path} does not hold a dlfrontier state dict")
    return state


def _timestamp() -> str:
    import datetime as _dt

    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")


def _process_start(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks after boot, ``/proc/<pid>/stat``), or ``None`` where unknown."""
    try:
        stat = Path(f"/proc/{int(pid)}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def process_record() -> dict[str, Any]:
    """Who is running a run: ``{"pid", "host", "started", "pid_start"}`` (``summary.json``'s ``process`` while it
    runs), so that a run killed without a chance to say so (SIGKILL, a crash of the machine) can be told apart
    from a live one (:func:`run_status`)."""
    import socket

    return {"pid": os.getpid(), "host": socket.gethostname(), "started": _timestamp(),
            "pid_start": _process_start(os.getpid())}


def process_alive(record: Any) -> bool | None:
    """Whether the process of a :func:`process_record` is still alive: ``None`` when it cannot be told (another
    host, or no usable record); a recycled pid (another start time) counts as dead."""
    import socket

    if not isinstance(record, dict) or record.get("host") != socket.gethostname():
        return None
    pid = record.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        pass
    except OSError:
        return None
    started, now = record.get("pid_start"), _process_start(pid)
    if isinstance(started, int) and now is not None and now != started:
        return False  # the pid was reused by a later process
    return True


def run_status(summary: Mapping[str, Any]) -> str:
    """A summary's status as read now: ``running`` whose process died on this host (killed, crashed) is ``stale``.

    ``stale`` is never written to ``summary.json`` (its statuses are ``running``, ``done``, ``failed``,
    ``interrupted``); ``--resume`` continues a stale run from its checkpoint and the report counts it as stale.
    """
    status = str(summary.get("status"))
    if status == "running" and process_alive(summary.get("process")) is False:
        return "stale"
    return status


def check_writable_folder(path: str | os.PathLike[str], what: str = "--out") -> Path:
    """Check, without creating anything, that folder ``path`` exists and is writable or can be created.

    Raises:
        DLFrontierError: ``path`` or one of its parents is a file, or the nearest existing folder is not writable.
    """
    from dlfrontier.errors import DLFrontierError

    path = Path(path)
    probe = path.absolute()
    while not probe.exists() and not probe.is_symlink() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        where = "" if probe == path.absolute() else f" ({probe} is a file)"
        raise DLFrontierError(f"{what} {path}: not a folder{where}")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise DLFrontierError(f"{what} {path}: {probe} is not writable")
    return path


def safe_name(name: str) -> str:
    """``name`` if it can be one path component (letters, digits, ``-_.``, not ``.``/``..``), else an error."""
    ok = name and name not in (".", "..") and all(c.isalnum() or c in "-_." for c in name)
    if not ok:
        raise ValueError(f"{name!r} cannot name a folder: use letters, digits, '-', '_' and '.'")
    return name


@dataclass(frozen=True)
class Checkpoint:
    """A run's checkpoint: the run function's own ``state`` and where the run stood when it was saved."""

    experiment: str
    seed: int
    step: int
    metrics_rows: int
    wall_seconds: float
    state: dict[str, Any]


class RunDir:
    """One run folder, ``<out>/<experiment>/<seed>-<UTC time>/``: creating it and reading and writing its files.

    Every write is atomic (a temporary file and a rename), so an interrupt never leaves half a file.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    @classmethod
    def create(cls, out: str | os.PathLike[str], experiment: str, seed: int) -> RunDir:
        """A new, empty run folder of ``experiment`` and ``seed`` under ``out``."""
        path = Path(out) / safe_name(experiment) / f"{int(seed)}-{_timestamp()}"
        path.mkdir(parents=True, exist_ok=False)
        return cls(path)

    @classmethod
    def newest(cls, out: str | os.PathLike[str], experiment: str, seed: int) -> RunDir | None:
        """The newest run folder of ``experiment`` and ``seed`` that has a summary, or ``None``."""
        root = Path(out) / safe_name(experiment)
        if not root.is_dir():
            return None
        found = sorted(p for p in root.glob(f"{int(seed)}-*") if (p / SUMMARY).is_file() and not p.is_symlink())
        return cls(found[-1]) if found else None

    @property
    def checkpoint_path(self) -> Path:
        return self.path / CHECKPOINT

    def is_run(self) -> bool:
        return (self.path / SUMMARY).is_file()

    def write_config(self, record: Mapping[str, Any]) -> None:
        atomic_write_json(self.path / CONFIG, record)

    def read_config(self) -> dict[str, Any]:
        return _read_dict(self.path / CONFIG)

    def write_summary(self, summary: Mapping[str, Any]) -> None:
        atomic_write_json(self.path / SUMMARY, summary)

    def read_summary(self) -> dict[str, Any]:
        return _read_dict(self.path / SUMMARY)

    def metrics(self) -> dict[str, list[tuple[int, float]]]:
        return read_metrics(self.path)

    def logger(self, *, tensorboard: bool = True, resume: Checkpoint | None = None, keep: bool = False) -> Logger:
        """The run's metric logger; on a resume, rows logged after ``resume`` was saved are dropped.

        ``keep``: a resume with no checkpoint yet keeps no rows (the run starts over in the same folder).
        """
        if resume is not None:
            return Logger(self.path, tensorboard=tensorboard, keep_rows=resume.metrics_rows,
                          purge_step=resume.step + 1)
        return Logger(self.path, tensorboard=tensorboard, keep_rows=0 if keep else None)

    def save_checkpoint(self, state: Mapping[str, Any], *, experiment: str, seed: int, step: int,
                        metrics_rows: int, wall_seconds: float) -> None:
        save_checkpoint(self.checkpoint_path, {
            "experiment": experiment, "seed": int(seed), "step": int(step), "metrics_rows": int(metrics_rows),
            "wall_seconds": float(wall_seconds), "user": dict(state)})

    def load_checkpoint(self, experiment: str | None = None) -> Checkpoint:
        """The checkpoint, loaded safely; ``experiment``: refuse one written by another experiment.

        Raises:
            CheckpointError: missing, corrupt, refused by the safe loader, or not a checkpoint of ``experiment``.
        """
        raw = load_checkpoint(self.checkpoint_path)
        if "user" not in raw or (experiment is not None and raw.get("experiment") != experiment):
            raise CheckpointError(f"{self.checkpoint_path} is not a checkpoint of {experiment or 'a dlfrontier run'}")
        return Checkpoint(str(raw.get("experiment")), int(raw.get("seed", -1)), int(raw.get("step", 0)),
                          int(raw.get("metrics_rows", 0)), float(raw.get("wall_seconds", 0.0)), raw["user"])


def _read_dict(path: Path) -> dict[str, Any]:
    from dlfrontier.errors import DLFrontierError

    try:
        data = read_json(path)
    except FileNotFoundError:
        raise DLFrontierError(f"{path.parent} is not a run folder (no {path.name})") from None
    except (OSError, ValueError) as e:
        raise DLFrontierError(f"{path} is not readable JSON ({type(e).__name__})") from None
    if not isinstance(data, dict):
        raise DLFrontierError(f"{path} does not hold a JSON object")
    return data


# Interrupts (Ctrl-C, SIGTERM) are exceptions raised wherever the main thread happens to be. Inside TensorBoard's
# writer (its queue and background thread) one can leave the writer unable to close: measured, a SIGTERM sent as
# the first checkpoint appeared hung `SummaryWriter.close()` (joining a writer thread that never got its stop
# signal) in 1 of 17 runs, two at a time (tests/test_cli.py's SIGTERM test timed out in CI the same way); with the
# deferral, 60 of 60 ended cleanly. The signal handlers of `dlfrontier.experiments.runner` therefore defer an
# interrupt that arrives inside `critical()` to the end of the section.
_critical_depth = 0
_pending: list[BaseException] = []


def in_critical() -> bool:
    """Whether the main thread is inside :func:`critical` (signal handlers defer their interrupt then)."""
    return _critical_depth > 0


def defer_interrupt(exc: BaseException) -> None:
    """Raise ``exc`` when the outermost :func:`critical` section ends (the first one deferred wins)."""
    if not _pending:
        _pending.append(exc)


@contextlib.contextmanager
def critical() -> Iterator[None]:
    """A section an interrupt must not cut (TensorBoard writes, closing the logger): an interrupt deferred with
    :func:`defer_interrupt` inside it is raised as the outermost section ends normally."""
    global _critical_depth
    _critical_depth += 1
    try:
        yield
    except BaseException:
        if _critical_depth == 1:
            _pending.clear()  # the section's own error ends the run; a deferred interrupt must not fire later
        raise
    finally:
        _critical_depth -= 1
    if _critical_depth == 0 and _pending:
        raise _pending.pop()  # defer_interrupt keeps at most one


class Logger:
    """Namespaced scalar metrics (``train/loss``, ``eval/return``) to ``metrics.csv`` and TensorBoard.

    Args:
        run_dir: the run folder.
        tensorboard: also write TensorBoard events under ``run_dir/tb``.
        keep_rows: on resume, the number of rows of an existing ``metrics.csv`` to keep (rows logged after
            the checkpoint are dropped so that a resumed run does not log them twice); ``None`` starts anew.
        purge_step: on resume, TensorBoard events at or after this step are discarded.
    """

    def __init__(
        self,
        run_dir: Path,
        *,
        tensorboard: bool = True,
        keep_rows: int | None = None,
        purge_step: int | None = None,
    ) -> None:
        self.path = Path(run_dir) / METRICS
        self.last: dict[str, float] = {}
        self.rows = 0
        if keep_rows is not None and self.path.exists():
            with open(self.path, newline="") as f:
                kept = list(csv.reader(f))[1 : 1 + keep_rows]
            buf = io.StringIO("step,key,value\n")  # the header a new file gets: a resumed file has the same bytes
            buf.seek(0, io.SEEK_END)
            csv.writer(buf).writerows(kept)
            atomic_write_text(self.path, buf.getvalue())
            for _step, key, value in kept:
                self.last[key] = float(value)
            self.rows = len(kept)
        else:
            atomic_write_text(self.path, "step,key,value\n")
        self._file = open(self.path, "a", newline="")
        self._csv = csv.writer(self._file)
        self._tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(Path(run_dir) / TB_DIR), purge_step=purge_step)

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        """Record scalar ``metrics`` at ``step``; each row is flushed so an interrupt loses nothing (an interrupt
        arriving meanwhile is raised after the rows are written: :func:`critical`)."""
        with critical():
            for key, value in metrics.items():
                v = float(value)
                self._csv.writerow([int(step), key, repr(v) if math.isfinite(v) else str(v)])
                self.last[key] = v
                self.rows += 1
                if self._tb is not None:
                    self._tb.add_scalar(key, v, int(step))
            self._file.flush()

    def close(self) -> None:
        with critical():
            if not self._file.closed:
                self._file.close()
            if self._tb is not None:
                self._tb.close()
                self._tb = None


def read_metrics(run_dir: str | os.PathLike[str]) -> dict[str, list[tuple[int, float]]]:
    """``metrics.csv`` as ``{key: [(step, value), ...]}`` in logged order.

    A row that is not ``step,key,value`` (cut short by a crash, or damaged: bytes that are not UTF-8, a step that
    is not a 64-bit integer, a value that is not a number) is left out; a file the csv module cannot read on ends there.
    """
    out: dict[str, list[tuple[int, float]]] = {}
    path = Path(run_dir) / METRICS
    if not path.is_file():
        return out
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        reader = csv.reader(f)
        try:
            next(reader, None)
            for row in reader:
                if len(row) != 3:
                    continue  # a row cut short by a crash
                try:
                    step, value = int(row[0]), float(row[2])
                except ValueError:
                    continue
                if abs(step) < 2**63:  # a step no run logs is damage
                    out.setdefault(row[1], []).append((step, value))
        except csv.Error:  # e.g. a field over the csv module's size limit
            pass
    return out

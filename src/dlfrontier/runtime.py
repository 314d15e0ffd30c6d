"""What a training loop needs from the run around it, with no dependency on the experiment layer.

Capability packages (``rl``, ``attention``, ``compression``, ``multimodal``, ``models``) write training loops
against :class:`RunContext`; the experiment runner builds one per run. Also here: the one CPU-threads helper,
seeding, RNG states for checkpoints, and device selection.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from dlfrontier.errors import ConfigError


class Progress(Protocol):
    """What a run reports its progress to (a rich bar in the CLI, nothing in tests).

    ``phase(name)`` is optional: call it through :func:`show_phase`, which skips a progress without one.
    """

    def start(self, total: float, unit: str = "steps") -> None: ...

    def update(self, completed: float, **info: float) -> None: ...

    def phase(self, name: str) -> None:
        """The run now does ``name`` ("generating 16,000 Sort-of-CLEVR images", "pruning round 2"): work that the
        step count does not show."""


class NullProgress:
    """A :class:`Progress` that shows nothing."""

    def start(self, total: float, unit: str = "steps") -> None:
        pass

    def update(self, completed: float, **info: float) -> None:
        pass

    def phase(self, name: str) -> None:
        pass


def show_phase(progress: Any, name: str) -> None:
    """Tell ``progress`` the run entered phase ``name`` (nothing if it has no ``phase`` method). Only shows: no
    RNG, no state a result depends on."""
    method = getattr(progress, "phase", None)
    if callable(method):
        method(name)


class MetricLogger(Protocol):
    def log(self, metrics: Mapping[str, float], step: int) -> None: ...


@dataclass
class RunContext:
    """Everything a run function needs besides its config.

    Attributes:
        experiment: the experiment's name.
        seed: the run's seed (Python, NumPy and torch are already seeded with it).
        budget: ``"quick"`` or ``"full"``.
        device: the torch device to train on.
        run_dir: the run folder; write extra artefacts (plots, GIFs, ``tables/*.json``) here.
        logger: ``logger.log({"train/loss": 0.1}, step)``.
        progress: ``progress.start(total)`` once, then ``progress.update(done, **info)``.
        resume_state: the state passed to :meth:`save_checkpoint` by the run being resumed, else ``None``.
        checkpoint_hook: set by the runner: writes the checkpoint (atomically, with the logger's position).
    """

    experiment: str
    seed: int
    budget: str
    device: Any
    run_dir: Path
    logger: Any
    progress: Progress = field(default_factory=NullProgress)
    resume_state: dict[str, Any] | None = None
    checkpoint_hook: Callable[[dict[str, Any], int], None] | None = None

    def save_checkpoint(self, state: Mapping[str, Any], step: int) -> None:
        """Save ``state`` as the run's checkpoint; ``--resume`` hands it back as :attr:`resume_state`.

        Include everything needed to continue exactly: model and optimizer state, the loop position and
        RNG states (:func:`rng_state`).
        """
        if self.checkpoint_hook is None:
            raise RuntimeError("RunContext.save_checkpoint needs a checkpoint_hook (the runner sets one)")
        self.checkpoint_hook(dict(state), int(step))


def rng_state() -> dict[str, Any]:
    """The states of Python's, NumPy's and torch's global generators, for a checkpoint."""
    import numpy as np
    import torch

    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    import numpy as np
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


_PINNED: int | None = None  # the process-wide torch thread count once pin_threads ran (the CLI, a pool worker)


def pin_threads(n: int) -> None:
    """Fix torch's intra-op CPU thread count for the rest of this process, before anything is built.

    Results depend on the thread count and on its history in a process (a run that starts on two threads and then
    trains on one differs in the last bits from a run on one thread throughout), so the CLI and every executor's
    worker call this once, first; :func:`cpu_threads` blocks are then no-ops. Pinning again to the same count is
    allowed, to another one is an error.

    Raises:
        ConfigError: ``n < 1``, or this process is already pinned to another count.
    """
    global _PINNED
    import torch

    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"--threads {n!r}: expected a positive count of CPU threads, like 1")
    if _PINNED is not None and _PINNED != n:
        raise ConfigError(f"--threads {n}: this process already runs on {_PINNED} thread(s); start a new one")
    torch.set_num_threads(n)
    _PINNED = n


def pinned_threads() -> int | None:
    """The count :func:`pin_threads` fixed, or ``None`` when nothing pinned it."""
    return _PINNED


@contextlib.contextmanager
def cpu_threads(n: int | None) -> Iterator[None]:
    """Use ``n`` torch intra-op CPU threads inside the block and restore the previous count after it.

    ``None`` leaves torch's setting alone, and so does a pinned process (:func:`pin_threads`: the CLI's
    ``--threads`` wins). Small networks on a shared 2-core machine run several times faster on one thread than on
    two oversubscribed ones.
    """
    import torch

    if _PINNED is not None:
        yield
        return
    before = torch.get_num_threads()
    if n is not None:
        if n < 1:
            raise ConfigError(f"threads={n}: expected a positive count, or none to keep torch's setting")
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def resolve_device(device: str = "auto") -> Any:
    """``auto`` (CUDA when present), ``cpu``, ``cuda`` or ``cuda:N`` -> a ``torch.device``."""
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ConfigError(f"--device {device!r}: choose auto, cpu or cuda")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA device is available here; use --device cpu or auto")
    return torch.device(device)

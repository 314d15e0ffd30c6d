"""Run one experiment for one seed into a run folder, with checkpoints, interrupt handling and resume."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import platform
import random
import signal
import sys
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dlfrontier import tracking
from dlfrontier.errors import CheckpointError, ConfigError, DLFrontierError
from dlfrontier.experiments.base import EXPERIMENTS, NullProgress, Progress, RunContext


def resolve_device(device: str = "auto") -> Any:
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ConfigError(f"--device {device!r}: choose auto, cpu or cuda")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA device is available here; use --device cpu or auto")
    return torch.device(device)


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def versions() -> dict[str, str]:
    import numpy
    import torch

    import dlfrontier

    out = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "dlfrontier": dlfrontier.__version__,
    }
    try:
        import gymnasium

        out["gymnasium"] = gymnasium.__version__
    except ImportError:  # pragma: no cover - core dependency
        pass
    return out


def _timestamp() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")


def find_resumable(out: Path, name: str, seed: int) -> Path | None:
    """The newest run folder of ``name`` and ``seed`` under ``out``, or ``None``."""
    root = Path(out) / name
    if not root.is_dir():
        return None
    candidates = sorted(p for p in root.glob(f"{seed}-*") if (p / tracking.SUMMARY).exists())
    return candidates[-1] if candidates else None


class _Terminate(KeyboardInterrupt):
    """SIGTERM, turned into an interrupt so that the run stops the same way as on Ctrl-C."""


def _raise_terminate(signum: int, frame: Any) -> None:
    raise _Terminate()


@dataclasses.dataclass
class RunPlan:
    """What :func:`run_one` will do, worked out without writing anything."""

    experiment: Any
    config: Any
    config_dict: dict[str, Any]
    device: Any
    run_dir: Path | None = None
    state: dict[str, Any] | None = None
    previous_wall: float = 0.0
    done_summary: dict[str, Any] | None = None


def plan_run(
    name: str,
    seed: int,
    *,
    budget: str = "quick",
    device: str = "auto",
    overrides: Mapping[str, str] | None = None,
    out: str | Path = "runs",
    resume: bool = False,
) -> RunPlan:
    """Validate a run (name, config, device, and on resume its folder and checkpoint) without writing.

    Raises:
        DLFrontierError: unknown name, bad config, missing data files, a resume whose settings differ, a corrupt
            checkpoint.
    """
    exp = EXPERIMENTS.get(name)
    cfg = exp.make_config(budget, overrides)
    if exp.datasets(cfg):
        from dlfrontier.data.mnist import require_idx_dataset  # torch-free callers (list, report) skip the import

        for dataset in exp.datasets(cfg):
            require_idx_dataset(dataset)
    plan = RunPlan(exp, cfg, dataclasses.asdict(cfg), resolve_device(device))
    if not resume:
        return plan
    plan.run_dir = find_resumable(Path(out), name, seed)
    if plan.run_dir is None:
        return plan
    old = tracking.read_json(plan.run_dir / tracking.SUMMARY)
    if old.get("status") == "done":
        plan.done_summary = old
        return plan
    saved = tracking.read_json(plan.run_dir / tracking.CONFIG)
    if saved.get("budget") != budget or saved.get("config") != json_roundtrip(plan.config_dict):
        raise ConfigError(
            f"--resume: {plan.run_dir} was started with another budget or config; "
            "repeat its settings or run without --resume"
        )
    ckpt = plan.run_dir / tracking.CHECKPOINT
    if ckpt.exists():
        plan.state = tracking.load_checkpoint(ckpt)
        if plan.state.get("experiment") != name or "user" not in plan.state:
            raise CheckpointError(f"{ckpt} is not a checkpoint of {name}")
        plan.previous_wall = float(plan.state.get("wall_seconds", 0.0))
    return plan


def run_one(
    name: str,
    seed: int,
    *,
    budget: str = "quick",
    device: str = "auto",
    overrides: Mapping[str, str] | None = None,
    out: str | Path = "runs",
    resume: bool = False,
    progress: Progress | None = None,
    tensorboard: bool = True,
) -> dict[str, Any]:
    """Run experiment ``name`` with ``seed`` and return its ``summary.json`` content.

    Raises:
        DLFrontierError: for user errors (unknown name, bad config, corrupt checkpoint), before any file
            is written.
        KeyboardInterrupt: after the run folder was marked ``interrupted`` (Ctrl-C or SIGTERM).
    """
    plan = plan_run(name, seed, budget=budget, device=device, overrides=overrides, out=out, resume=resume)
    if plan.done_summary is not None:
        return plan.done_summary
    exp, cfg, dev, cfg_dict = plan.experiment, plan.config, plan.device, plan.config_dict
    run_dir, state, previous_wall = plan.run_dir, plan.state, plan.previous_wall
    if run_dir is None:
        run_dir = Path(out) / name / f"{seed}-{_timestamp()}"
        run_dir.mkdir(parents=True, exist_ok=False)
        tracking.atomic_write_json(
            run_dir / tracking.CONFIG,
            {
                "experiment": name,
                "seed": seed,
                "budget": budget,
                "config": cfg_dict,
                "device": str(dev),
                "versions": versions(),
                "started": _timestamp(),
                "command": sys.argv,
            },
        )

    expect = exp.criterion(budget)
    summary: dict[str, Any] = {
        "experiment": name,
        "seed": int(seed),
        "budget": budget,
        "status": "running",
        "metrics": {},
        "expect": expect.verdict({}),
        "anchor": exp.anchor.as_dict(),
        "wall_seconds": previous_wall,
        "group": exp.group,
        "run_dir": str(run_dir),
    }
    tracking.atomic_write_json(run_dir / tracking.SUMMARY, summary)

    logger = tracking.Logger(
        run_dir,
        tensorboard=tensorboard,
        keep_rows=state["metrics_rows"] if state is not None else (0 if resume else None),
        purge_step=state["step"] + 1 if state is not None else None,
    )
    start = time.perf_counter()

    def hook(user_state: dict[str, Any], step: int) -> None:
        tracking.save_checkpoint(
            run_dir / tracking.CHECKPOINT,
            {
                "experiment": name,
                "seed": seed,
                "step": step,
                "metrics_rows": logger.rows,
                "wall_seconds": previous_wall + time.perf_counter() - start,
                "user": user_state,
            },
        )

    ctx = RunContext(
        experiment=name,
        seed=seed,
        budget=budget,
        device=dev,
        run_dir=run_dir,
        logger=logger,
        progress=progress or NullProgress(),
        resume_state=state["user"] if state is not None else None,
        checkpoint_hook=hook,
    )
    seed_everything(seed)
    old_handler = None
    try:
        old_handler = signal.signal(signal.SIGTERM, _raise_terminate)
    except ValueError:  # not the main thread: leave SIGTERM alone
        pass
    status, error = "failed", None
    metrics: dict[str, float] = {}
    try:
        result = exp.fn(ctx, cfg)
        metrics = {k: float(v) for k, v in dict(result).items()}
        status = "done"
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    except DLFrontierError as e:
        error = str(e)
        raise
    except Exception as e:
        error = f"{type(e).__name__}: {e}"
        tracking.atomic_write_text(run_dir / "error.log", traceback.format_exc())
        raise
    finally:
        if old_handler is not None:
            signal.signal(signal.SIGTERM, old_handler)
        logger.close()
        final = metrics if status == "done" else dict(logger.last)
        summary.update(
            status=status,
            metrics=final,
            expect=expect.verdict(final) if status == "done" else {**expect.verdict(final), "passed": False},
            wall_seconds=previous_wall + time.perf_counter() - start,
            finished=_timestamp(),
        )
        if error:
            summary["error"] = error
        tracking.atomic_write_json(run_dir / tracking.SUMMARY, summary)
    return summary


def json_roundtrip(obj: Any) -> Any:
    import json

    return json.loads(json.dumps(obj, default=tracking._json_default))

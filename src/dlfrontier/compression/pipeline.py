"""Phases of a compression run: each phase trains or transforms the model, then checkpoints the result.

Used by the Deep Compression experiments (Han, Mao and Dally, "Deep Compression", ICLR 2016,
https://arxiv.org/abs/1510.00149: train -> prune/retrain -> share/fine-tune -> encode). A resumed run skips
the phases already finished (restoring the model they produced) and reruns the interrupted one from its
start; each training phase gets its own seed, so the batch orders do not repeat across phases.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from torch import nn

from dlfrontier.compression.state import restore, snapshot
from dlfrontier.data.mnist import ImageSet
from dlfrontier.models.classifier import TrainConfig, fit_classifier, train_size
from dlfrontier.runtime import show_phase

_LABELS = {"baseline": "training the baseline", "binary": "training binary weights",
           "sweep": "sharing the pruned weights at each bit width (sweep)",
           "share": "sharing weights (k-means) and fine-tuning"}


def phase_label(name: str) -> str:
    """What a phase does, for the progress line: ``"prune2"`` -> ``"pruning round 2"``."""
    m = re.fullmatch(r"prune(\d+)", name)
    return f"pruning round {m[1]} (prune, then retrain)" if m else _LABELS.get(name, name)


class _Offset:
    """Progress and logger views that shift a phase's local step to the run's global step."""

    def __init__(self, pipe: Pipeline) -> None:
        self.pipe = pipe

    # progress
    def start(self, total: float, unit: str = "steps") -> None:
        pass

    def update(self, completed: float, **info: float) -> None:
        self.pipe.ctx.progress.update(self.pipe.offset + completed, **info)

    # logger
    def log(self, metrics: dict[str, float], step: int) -> None:
        self.pipe.ctx.logger.log(metrics, self.pipe.offset + step)


class _PhaseContext:
    """What :func:`fit_classifier` needs, for one phase (no mid-phase checkpoints)."""

    def __init__(self, pipe: Pipeline, seed: int) -> None:
        view = _Offset(pipe)
        self.seed, self.device, self.logger, self.progress = seed, pipe.ctx.device, view, view
        self.resume_state = None

    def save_checkpoint(self, state: Any, step: int) -> None:
        pass


class Pipeline:
    """Runs named phases once, checkpointing ``{results, model snapshot, global step}`` after each.

    Args:
        ctx: the run's :class:`~dlfrontier.runtime.RunContext`.
        total_steps: the run's total training iterations (for the progress bar).
    """

    def __init__(self, ctx: Any, total_steps: int) -> None:
        self.ctx = ctx
        carry = (ctx.resume_state or {}).get("carry") or {}
        self.results: dict[str, dict[str, Any]] = dict(carry.get("results", {}))
        self.offset: int = int(carry.get("offset", 0))
        self._snap: dict[str, Any] | None = carry.get("model")
        self._phases = 0
        ctx.progress.start(total_steps, unit="it")
        ctx.progress.update(self.offset)

    def phase(self, name: str, model: nn.Module, work: Callable[[], dict[str, Any]],
              label: str | None = None) -> dict[str, Any]:
        """Run ``work()`` (which changes ``model``) unless phase ``name`` already finished before a resume; the
        progress shows ``label`` (default: :func:`phase_label` of ``name``) while it runs."""
        self._phases += 1
        if name in self.results:
            if self._is_last_done(name):
                assert self._snap is not None
                restore(model, self._snap)
            return self.results[name]
        show_phase(self.ctx.progress, label or phase_label(name))
        result = work()
        self.results[name] = result
        snap = snapshot(model)
        self.ctx.save_checkpoint(
            {"carry": {"results": self.results, "offset": self.offset, "model": snap}}, step=self.offset
        )
        return result

    def _is_last_done(self, name: str) -> bool:
        names = list(self.results)
        return names[-1] == name

    def fit(self, model: nn.Module, train: ImageSet, test: ImageSet, cfg: TrainConfig) -> dict[str, float]:
        """Train ``model`` with :func:`fit_classifier`, logging at global steps; advances the global step."""
        out = fit_classifier(_PhaseContext(self, self.ctx.seed * 1009 + self._phases), model, train, test, cfg)
        n = train_size(cfg, len(train.labels))
        self.offset += cfg.epochs * -(-n // cfg.batch_size)
        return out

"""The experiment contract: metadata, budgets, anchor, criterion, config and the context a run receives."""

from __future__ import annotations

import dataclasses
import operator
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from dlfrontier.errors import ConfigError
from dlfrontier.registry import Registry

GROUPS = ("rl", "attention", "multimodal", "compression", "dual", "physics")
BUDGETS = ("quick", "full")

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}


@dataclass(frozen=True)
class Anchor:
    """The published or peer number a result is compared with."""

    metric: str
    value: float
    source: str

    def as_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "value": float(self.value), "source": self.source}


@dataclass(frozen=True)
class Expect:
    """The criterion a run must meet at its budget, e.g. ``Expect("eval/accuracy", ">=", 0.975)``."""

    metric: str
    op: str
    threshold: float

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise ValueError(f"expect op {self.op!r} not in {sorted(_OPS)}")

    def passed(self, value: float | None) -> bool:
        return value is not None and value == value and _OPS[self.op](float(value), self.threshold)

    def verdict(self, metrics: Mapping[str, float]) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "op": self.op,
            "threshold": float(self.threshold),
            "passed": bool(self.passed(metrics.get(self.metric))),
        }

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.threshold:g}"


class Progress(Protocol):
    """What a run reports its progress to (a rich bar in the CLI, nothing in tests)."""

    def start(self, total: float, unit: str = "steps") -> None: ...

    def update(self, completed: float, **info: float) -> None: ...


class NullProgress:
    def start(self, total: float, unit: str = "steps") -> None:
        pass

    def update(self, completed: float, **info: float) -> None:
        pass


@dataclass
class RunContext:
    """Everything a run function needs besides its config.

    Attributes:
        experiment: the experiment's name.
        seed: the run's seed (Python, NumPy and torch are already seeded with it).
        budget: ``"quick"`` or ``"full"``.
        device: the torch device to train on.
        run_dir: the run folder; write extra artefacts (plots, GIFs) here.
        logger: ``logger.log({"train/loss": 0.1}, step)``.
        progress: ``progress.start(total)`` once, then ``progress.update(done, **info)``.
        resume_state: the state passed to :meth:`save_checkpoint` by the run being resumed, else ``None``.
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
        """Save ``state`` atomically as the run's checkpoint (with the logger's position, for resume).

        Include everything needed to continue exactly: model and optimizer state, the loop position and
        RNG states (see :func:`dlfrontier.experiments.base.rng_state`).
        """
        assert self.checkpoint_hook is not None, "RunContext without a runner"
        self.checkpoint_hook(dict(state), int(step))


def rng_state() -> dict[str, Any]:
    """The states of Python's, NumPy's and torch's global generators, for a checkpoint."""
    import random

    import numpy as np
    import torch

    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def set_rng_state(state: Mapping[str, Any]) -> None:
    import random

    import numpy as np
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


RunFn = Callable[[RunContext, Any], Mapping[str, float]]


@dataclass(frozen=True)
class Experiment:
    """A registered experiment; see ``DESIGN.md`` (Contracts, Experiment)."""

    name: str
    group: str
    summary: str
    topic: str
    config: type
    budgets: Mapping[str, Mapping[str, Any]]
    anchor: Anchor
    expect: Mapping[str, Expect]
    fn: RunFn
    curve: str | None = None
    demo: bool = False
    evaluate: Callable[..., Any] | None = None
    data: Sequence[str] | Callable[[Any], Sequence[str]] = ()

    def criterion(self, budget: str) -> Expect:
        return self.expect.get(budget) or self.expect["quick"]

    def make_config(self, budget: str, overrides: Mapping[str, str] | None = None) -> Any:
        """The config of ``budget`` with ``--set`` style string overrides applied and validated."""
        if budget not in self.budgets:
            raise ConfigError(f"unknown budget {budget!r} for {self.name}; choose one of: {', '.join(self.budgets)}")
        values = dict(self.budgets[budget])
        values.update(parse_overrides(self.config, overrides or {}))
        return self.config(**values)

    def datasets(self, cfg: Any) -> tuple[str, ...]:
        """The data-root data sets (folder names, e.g. ``mnist``) a run with ``cfg`` reads."""
        return tuple(self.data(cfg) if callable(self.data) else self.data)


EXPERIMENTS: Registry[Experiment] = Registry("experiment")


def experiment(
    name: str,
    *,
    group: str,
    summary: str,
    topic: str,
    config: type,
    budgets: Mapping[str, Mapping[str, Any]],
    anchor: Anchor,
    expect: Expect | Mapping[str, Expect],
    curve: str | None = None,
    demo: bool = False,
    evaluate: Callable[..., Any] | None = None,
    data: Sequence[str] | Callable[[Any], Sequence[str]] = (),
) -> Callable[[RunFn], RunFn]:
    """Register the decorated function as an experiment.

    Args:
        name: kebab-case name, e.g. ``"dqn-cartpole"``.
        group: one of ``GROUPS``.
        summary: one line saying what is trained on what.
        topic: the lecture topic it reproduces.
        config: a dataclass whose fields (with defaults) are the experiment's settings.
        budgets: ``{"quick": {field: value}, "full": {...}}``, overrides of the config's defaults.
        anchor: the paper's or peer's number.
        expect: the criterion at the quick budget, or one per budget.
        curve: the metric key plotted as the learning curve (default: the criterion's metric).
        demo: include in ``dlfrontier demo`` (keep it to the fastest experiment of a capability).
        evaluate: optional ``evaluate(run_dir, episodes=..., gif=...)`` for ``dlfrontier eval``.
        data: the data-root data sets the run reads (``("mnist",)``), or ``config -> names``: checked before a
            run folder is written, so a missing file is one clear error and no failed run.
    """
    if group not in GROUPS:
        raise ValueError(f"group {group!r} not in {GROUPS}")
    if not dataclasses.is_dataclass(config):
        raise TypeError("config must be a dataclass")
    missing = [b for b in BUDGETS if b not in budgets]
    if missing:
        raise ValueError(f"experiment {name} lacks budgets {missing}")
    for b, values in budgets.items():
        parse_values(config, values, what=f"{name} budget {b!r}")
    expects = {"quick": expect} if isinstance(expect, Expect) else dict(expect)

    def wrap(fn: RunFn) -> RunFn:
        EXPERIMENTS.register(
            name,
            Experiment(
                name=name, group=group, summary=summary, topic=topic, config=config, budgets=budgets,
                anchor=anchor, expect=expects, fn=fn, curve=curve, demo=demo, evaluate=evaluate, data=data,
            ),
        )
        return fn

    return wrap


# ---------------------------------------------------------------------------------------------------------
# config overrides


def config_fields(config: type) -> dict[str, Any]:
    """``{name: type}`` of a config dataclass, with string annotations resolved."""
    hints = typing.get_type_hints(config)
    return {f.name: hints[f.name] for f in dataclasses.fields(config) if f.init}


def field_help(config: type) -> dict[str, str]:
    """``{name: help}`` from ``field(metadata={"help": ...})``."""
    return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(config)}


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _convert(tp: Any, raw: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if raw is None or (isinstance(raw, str) and raw.lower() in ("none", "null")):
            if type(None) in args:
                return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _convert(a, raw, key)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(f"{key}={raw!r}: expected {_type_name(tp)}")
    if origin is typing.Literal:
        for a in args:
            if raw == a or str(raw) == str(a):
                return a
        raise ConfigError(f"{key}={raw!r}: expected one of {', '.join(map(str, args))}")
    if origin in (tuple, list):
        items = raw
        if isinstance(raw, str):
            items = [s for s in raw.strip("()[]").split(",") if s.strip() != ""]
        if not isinstance(items, (list, tuple)):
            raise ConfigError(f"{key}={raw!r}: expected a comma-separated list")
        inner = args[0] if args else str
        vals = [_convert(inner, v.strip() if isinstance(v, str) else v, key) for v in items]
        return tuple(vals) if origin is tuple else vals
    if tp is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in ("true", "1", "yes", "on"):
            return True
        if isinstance(raw, str) and raw.lower() in ("false", "0", "no", "off"):
            return False
        raise ConfigError(f"{key}={raw!r}: expected bool (true/false)")
    if tp is int:
        if isinstance(raw, bool):
            raise ConfigError(f"{key}={raw!r}: expected int")
        if isinstance(raw, int):
            return raw
        try:
            f = float(str(raw).replace("_", ""))
        except ValueError:
            raise ConfigError(f"{key}={raw!r}: expected int") from None
        if not f.is_integer():
            raise ConfigError(f"{key}={raw!r}: expected int")
        return int(f)
    if tp is float:
        if isinstance(raw, bool):
            raise ConfigError(f"{key}={raw!r}: expected float")
        try:
            return float(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}={raw!r}: expected float") from None
    if tp is str:
        return str(raw)
    if isinstance(raw, tp):
        return raw
    raise ConfigError(f"{key}={raw!r}: cannot convert to {_type_name(tp)}")


def parse_values(config: type, values: Mapping[str, Any], *, what: str = "--set") -> dict[str, Any]:
    """Check keys against the config's fields and convert each value to the field's type."""
    fields = config_fields(config)
    out = {}
    for key, raw in values.items():
        if key not in fields:
            raise ConfigError(f"{what}: unknown key {key!r}; valid keys: {', '.join(fields)}")
        out[key] = _convert(fields[key], raw, key)
    return out


def parse_overrides(config: type, overrides: Mapping[str, str]) -> dict[str, Any]:
    return parse_values(config, overrides, what="--set")


def parse_set_args(items: list[str] | None) -> dict[str, str]:
    """``["lr=0.1", "epochs=3"]`` -> ``{"lr": "0.1", "epochs": "3"}``."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected key=value")
        out[key.strip()] = value.strip()
    return out

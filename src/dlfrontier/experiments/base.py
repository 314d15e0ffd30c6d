"""The experiment contract: what an experiment declares (budgets, anchor, baseline, criteria) and its registry.

An experiment is one :class:`Experiment` value, registered with :func:`register` at the import of its
capability's module (``experiments/<capability>.py``)::

    register(Experiment(
        name="dqn-cartpole", group="rl", summary="...", topic="...",
        config=DQNRun, run=dqn_cartpole,
        budgets={"quick": Budget({"total_steps": 50_000}, Expect("eval/return", ">=", 475.0)),
                 "full": Budget({"total_steps": 500_000}, Expect("eval/return", ">=", 485.0))},
        anchor=Anchor("eval/return", 488.7, "CleanRL dqn.py CartPole-v1, 500k steps"),
        baseline=Baseline(22.3, "uniform random policy, 1,000 episodes, measured"),
    ))

Families (five MinAtar games, seven context modules) build their values from a table in a loop. Each budget
states its own criteria; :func:`criteria_problems` lists what a reviewer would refuse (the registry test runs
it over every experiment). See ``docs/architecture.md``.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from dlfrontier.errors import ConfigError
from dlfrontier.experiments.config import build_config, parse_values
from dlfrontier.registry import Registry
from dlfrontier.runtime import RunContext

GROUPS = ("rl", "attention", "multimodal", "compression", "dual", "physics")
BUDGETS = ("quick", "full")
Op = Literal[">=", ">", "<=", "<"]
OPS: dict[str, Callable[[float, float], bool]] = {">=": operator.ge, ">": operator.gt, "<=": operator.le,
                                                  "<": operator.lt}
MARGIN = 0.5  # a quick criterion must clear the no-learning baseline by at least half the baseline's magnitude


@dataclass(frozen=True)
class Anchor:
    """The published or peer number a result is compared with.

    ``higher_is_better`` says which way the metric improves (False for an error or a loss).
    """

    metric: str
    value: float
    source: str
    higher_is_better: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "value": float(self.value), "source": self.source,
                "higher_is_better": self.higher_is_better}


@dataclass(frozen=True)
class Baseline:
    """The measured score of no learning on the anchor's metric: a random policy, an untrained network, chance.

    ``source`` says how it was measured (policy, episodes or images, seeds).
    """

    value: float
    source: str

    def as_dict(self) -> dict[str, Any]:
        return {"value": float(self.value), "source": self.source}


@dataclass(frozen=True)
class Expect:
    """A criterion on one run's final metric, e.g. ``Expect("eval/accuracy", ">=", 0.975)``.

    ``name`` labels it in the report when a budget has several ("learns", "below RN").
    """

    metric: str
    op: Op
    threshold: float
    name: str = ""

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ValueError(f"expect op {self.op!r} not in {sorted(OPS)}")

    def passed(self, value: float | None) -> bool:
        return value is not None and value == value and OPS[self.op](float(value), self.threshold)

    def verdict(self, metrics: Mapping[str, float]) -> dict[str, Any]:
        return {"kind": "threshold", "name": self.name, "metric": self.metric, "op": self.op,
                "threshold": float(self.threshold), "passed": bool(self.passed(metrics.get(self.metric)))}

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.threshold:g}"


@dataclass(frozen=True)
class Paired:
    """A comparison with another experiment on the same seeds, judged by the report over the pairs.

    Passes when the mean over seeds of ``(this run's metric) - (the other's metric)`` satisfies ``op margin``:
    ``Paired("attention-fashion-mnist-none", "eval/accuracy", ">", 0.0, "beats no attention")``.
    """

    other: str
    metric: str
    op: Op
    margin: float = 0.0
    name: str = ""

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ValueError(f"paired op {self.op!r} not in {sorted(OPS)}")

    def verdict(self, metrics: Mapping[str, float]) -> dict[str, Any]:
        return {"kind": "paired", "name": self.name, "other": self.other, "metric": self.metric, "op": self.op,
                "margin": float(self.margin), "passed": None}  # needs the other experiment's runs: the report

    def __str__(self) -> str:
        return f"{self.metric} - {self.other} {self.op} {self.margin:g} (paired by seed)"


Criterion = Expect | Paired

# A second criterion of every RL experiment: each run beats its own untrained policy (the recipe's step-0
# evaluation; ``eval/return_gain`` is the final ``eval/return`` minus it). An untrained greedy policy can score well
# by chance (ppo-cartpole: 466.8 on seed 0), which a verdict on the mean over seeds would not show.
LEARNS = Expect("eval/return_gain", ">", 0.0, name="beats its untrained policy")


def return_budgets(quick: Mapping[str, Any], quick_at: float, full: Mapping[str, Any], full_at: float,
                   ) -> dict[str, Budget]:
    """The two budgets of an RL experiment: ``eval/return >= quick_at`` (``full_at``) and :data:`LEARNS` each."""
    return {"quick": Budget(quick, [Expect("eval/return", ">=", quick_at), LEARNS]),
            "full": Budget(full, [Expect("eval/return", ">=", full_at), LEARNS])}


@dataclass(frozen=True)
class Budget:
    """A budget's config values (overrides of the config's defaults, dotted or nested keys) and its criteria.

    The first criterion is the primary one (an :class:`Expect` on the anchor's metric): it is ``summary.json``'s
    ``expect`` and the report's verdict; the others are shown beside it.
    """

    settings: Mapping[str, Any]
    criteria: Criterion | Sequence[Criterion]

    def __post_init__(self) -> None:
        crit = (self.criteria,) if isinstance(self.criteria, (Expect, Paired)) else tuple(self.criteria)
        if not crit or not isinstance(crit[0], Expect):
            raise ValueError("a budget needs at least one criterion, the first an Expect")
        object.__setattr__(self, "criteria", crit)

    @property
    def primary(self) -> Expect:
        return self.criteria[0]  # type: ignore[index,return-value]


RunFn = Callable[[RunContext, Any], Mapping[str, float]]


@dataclass(frozen=True)
class Experiment:
    """A registered experiment.

    Attributes:
        name: kebab-case, e.g. ``"dqn-cartpole"``.
        group: one of ``GROUPS``.
        summary: one line saying what is trained on what.
        topic: the lecture topic it reproduces.
        config: the config dataclass (fields with defaults and help text).
        run: ``run(ctx, cfg) -> final metrics``, about 20 lines calling the capability package.
        budgets: ``{"quick": Budget(...), "full": Budget(...)}``.
        anchor: the paper's or peer's number.
        baseline: the measured no-learning score on the anchor's metric.
        curve: the metric plotted as the learning curve (default: the primary criterion's metric).
        demo: part of ``dlfrontier demo`` (the fastest experiment of a capability).
        evaluate: ``evaluate(run_dir, episodes=..., gif=..., device=...)`` for ``dlfrontier eval``, if any.
        data: data-root data sets the run reads (``("mnist",)``), or ``config -> names``; checked before a run
            folder is written.
        typical_seconds: the measured wall time of one quick-budget run on 2 CPU cores (None: not measured);
            ``dlfrontier list`` shows it and ``run``/``demo`` estimate the time left from it.
        expected_seconds: ``cfg -> seconds``: a quick run's wall time for a config that changes it (e.g. one that
            reads its warm start from another run instead of training it); None: ``typical_seconds``.
        requires: ``(module, extra)`` pairs of optional dependencies a run imports (``("mujoco", "mujoco")``):
            a missing one is a one-line error naming ``pip install "dlfrontier[extra]"`` before a folder is written.
        population: ``population(ctxs, cfg) -> [final metrics per seed]``: the seeds of one ``dlfrontier run`` trained
            as one population (issue 17; :func:`~dlfrontier.experiments.runner.execute_population`), each seed's
            folder what ``run`` would have written for it alone; None: seeds run one by one.
        population_supports: ``cfg -> bool``: whether the population path handles this config (else one by one).
        preflight: ``preflight(cfg, seed)``: checks of what a run reads beyond its config and data sets (e.g. the
            run folder it continues from), raising :class:`~dlfrontier.errors.DLFrontierError` before a run folder
            is written; None: nothing more to check.
    """

    name: str
    group: str
    summary: str
    topic: str
    config: type
    run: RunFn
    budgets: Mapping[str, Budget]
    anchor: Anchor
    baseline: Baseline
    curve: str | None = None
    demo: bool = False
    evaluate: Callable[..., Any] | None = None
    data: Sequence[str] | Callable[[Any], Sequence[str]] = ()
    typical_seconds: float | None = None
    expected_seconds: Callable[[Any], float | None] | None = None
    requires: Sequence[tuple[str, str]] = ()
    population: Callable[[list[RunContext], Any], list[Mapping[str, float]]] | None = None
    population_supports: Callable[[Any], bool] | None = None
    preflight: Callable[[Any, int], None] | None = None

    def __post_init__(self) -> None:
        if self.group not in GROUPS:
            raise ValueError(f"{self.name}: group {self.group!r} not in {GROUPS}")
        if not dataclasses.is_dataclass(self.config):
            raise TypeError(f"{self.name}: config must be a dataclass")
        missing = [b for b in BUDGETS if b not in self.budgets]
        if missing:
            raise ValueError(f"experiment {self.name} lacks budgets {missing}")
        for b, budget in self.budgets.items():
            parse_values(self.config, budget.settings, what=f"{self.name} budget {b!r}")
        if self.curve is None:
            object.__setattr__(self, "curve", self.budgets["quick"].primary.metric)

    def seconds_for(self, cfg: Any) -> float | None:
        """The expected wall time of a quick run with ``cfg`` (:attr:`expected_seconds`, else the typical one)."""
        return self.expected_seconds(cfg) if self.expected_seconds is not None else self.typical_seconds

    def criteria(self, budget: str) -> tuple[Criterion, ...]:
        return self._budget(budget).criteria  # type: ignore[return-value]

    def criterion(self, budget: str) -> Expect:
        """The primary criterion of ``budget``."""
        return self._budget(budget).primary

    def _budget(self, budget: str) -> Budget:
        if budget not in self.budgets:
            raise ConfigError(f"unknown budget {budget!r} for {self.name}; choose one of: {', '.join(self.budgets)}")
        return self.budgets[budget]

    def make_config(self, budget: str, overrides: Mapping[str, Any] | None = None) -> Any:
        """The config of ``budget`` with ``--set`` style overrides applied and validated."""
        values = {**parse_values(self.config, self._budget(budget).settings, what=f"budget {budget!r}"),
                  **parse_values(self.config, overrides or {}, what="--set")}
        return build_config(self.config, values)

    def datasets(self, cfg: Any) -> tuple[str, ...]:
        """The data-root data sets (folder names, e.g. ``mnist``) a run with ``cfg`` reads."""
        return tuple(self.data(cfg) if callable(self.data) else self.data)


EXPERIMENTS: Registry[Experiment] = Registry("experiment")


def register(exp: Experiment) -> Experiment:
    """Add ``exp`` to :data:`EXPERIMENTS` (a name registered twice is a bug and raises)."""
    return EXPERIMENTS.register(exp.name, exp)


def criteria_problems(exp: Experiment) -> list[str]:
    """What a reviewer would refuse in ``exp``'s criteria; empty when they are honest.

    - every budget's primary criterion is on the anchor's metric and points the way the metric improves (an
      upper bound alone cannot show learning);
    - the quick primary criterion clears the baseline (no learning) by at least ``MARGIN`` times its magnitude,
      and the full one is at least as strict as the quick one;
    - a paired comparison names a registered experiment.
    """
    problems = []
    better = (">=", ">") if exp.anchor.higher_is_better else ("<=", "<")
    for b, budget in exp.budgets.items():
        p = budget.primary
        if p.metric != exp.anchor.metric:
            problems.append(f"{b}: criterion metric {p.metric} differs from the anchor's {exp.anchor.metric}")
        if p.op not in better:
            problems.append(f"{b}: primary criterion {p} does not point the way {p.metric} improves")
        for c in budget.criteria:
            if isinstance(c, Paired) and c.other not in EXPERIMENTS:
                problems.append(f"{b}: paired comparison with unknown experiment {c.other}")
    quick, full = exp.budgets["quick"].primary, exp.budgets["full"].primary
    sign = 1.0 if exp.anchor.higher_is_better else -1.0
    gap = sign * (quick.threshold - exp.baseline.value)
    if gap <= 0 or gap < MARGIN * abs(exp.baseline.value):
        problems.append(f"quick: {quick} does not clear the baseline {exp.baseline.value:g} by "
                        f"{MARGIN:g} x its magnitude")
    if sign * (full.threshold - quick.threshold) < 0:
        problems.append(f"full: {full} is looser than the quick criterion {quick}")
    return problems


__all__ = ["LEARNS", "Anchor", "Baseline", "Budget", "Criterion", "EXPERIMENTS", "Expect", "Experiment", "Paired",
           "RunContext", "criteria_problems", "register", "return_budgets"]

"""Gumbel AlphaZero against PUCT AlphaZero at few simulations (Danihelka et al., ICLR 2022, the paper's claim).

One run trains four agents in turn with the same settings and the same seed: PUCT and Gumbel, each with ``2``
and ``4`` simulations per move in self-play AND at evaluation, and scores each against the same fixed opponent
(colour-balanced games) and on the same solver-labelled positions. Metrics: ``eval/score_<algo>_s<n>``,
``eval/mistake_rate_<algo>_s<n>``, ``eval/gumbel_minus_puct_s<n>`` (score difference) and
``eval/gumbel_minus_puct``, the smaller of the differences (the claim holds at every simulation count when it is
>= 0). Each agent's own curves are logged under ``<algo>_s<n>/``. The checkpoint holds the finished agents'
results and the current agent's training state, so ``--resume`` continues inside the current agent.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from dlfrontier.rl.search.training import AlphaZeroConfig, Opponent, train_alphazero
from dlfrontier.runtime import RunContext


@dataclass
class GumbelVsPuctConfig:
    base: AlphaZeroConfig = field(default_factory=lambda: AlphaZeroConfig(game="connect4-5x4"))
    simulations: tuple[int, ...] = field(default=(2, 4), metadata={
        "help": "simulation counts compared (self-play and evaluation)", "range": "[1, inf)"})
    opponent: Opponent = field(default="minimax-2", metadata={"help": "the fixed opponent both agents play"})


class _PrefixLogger:
    def __init__(self, logger: Any, prefix: str) -> None:
        self.logger, self.prefix = logger, prefix

    def log(self, metrics: dict[str, float], step: int) -> None:
        self.logger.log({f"{self.prefix}/{k}": v for k, v in metrics.items()}, step)


def _agents(cfg: GumbelVsPuctConfig) -> list[tuple[Literal["puct", "gumbel"], int]]:
    return [(algo, n) for n in cfg.simulations for algo in ("puct", "gumbel")]


def gumbel_vs_puct(ctx: RunContext, cfg: GumbelVsPuctConfig) -> dict[str, float]:
    """Train and score the four agents; the differences Gumbel - PUCT per simulation count."""
    resume = ctx.resume_state or {}
    results: dict[str, float] = dict(resume.get("results", {}))
    start = int(resume.get("part", 0))
    agents = _agents(cfg)
    for part in range(start, len(agents)):
        algo, n = agents[part]
        name = f"{algo}_s{n}"
        sub_cfg = dataclasses.replace(
            cfg.base, search=dataclasses.replace(cfg.base.search, algorithm=algo, simulations=n),
            eval_simulations=n, opponents=(cfg.opponent,), final_opponents=(cfg.opponent,))

        def hook(state: dict[str, Any], step: int, part: int = part) -> None:
            ctx.save_checkpoint({"part": part, "results": dict(results), "inner": state}, step=step)

        sub = dataclasses.replace(ctx, logger=_PrefixLogger(ctx.logger, name), checkpoint_hook=hook,
                                  resume_state=(resume.get("inner") or None) if part == start else None)
        out = train_alphazero(sub, sub_cfg)
        results[f"eval/score_{name}"] = out[f"eval/score_vs_{cfg.opponent}"]
        results[f"eval/mistake_rate_{name}"] = out["eval/mistake_rate"]
        ctx.save_checkpoint({"part": part + 1, "results": dict(results), "inner": {}}, step=cfg.base.iterations)
    diffs = {}
    for n in cfg.simulations:
        diffs[f"eval/gumbel_minus_puct_s{n}"] = results[f"eval/score_gumbel_s{n}"] - results[f"eval/score_puct_s{n}"]
    final = {**results, **diffs, "eval/gumbel_minus_puct": min(diffs.values())}
    ctx.logger.log(final, step=cfg.base.iterations)
    return final


__all__ = ["GumbelVsPuctConfig", "gumbel_vs_puct"]

"""Gumbel AlphaZero against PUCT AlphaZero at few simulations (Danihelka et al., ICLR 2022, the paper's claim).

One run trains four agents in turn with the same settings and the same seed: PUCT and Gumbel, each with ``2``
and ``4`` simulations per move in self-play AND at evaluation, and scores each against the same fixed opponent
(colour-balanced games) and on the same solver-labelled positions. Metrics: ``eval/score_<algo>_s<n>``,
``eval/mistake_rate_<algo>_s<n>``, ``eval/gumbel_minus_puct_s<n>`` (score difference) and
``eval/gumbel_minus_puct``, the smaller of the differences (the claim holds at every simulation count when it is
>= 0). Each agent's own curves are logged under ``<algo>_s<n>/``. The checkpoint holds the finished agents'
results and networks (``nets``: name -> the network state :func:`~dlfrontier.rl.search.play.network_from_state`
reads) and the current agent's training state, so ``--resume`` continues inside the current agent and
``dlfrontier eval`` replays every agent (:func:`evaluate_comparison`).
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from dlfrontier.errors import CheckpointError
from dlfrontier.games import make_game, make_player
from dlfrontier.rl.search.evaluation import SearchAgent, batched_match
from dlfrontier.rl.search.network import network_from_state
from dlfrontier.rl.search.training import AlphaZeroConfig, Opponent, eval_search, train_alphazero
from dlfrontier.runtime import RunContext
from dlfrontier.tracking import atomic_write_json


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


def agent_config(cfg: GumbelVsPuctConfig, algo: Literal["puct", "gumbel"], n: int) -> AlphaZeroConfig:
    """One agent's settings: ``n`` simulations of ``algo`` in self-play and at evaluation, one opponent."""
    return dataclasses.replace(
        cfg.base, search=dataclasses.replace(cfg.base.search, algorithm=algo, simulations=n),
        eval_simulations=n, opponents=(cfg.opponent,), final_opponents=(cfg.opponent,))


def gumbel_vs_puct(ctx: RunContext, cfg: GumbelVsPuctConfig) -> dict[str, float]:
    """Train and score the four agents; the differences Gumbel - PUCT per simulation count."""
    resume = ctx.resume_state or {}
    results: dict[str, float] = dict(resume.get("results", {}))
    nets: dict[str, Any] = dict(resume.get("nets", {}))
    start = int(resume.get("part", 0))
    agents = _agents(cfg)
    for part in range(start, len(agents)):
        algo, n = agents[part]
        name = f"{algo}_s{n}"
        sub_cfg = agent_config(cfg, algo, n)
        inner = (resume.get("inner") or None) if part == start else None
        latest: dict[str, Any] = dict(inner or {})

        def hook(state: dict[str, Any], step: int, part: int = part, latest: dict[str, Any] = latest) -> None:
            latest.update(state)
            ctx.save_checkpoint({"part": part, "results": dict(results), "nets": dict(nets), "inner": state},
                                step=step)

        sub = dataclasses.replace(ctx, logger=_PrefixLogger(ctx.logger, name), checkpoint_hook=hook,
                                  resume_state=inner)
        out = train_alphazero(sub, sub_cfg)
        results[f"eval/score_{name}"] = out[f"eval/score_vs_{cfg.opponent}"]
        results[f"eval/mistake_rate_{name}"] = out["eval/mistake_rate"]
        nets[name] = latest["net"]  # the state after the last iteration: the network the final evaluation scored
        ctx.save_checkpoint({"part": part + 1, "results": dict(results), "nets": dict(nets), "inner": {}},
                            step=cfg.base.iterations)
    diffs = {}
    for n in cfg.simulations:
        diffs[f"eval/gumbel_minus_puct_s{n}"] = results[f"eval/score_gumbel_s{n}"] - results[f"eval/score_puct_s{n}"]
    final = {**results, **diffs, "eval/gumbel_minus_puct": min(diffs.values())}
    ctx.logger.log(final, step=cfg.base.iterations)
    return final


def evaluate_comparison(loaded: Any, *, episodes: int = 10, out_dir: Path | str | None = None,
                        gif: str | None = None, **_: Any) -> dict[str, float]:
    """``dlfrontier eval`` of a comparison run: each kept agent (network + its own search and simulation count, no
    noise) plays ``episodes`` colour-balanced games against the run's opponent; a printed table and
    ``tables/score.json`` under ``out_dir``. A run still training has only its finished agents."""
    if gif:  # many agents' games, no single one to animate (the experiments' own runs write one as a GIF)
        print("--gif is ignored: a comparison run has no single agent's game to animate")
    cfg: GumbelVsPuctConfig = loaded.config
    nets = loaded.state.get("nets") or {}
    if not nets:
        raise CheckpointError(f"{loaded.experiment} run keeps no agent network: an unfinished run has one once an "
                          "agent has finished (`dlfrontier run ... --resume`); runs made before networks were kept "
                          "(2026-12-01) have only scores: run it again to evaluate its agents")
    game = make_game(cfg.base.game)
    rows, out = [], {}
    for i, (algo, n) in enumerate(_agents(cfg)):
        name = f"{algo}_s{n}"
        if name not in nets:
            continue
        agent = SearchAgent(game, network_from_state(nets[name]), eval_search(agent_config(cfg, algo, n)))
        res = batched_match(game, agent, make_player(cfg.opponent), episodes, seed=777 + i)
        lo, hi = res.wilson_ci()
        rows.append([name, res.wins, res.draws, res.losses, round(res.score, 3), f"{lo:.2f}-{hi:.2f}"])
        out[f"score_{name}"] = res.score
        print(f"{name:>9} vs {cfg.opponent}: {res.wins} wins, {res.draws} draws, {res.losses} losses, "
              f"score {res.score:.3f} (Wilson 95% {lo:.2f}-{hi:.2f})")
    if out_dir is not None:
        path = Path(out_dir)
        path.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path / "score.json", {
            "title": f"{loaded.experiment} seed {loaded.seed}: each agent vs {cfg.opponent} ({episodes} games)",
            "columns": ["agent", "wins", "draws", "losses", "score", "Wilson 95%"], "rows": rows})
        print(f"wrote {path / 'score.json'}", file=sys.stderr)
    return out


__all__ = ["GumbelVsPuctConfig", "agent_config", "evaluate_comparison", "gumbel_vs_puct"]

"""Pool vs naive self-play: two learners trained in one run on the same number of moves, rated in one round robin.

The *naive* learner only ever plays its latest self (``opponents="self"``); the *pool* learner plays itself in
``self_play_fraction`` of its games and frozen snapshots of itself (PFSP or uniform) in the rest. They are
trained alternately, the one with fewer moves so far taking the next update, so their move counts stay within
one rollout of each other; every ``eval_every`` moves both are evaluated (greedy, against the anchors) and a
frozen copy of each is kept. At the end every kept copy of both learners and the anchors (random = 0 Elo,
one-step lookahead, depth-2 minimax) play a round robin (``rating_games`` colour-balanced games per pair; the
learners sample their moves from the policy, so two learners do not replay the same two games), and a
Bradley-Terry fit rates them all. The metric: the pool learner's final Elo minus the naive learner's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from dlfrontier.games.solver import check_opponents
from dlfrontier.rl.selfplay.agent import PolicyPlayer
from dlfrontier.rl.selfplay.evaluation import rate
from dlfrontier.rl.selfplay.ppo import net_from_state, net_state
from dlfrontier.rl.selfplay.ratings import Results, bootstrap_ratings
from dlfrontier.rl.selfplay.training import (
    Learner,
    Opponent,
    SelfPlayConfig,
    anchor_results,
    evaluate_learner,
    make_opponents,
    train_round,
)

SIDES = ("pool", "naive")


@dataclass
class PoolVsNaiveConfig:
    base: SelfPlayConfig = field(default_factory=lambda: SelfPlayConfig(game="connect4", opponents="pool"))
    anchors: tuple[Opponent, ...] = field(default=("random", "lookahead", "minimax-2"), metadata={
        "help": "fixed players of the final round robin (the first is rated 0)"})
    rating_games: int = field(default=100, metadata={
        "help": "colour-balanced games per pair in the final round robin", "range": "[2, inf)"})
    greedy_ratings: bool = field(default=False, metadata={
        "help": "learners play greedily in the round robin (default: sample from the policy)"})
    bootstrap: int = field(default=200, metadata={"help": "bootstrap resamples for the rating intervals",
                                                  "range": "[1, inf)"})

    def __post_init__(self) -> None:
        check_opponents(self.base.game, self.anchors)


def pool_vs_naive(ctx: Any, cfg: PoolVsNaiveConfig) -> dict[str, float]:
    """Train both learners, rate them with the anchors; ``eval/elo_pool_minus_naive`` and per-side metrics."""
    from dlfrontier.runtime import cpu_threads

    with cpu_threads(cfg.base.threads):
        return _run(ctx, cfg)


def _configs(cfg: PoolVsNaiveConfig) -> dict[str, SelfPlayConfig]:
    from dataclasses import replace

    return {"pool": replace(cfg.base, opponents="pool"), "naive": replace(cfg.base, opponents="self")}


def _run(ctx: Any, cfg: PoolVsNaiveConfig) -> dict[str, float]:
    from dlfrontier.games import make_game
    from dlfrontier.runtime import show_phase

    base = cfg.base
    game = make_game(base.game)
    rng = np.random.default_rng(ctx.seed)
    learners = {side: Learner(game, c) for side, c in _configs(cfg).items()}
    opponents = make_opponents(base.eval_opponents)
    kept: dict[str, dict] = {}
    st = ctx.resume_state
    if st is not None:
        for side in SIDES:
            learners[side].load_state_dict(st[side])
        res = {side: Results.from_json(st[f"results_{side}"]) for side in SIDES}
        kept = dict(st["kept"])
        rng.bit_generator.state = st["rng"]
        torch.set_rng_state(st["torch_rng"])
    else:
        learners["pool"].snapshot("main@0")
        show_phase(ctx.progress, "rating the anchors and the untrained networks")
        res = {}
        for side in SIDES:
            res[side] = anchor_results(game, opponents, base.eval_games, seed=ctx.seed)
            out, res[side] = evaluate_learner(game, learners[side].net, opponents, base.eval_games, 0, res[side],
                                              "step 0")
            ctx.logger.log({f"{side}/{k}": v for k, v in out.items()}, step=0)
            kept[f"{side}@0"] = net_state(learners[side].net)
    ctx.progress.start(2 * base.total_steps, unit="steps")
    next_eval = {s: (learners[s].steps // base.eval_every + 1) * base.eval_every for s in SIDES}
    while min(learners[s].steps for s in SIDES) < base.total_steps:
        side = min(SIDES, key=lambda s: (learners[s].steps, s))
        lr = learners[side]
        stats = train_round(lr, None, rng)
        if lr.steps >= next_eval[side] or lr.steps >= base.total_steps:
            next_eval[side] = (lr.steps // base.eval_every + 1) * base.eval_every
            out, res[side] = evaluate_learner(game, lr.net, opponents, base.eval_games, lr.updates, res[side],
                                              f"step {lr.steps}")
            ctx.logger.log({f"{side}/{k}": v for k, v in {**stats, **out}.items()}, step=lr.steps)
            kept[f"{side}@{lr.steps}"] = net_state(lr.net)
            ctx.save_checkpoint(_state(learners, res, kept, rng), step=sum(x.steps for x in learners.values()))
            ctx.progress.update(sum(x.steps for x in learners.values()))
    show_phase(ctx.progress, "final round robin")
    return final_round_robin(ctx, game, cfg, learners, kept)


def _state(learners: dict[str, Learner], res: dict[str, Results], kept: dict[str, dict],
           rng: np.random.Generator) -> dict[str, Any]:
    st: dict[str, Any] = {side: learners[side].state_dict() for side in SIDES}
    st.update({f"results_{s}": res[s].to_json() for s in SIDES})
    st.update({"learner": net_state(learners["pool"].net), "naive_learner": net_state(learners["naive"].net),
               "kept": kept, "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state()})
    return st


def final_round_robin(ctx: Any, game: Any, cfg: PoolVsNaiveConfig, learners: dict[str, Learner],
                      kept: dict[str, dict]) -> dict[str, float]:
    """Every kept copy of both learners and the anchors, one round robin, one fit; tables and the metric."""
    from dlfrontier.tracking import atomic_write_json

    players: dict[str, Any] = dict(make_opponents(cfg.anchors))
    for name, state in kept.items():
        players[name] = PolicyPlayer(net_from_state(state), name=name, greedy=cfg.greedy_ratings)
    res, ratings = rate(game, players, cfg.rating_games, seed=ctx.seed, anchor=cfg.anchors[0])
    ci = bootstrap_ratings(res, anchor=cfg.anchors[0], samples=cfg.bootstrap, seed=ctx.seed)
    final = {s: max((k for k in kept if k.startswith(s + "@")), key=lambda k: int(k.split("@")[1]))
             for s in SIDES}
    out = {"eval/elo_pool_minus_naive": ratings[final["pool"]] - ratings[final["naive"]],
           "eval/elo_pool": ratings[final["pool"]], "eval/elo_naive": ratings[final["naive"]],
           "eval/score_pool_vs_naive": float(res.score_matrix()[res.players.index(final["pool"]),
                                                                 res.players.index(final["naive"])])}
    for name in cfg.anchors:
        out[f"eval/elo_{name}"] = ratings[name]
    for name, r in ratings.items():
        if "@" in name:
            side, step = name.split("@")
            ctx.logger.log({f"{side}/rating/elo": r}, step=int(step))
    ctx.logger.log(out, step=max(learners[s].steps for s in SIDES))
    rows = [[n, round(ci[n][0], 1), f"{ci[n][1]:.0f} to {ci[n][2]:.0f}"]
            for n in sorted(ratings, key=lambda n: -ratings[n])]
    (ctx.run_dir / "tables").mkdir(parents=True, exist_ok=True)
    atomic_write_json(ctx.run_dir / "tables" / "ratings.json", {
        "title": f"round robin ({cfg.rating_games} games per pair): Bradley-Terry Elo, {cfg.anchors[0]} = 0, "
                 f"bootstrap 95% interval",
        "columns": ["player", "Elo", "95% interval"], "rows": rows})
    atomic_write_json(ctx.run_dir / "tables" / "crossplay.json", {
        "title": "cross-play: mean score of the row player against the column player",
        "columns": ["player", *res.players],
        "rows": [[p, *[None if np.isnan(x) else round(float(x), 3) for x in row]]
                 for p, row in zip(res.players, res.score_matrix(), strict=True)]})
    _plot(ctx, res)
    return out


def _plot(ctx: Any, res: Results) -> None:
    try:
        from dlfrontier.rl.selfplay.tournament import plot_crossplay
    except ImportError:  # the tournament module is optional here: the tables hold the same numbers
        return
    plot_crossplay(res, ctx.run_dir / "crossplay.png")


__all__ = ["PoolVsNaiveConfig", "pool_vs_naive"]

"""Self-play PPO training: rollouts against itself or a pool, the PPO update, evaluations and a rating curve.

Each update plays ``games_per_update`` games at once (:func:`~dlfrontier.rl.selfplay.ppo.play_rollout`):

* ``opponents="self"`` (naive self-play): the latest learner plays both seats of every game, and both seats'
  moves are training data;
* ``opponents="pool"``: a fraction ``self_play_fraction`` of the games as above, the others against frozen
  snapshots drawn from an :class:`~dlfrontier.rl.selfplay.pool.OpponentPool` (uniform or PFSP), the learner in
  the first seat in even games and the second in odd ones. The pool starts with the untrained network; a
  snapshot joins when the learner wins >= ``win_rate_threshold`` of its pool games in a rollout (RLlib's
  0.95 rule) or every ``snapshot_every`` updates;
* ``exploiter=True`` (league-lite): one more network trains only against the current main learner (its own
  rollouts, ``games_per_update`` games, not counted in ``total_steps``); a snapshot of it joins the main
  learner's pool when it beats the main learner in >= 70% of a rollout's games (AlphaStar's main-exploiter
  rule) or every ``snapshot_every`` updates;
* ``explore_fraction > 0``: in that fraction of the games (taken from the self-play ones) one seat, the second in
  even games and the first in odd ones, is the learner's current network with epsilon-random moves
  (``explore_epsilon``: a uniformly random legal move with that probability, else the policy's own), and only
  the other seat's moves are training data. The learner then meets positions its own play rarely reaches (the
  holes the perfect player finds);
* ``opening_fraction > 0``: that fraction of the games (the first ones of every rollout, the exploiter's too)
  starts with 1 to ``opening_plies`` uniformly random legal moves, not training data; then each seat's player
  moves as above (in self-play the learner on both seats, so its values stay those of its own play).

Every ``eval_every`` learner moves (and at step 0, untrained) the greedy learner plays ``eval_games``
colour-balanced games against each evaluation opponent; those games, plus games among the anchors, go into one
:class:`~dlfrontier.rl.selfplay.ratings.Results` and a Bradley-Terry fit gives the learner's Elo at that step
(the rating curve, random = 0). A checkpoint after every evaluation holds the networks, optimizers, the pool,
the results and the generators (tensors, numbers, strings and lists only).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch

from dlfrontier.errors import ConfigError
from dlfrontier.games.base import Game
from dlfrontier.games.solver import check_opponents
from dlfrontier.rl.selfplay.agent import PolicyPlayer
from dlfrontier.rl.selfplay.evaluation import batched_match, exploitable_positions, rate, solved_in_full
from dlfrontier.rl.selfplay.pool import OpponentPool, Sampling, win_rate
from dlfrontier.rl.selfplay.ppo import (
    Explorer,
    MaskedPPOConfig,
    build_net,
    net_from_state,
    net_state,
    play_rollout,
    ppo_update,
)
from dlfrontier.rl.selfplay.ratings import Results, fit_ratings

GameName = Literal["tictactoe", "connect4", "connect4-5x4", "connect4-6x5"]
Opponent = Literal["random", "lookahead", "minimax-1", "minimax-2", "perfect"]
EXPLOITER_THRESHOLD = 0.7


@dataclass
class SelfPlayConfig:
    game: GameName = field(default="tictactoe", metadata={"help": "game of dlfrontier.games"})
    algo: MaskedPPOConfig = field(default_factory=MaskedPPOConfig)
    total_steps: int = field(default=500_000, metadata={"help": "learner moves to train on", "range": "[1, inf)"})
    games_per_update: int = field(default=512, metadata={
        "help": "games played at once per rollout (one PPO update each)", "range": "[1, inf)"})
    opponents: Literal["self", "pool"] = field(default="self", metadata={
        "help": "self: the latest learner plays both seats (naive); pool: also frozen snapshots"})
    self_play_fraction: float = field(default=0.5, metadata={
        "help": "pool mode: fraction of games the learner plays against itself", "range": "[0, 1]"})
    sampling: Sampling = field(default="pfsp", metadata={"help": "pool opponent sampling: uniform or PFSP"})
    win_rate_threshold: float = field(default=0.95, metadata={
        "help": "win rate against the pool that adds a snapshot (RLlib's rule)", "range": "(0, 1]"})
    snapshot_every: int | None = field(default=10, metadata={
        "help": "also add a snapshot after this many updates (none: threshold only)", "range": "[1, inf)"})
    pool_capacity: int = field(default=20, metadata={"help": "most snapshots kept", "range": "[1, inf)"})
    exploiter: bool = field(default=False, metadata={"help": "league-lite: add an exploiter of the main agent"})
    explore_fraction: float = field(default=0.0, metadata={
        "help": "fraction of each rollout's games where one seat (alternating) is the learner's current policy "
                "with epsilon-random moves (explore_epsilon), not trained on: the learner meets positions its own "
                "play rarely reaches", "range": "[0, 1]"})
    explore_epsilon: float = field(default=0.25, metadata={
        "help": "probability that the exploring seat plays a uniformly random legal move", "range": "(0, 1]"})
    opening_fraction: float = field(default=0.0, metadata={
        "help": "fraction of each rollout's games that start with 1 to opening_plies uniformly random moves (not "
                "trained on); then the seats' players (the learner for both in self-play)", "range": "[0, 1]"})
    opening_plies: int = field(default=2, metadata={"help": "most random moves of such an opening",
                                                    "range": "[1, inf)"})
    eval_every: int = field(default=100_000, metadata={"help": "learner moves between evaluations",
                                                       "range": "[1, inf)"})
    eval_games: int = field(default=100, metadata={"help": "games per opponent at each evaluation",
                                                   "range": "[2, inf)"})
    eval_opponents: tuple[Opponent, ...] = field(default=("random", "lookahead"), metadata={
        "help": "opponents of each evaluation; they anchor the rating curve (random = 0 Elo)"})
    final_games: int = field(default=200, metadata={"help": "games per final opponent (colour-balanced)",
                                                    "range": "[2, inf)"})
    final_opponents: tuple[Opponent, ...] = field(default=("random", "lookahead"), metadata={
        "help": "opponents of the final evaluation"})
    threads: int | None = field(default=1, metadata={
        "help": "torch CPU threads during the run (none: leave torch's setting)", "range": "[1, inf)"})

    def __post_init__(self) -> None:
        check_opponents(self.game, (*self.eval_opponents, *self.final_opponents))
        if self.opponents == "pool" and self.explore_fraction > self.self_play_fraction:
            raise ConfigError(f"explore_fraction ({self.explore_fraction}) must not exceed self_play_fraction "
                              f"({self.self_play_fraction}) with opponents=pool: explored games are taken from the "
                              f"self-play games")


class Learner:
    """One training network (main agent or exploiter) with its optimizer and, in pool mode, its pool."""

    def __init__(self, game: Game, cfg: SelfPlayConfig) -> None:
        self.game, self.cfg = game, cfg
        self.net = build_net(game, cfg.algo)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=cfg.algo.learning_rate)
        self.pool = OpponentPool(cfg.sampling, cfg.win_rate_threshold, cfg.snapshot_every, cfg.pool_capacity)
        self._nets: dict[str, torch.nn.Module] = {}
        self.steps = self.updates = 0

    def snapshot(self, name: str, net: torch.nn.Module | None = None) -> None:
        self.pool.add(net_state(net or self.net), name)

    def opponent_nets(self) -> list[torch.nn.Module]:
        for name, member in zip(self.pool.names, self.pool.members, strict=True):
            if name not in self._nets:
                self._nets[name] = net_from_state(member).eval()
        return [self._nets[n] for n in self.pool.names]

    def roles(self, n: int, rng: np.random.Generator) -> np.ndarray:
        roles = -np.ones((n, 2), np.int64)
        if self.cfg.opponents == "self" or len(self.pool) == 0:
            return roles
        n_pool = n - int(round(self.cfg.self_play_fraction * n))
        opp = self.pool.sample(n_pool, rng)
        seat = np.arange(n_pool) % 2                    # the learner's seat: first in even games
        roles[n - n_pool + np.arange(n_pool), 1 - seat] = opp
        return roles

    def update(self, rng: np.random.Generator, opponents: list[torch.nn.Module] | None = None,
               roles: np.ndarray | None = None) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
        """One rollout (against the pool, or the given opponents and roles) and one PPO update; the statistics
        and, per game, the learner's score against its opponent (nan in self-play) and the opponent's index."""
        explorer = -1
        if roles is None:
            roles = self.roles(self.cfg.games_per_update, rng)
            opponents = self.opponent_nets()
            n_explore = int(round(self.cfg.explore_fraction * len(roles)))
            if n_explore:
                # the first games (self-play ones: pool games are the last), the explorer in seat 1 of even games
                explorer = len(opponents)
                opponents = [*opponents, Explorer(self.net, self.cfg.explore_epsilon)]
                roles[np.arange(n_explore), 1 - np.arange(n_explore) % 2] = explorer
        if self.cfg.algo.anneal:
            for group in self.opt.param_groups:
                group["lr"] = self.cfg.algo.learning_rate * max(0.0, 1.0 - self.steps / self.cfg.total_steps)
        opening = None
        n_open = int(round(self.cfg.opening_fraction * len(roles)))
        if n_open:
            opening = np.zeros(len(roles), np.int64)
            opening[:n_open] = rng.integers(1, self.cfg.opening_plies + 1, n_open)
        ro = play_rollout(self.game, self.net, opponents or [], roles, rng, self.cfg.algo.gamma,
                          self.cfg.algo.gae_lambda, opening)
        stats = ppo_update(self.net, self.opt, ro, self.cfg.algo, rng)
        self.steps += len(ro.actions)
        self.updates += 1
        if explorer >= 0:  # not an opponent of the pool's statistics
            explored = ro.opponent == explorer
            stats["selfplay/score_vs_explorer"] = float(ro.score[explored].mean())
            ro.opponent[explored], ro.score[explored] = -1, np.nan
        vs = ro.opponent >= 0
        stats["selfplay/first_player_score"] = float((ro.seat_result[:, 0].mean() + 1) / 2)
        stats["selfplay/mean_length"] = float(ro.lengths.mean())
        if vs.any():
            stats["selfplay/win_rate_vs_pool"] = win_rate(ro.score)
            stats["selfplay/score_vs_pool"] = float(np.nanmean(ro.score))
        return stats, ro.score, ro.opponent

    def state_dict(self) -> dict[str, Any]:
        return {"net": net_state(self.net), "optimizer": self.opt.state_dict(), "pool": self.pool.state_dict(),
                "steps": self.steps, "updates": self.updates}

    def load_state_dict(self, st: dict[str, Any]) -> None:
        self.net.load_state_dict(st["net"]["weights"])
        self.opt.load_state_dict(st["optimizer"])
        self.pool.load_state_dict(st["pool"])
        self.steps, self.updates = int(st["steps"]), int(st["updates"])


def train_round(main: Learner, exploiter: Learner | None, rng: np.random.Generator) -> dict[str, float]:
    """One update of the main learner (pool bookkeeping, snapshots) and, with a league, of its exploiter."""
    stats, score, opp = main.update(rng)
    if main.cfg.opponents == "pool":
        vs = opp >= 0
        if vs.any():
            main.pool.record(opp[vs], score[vs])
        else:
            main.pool.since_snapshot += 1
        if main.pool.should_snapshot(win_rate(score) if vs.any() else 0.0):
            main.snapshot(f"main@{main.steps}")
        stats["pool/size"] = float(len(main.pool))
    if exploiter is not None:
        n = main.cfg.games_per_update
        roles = np.zeros((n, 2), np.int64)
        roles[np.arange(n), np.arange(n) % 2] = -1       # the exploiter in seat 0 of even games, 1 of odd
        rate_ex = win_rate(exploiter.update(rng, [main.net], roles)[1])
        exploiter.pool.since_snapshot += 1
        stats["exploiter/win_rate_vs_main"] = rate_ex
        if rate_ex >= EXPLOITER_THRESHOLD or (main.cfg.snapshot_every is not None
                                             and exploiter.pool.since_snapshot >= main.cfg.snapshot_every):
            main.snapshot(f"exploiter@{main.steps}", exploiter.net)
            exploiter.pool.since_snapshot = 0
    return stats


def make_opponents(names: tuple[str, ...]) -> dict[str, Any]:
    from dlfrontier.games import make_player

    return {n: make_player(n) for n in names}


def anchor_results(game: Game, anchors: dict[str, Any], games: int, seed: int) -> Results:
    """Games among the anchors themselves (they fix the scale the learner is rated on)."""
    res = Results(list(anchors))
    if len(anchors) > 1:
        rate(game, anchors, games, seed, anchor=next(iter(anchors)), results=res)
    return res


def with_player(res: Results, name: str) -> Results:
    """``res`` with one more player (no games yet)."""
    p = len(res.players)
    wins, draws = np.zeros((p + 1, p + 1), np.int64), np.zeros((p + 1, p + 1), np.int64)
    wins[:p, :p], draws[:p, :p] = res.wins, res.draws
    return Results([*res.players, name], wins, draws)


def evaluate_learner(game: Game, net: torch.nn.Module, opponents: dict[str, Any], games: int, seed: int,
                     res: Results, name: str) -> tuple[dict[str, float], Results]:
    """Greedy learner against each opponent; adds the games to ``res`` as player ``name``; score and Elo."""
    player = PolicyPlayer(net, name=name)
    res = with_player(res, name)
    out: dict[str, float] = {}
    for k, (oname, opp) in enumerate(opponents.items()):
        s, per_game = batched_match(game, player, opp, games, seed=seed * 101 + k)
        i, j = res.players.index(name), res.players.index(oname)
        for x in per_game:
            res.add(i, j, float(x))
        out[f"eval/score_vs_{oname}"] = s.score
        out[f"eval/losses_vs_{oname}"] = float(s.losses)
        out[f"eval/wins_vs_{oname}"] = float(s.wins)
    anchor = "random" if "random" in res.players else res.players[0]
    out["eval/elo"] = fit_ratings(res, anchor=anchor)[name]
    net.train()
    return out, res


def train_selfplay(ctx: Any, cfg: SelfPlayConfig) -> dict[str, float]:
    """Train one self-play PPO learner on ``cfg.game``; the final metrics (see the module docstring)."""
    from dlfrontier.runtime import cpu_threads

    with cpu_threads(cfg.threads):
        return _train(ctx, cfg)


def _train(ctx: Any, cfg: SelfPlayConfig) -> dict[str, float]:
    from dlfrontier.games import make_game
    from dlfrontier.runtime import show_phase

    game = make_game(cfg.game)
    rng = np.random.default_rng(ctx.seed)
    main = Learner(game, cfg)
    exploiter = Learner(game, cfg) if cfg.exploiter else None
    opponents = make_opponents(cfg.eval_opponents)
    st = ctx.resume_state
    if st is not None:
        main.load_state_dict(st["learner_state"])
        if exploiter is not None:
            exploiter.load_state_dict(st["exploiter_state"])
        res = Results.from_json(st["results"])
        rng.bit_generator.state = st["rng"]
        torch.set_rng_state(st["torch_rng"])
    else:
        if cfg.opponents == "pool":
            main.snapshot("main@0")
        show_phase(ctx.progress, "rating the anchors and the untrained network")
        res = anchor_results(game, opponents, cfg.eval_games, seed=ctx.seed)
        out, res = evaluate_learner(game, main.net, opponents, cfg.eval_games, 0, res, "step 0")
        ctx.logger.log(out, step=0)
    ctx.progress.start(cfg.total_steps, unit="steps")
    next_eval = (main.steps // cfg.eval_every + 1) * cfg.eval_every
    t0, start_steps = time.perf_counter(), main.steps
    while main.steps < cfg.total_steps:
        stats = train_round(main, exploiter, rng)
        if main.steps >= next_eval or main.steps >= cfg.total_steps:
            next_eval = (main.steps // cfg.eval_every + 1) * cfg.eval_every
            stats["selfplay/steps_per_s"] = (main.steps - start_steps) / max(time.perf_counter() - t0, 1e-9)
            out, res = evaluate_learner(game, main.net, opponents, cfg.eval_games, main.updates, res,
                                        f"step {main.steps}")
            ctx.logger.log({**stats, **out}, step=main.steps)
            ctx.save_checkpoint(checkpoint_state(main, exploiter, res, rng), step=main.steps)
            ctx.progress.update(main.steps, **{k.split("_vs_")[-1]: v for k, v in out.items() if "score" in k})
    return final_evaluation(ctx, game, main, cfg, res)


def checkpoint_state(main: Learner, exploiter: Learner | None, res: Results, rng: np.random.Generator
                     ) -> dict[str, Any]:
    st = {"learner": net_state(main.net), "learner_state": main.state_dict(), "results": res.to_json(),
          "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state()}
    if exploiter is not None:
        st["exploiter_state"] = exploiter.state_dict()
    return st


def final_evaluation(ctx: Any, game: Game, main: Learner, cfg: SelfPlayConfig, res: Results) -> dict[str, float]:
    """``final_games`` colour-balanced games against each final opponent; tables of the scores and ratings."""
    from dlfrontier.runtime import show_phase
    from dlfrontier.tracking import atomic_write_json

    show_phase(ctx.progress, "final evaluation")
    player = PolicyPlayer(main.net, name="learner")
    out: dict[str, float] = {}
    rows = []
    for k, (name, opp) in enumerate(make_opponents(cfg.final_opponents).items()):
        s, _ = batched_match(game, player, opp, cfg.final_games, seed=10_000 + ctx.seed * 31 + k)
        out[f"eval/score_vs_{name}"] = s.score
        out[f"eval/losses_vs_{name}"] = float(s.losses)
        out[f"eval/wins_vs_{name}"] = float(s.wins)
        rows.append([name, s.wins, s.draws, s.losses, round(s.score, 4)])
    if solved_in_full(game):
        show_phase(ctx.progress, "counting the greedy learner's exploitable positions (exact solver)")
        holes, holes_vs_perfect = exploitable_positions(game, player)
        out["eval/exploitable_positions"] = float(holes)
        out["eval/exploitable_positions_vs_perfect"] = float(holes_vs_perfect)
    ratings = fit_ratings(res, anchor="random" if "random" in res.players else res.players[0])
    out["eval/elo"] = ratings[res.players[-1]]
    out["train/steps"] = float(main.steps)
    ctx.logger.log(out, step=main.steps)
    tables = ctx.run_dir / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    atomic_write_json(tables / "final.json", {
        "title": f"final evaluation: greedy learner, {cfg.final_games} colour-balanced games per opponent",
        "columns": ["opponent", "wins", "draws", "losses", "score"], "rows": rows})
    atomic_write_json(tables / "rating_curve.json", {
        "title": "rating curve: Bradley-Terry Elo of the learner's snapshots and the anchors (random = 0)",
        "columns": ["player", "Elo"], "rows": [[p, round(r, 1)] for p, r in ratings.items()]})
    atomic_write_json(ctx.run_dir / "tables" / "results.json", {
        "title": "evaluation games (rows' wins)", "columns": ["player", *res.players],
        "rows": [[p, *res.wins[i].tolist()] for i, p in enumerate(res.players)]})
    return out


__all__ = ["Learner", "SelfPlayConfig", "evaluate_learner", "train_round", "train_selfplay"]

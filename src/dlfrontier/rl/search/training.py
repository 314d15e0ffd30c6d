"""AlphaZero's training loop, small: batched self-play -> replay window -> SGD -> evaluation, every iteration.

Each iteration plays ``games_per_iteration`` self-play games at once (:func:`~dlfrontier.rl.search.selfplay.
self_play`), adds them (with every board symmetry when ``augment``) to a replay window of the last
``replay_iterations`` iterations, takes ``train_steps`` Adam steps on mini-batches from the window (loss:
cross-entropy to the search's policy target + squared error to the game result, as AlphaZero), and evaluates the
network + search (no noise, greedy) against fixed opponents of :mod:`dlfrontier.games`. Iteration 0 evaluates
the untrained network. A checkpoint after every iteration holds the network, the optimizer, the replay window
and the generators (the run's NumPy generator, which drives self-play and sampling, and torch's), all as
tensors, numbers and strings; ``--resume`` continues from it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from dlfrontier.errors import ConfigError
from dlfrontier.games import make_player
from dlfrontier.games.arena import elo_from_score, wilson_ci
from dlfrontier.rl.search.evaluation import (
    SearchAgent,
    batched_match,
    label,
    move_quality,
)
from dlfrontier.rl.search.mcts import BatchedMCTS, SearchConfig
from dlfrontier.rl.search.network import NetworkEvaluator, PolicyValueNet, build_network, encode_states
from dlfrontier.rl.search.selfplay import ReplayWindow, augment, self_play
from dlfrontier.runtime import RunContext, cpu_threads, show_phase
from dlfrontier.tracking import atomic_write_json

GameName = Literal["tictactoe", "connect4-4x4", "connect4-5x4", "connect4-6x5", "connect4"]
Opponent = Literal["random", "lookahead", "minimax-1", "minimax-2", "minimax-4", "uct-200", "uct-1000", "perfect"]


@dataclass
class AlphaZeroConfig:
    game: GameName = field(default="tictactoe", metadata={"help": "game of dlfrontier.games"})
    search: SearchConfig = field(default_factory=SearchConfig)
    iterations: int = field(default=20, metadata={"help": "self-play + training iterations", "range": "[1, inf)"})
    games_per_iteration: int = field(default=128, metadata={
        "help": "self-play games per iteration, played at once", "range": "[1, inf)"})
    temperature_moves: int = field(default=4, metadata={
        "help": "PUCT self-play: moves sampled from the visit counts before playing greedily", "range": "[0, inf)"})
    value_mix: float = field(default=0.0, metadata={
        "help": "value target (1 - m) * z + m * q: weight m of the search's root value q (0: the game result z)",
        "range": "[0, 1]"})
    channels: int = field(default=32, metadata={"help": "residual tower width", "range": "[1, inf)"})
    blocks: int = field(default=2, metadata={"help": "residual blocks", "range": "[0, inf)"})
    lr: float = field(default=2e-3, metadata={"help": "Adam learning rate", "range": "(0, inf)"})
    lr_decay: bool = field(default=False, metadata={
        "help": "cosine learning-rate decay over the iterations, to 10% of lr at the last one"})
    weight_decay: float = field(default=1e-4, metadata={"help": "Adam (L2) weight decay", "range": "[0, inf)"})
    batch_size: int = field(default=256, metadata={"help": "mini-batch size", "range": "[1, inf)"})
    train_steps: int = field(default=100, metadata={"help": "Adam steps per iteration", "range": "[1, inf)"})
    replay_iterations: int = field(default=4, metadata={
        "help": "replay window: the samples of the last N iterations", "range": "[1, inf)"})
    augment: bool = field(default=True, metadata={"help": "add every board symmetry of each sample"})
    eval_simulations: int = field(default=32, metadata={
        "help": "simulations per move when the agent is evaluated", "range": "[1, inf)"})
    eval_games: int = field(default=40, metadata={
        "help": "games per opponent at each iteration's evaluation", "range": "[0, inf)"})
    eval_every: int = field(default=1, metadata={
        "help": "evaluate every N iterations (and at the last one)", "range": "[1, inf)"})
    opponents: tuple[Opponent, ...] = field(default=("random", "perfect"), metadata={
        "help": "opponents of each iteration's evaluation (score and Elo difference curves)"})
    final_games: int = field(default=200, metadata={
        "help": "games per final opponent (colour-balanced)", "range": "[0, inf)"})
    final_opponents: tuple[Opponent, ...] = field(default=("random", "perfect"), metadata={
        "help": "opponents of the final evaluation"})
    final_positions: int | None = field(default=None, metadata={
        "help": "solver-labelled positions for the optimal-move rate (none: every reachable position)",
        "range": "[1, inf)"})
    final_plies: tuple[int, ...] = field(default=(), metadata={
        "help": "stones on the board of the labelled positions, as LO,HI (empty: any ply)", "range": "[0, inf)"})
    final_informative: bool = field(default=False, metadata={
        "help": "label only positions where some move is a mistake, each solved within 300k nodes per move (7x6)"})
    threads: int | None = field(default=1, metadata={
        "help": "torch CPU threads during the run (none: leave torch's setting)", "range": "[1, inf)"})

    def __post_init__(self) -> None:
        from dlfrontier.games.solver import check_opponents

        check_opponents(self.game, (*self.opponents, *self.final_opponents))


_LABELLED: dict[tuple[Any, ...], tuple[list[Any], np.ndarray]] = {}
INFORMATIVE_MAX_NODES = 300_000  # solver nodes per action: 7x6 positions labelled in about a second or less


def labelled_positions(game: Any, n: int | None, seed: int, plies: tuple[int, ...] = (),
                       informative: bool = False) -> tuple[list[Any], np.ndarray]:
    """``n`` reachable non-terminal positions (None: all of them; ``plies``: LO, HI stones on the board;
    ``informative``: only positions where some move is a mistake) and their exact action values ``float[n, A]``
    (kept for the process: several agents of one run are measured on the same positions)."""
    from dlfrontier.games import all_positions, positions_for

    if len(plies) not in (0, 2) or (plies and plies[0] > plies[1]):
        raise ConfigError(f"final_plies={','.join(map(str, plies))}: expected LO,HI with LO <= HI, or nothing")
    key = (game.name, n, seed, tuple(plies), informative)
    if key not in _LABELLED:
        if n is None:
            positions = list(all_positions(game))
        else:
            positions = list(positions_for(game, n, seed, plies=(plies[0], plies[1]) if plies else None,
                                           informative=informative,
                                           max_nodes=INFORMATIVE_MAX_NODES if informative else None))
        _LABELLED[key] = (positions, label(game, positions))
    return _LABELLED[key]


def evaluate_agent(game: Any, net: PolicyValueNet, cfg: AlphaZeroConfig, opponents: tuple[str, ...], games: int,
                   seed: int) -> dict[str, float]:
    """Score and Elo difference of network + search against each opponent (colour-balanced)."""
    agent = SearchAgent(game, net, eval_search(cfg))
    out: dict[str, float] = {}
    for i, name in enumerate(opponents):
        if games == 0:
            break
        res = batched_match(game, agent, make_player(name), games, seed=seed * 1000 + i)
        out[f"eval/score_vs_{name}"] = res.score
        out[f"eval/elo_vs_{name}"] = elo_from_score(res.score, res.n)
        out[f"eval/losses_vs_{name}"] = float(res.losses)
    return out


def policy_mistake_rate(game: Any, net: PolicyValueNet, positions: list[Any], values: np.ndarray) -> float:
    """Mistake rate of the network alone (the prior's most likely legal move, no search)."""
    logits, _ = NetworkEvaluator(game, net)(positions)
    legal = ~np.isnan(values)
    acts = np.where(legal, logits, -np.inf).argmax(axis=1)
    return float((values[np.arange(len(acts)), acts] < np.nanmax(values, axis=1)).mean())


def eval_search(cfg: AlphaZeroConfig) -> SearchConfig:
    """The search of evaluation: the run's search with ``eval_simulations`` (noise is off in :class:`SearchAgent`)."""
    return SearchConfig(**{**cfg.search.__dict__, "simulations": cfg.eval_simulations})


def train_step(net: PolicyValueNet, opt: torch.optim.Optimizer, planes: np.ndarray, policy: np.ndarray,
               value: np.ndarray) -> tuple[float, float]:
    """One Adam step on ``CE(policy target, logits) + (z - v)^2``; returns both losses."""
    net.train()
    logits, v = net(torch.from_numpy(planes))
    p_loss = -(torch.from_numpy(policy) * F.log_softmax(logits, dim=1)).sum(1).mean()
    v_loss = F.mse_loss(v, torch.from_numpy(value))
    opt.zero_grad()
    (p_loss + v_loss).backward()
    opt.step()
    return p_loss.item(), v_loss.item()


def iteration_lr(cfg: AlphaZeroConfig, it: int) -> float:
    """The learning rate of iteration ``it`` (0-based) with ``lr_decay``: cosine from ``lr`` to ``0.1 * lr``."""
    frac = it / max(cfg.iterations - 1, 1)
    return cfg.lr * (0.1 + 0.45 * (1 + math.cos(math.pi * frac)))


def train_alphazero(ctx: RunContext, cfg: AlphaZeroConfig) -> dict[str, float]:
    """Train AlphaZero (PUCT or Gumbel search, ``cfg.search.algorithm``) on ``cfg.game``; final metrics."""
    with cpu_threads(cfg.threads):
        return _train(ctx, cfg)


def _train(ctx: RunContext, cfg: AlphaZeroConfig) -> dict[str, float]:
    from dlfrontier.games import make_game

    game = make_game(cfg.game)
    net = build_network(game, cfg.channels, cfg.blocks)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    replay = ReplayWindow(cfg.replay_iterations)
    rng = np.random.default_rng(ctx.seed)
    start = 0
    if ctx.resume_state is not None:
        st = ctx.resume_state
        net.load_state_dict(st["net"]["weights"])
        opt.load_state_dict(st["optimizer"])
        replay.load_state_dict(st["replay"])
        rng.bit_generator.state = st["rng"]
        torch.set_rng_state(st["torch_rng"])
        start = int(st["iteration"])
    ctx.progress.start(cfg.iterations, unit="iterations")
    if start == 0:
        show_phase(ctx.progress, "evaluating the untrained network")
        ctx.logger.log(evaluate_agent(game, net, cfg, cfg.opponents, cfg.eval_games, seed=0), step=0)
    mcts = BatchedMCTS(cfg.search)
    for it in range(start, cfg.iterations):
        show_phase(ctx.progress, f"iteration {it + 1}: self-play")
        ev = NetworkEvaluator(game, net)
        t0 = time.perf_counter()
        samples, stats = self_play(game, mcts, ev, cfg.games_per_iteration, rng,
                                   temperature_moves=cfg.temperature_moves, value_mix=cfg.value_mix)
        sp_time = time.perf_counter() - t0
        replay.add(augment(game, samples) if cfg.augment else samples)
        data = replay.all()
        if cfg.lr_decay:
            for group in opt.param_groups:
                group["lr"] = iteration_lr(cfg, it)
        losses = []
        for _ in range(cfg.train_steps):
            idx = rng.integers(0, len(data), size=min(cfg.batch_size, len(data)))
            losses.append(train_step(net, opt, data.planes[idx], data.policy[idx], data.value[idx]))
        metrics = {"train/policy_loss": float(np.mean([p for p, _ in losses])),
                   "train/value_loss": float(np.mean([v for _, v in losses])),
                   "selfplay/games_per_s": stats.games / sp_time,
                   "selfplay/simulations_per_s": stats.moves * cfg.search.simulations / sp_time,
                   "selfplay/first_player_score": stats.first_player_score,
                   "selfplay/mean_length": stats.mean_length, "replay/size": float(len(data))}
        if (it + 1) % cfg.eval_every == 0 or it + 1 == cfg.iterations:
            show_phase(ctx.progress, f"iteration {it + 1}: evaluation")
            metrics.update(evaluate_agent(game, net, cfg, cfg.opponents, cfg.eval_games, seed=it + 1))
        ctx.logger.log(metrics, step=it + 1)
        ctx.save_checkpoint(_state(net, opt, replay, rng, it + 1), step=it + 1)
        ctx.progress.update(it + 1, **{k.split("/")[-1]: v for k, v in metrics.items() if k.startswith("eval/score")})
    return final_evaluation(ctx, game, net, cfg)


def _state(net: PolicyValueNet, opt: torch.optim.Optimizer, replay: ReplayWindow, rng: np.random.Generator,
           iteration: int) -> dict[str, Any]:
    return {"net": {"shape": dict(net.shape), "weights": net.state_dict()}, "optimizer": opt.state_dict(),
            "replay": replay.state_dict(), "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
            "iteration": iteration}


def final_evaluation(ctx: RunContext, game: Any, net: PolicyValueNet, cfg: AlphaZeroConfig) -> dict[str, float]:
    """The final matches and the optimal-move rate on solver-labelled positions; logged at the last step."""
    show_phase(ctx.progress, "final evaluation")
    t0 = time.perf_counter()
    out = evaluate_agent(game, net, cfg, cfg.final_opponents, cfg.final_games, seed=10_000 + ctx.seed)
    show_phase(ctx.progress, "labelling positions with the solver")
    positions, values = labelled_positions(game, cfg.final_positions, seed=12_345, plies=cfg.final_plies,
                                           informative=cfg.final_informative)
    agent = SearchAgent(game, net, eval_search(cfg))
    ev = agent.evaluate
    t1 = time.perf_counter()
    ok = move_quality(agent, positions, values, seed=ctx.seed, per_position=True)
    rate = float(np.mean(ok))
    out["eval/optimal_rate"] = rate
    out.update(phase_mistake_rates(game, positions, ok))
    out["eval/policy_mistake_rate"] = policy_mistake_rate(game, net, positions, values)
    out["eval/mistake_rate"] = 1.0 - rate
    out["eval/positions"] = float(len(positions))
    out["search/simulations_per_s"] = ev.positions / max(time.perf_counter() - t1, 1e-9)
    out["eval/final_seconds"] = time.perf_counter() - t0
    ctx.logger.log(out, step=cfg.iterations)
    write_tables(ctx, out, cfg)
    return out


PHASES = ("opening", "middle", "endgame")


def phase_mistake_rates(game: Any, positions: list[Any], ok: np.ndarray) -> dict[str, float]:
    """Mistake rate by game phase: positions split by stones on the board into thirds of the board's cells."""
    stones = encode_states(game, positions)[:, :2].sum(axis=(1, 2, 3))
    third = game.rows * game.cols / 3
    phase = np.minimum((stones // third).astype(int), 2)
    out = {}
    for i, name in enumerate(PHASES):
        sel = phase == i
        out[f"eval/mistake_rate_{name}"] = float(1 - ok[sel].mean()) if sel.any() else float("nan")
        out[f"eval/positions_{name}"] = float(sel.sum())
    return out


def write_tables(ctx: RunContext, out: dict[str, float], cfg: AlphaZeroConfig) -> None:
    """``tables/final.json``: the final matches (with Wilson intervals) and the mistake rates by phase."""
    rows = []
    for name in cfg.final_opponents:
        if f"eval/score_vs_{name}" in out:
            n = cfg.final_games
            lo, hi = wilson_ci(out[f"eval/score_vs_{name}"], n)
            rows.append([f"vs {name} ({n} games)", round(out[f"eval/score_vs_{name}"], 4), f"{lo:.3f}-{hi:.3f}",
                         int(out[f"eval/losses_vs_{name}"])])
    for phase in PHASES:
        rows.append([f"mistake rate, {phase} ({int(out[f'eval/positions_{phase}'])} positions)",
                     round(out[f"eval/mistake_rate_{phase}"], 4), "", ""])
    rows.append(["mistake rate, network alone", round(out["eval/policy_mistake_rate"], 4), "", ""])
    ctx.run_dir.joinpath("tables").mkdir(parents=True, exist_ok=True)
    atomic_write_json(ctx.run_dir / "tables" / "final.json", {
        "title": f"final evaluation ({cfg.eval_simulations} simulations per move, no noise)",
        "columns": ["measure", "value", "Wilson 95%", "losses"], "rows": rows})


__all__ = ["AlphaZeroConfig", "eval_search", "evaluate_agent", "final_evaluation", "train_alphazero", "train_step"]

"""AlphaGo made small: AlphaZero (PUCT) and Gumbel AlphaZero on games with exact values (issue 18).

Papers: Silver et al., "Mastering the game of Go with deep neural networks and tree search", Nature 2016;
Silver et al., "A general reinforcement learning algorithm that masters chess, shogi, and Go through self-play",
Science 2018 (https://arxiv.org/abs/1712.01815); Danihelka et al., "Policy improvement by planning with Gumbel",
ICLR 2022 (https://openreview.net/forum?id=bERaNdoegnO). Peers quoted by the issue: AlphaZero.jl (Connect Four:
~100% against UCT-1000 from iteration 5), alpha-zero-general (Connect Four: 83 wins / 7 draws / 10 losses
against a one-step-lookahead player after ~5 h), AlphaZero_Gomoku (6x6, 4 in a row, in ~2 h).

The library is :mod:`dlfrontier.rl.search` (batched PUCT / Gumbel search, residual policy/value network,
self-play, training loop, evaluation) and :mod:`dlfrontier.games` (rules, solver, classic players). Strength is
measured against exact values: the **mistake rate** is the fraction of solver-labelled positions where the
agent's move (network + search, no noise) is not optimal (another legal move has a strictly better game value);
every iteration also plays colour-balanced games against fixed opponents (score and Elo difference curves).

``alphazero-tictactoe``: all 4,520 reachable non-terminal positions and 200 games against the perfect player.
``alphazero-connect4``: the full 7x6 board, 200 games against depth-2 minimax and 100 labelled positions.
``alphazero-connect4-small``: Connect Four on 5 columns x 4 rows (the solver labels it exactly): 500 positions,
200 games against UCT-200 (plain MCTS, 200 random rollouts per move). ``gumbel-vs-puct-connect4-small``: the
paper's claim at few simulations: PUCT and Gumbel AlphaZero each trained and evaluated with 2 and 4 simulations
per move, scored against the same fixed opponent; the metric is the smaller of the two score differences.

How the settings were chosen: see each experiment's comment (tuned on seeds 100-102, published on seeds 0-2).
"""

from __future__ import annotations

from dlfrontier.experiments.base import Anchor, Baseline, Budget, Expect, Experiment, register
from dlfrontier.rl.search.compare import GumbelVsPuctConfig, evaluate_comparison, gumbel_vs_puct
from dlfrontier.rl.search.play import evaluate_run
from dlfrontier.rl.search.training import AlphaZeroConfig, train_alphazero
from dlfrontier.runtime import RunContext

# Seconds per quick run (1 torch thread), the ETA of `dlfrontier run` and `dlfrontier list`: measured in the
# publishing runs of issue 18 (wall time beside other work on the shared 2-core machine; for the two Connect Four
# recipes of 2026-12-01 evening, whose runs shared the machine with four others, their CPU time: one busy core)
TYPICAL_SECONDS: dict[str, float] = {"alphazero-tictactoe": 48, "alphazero-connect4-small": 500,
                                    "gumbel-vs-puct-connect4-small": 300, "alphazero-connect4": 3100}


def alphazero(ctx: RunContext, cfg: AlphaZeroConfig) -> dict[str, float]:
    """Self-play training of network + search on ``cfg.game``; final matches and the mistake rate."""
    return train_alphazero(ctx, cfg)


# alphazero-tictactoe. Quick settings: 20 iterations x 128 self-play games, 32 PUCT simulations in self-play with
# moves sampled from the visit counts for the whole game (temperature_moves 9), 64 simulations at evaluation, 100
# Adam steps of 256 per iteration, 8 symmetries. History, in the open: (1) 8 iterations, 32 evaluation simulations,
# greedy after 4 moves met both criteria on tuning seeds 100-102, but published on seeds 0-2 it lost 15 of 200
# games to the perfect player on seed 1; (2) 20 iterations and 64 evaluation simulations passed on seeds 100-104,
# but published it still lost 7 games on seed 1 (traps: positions where the opponent has a fork three plies deep,
# which greedy self-play after move 4 rarely visits); (3) sampling self-play moves for the whole game, checked on
# seeds 100-109: 0 losses and 0.3-0.9% mistakes on all ten (39-60 s each); published. Runs of (1) and (2) are kept
# apart in /work/runs-superseded.
# The "optimal on >= 95% of positions" is met by search alone: the untrained network with 64 PUCT
# simulations already plays 97.3% of the positions optimally (baseline below), so the criterion is 1.25% mistakes
# (it must clear the baseline by half its magnitude).
TTT_QUICK = {"iterations": 20, "eval_simulations": 64, "temperature_moves": 9}
TTT_BASELINE = Baseline(0.0266, "untrained network (32 channels, 2 blocks) + 64 PUCT simulations, no noise, on all "
                        "4,520 positions, init seeds 0-4, measured: 0.0283 / 0.0281 / 0.0226 / 0.0296 / 0.0246 "
                        "(score vs the perfect player over 100 games: 0.26-0.30; with 32 simulations: 0.0566)")
TTT_FULL = {**TTT_QUICK, "iterations": 40, "games_per_iteration": 256}
register(Experiment(
    name="alphazero-tictactoe",
    typical_seconds=TYPICAL_SECONDS["alphazero-tictactoe"],
    group="rl",
    summary="AlphaZero (batched PUCT MCTS + residual policy/value net, self-play) on tic-tac-toe",
    topic="AlphaGo/AlphaZero made small: MCTS + policy/value network + self-play",
    config=AlphaZeroConfig,
    run=alphazero,
    budgets={"quick": Budget(TTT_QUICK, [Expect("eval/mistake_rate", "<=", 0.0125),
                                         Expect("eval/losses_vs_perfect", "<=", 0.0,
                                                name="0 losses in 200 games vs the perfect player")]),
             "full": Budget(TTT_FULL, [Expect("eval/mistake_rate", "<=", 0.0125),
                                       Expect("eval/losses_vs_perfect", "<=", 0.0,
                                              name="0 losses in 200 games vs the perfect player")])},
    anchor=Anchor("eval/mistake_rate", 0.0, "perfect play (exact minimax): no optimal player makes a mistake on "
                  "any of the 4,520 reachable non-terminal tic-tac-toe positions", higher_is_better=False),
    baseline=TTT_BASELINE,
    curve="eval/score_vs_perfect",
    demo=True,
    evaluate=evaluate_run,
))


# alphazero-connect4-small: Connect Four on 5 columns x 4 rows (a draw with perfect play; the solver labels every
# position). First quick settings, chosen on seeds 100-101: 15 iterations with 32 evaluation simulations reached a
# mistake rate of 5.0% and 0.79 vs UCT-200 (seed 100, 346 s); 20 iterations with 64 evaluation simulations 0.81
# (seed 101, 393 s). The perfect player itself (random among optimal moves) scores only 0.805 vs UCT-200 over 100 games
# (61 wins, 39 draws; 0.790 vs minimax-2): 5x4 is a draw, so the ">= 80% vs UCT-200" asks for perfect play
# that also wins the games UCT-200 lets it win, and can fail by chance even for a perfect agent. That recipe,
# published on seeds 0-2, scored 0.800 / 0.835 / 0.718 vs UCT-200 (mistakes 4.4-5.0%; runs kept in
# /work/runs-superseded). Then the 7x6 board's additions (below) were carried over: 40 iterations, cosine
# learning-rate decay, a replay window of 8 iterations, the value target averaging z and q (value_mix 0.5), and the
# evaluation every 2nd iteration; on tuning seeds 100 / 101 / 102: 0.843 / 0.830 / 0.835 vs UCT-200, mistake rates
# 2.8% / 3.4% / 3.8% (635-671 s each, beside two 7x6 trainings).
C4_QUICK = {"game": "connect4-5x4", "iterations": 40, "lr_decay": True, "replay_iterations": 8, "value_mix": 0.5,
            "eval_every": 2, "eval_simulations": 64, "channels": 64, "blocks": 3, "opponents": ("minimax-2",),
            "final_opponents": ("uct-200", "minimax-2"), "final_positions": 500}
C4_FULL = {**C4_QUICK, "iterations": 80, "games_per_iteration": 256, "search.simulations": 64}
C4_BASELINE = Baseline(0.237, "untrained network (64 channels, 3 blocks) + 32 PUCT simulations on the 500 labelled "
                       "positions, init seeds 0-4, measured: 0.204 / 0.244 / 0.238 / 0.276 / 0.222 (score vs "
                       "UCT-200 over 100 games: 0.150-0.255)")
C4_CRITERIA = [Expect("eval/mistake_rate", "<=", 0.10),
               Expect("eval/score_vs_uct-200", ">=", 0.80, name=">= 80% score vs UCT-200 (200 games)")]
register(Experiment(
    name="alphazero-connect4-small",
    typical_seconds=TYPICAL_SECONDS.get("alphazero-connect4-small"),
    group="rl",
    summary="AlphaZero (batched PUCT MCTS + residual policy/value net, self-play) on Connect Four 5x4",
    topic="AlphaGo/AlphaZero made small: MCTS + policy/value network + self-play",
    config=AlphaZeroConfig,
    run=alphazero,
    budgets={"quick": Budget(C4_QUICK, C4_CRITERIA), "full": Budget(C4_FULL, C4_CRITERIA)},
    anchor=Anchor("eval/mistake_rate", 0.0, "the exact solver (negamax, alpha-beta, transposition table): no "
                  "mistake on any position; the issue's full bar for 7x6 is <= 3% (medium) / 8% (hard), after "
                  "AlphaZero.jl's Connect Four benchmark", higher_is_better=False),
    baseline=C4_BASELINE,
    curve="eval/score_vs_minimax-2",
    evaluate=evaluate_run,
))


# alphazero-connect4: Connect Four on the full 7x6 board, the bar: >= 80% against depth-2 minimax (its line
# heuristic at the leaves), the player the AlphaZero.jl documentation says no Python AlphaZero it knows beats on one
# desktop. Settings chosen on tuning seeds 100-101 only: (a) the connect4-small recipe (seed 100; stopped at
# iteration 45 of 80) scored 0.1-0.64 against minimax-2 at 64 evaluation simulations, swinging between iterations;
# its iteration-41 network scored 0.635 at 64 simulations and 0.79 at 200 over 100 games, its iteration-43 network
# 0.515 at 400: the search at evaluation matters and the late networks were unstable; (b) a replay window of 8
# iterations, cosine learning-rate decay to 10% and 200 evaluation simulations (seed 101): 0.79 mean score over
# iterations 33-42 (20 games each: 0.65-0.93), stopped there for time (the machine was needed for the publishing
# runs). Recipe (b) with 60 iterations was published on seeds 0-2 and missed the bar: 0.785 / 0.695 / 0.7925 (runs
# kept in /work/runs-superseded). (c) Recipe (b) with the value target averaging z and the search's root value
# (value_mix 0.5), 90 iterations, and the 20-game evaluation every 3rd iteration (its time went into the extra
# iterations): tuning seeds 100 / 101 scored 0.85-1.0 / 0.65-1.0 over iterations 42-69 (20 games each) and
# 0.98 / 0.9525 in the final 200 games (0 / 7 losses; mistake rates 5% / 4%); seed 101 used 46 CPU-minutes (one
# thread; 74 min wall beside 3-5 other trainings). The mistake rate is measured on 100 solver-labelled informative
# positions with 10-30 stones (each solved within 300k nodes per move), split by phase.
C4_FULL_BOARD_QUICK = {"game": "connect4", "iterations": 90, "temperature_moves": 8, "lr_decay": True,
                       "replay_iterations": 8, "value_mix": 0.5, "eval_every": 3,
                       "channels": 64, "blocks": 3, "eval_simulations": 200, "eval_games": 20,
                       "opponents": ("minimax-2",), "final_opponents": ("minimax-2",), "final_games": 200,
                       "final_positions": 100, "final_plies": (10, 30), "final_informative": True}
C4_FULL_BOARD_FULL = {**C4_FULL_BOARD_QUICK, "iterations": 200, "games_per_iteration": 512, "search.simulations": 128,
                      "channels": 128, "blocks": 5, "final_opponents": ("minimax-2", "uct-1000")}
register(Experiment(
    name="alphazero-connect4",
    typical_seconds=TYPICAL_SECONDS["alphazero-connect4"],
    group="rl",
    summary="AlphaZero (batched PUCT MCTS + residual policy/value net, self-play) on Connect Four 7x6",
    topic="AlphaGo/AlphaZero made small: MCTS + policy/value network + self-play",
    config=AlphaZeroConfig,
    run=alphazero,
    budgets={"quick": Budget(C4_FULL_BOARD_QUICK, Expect("eval/score_vs_minimax-2", ">=", 0.80,
                                                         name=">= 80% score vs minimax-2 (200 games)")),
             "full": Budget(C4_FULL_BOARD_FULL, [
                 Expect("eval/score_vs_minimax-2", ">=", 0.95, name=">= 95% score vs minimax-2 (200 games)"),
                 Expect("eval/score_vs_uct-1000", ">=", 0.95, name=">= 95% score vs UCT-1000 (200 games)"),
                 Expect("eval/mistake_rate", "<=", 0.08)])},
    anchor=Anchor("eval/score_vs_minimax-2", 1.0, "AlphaZero.jl's Connect Four agent wins ~100% against minimax and "
                  "UCT-1000 from iteration 5 (its documentation; a GPU and hours); it states no Python AlphaZero it "
                  "knows beats a depth-2 minimax player on one desktop computer"),
    baseline=Baseline(0.45, "untrained network (64 channels, 3 blocks) + 200 PUCT simulations, no noise, vs minimax-2, "
                      "20 colour-balanced games (iteration 0 of the curves): 0.45 / 0.45 / 0.0 on seeds 101 / 0 / 1; "
                      "the largest is the baseline"),
    curve="eval/score_vs_minimax-2",
    evaluate=evaluate_run,
))


def compare(ctx: RunContext, cfg: GumbelVsPuctConfig) -> dict[str, float]:
    """PUCT and Gumbel AlphaZero trained and scored with 2 and 4 simulations per move; Gumbel - PUCT."""
    return gumbel_vs_puct(ctx, cfg)


# gumbel-vs-puct-connect4-small: the first connect4-small recipe (15 iterations, 64 x 3 network) with 2 and 4 sims
# per move, scored over 200 colour-balanced games against minimax-2 (the fastest opponent that separates them),
# not tuned further: seed 100 gave Gumbel - PUCT = +0.117 at 2 simulations (scores 0.250 / 0.133; mistake rates
# 20.4% / 38.4%) and +0.025 at 4 (0.250 / 0.225; 23.0% / 23.4%), 308 s.
# Untrained, the two searches already differ (Gumbel's deterministic halving vs PUCT's visit counts): the smaller
# difference averages +0.008, so "Gumbel >= PUCT" (0.0) would not clear it; the criterion asks for +0.02.
# Published on seeds 0-4 (2026-12-01 evening): +0.122 / +0.263 / +0.192 / +0.200 / -0.032, IQM +0.172 (an earlier
# machine's seeds 0-2: +0.135 / -0.318 / +0.268; runs are deterministic per machine only). 571-688 s per run there.
GVP_BASELINE = Baseline(0.0076, "untrained network (64 channels, 3 blocks), PUCT and Gumbel with 2 and 4 simulations, "
                        "200 games each vs minimax-2, init seeds 0-4, measured: smaller difference 0.120 / -0.075 / "
                        "0.065 / -0.087 / 0.015 (scores 0.00-0.27)")
GVP_THRESHOLD = 0.02
GVP_QUICK = {"base.game": "connect4-5x4", "base.iterations": 15, "base.channels": 64, "base.blocks": 3,
             "base.final_positions": 500}
GVP_FULL = {**GVP_QUICK, "base.iterations": 40, "simulations": (16, 32, 64)}
register(Experiment(
    name="gumbel-vs-puct-connect4-small",
    typical_seconds=TYPICAL_SECONDS.get("gumbel-vs-puct-connect4-small"),
    group="rl",
    summary="Gumbel AlphaZero vs PUCT AlphaZero with 2 and 4 simulations per move on Connect Four 5x4",
    topic="Gumbel AlphaZero: policy improvement by planning with Gumbel (few simulations)",
    config=GumbelVsPuctConfig,
    run=compare,
    budgets={"quick": Budget(GVP_QUICK, Expect("eval/gumbel_minus_puct", ">=", GVP_THRESHOLD)),
             "full": Budget(GVP_FULL, Expect("eval/gumbel_minus_puct", ">=", GVP_THRESHOLD))},
    anchor=Anchor("eval/gumbel_minus_puct", 0.0, "Danihelka et al. 2022 (Fig. 1-2, 9x9 Go and Atari): with 2-16 "
                  "simulations Gumbel MuZero/AlphaZero learns where PUCT-based MuZero/AlphaZero does not "
                  "(the claim: Gumbel >= PUCT at every small simulation count)"),
    baseline=GVP_BASELINE,
    curve="gumbel_s2/eval/score_vs_minimax-2",
    evaluate=evaluate_comparison,
))

"""Self-play and game-theoretic learning: masked PPO that learns two-player games by playing itself (issue 19).

Papers: Schulman et al., "Proximal Policy Optimization Algorithms" (2017, https://arxiv.org/abs/1707.06347);
Huang & Ontanon, "A Closer Look at Invalid Action Masking in Policy Gradient Algorithms" (FLAIRS 2022,
https://arxiv.org/abs/2006.14171); Vinyals et al., "Grandmaster level in StarCraft II using multi-agent
reinforcement learning" (Nature 2019: the league, PFSP ``f_hard(x) = (1 - x)^2``, main exploiters); Bansal et al.,
"Emergent Complexity via Multi-Agent Competition" (ICLR 2018: opponents sampled from past snapshots); RLlib's
self-play example (a snapshot joins the league at a 0.95 win rate). Peers quoted by the issue: PettingZoo's
Stable-Baselines3 tutorials (Connect Four: 0.86 against random after 40k steps; tic-tac-toe: "still loses every
time").

The library is :mod:`dlfrontier.rl.selfplay`: a NumPy environment that plays many games of a
:mod:`dlfrontier.games` rule set at once, masked PPO whose rollouts attribute each game's result to both seats,
an opponent pool (0.95 rule, every-N snapshots, uniform or PFSP sampling, league-lite exploiter), Bradley-Terry
ratings anchored at the random player. Every evaluation plays the *greedy* learner against fixed players of
:mod:`dlfrontier.games` on the games module's own rules (not the training environment), colour-balanced.

How the settings were chosen: see each experiment's comment (tuned on seeds >= 100, published on seeds 0-2).
"""

from __future__ import annotations

from dlfrontier.experiments.base import Anchor, Baseline, Budget, Expect, Experiment, register
from dlfrontier.rl.selfplay.compare import PoolVsNaiveConfig, pool_vs_naive
from dlfrontier.rl.selfplay.evaluation import evaluate_run
from dlfrontier.rl.selfplay.training import SelfPlayConfig, train_selfplay
from dlfrontier.runtime import RunContext

# Seconds per quick run (wall time, 1 torch thread, beside other work on the shared 2-core machine): measured in the
# publishing runs (tictactoe seeds 0-4 with random openings 90 / 90 / 81 / 85 / 85 s two at a time, connect4 with
# threat planes and openings 698 / 702 / 698 s three at a time on two cores, 420-430 s two at a time on tuning seeds,
# pool-vs-naive with threat planes and openings 267 / 272 / 275 s two at a time)
TYPICAL_SECONDS: dict[str, float] = {"selfplay-ppo-tictactoe": 86, "selfplay-ppo-connect4": 425,
                                     "selfplay-pool-vs-naive-connect4": 271}


def selfplay_ppo(ctx: RunContext, cfg: SelfPlayConfig) -> dict[str, float]:
    """Self-play PPO on ``cfg.game``; the final scores against fixed opponents and the learner's Elo."""
    return train_selfplay(ctx, cfg)


# selfplay-ppo-tictactoe: naive self-play (the latest learner plays both seats), half the games opening with 1-4
# uniformly random moves (not trained on), 2M learner moves, 512 games per update, MLP 2 x 256, lr 1e-3 annealed
# linearly to 0, 4 epochs of 1024, ent_coef 0.05. History, in the open:
# (1) tuned on seed 100 (one run each, 1.5M moves, no annealing):
# ent_coef 0.01, 300k moves: 19-20 losses in 100 games vs perfect (a deterministic policy with holes); PFSP pool with
# ent_coef 0.03: 5 losses; PFSP pool with lr 3e-4: 85; naive with ent_coef 0.05: 0. Checked on seeds 101 and 102:
# 0 losses in 200 games each (76-119 s on the shared machine). Published on seeds 0-2: 0, 11 and 5 losses (the final
# policy of an oscillating self-play process is one snapshot; two of three published ones had a hole); those runs are
# kept in /work/runs-superseded/selfplay-ppo-tictactoe-v1. (2) Annealing the learning rate to 0 over 2M moves, checked
# on seeds 100-104: 0 losses in 200 games on all five (from 1M moves on in every evaluation; 69-71 s each); published
# on seeds 0-2: 0 / 0 / 3 losses (score 0.5 / 0.5 / 0.4925): seed 2 still fails. Not changed again. (3) Tried on
# tuning seeds on 2026-12-03, not adopted: the threat planes (3 of seeds 100-109 lost 4 / 13 / 20 games), a PFSP pool
# (seed 102 lost 9); this recipe lost 0 on seeds 100-115, and so did an average of its weights (nothing to gain).
# (4) Later on 2026-12-03, a finer measure than 200 games: the exploitable positions of the greedy learner (counted
# exactly: its game tree against every opponent move, positions where its move lowers its exact value). The recipe
# of (2) on seeds 100-109: 20 / 29 / 26 / 34 / 24 / 19 / 33 / 19 / 31 / 24 (mean 25.9), none reachable by the perfect
# player; seed 2's published learner has 20, one of them reachable by the perfect player (its 3 losses). Two ways to
# reach positions self-play rarely visits, on seeds 100-109: an epsilon-random copy of the learner in one seat of a
# quarter of the games (epsilon 0.25: 0-11 positions, but seed 101 lost 20 games to perfect; epsilon 0.1: seed 107
# lost 24), and games that start with random moves: a quarter of the games with 1-2 random moves 8-24 (mean 15.2,
# no loss; 0 losses on seeds 110-117 too), half of them with 1-4 random moves 10 / 5 / 1 / 1 / 5 / 4 / 7 / 1 / 3 / 6
# (mean 4.3, no loss). Rule fixed before choosing: the fewest exploitable positions on seeds 100-109 among the
# variants with no loss there. Adopted: half the games open with 1-4 random moves (the recipe of (2) otherwise).
# The third change after a failing publication, each stated; this one rests on the tuning seeds' exploitable
# positions (a 6x reduction), not on the publishing seeds. Published on seeds 0-4 (five, not three): 0 losses on
# all five, 3-6 exploitable positions, none reachable by the perfect player. Checked afterwards on seeds 110-119:
# 1-11 (mean 5.4), none reachable by perfect, 0 losses.
TTT_QUICK = {"game": "tictactoe", "total_steps": 2_000_000, "eval_every": 250_000, "algo.ent_coef": 0.05,
             "algo.anneal": True, "opening_fraction": 0.5, "opening_plies": 4,
             "eval_opponents": ("random", "lookahead", "perfect"),
             "final_opponents": ("random", "lookahead", "perfect")}
TTT_FULL = {**TTT_QUICK, "total_steps": 10_000_000, "eval_every": 1_000_000}
TTT_CRITERIA = [Expect("eval/score_vs_perfect", ">=", 0.5),
                Expect("eval/losses_vs_perfect", "<=", 0.0, name="0 losses in 200 games vs the perfect player")]
register(Experiment(
    name="selfplay-ppo-tictactoe",
    typical_seconds=TYPICAL_SECONDS["selfplay-ppo-tictactoe"],
    group="rl",
    summary="Self-play PPO with action masking on tic-tac-toe, scored against the perfect player",
    topic="Self-play and game-theoretic learning (StarCraft II / Dota 2, made small)",
    config=SelfPlayConfig,
    run=selfplay_ppo,
    budgets={"quick": Budget(TTT_QUICK, TTT_CRITERIA), "full": Budget(TTT_FULL, TTT_CRITERIA)},
    anchor=Anchor("eval/score_vs_perfect", 0.0, "PettingZoo's SB3 action-masking tutorial (tic-tac-toe): its agent "
                  "\"still loses every time\" against a strong opponent (score 0); 0.5 is perfect play (the perfect "
                  "player never loses, so 0.5 means 0 losses)"),
    baseline=Baseline(0.0725, "the uniformly random player against the perfect player, 200 games, measured (0 wins, "
                      "29 draws); the untrained network (greedy, init seeds 0-4) scores 0.005 / 0.11 / 0.025 / "
                      "0.155 / 0.015 (198 / 156 / 190 / 138 / 194 losses in 200 games)"),
    curve="eval/elo",
    demo=True,
    evaluate=evaluate_run,
))


# selfplay-ppo-connect4: the pool learner (half its games against itself, half against PFSP-drawn snapshots; a snapshot
# at the 0.95 rule or every 20 updates, at most 10 kept), 4M learner moves, 512 games per update, MLP 2 x 256, lr
# 1e-3, 4 epochs of 1024, ent_coef 0.02. Tuned on seed 100, one run each (final score vs random / vs lookahead, 200
# games): naive self-play 4M moves 0.932 / 0.393 (317 s); this pool 0.94 / 0.438; a CNN (2 x 16 channels) naive,
# 3M moves, 0.965 / 0.383 (339 s); the pool with 2 epochs per update, 6M moves, 0.90-0.93 / 0.23-0.38 at 1-4M
# (stopped). The lookahead criterion was not reached by any within the ~5 minute budget; not loosened. Published on
# seeds 0-2: 0.945 / 0.88 / 0.955 vs random, 0.235 / 0.198 / 0.417 vs lookahead (316-409 s). The primary criterion is
# the score against lookahead (anchor: alpha-zero-general's 0.865), not against random: the untrained network already
# scores up to 0.865 against random, so that number cannot show learning on its own (changed after publication, the
# settings unchanged, re-run on the same seeds).
# Since 2026-12-02 (second publication) the network also sees three hand-made planes, `algo.features="threats"`
# (cells that complete a line for the mover / the opponent, playable cells; AlphaGo's input had 48 such planes):
# the stones-only learner of seed 100 (0.4375 vs lookahead, re-run) lost 103 of 200 games to lookahead, with 74
# missed wins in one and 71 missed blocks among its 2,367 moves. With the planes, tuning seeds 100 / 101: 0.6475 /
# 0.6625 vs lookahead (0.98 / 0.97 vs random at the last evaluation), everything else unchanged. A change made after
# the publishing seeds failed, stated as such; the criterion is unchanged. Published on seeds 0-2 (2026-12-02):
# 0.6375 / 0.62 / 0.63 vs lookahead, 0.975 / 0.985 / 0.98 vs random: pass.
# Since 2026-12-03 (third publication) half of the games open with 1-4 random moves, as in tic-tac-toe (where they
# were chosen): on tuning seeds 100 / 101 0.775 / 0.77 vs lookahead (1.0 vs random at the last evaluation), against
# 0.6475 / 0.6625 without them, everything else unchanged (420-430 s, two at a time). The recipe passed before; it
# changed because the learner got stronger on the tuning seeds, and the publishing seeds were re-run once:
# 0.8225 / 0.7575 / 0.6925 vs lookahead, 0.995 / 0.985 / 0.985 vs random (698-702 s, three at a time): pass.
C4_QUICK = {"game": "connect4", "total_steps": 4_000_000, "eval_every": 500_000, "algo.ent_coef": 0.02,
            "opponents": "pool", "snapshot_every": 20, "pool_capacity": 10, "algo.features": "threats",
            "opening_fraction": 0.5, "opening_plies": 4}
C4_FULL = {**C4_QUICK, "total_steps": 50_000_000, "eval_every": 2_500_000, "exploiter": True}
C4_CRITERIA = [Expect("eval/score_vs_lookahead", ">=", 0.60),
               Expect("eval/score_vs_random", ">=", 0.90, name=">= 90% vs random (200 games)")]
register(Experiment(
    name="selfplay-ppo-connect4",
    typical_seconds=TYPICAL_SECONDS["selfplay-ppo-connect4"],
    group="rl",
    summary="Self-play PPO with action masking on Connect Four (7x6), scored against random and lookahead",
    topic="Self-play and game-theoretic learning (StarCraft II / Dota 2, made small)",
    config=SelfPlayConfig,
    run=selfplay_ppo,
    budgets={"quick": Budget(C4_QUICK, C4_CRITERIA), "full": Budget(C4_FULL, C4_CRITERIA)},
    anchor=Anchor("eval/score_vs_lookahead", 0.865, "alpha-zero-general (AlphaZero on Connect Four): 83 wins / 7 "
                  "draws / 10 losses against a one-step-lookahead player after ~5 h. The issue's PPO peer, "
                  "PettingZoo's Stable-Baselines3 tutorial, reports only 0.86 against a random agent after 40k steps"),
    baseline=Baseline(0.014, "the untrained greedy network against lookahead, init seeds 0-4, 200 games each: 0.0 / "
                      "0.0 / 0.0 / 0.048 / 0.02, measured. The score against random is not the primary metric "
                      "because no learning already scores 0.65 / 0.755 / 0.72 / 0.835 / 0.865 there (the untrained "
                      "network stacks one column, which a random opponent rarely blocks)"),
    curve="eval/elo",
    evaluate=evaluate_run,
))


def compare(ctx: RunContext, cfg: PoolVsNaiveConfig) -> dict[str, float]:
    """A pool learner and a naive learner trained in one run, rated in one round robin with the anchors."""
    return pool_vs_naive(ctx, cfg)


# selfplay-pool-vs-naive-connect4: the connect4 recipe above for both learners (the pool one as in
# selfplay-ppo-connect4, the naive one with opponents=self), 1.5M learner moves each (3M in the run, to fit the
# shared machine), a kept copy of each every 500k moves, then one round robin of the 8 copies and random / lookahead
# / minimax-2, 100 games per pair. Not tuned: seed 100's two 4M-move runs above rated 614 (pool) and 528 (naive)
# Elo from their games against random and lookahead. The criterion is the "pool >= naive" (0 Elo), which
# clears the untrained pair's -9.8; the untrained pair's spread (+-35 Elo) says one seed cannot separate them.
# Published on seeds 0-2 (stones only, 2026-12-01): +51 / -23 / -134 Elo (192-324 s): fails at this budget (see
# docs/selfplay.md).
# Since 2026-12-03 both learners take selfplay-ppo-connect4's current recipe (threat planes, random openings), which
# the settings above had not followed since 2026-12-02: derived from C4_QUICK so that they stay the same. Decided
# before any run with them, not tuned; published on seeds 0-2 (second publication): +10.1 / -1.1 / -38.0 Elo (mean
# -9.6; head to head the pool learner scores 0.45 / 0.315 / 0.37 against the naive one): fails again.
# Since 2026-12-03 (third publication) the pool learner plays itself in 80% of its games and its past selves in 20%
# (`self_play_fraction` 0.8, OpenAI Five's split of latest and past opponents) instead of half and half; the naive
# learner is unchanged. Rule fixed before the runs: adopt 0.8 if its mean pool - naive over tuning seeds 100-105 is
# >= 0 and above 0.5's on the same seeds. Measured (two runs at a time, 247-285 s each): 0.8 +38.1 / +30.7 / +79.1 /
# +36.2 / +95.0 / +71.8 Elo (mean +58.5; the pool's final copy scores 0.515-0.595 against the naive one); 0.5
# +21.2 / +20.5 / -20.9 / -98.7 / -35.9 / -57.9 (mean -28.6). Adopted; selfplay-ppo-connect4 keeps 0.5 (it passes;
# not re-tuned). Published on seeds 0-2: +29.5 / +16.6 / -49.6 Elo (mean -1.2, 238-245 s): fails, by little.
# The full budget (20M moves each, 200 games per pair), run once on seeds 0-2 on 2026-12-04 without tuning
# (three processes on 2 cores, ~5,200 s each): +6.8 / -51.0 / -34.8 Elo (mean -26.3): fails; the naive learner's last
# copy is its best on every seed (no forgetting to prevent; docs/selfplay.md).
PVN_QUICK = {**{f"base.{k}": v for k, v in C4_QUICK.items() if k != "opponents"},
             "base.total_steps": 1_500_000, "base.eval_every": 500_000, "base.self_play_fraction": 0.8}
PVN_FULL = {**PVN_QUICK, "base.total_steps": 20_000_000, "base.eval_every": 2_500_000, "rating_games": 200}
PVN_THRESHOLD = 0.0
register(Experiment(
    name="selfplay-pool-vs-naive-connect4",
    typical_seconds=TYPICAL_SECONDS["selfplay-pool-vs-naive-connect4"],
    group="rl",
    summary="Opponent pool (PFSP, 0.95 rule) vs naive latest-copy self-play on Connect Four, rated in one round robin",
    topic="Self-play and game-theoretic learning: opponent pools against forgetting",
    config=PoolVsNaiveConfig,
    run=compare,
    budgets={"quick": Budget(PVN_QUICK, Expect("eval/elo_pool_minus_naive", ">=", PVN_THRESHOLD)),
             "full": Budget(PVN_FULL, Expect("eval/elo_pool_minus_naive", ">=", PVN_THRESHOLD))},
    anchor=Anchor("eval/elo_pool_minus_naive", 0.0, "the claim opponent pools exist for (Bansal et al. 2018; "
                  "AlphaStar 2019): training against past selves stops the forgetting of latest-copy self-play, "
                  "so the pool learner rates at least as high at the same number of moves"),
    baseline=Baseline(-9.8, "the two untrained networks of the run (pool's built first), rated in the same round "
                      "robin (random, lookahead, minimax-2, 100 games per pair, sampled moves), init seeds 0-4, "
                      "measured: +24.4 / +24.9 / -10.1 / -63.5 / -24.9 Elo: the rating noise of one run is about "
                      "+-35 Elo"),
    curve="pool/eval/elo",
    evaluate=evaluate_run,
))

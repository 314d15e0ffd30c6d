"""Search-based game play: batched PUCT and Gumbel MCTS, a policy/value network, AlphaZero's self-play loop.

    from dlfrontier.games import make_game
    from dlfrontier.rl.search import BatchedMCTS, SearchConfig, NetworkEvaluator, build_network
    game = make_game("tictactoe")
    net = build_network(game, channels=32, blocks=2)
    mcts = BatchedMCTS(SearchConfig(algorithm="gumbel", simulations=16))
    out = mcts.search(game, [game.initial()] * 64, NetworkEvaluator(game, net), np.random.default_rng(0))
    out.action, out.policy, out.visits, out.q, out.value      # per game, shapes [64] / [64, 9]

Papers: Silver et al., "Mastering the game of Go with deep neural networks and tree search" (Nature 2016);
Silver et al., "A general reinforcement learning algorithm that masters chess, shogi, and Go through self-play"
(Science 2018); Danihelka et al., "Policy improvement by planning with Gumbel" (ICLR 2022). The tree layout
follows DeepMind's mctx (flat [B, N, A] arrays). See ``docs/search.md``.
"""

from dlfrontier.rl.search.mcts import BatchedMCTS, SearchConfig, SearchResult, considered_visits
from dlfrontier.rl.search.network import NetworkEvaluator, PolicyValueNet, build_network, network_from_state

__all__ = ["BatchedMCTS", "NetworkEvaluator", "PolicyValueNet", "SearchConfig", "SearchResult", "build_network",
           "considered_visits", "network_from_state"]

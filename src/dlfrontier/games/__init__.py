"""Board games with exact values: rules, a solver, classic players and an arena (issue 18's games half).

The rules live behind one small interface (:class:`~dlfrontier.games.base.Game`); a state is an immutable,
hashable value, so search trees and transposition tables key on it. Every value is **for the player to move**
(negamax view): :meth:`Game.outcome` of a won game is ``-1.0`` because the player who just moved won.

    from dlfrontier.games import make_game, solve, PerfectPlayer, RandomPlayer, match
    game = make_game("connect4-5x4")
    s = game.play(game.initial(), 2)
    solve(game, s)                                   # exact value for the player to move: +1 / 0 / -1
    match(game, PerfectPlayer(), RandomPlayer(), n_games=100, seed=0).score

Games: ``tictactoe``, ``connect4`` (7x6) and ``connectK-WxH`` (any board up to 9x9), ``gomoku-WxH-K``.
PettingZoo AEC environments of each: :func:`dlfrontier.games.pettingzoo.env` (needs the ``games`` extra).
"""

from dlfrontier.games.arena import (
    MatchResult,
    all_positions,
    elo_from_score,
    is_mistake,
    label_positions,
    match,
    mistake_rate,
    play_game,
    positions_for,
    wilson_ci,
)
from dlfrontier.games.base import GAMES, BitboardGame, Game, State, _register_builtin, make_game
from dlfrontier.games.connect4 import Connect4
from dlfrontier.games.gomoku import Gomoku
from dlfrontier.games.players import (
    EpsilonPlayer,
    LookaheadPlayer,
    MinimaxPlayer,
    PerfectPlayer,
    Player,
    RandomPlayer,
    UCTPlayer,
    make_player,
)
from dlfrontier.games.solver import SolverBudgetExceeded, action_values, solve
from dlfrontier.games.tictactoe import TicTacToe

_register_builtin()

__all__ = [
    "GAMES",
    "BitboardGame",
    "Connect4",
    "EpsilonPlayer",
    "Game",
    "Gomoku",
    "LookaheadPlayer",
    "MatchResult",
    "MinimaxPlayer",
    "PerfectPlayer",
    "Player",
    "RandomPlayer",
    "SolverBudgetExceeded",
    "State",
    "TicTacToe",
    "UCTPlayer",
    "action_values",
    "all_positions",
    "elo_from_score",
    "is_mistake",
    "label_positions",
    "make_game",
    "make_player",
    "match",
    "mistake_rate",
    "play_game",
    "positions_for",
    "solve",
    "wilson_ci",
]

"""Exact game values: full minimax for tic-tac-toe-sized games, a bitboard alpha-beta solver for Connect Four.

Every value is for the player to move (negamax view): +1 a forced win, 0 a draw with best play, -1 a forced loss.
These are *weak* values (win/draw/loss, not how many moves the win takes), which is what a mistake rate needs.

Connect Four (:class:`ConnectSolver`) follows Pascal Pons's solver (http://blog.gamesolver.org/, parts 1-12),
written here for Python ints on the bitboard of :mod:`dlfrontier.games.connect4`:

* negamax with alpha-beta on the three values, searched with null windows: first "is it a win?"
  (window (0, 1)), then, if not, "is it at least a draw?" (window (-1, 0));
* a transposition table of lower/upper bounds keyed on ``stones_to_move + mask`` (unique per position), a
  fixed array of slots where a new entry replaces the old one;
* a win in one is played at once; an opponent's win in one must be blocked (two of them lose); a move is
  never played directly below a cell where the opponent would win (it would give the opponent that cell);
* move ordering: moves making more new threats first, ties centre-first.

Speed (one thread, this machine; docs/games.md, ``python -m dlfrontier.games.bench``): 150-450 thousand nodes
per second; the 5x4 board solves from the empty board in under a second and its positions in milliseconds; 6x5
positions from ply 6 on in under a second (the empty board in about 14 s); 7x6 positions from about ply 10 on in
seconds, earlier ones in minutes or more.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dlfrontier.errors import ConfigError
from dlfrontier.games.base import BitboardGame, Game, State
from dlfrontier.games.connect4 import Connect4

_SMALL_GAME_CELLS = 12  # full minimax with memo only on boards this small (tic-tac-toe: 9)
# The perfect player solves every move from the opening on: measured (one core), the first move of Connect Four 5x4
# takes 0.5 s, of 6x5 62 s, and 7x6 does not finish; so it plays Connect Four boards of at most this many cells
PERFECT_CONNECT_CELLS = 20


class SolverBudgetExceeded(RuntimeError):
    """A ``max_nodes`` budget ran out before the value was proved."""


class ConnectSolver:
    """Weak solver of one Connect-k board; keeps its transposition table between calls.

    Args:
        game: the Connect Four board (any size; practical on 5x4 and 6x5 everywhere, on 7x6 from about ply 10).
        table_size: slots of the transposition table (default by board: 65,521 up to 16 cells, about 1 M up to
            30 cells, about 4 M above: 8 bytes a slot plus about 40 bytes a filled one). A new entry overwrites
            the slot's old one, so memory stays bounded and recent positions are kept (Pons's scheme).
        mirror_plies: positions with fewer stones share a table entry with their mirror image.
    """

    def __init__(self, game: Connect4, table_size: int | None = None, mirror_plies: int = 12) -> None:
        self.game = game
        self.size = game.size
        self.board_mask = game.board_mask
        self.bottom_mask = game.bottom_mask
        if table_size is not None and table_size < 1:
            raise ValueError(f"table_size {table_size}: must be >= 1")
        if table_size is None:
            table_size = 65_521 if game.size <= 16 else (1_048_573 if game.size <= 30 else 4_194_301)  # primes
        self.table_size = table_size
        # slot key % size holds key * 16 + (lower + 1) * 3 + (upper + 1), or -1 when empty
        self.table: list[int] = [-1] * table_size
        self.nodes = 0
        self._node_limit: int | None = None
        k = game.k
        self._dirs = list(game.directions)  # vertical, horizontal, the two diagonals (bit strides)
        self._k = k
        self._order = [game.column[c] for c in game.move_order]  # column masks, centre first
        self._winning = _winning_cells_4(game.rows, self.board_mask) if k == 4 else self._winning_cells_k
        self._mirror_plies = mirror_plies
        h = game.rows + 1
        self._mirror_cols = [(c * h, (game.cols - 1 - c) * h) for c in range(game.cols)]
        self._column_bits = (1 << h) - 1

    def _mirror(self, key: int) -> int:
        """The key of the left-right mirror image (keys are column-local: ``cur + mask`` carries no bit out
        of its column)."""
        m, full = 0, self._column_bits
        for src, dst in self._mirror_cols:
            m |= ((key >> src) & full) << dst
        return m

    def winning_cells(self, p: int, mask: int) -> int:
        """Empty cells where a stone of ``p`` would make k in a row (bit mask)."""
        return self._winning(p, mask)

    def _winning_cells_k(self, p: int, mask: int) -> int:
        k = self._k
        r = 0
        for d in self._dirs:
            right = [-1]  # right[j]: stones at x + d, ..., x + j*d
            left = [-1]  # left[j]: stones at x - d, ..., x - j*d
            for j in range(1, k):
                right.append(right[-1] & (p >> (d * j)))
                left.append(left[-1] & (p << (d * j)))
            for b in range(k):
                r |= right[b] & left[k - 1 - b]
        return r & (self.board_mask ^ mask)

    def value(self, cur: int, mask: int, n: int, max_nodes: int | None = None) -> int:
        """Exact value for the player to move with stones ``cur``, occupied cells ``mask``, ``n`` stones played
        (the game is not over). :class:`SolverBudgetExceeded` after ``max_nodes`` nodes (the table keeps what
        was proved, so a later call with a larger budget resumes cheaply)."""
        self._node_limit = self.nodes + max_nodes if max_nodes is not None else None
        wins, threats = self._winning(cur, mask), self._winning(cur ^ mask, mask)
        if self._negamax(cur, mask, n, 0, 1, wins, threats) >= 1:
            return 1
        return 0 if self._negamax(cur, mask, n, -1, 0, wins, threats) >= 0 else -1

    def _negamax(self, cur: int, mask: int, n: int, alpha: int, beta: int, my_win: int, opp_win: int) -> int:
        """Negamax on the window (alpha, beta); ``my_win`` / ``opp_win``: the empty cells where the player to
        move / the opponent would complete a line (the parent knows them, so no node recomputes its own)."""
        self.nodes += 1
        if self._node_limit is not None and self.nodes > self._node_limit:
            raise SolverBudgetExceeded(f"no exact value within the node budget ({self.game.name})")
        possible = (mask + self.bottom_mask) & self.board_mask  # the lowest empty cell of each column
        if my_win & possible:
            return 1
        if n + 1 >= self.size:  # the last stone does not win: draw
            return 0
        forced = possible & opp_win
        if forced:
            if forced & (forced - 1):  # two threats to block: lost
                return -1
            possible = forced
        possible &= ~(opp_win >> 1)  # never play right below a cell the opponent wins on
        if not possible:
            return -1
        if n + 2 >= self.size:  # cur plays a non-winning stone, the opponent the last one: draw at best
            beta = min(beta, 0)
            if alpha >= beta:
                return beta

        key = cur + mask
        if n < self._mirror_plies:  # early: a position and its mirror image share one entry
            key = min(key, self._mirror(key))
        slot = key % self.table_size
        entry = self.table[slot]
        if entry >= 0 and entry >> 4 == key:
            entry &= 15
            lo, hi = entry // 3 - 1, entry % 3 - 1
            if lo >= beta:
                return lo
            if hi <= alpha:
                return hi
            if lo > alpha:
                alpha = lo
            if hi < beta:
                beta = hi
        else:
            lo, hi = -1, 1
        alpha0 = alpha

        winning = self._winning
        # each move with the cells its player then wins on; more of them first, ties centre-first (index i)
        scored = []
        for i, col in enumerate(self._order):
            move = possible & col
            if move:
                w = winning(cur | move, mask) & ~move
                scored.append((-w.bit_count(), i, move, w))
        if len(scored) > 1:
            scored.sort()

        opp = cur ^ mask
        best = -1
        for _, _, move, w in scored:
            # the child: the opponent moves; its lines are untouched but for the cell just filled
            v = -self._negamax(opp, mask | move, n + 1, -beta, -alpha, opp_win & ~move, w)
            if v > best:
                best = v
                if v > alpha:
                    alpha = v
                    if alpha >= beta:
                        break
        if best <= alpha0:
            hi = min(hi, best)
        if best >= beta:
            lo = max(lo, best)
        if alpha0 < best < beta:
            lo = hi = best
        self.table[slot] = (key << 4) | ((lo + 1) * 3 + (hi + 1))
        return best


def _winning_cells_4(rows: int, board_mask: int) -> Callable[[int, int], int]:
    """``winning_cells`` for four in a row, unrolled with the shifts as constants (Pons's
    ``compute_winning_position``): the solver's inner loop spends most of its time here."""
    h, h2, h3 = rows + 1, 2 * (rows + 1), 3 * (rows + 1)  # horizontal
    u, u2, u3 = rows + 2, 2 * (rows + 2), 3 * (rows + 2)  # diagonal /
    w, w2, w3 = rows, 2 * rows, 3 * rows  # diagonal \\

    def winning(p: int, mask: int) -> int:
        r = (p << 1) & (p << 2) & (p << 3)  # vertical: three stones right below
        a = (p << h) & (p << h2)
        b = (p >> h) & (p >> h2)
        r |= (a & ((p << h3) | (p >> h))) | (b & ((p << h) | (p >> h3)))
        a = (p << u) & (p << u2)
        b = (p >> u) & (p >> u2)
        r |= (a & ((p << u3) | (p >> u))) | (b & ((p << u) | (p >> u3)))
        a = (p << w) & (p << w2)
        b = (p >> w) & (p >> w2)
        r |= (a & ((p << w3) | (p >> w))) | (b & ((p << w) | (p >> w3)))
        return r & (board_mask ^ mask)

    return winning


_SOLVERS: dict[str, ConnectSolver] = {}
_MEMOS: dict[str, dict] = {}


def connect_solver(game: Connect4) -> ConnectSolver:
    """The shared solver (and transposition table) of a Connect Four board."""
    solver = _SOLVERS.get(game.name)
    if solver is None:
        solver = _SOLVERS[game.name] = ConnectSolver(game)
    return solver


def _minimax(game: Game, s: State, memo: dict) -> int:
    v = memo.get(s)
    if v is None:
        o = game.outcome(s)
        if o is not None:
            v = int(o)
        else:
            v = max(-_minimax(game, game.play(s, a), memo) for a in game.legal_actions(s))
        memo[s] = v
    return v


def solve(game: Game, s: State, *, max_nodes: int | None = None) -> int:
    """Exact value of ``s`` for the player to move: +1 forced win, 0 draw, -1 forced loss.

    Connect Four uses :class:`ConnectSolver`; other games (tic-tac-toe, boards of at most 12 cells) full
    minimax with a memo. Raises ValueError for a game too large to solve here (Gomoku on 6x6), and
    :class:`SolverBudgetExceeded` when Connect Four needs more than ``max_nodes`` search nodes (None: no limit;
    use it to keep only positions that can be labelled quickly, e.g. early 7x6 positions).
    """
    o = game.outcome(s)
    if o is not None:
        return int(o)
    if isinstance(game, Connect4):
        cur, opp = game.mover_bits(s)
        return connect_solver(game).value(cur, cur | opp, s[2], max_nodes)
    if isinstance(game, BitboardGame) and game.size > _SMALL_GAME_CELLS:
        raise ValueError(f"no exact solver for {game.name}: only Connect Four and boards of at most "
                         f"{_SMALL_GAME_CELLS} cells (tic-tac-toe) are solved")
    memo = _MEMOS.setdefault(game.name, {})
    return _minimax(game, s, memo)


def perfect_can_play(game: Game) -> bool:
    """Whether the perfect player, which solves every move exactly, plays ``game`` in reasonable time: Connect Four
    boards of at most :data:`PERFECT_CONNECT_CELLS` cells and other boards of at most 12 (tic-tac-toe)."""
    limit = PERFECT_CONNECT_CELLS if isinstance(game, Connect4) else _SMALL_GAME_CELLS
    return game.rows * game.cols <= limit


def check_perfect_game(game: Game) -> None:
    """Refuse, in one line, a game the perfect player cannot play in reasonable time (:func:`perfect_can_play`).

    Raises:
        ConfigError: Connect Four boards above :data:`PERFECT_CONNECT_CELLS` cells (7x6, 6x5) and other boards
            above 12 cells (Gomoku).
    """
    if not perfect_can_play(game):
        raise ConfigError(f"the perfect player cannot play {game.name}: it solves every move exactly, which this "
                         f"solver does only on Connect Four boards of at most {PERFECT_CONNECT_CELLS} cells (5x4) "
                         f"and other boards of at most {_SMALL_GAME_CELLS} (tic-tac-toe); use minimax-N, uct-N or "
                         f"lookahead")


def check_opponents(game_name: str, opponents: tuple[str, ...]) -> None:
    """:func:`check_perfect_game` for a config naming its fixed opponents (``perfect`` among them or not)."""
    if "perfect" in opponents:
        from dlfrontier.games.base import make_game

        check_perfect_game(make_game(game_name))


def action_values(game: Game, s: State, *, max_nodes: int | None = None) -> np.ndarray:
    """``float64[num_actions]``: the exact value, for the player to move at ``s``, of playing each legal
    action (+1 / 0 / -1), ``nan`` for illegal actions (all ``nan`` at a terminal state).
    ``max_nodes``: the node budget of each action's :func:`solve` (see there)."""
    out = np.full(game.num_actions, np.nan)
    for a in game.legal_actions(s):
        out[a] = -solve(game, game.play(s, a), max_nodes=max_nodes)
    return out

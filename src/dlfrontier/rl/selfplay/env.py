"""Many games of one k-in-a-row board game at once, in NumPy: the fast environment of self-play PPO.

The rules are those of :mod:`dlfrontier.games` (tic-tac-toe, Connect Four ``connectK-WxH``, Gomoku): the same
action numbering (a cell ``r * cols + c`` with row 0 at the top, or a column under gravity) and the same
encoding as :meth:`dlfrontier.games.Game.encode` (plane 0 the stones of the player to move, plane 1 the
opponent's, plane 2 all ones when the first player is to move), so a network trained here plays through the
:class:`~dlfrontier.games.Player` protocol unchanged (tested: masks, encodings and outcomes agree with the
games module on random games).

A batch holds ``boards int8[N, rows, cols]`` (0 empty, 1 first player, 2 second), the ply of each game and
whether it is over. A win is found by AND-ing ``k`` shifted copies of the mover's stones along each of the four
directions (the whole board at once, no Python loop over games).

Reward attribution (the bug class of naive single-agent wrappers): :meth:`BatchedGames.step` returns, for each
game, the result **for the player who just moved** (+1 win, 0 draw or going on); the other seat's result is
its negation, which the rollout writes onto that seat's previous move (:func:`dlfrontier.rl.selfplay.ppo.
play_rollout`): a loss reaches the loser although it happens on the winner's turn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlfrontier.games.base import BitboardGame, Game, State


def is_gravity(game: Game) -> bool:
    """True for Connect Four style games: one action per column, stones fall."""
    return game.num_actions == game.cols and game.rows > 1


def has_line(p: np.ndarray, k: int) -> np.ndarray:
    """``bool[N]``: whether ``p bool[N, R, C]`` holds ``k`` in a row (horizontal, vertical or diagonal)."""
    n, r, c = p.shape
    out = np.zeros(n, dtype=bool)
    if c >= k:
        acc = p[:, :, 0:c - k + 1].copy()
        for i in range(1, k):
            acc &= p[:, :, i:c - k + 1 + i]
        out |= acc.any(axis=(1, 2))
    if r >= k:
        acc = p[:, 0:r - k + 1, :].copy()
        for i in range(1, k):
            acc &= p[:, i:r - k + 1 + i, :]
        out |= acc.any(axis=(1, 2))
    if r >= k and c >= k:
        d1 = p[:, 0:r - k + 1, 0:c - k + 1].copy()
        d2 = p[:, 0:r - k + 1, k - 1:c].copy()
        for i in range(1, k):
            d1 &= p[:, i:r - k + 1 + i, i:c - k + 1 + i]
            d2 &= p[:, i:r - k + 1 + i, k - 1 - i:c - i]
        out |= d1.any(axis=(1, 2)) | d2.any(axis=(1, 2))
    return out


@dataclass
class BatchedGames:
    """``n`` games of ``game`` (a k-in-a-row :class:`~dlfrontier.games.BitboardGame`) played at once.

    Attributes:
        boards: ``int8[n, rows, cols]``, 0 empty, 1 the first player's stone, 2 the second's.
        ply: ``int[n]``: stones played; the player to move is ``ply % 2``.
        done: ``bool[n]``: the game is over.
        winner: ``int8[n]``: -1 none (going on or a draw), else the seat (0 or 1) that won.
    """

    game: BitboardGame
    boards: np.ndarray
    ply: np.ndarray
    done: np.ndarray
    winner: np.ndarray

    @classmethod
    def new(cls, game: Game, n: int) -> BatchedGames:
        if not isinstance(game, BitboardGame):
            raise TypeError(f"batched self-play needs a k-in-a-row game of dlfrontier.games, not {game!r}")
        return cls(game, np.zeros((n, game.rows, game.cols), np.int8), np.zeros(n, np.int64),
                   np.zeros(n, bool), np.full(n, -1, np.int8))

    @property
    def n(self) -> int:
        return len(self.ply)

    def to_move(self) -> np.ndarray:
        return (self.ply % 2).astype(np.int8)

    def legal(self) -> np.ndarray:
        """``bool[n, num_actions]``; all False in finished games."""
        if is_gravity(self.game):
            mask = self.boards[:, 0, :] == 0
        else:
            mask = self.boards.reshape(self.n, -1) == 0
        return mask & ~self.done[:, None]

    def encode(self) -> np.ndarray:
        """``float32[n, 3, rows, cols]``, as :meth:`dlfrontier.games.Game.encode` of each game."""
        mover = (self.ply % 2 + 1).astype(np.int8)[:, None, None]
        out = np.empty((self.n, 3, self.game.rows, self.game.cols), np.float32)
        out[:, 0] = self.boards == mover
        out[:, 1] = (self.boards != 0) & (self.boards != mover)
        out[:, 2] = (self.ply % 2 == 0)[:, None, None]
        return out

    def step(self, actions: np.ndarray, which: np.ndarray | None = None) -> np.ndarray:
        """Play ``actions[i]`` in game ``which[i]`` (default: every game); the result of each of those games
        for the player who just moved: ``float[len(which)]``, +1 won, 0 draw or going on.

        Raises:
            ValueError: an illegal action or a finished game (never silently ignored).
        """
        idx = np.arange(self.n) if which is None else np.asarray(which, np.int64)
        actions = np.asarray(actions, np.int64)
        legal = self.legal()[idx]
        if len(idx) and (actions.min() < 0 or actions.max() >= self.game.num_actions
                         or not legal[np.arange(len(idx)), actions].all()):
            raise ValueError("illegal action in a batched game (or the game is over)")
        g = self.game
        if is_gravity(g):
            col = actions
            empty = self.boards[idx, :, col] == 0            # [m, rows]
            row = g.rows - 1 - np.argmax(empty[:, ::-1], axis=1)  # the lowest empty cell
        else:
            row, col = actions // g.cols, actions % g.cols
        mover = (self.ply[idx] % 2).astype(np.int8)
        self.boards[idx, row, col] = mover + 1
        self.ply[idx] += 1
        won = has_line(self.boards[idx] == (mover + 1)[:, None, None], g.k)
        full = self.ply[idx] == g.rows * g.cols
        self.done[idx] = won | full
        self.winner[idx] = np.where(won, mover, -1)
        return won.astype(np.float64)

    def state(self, i: int) -> State:
        """Game ``i`` as a :mod:`dlfrontier.games` state (for players and the solver)."""
        return self.game.from_stones(self.boards[i])


__all__ = ["BatchedGames", "has_line", "is_gravity"]

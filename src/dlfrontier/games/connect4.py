"""Connect Four on any board up to 9x9 (7 columns x 6 rows by default), as a bitboard.

Rules: players alternately drop a stone into a column that is not full; it falls to the lowest empty cell. The
first to make ``k`` (4) in a row horizontally, vertically or diagonally wins; a full board is a draw. The 7x6
game is a first-player win (Allis 1988, Allen 1988); :mod:`dlfrontier.games.solver` solves the small boards.

Layout (Pons, "Solving Connect 4", http://blog.gamesolver.org/solving-connect-four/06-bitboard/): column ``c``
holds bits ``c * (rows + 1) ... c * (rows + 1) + rows - 1`` from the bottom up, and one padding bit on top. The
cell a stone dropped in column ``c`` lands on is ``(mask + bottom(c)) & column(c)``: the carry runs up the
column's occupied bits and stops at the first empty one; it is 0 when the column is full. Actions are columns
``0..cols-1``; a person types the column number ``1..cols``.
"""

from __future__ import annotations

import numpy as np

from dlfrontier.games.base import BitboardGame, State


class Connect4(BitboardGame):
    """Connect Four, ``k`` in a row with gravity, on a ``cols`` x ``rows`` board.

    Args:
        cols: board width, 1-9.
        rows: board height, 1-9.
        k: stones in a row that win, 2 <= k <= max(cols, rows).
    """

    def __init__(self, cols: int = 7, rows: int = 6, k: int = 4) -> None:
        if not (1 <= cols <= 9 and 1 <= rows <= 9):
            raise ValueError(f"connect four board {cols}x{rows}: width and height must be in [1, 9]")
        if not 2 <= k <= max(cols, rows):
            raise ValueError(f"connect {k} on {cols}x{rows}: k must be in [2, {max(cols, rows)}]")
        if (cols, rows, k) == (7, 6, 4):
            self.name = "connect4"
        else:
            self.name = f"connect{k}-{cols}x{rows}"
        self.num_actions = cols
        h1 = rows + 1
        # cell (r from the top, c) -> bit c * (rows + 1) + (rows - 1 - r)
        cells = [c * h1 + (rows - 1 - r) for r in range(rows) for c in range(cols)]
        self._setup(rows, cols, k, inner=rows, cell_bits=cells)
        self.bottom = [1 << (c * h1) for c in range(cols)]
        self.column = [((1 << rows) - 1) << (c * h1) for c in range(cols)]
        self.top = [1 << (c * h1 + rows - 1) for c in range(cols)]
        self.bottom_mask = sum(self.bottom)

    def _action_bit(self, mask: int, a: int) -> int:
        return (mask + self.bottom[a]) & self.column[a]

    def _illegal_reason(self, a: int) -> str:
        return f"column {a + 1} is full"

    def legal_actions(self, s: State) -> list[int]:
        b0, b1, n, won = s
        if won or n == self.size:
            return []
        mask = b0 | b1
        return [c for c, t in enumerate(self.top) if not mask & t]

    def _check_reachable(self, mask: int) -> None:
        full = (1 << self.rows) - 1
        for c in range(self.cols):
            col = (mask >> (c * (self.rows + 1))) & full
            if col & (col + 1):
                raise ValueError(f"column {c + 1} has a stone above an empty cell")

    def symmetries(self, planes: np.ndarray, policy: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Identity and the left-right mirror (the only symmetry gravity keeps)."""
        return [(planes, policy),
                (np.ascontiguousarray(planes[..., ::-1]), np.ascontiguousarray(policy[::-1]))]

    def render(self, s: State) -> str:
        board = self.stones(s)
        lines = [" " + " ".join(".XO"[v] for v in row) for row in board]
        lines.append(" " + " ".join(str(c + 1) for c in range(self.cols)))
        return "\n".join(lines)

    def parse_move(self, s: State, text: str) -> int:
        t = text.strip()
        hint = f"type a column number 1-{self.cols}"
        if not t.isdigit() or not 1 <= int(t) <= self.cols:
            raise ValueError(f"cannot read move {t!r}: {hint}")
        if self.is_terminal(s):
            raise ValueError("the game is over")
        a = int(t) - 1
        if not self._action_bit(s[0] | s[1], a):
            raise ValueError(f"column {a + 1} is full; choose another")
        return a

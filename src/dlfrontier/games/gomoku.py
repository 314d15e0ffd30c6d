"""Gomoku / k-in-a-row on a small board (free placement, no gravity), the AlphaZero_Gomoku anchor's game.

Rules: players alternately place a stone on any empty cell; the first to make ``k`` in a row horizontally,
vertically or diagonally wins (overlines count; no renju restrictions); a full board is a draw. The 6x6 board
with 4 in a row is the board of AlphaZero_Gomoku (https://github.com/junxiaosong/AlphaZero_Gomoku).

Actions are cells ``r * cols + c`` with row 0 at the top. A person types a column letter and a row number,
``c3`` (row 1 at the top).
"""

from __future__ import annotations

import string

from dlfrontier.games.base import BitboardGame, State


class Gomoku(BitboardGame):
    """``k`` stones in a row on a ``cols`` x ``rows`` board (row-major bitboard with one padding bit per row).

    Args:
        cols: board width, 1-26.
        rows: board height, 1-26.
        k: stones in a row that win, 2 <= k <= max(cols, rows).
    """

    def __init__(self, cols: int = 6, rows: int = 6, k: int = 4, *, name: str | None = None) -> None:
        if not (1 <= cols <= 26 and 1 <= rows <= 26):
            raise ValueError(f"gomoku board {cols}x{rows}: width and height must be in [1, 26]")
        if not 2 <= k <= max(cols, rows):
            raise ValueError(f"gomoku with {k} in a row on {cols}x{rows}: k must be in [2, {max(cols, rows)}]")
        self.name = name or f"gomoku-{cols}x{rows}-{k}"
        self.num_actions = rows * cols
        # cell (r, c) -> bit r * (cols + 1) + c; bit c = cols of each row is the padding
        cells = [r * (cols + 1) + c for r in range(rows) for c in range(cols)]
        self._setup(rows, cols, k, inner=cols, cell_bits=cells)
        self._action_bits = [1 << b for b in cells]

    def _action_bit(self, mask: int, a: int) -> int:
        bit = self._action_bits[a]
        return 0 if mask & bit else bit

    def legal_actions(self, s: State) -> list[int]:
        b0, b1, n, won = s
        if won or n == self.size:
            return []
        mask = b0 | b1
        return [a for a, bit in enumerate(self._action_bits) if not mask & bit]

    # -- text ----------------------------------------------------------------------------------------------
    def cell_label(self, a: int) -> str:
        r, c = divmod(a, self.cols)
        return f"{string.ascii_lowercase[c]}{r + 1}"

    def render(self, s: State) -> str:
        board = self.stones(s)
        width = len(str(self.rows))
        header = " " * (width + 1) + " ".join(string.ascii_lowercase[: self.cols])
        lines = [header]
        for r in range(self.rows):
            cells = " ".join(".XO"[v] for v in board[r])
            lines.append(f"{r + 1:>{width}} {cells}")
        return "\n".join(lines)

    def parse_move(self, s: State, text: str) -> int:
        t = text.strip().lower().replace(" ", "")
        last_col = string.ascii_lowercase[self.cols - 1]
        hint = f"type a column letter a-{last_col} and a row number 1-{self.rows}, e.g. {self.cell_label(0)}"
        if len(t) < 2 or t[0] not in string.ascii_lowercase[: self.cols] or not t[1:].isdigit():
            raise ValueError(f"cannot read move {text.strip()!r}: {hint}")
        c, r = string.ascii_lowercase.index(t[0]), int(t[1:]) - 1
        if not 0 <= r < self.rows:
            raise ValueError(f"row {r + 1} is off the board: {hint}")
        return self._checked(s, r * self.cols + c, text)

    def _checked(self, s: State, a: int, text: str) -> int:
        if self.is_terminal(s):
            raise ValueError("the game is over")
        if not self._action_bit(s[0] | s[1], a):
            raise ValueError(f"{self.cell_label(a)} is occupied; choose an empty cell")
        return a

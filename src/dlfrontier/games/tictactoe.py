"""Tic-tac-toe: 3 in a row on 3x3, the game every search algorithm is first tested on.

Cells are numbered like a phone keypad, row by row from the top: action ``a`` is cell ``a + 1``. A person types
the cell number (1-9) or a column letter and row number (``b2`` is the centre). Perfect play draws; the
solver proves it (:func:`dlfrontier.games.solver.solve`).
"""

from __future__ import annotations

from dlfrontier.games.base import State
from dlfrontier.games.gomoku import Gomoku


class TicTacToe(Gomoku):
    """3 in a row on a 3x3 board (the shared bitboard of :class:`Gomoku`)."""

    def __init__(self) -> None:
        super().__init__(cols=3, rows=3, k=3, name="tictactoe")

    def render(self, s: State) -> str:
        board = self.stones(s)
        rows = []
        for r in range(3):
            cells = [".XO"[v] if v else str(r * 3 + c + 1) for c, v in enumerate(board[r])]
            rows.append(" " + " | ".join(cells))
        return "\n---+---+---\n".join(rows)

    def parse_move(self, s: State, text: str) -> int:
        t = text.strip()
        if t.isdigit():
            if not 1 <= int(t) <= 9:
                raise ValueError(f"cell {t} does not exist: type a cell number 1-9 (or a1-c3)")
            return self._checked(s, int(t) - 1, text)
        try:
            return super().parse_move(s, text)
        except ValueError as e:
            if "occupied" in str(e) or "over" in str(e):
                raise
            raise ValueError(f"cannot read move {t!r}: type a cell number 1-9 (or a1-c3)") from None

    def cell_label(self, a: int) -> str:
        return str(a + 1)

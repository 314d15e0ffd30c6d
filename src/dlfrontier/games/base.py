"""The game interface every board game of :mod:`dlfrontier.games` implements, and the registry of games.

A game object holds only the rules; a *state* is a separate immutable, hashable value (here a tuple of
Python ints), so a state can key a transposition table or a search tree and is never copied defensively.

Sign convention (the one place it is defined): :meth:`Game.outcome` is the value of a finished game **for the
player to move** at that state. The player to move never made the last move, so a won game is always ``-1.0``
for the player to move (the player who just moved won) and a draw ``0.0``; ``+1.0`` never occurs. The solver,
the players and the search all use this negamax view: a value is always for the player to move.

The k-in-a-row games share one bitboard (:class:`BitboardGame`): the stones of each player are the set bits of
one Python int. Cells are laid out in lines of ``inner`` cells followed by one always-empty padding bit, so
shifting a board by a direction's stride (1, inner, inner + 1, inner + 2) never wraps from one line into the
next, and ``k`` stones in a row along direction ``d`` is ``p & p >> d & p >> 2d ... != 0`` (Pons, "Solving
Connect 4: how to build a perfect AI", http://blog.gamesolver.org/, bitboard section).
"""

from __future__ import annotations

import abc
import functools
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

import numpy as np

from dlfrontier.errors import UnknownNameError
from dlfrontier.registry import Registry

State: TypeAlias = Any
"""An immutable, hashable game state (typed ``Any`` so each game may pick its own; the bitboard games use
``(stones_p0, stones_p1, moves_played, won)``, a tuple of ints)."""


class Game(abc.ABC):
    """Rules of a two-player, zero-sum, perfect-information board game with a fixed action set.

    Attributes:
        name: the registry name (``"tictactoe"``, ``"connect4-5x4"``, ``"connect4"``, ``"gomoku-6x6-4"``).
        rows: board height.
        cols: board width.
        num_actions: size of the action set (a cell ``r * cols + c`` or, in Connect Four, a column).
        num_planes: channels of :meth:`encode`.
    """

    name: str
    rows: int
    cols: int
    num_actions: int
    num_planes: int

    @abc.abstractmethod
    def initial(self) -> State:
        """The empty board, first player to move."""

    @abc.abstractmethod
    def to_move(self, s: State) -> int:
        """0 if the first player is to move at ``s``, 1 if the second."""

    @abc.abstractmethod
    def legal(self, s: State) -> np.ndarray:
        """Legal-action mask, ``bool[num_actions]``; all False when ``s`` is terminal."""

    @abc.abstractmethod
    def legal_actions(self, s: State) -> list[int]:
        """The legal actions as a list of ints, ascending (the fast path for rollouts and search)."""

    @abc.abstractmethod
    def play(self, s: State, a: int) -> State:
        """The state after the player to move plays ``a``; ``s`` is untouched. ValueError if ``a`` is illegal."""

    @abc.abstractmethod
    def outcome(self, s: State) -> float | None:
        """None if the game goes on; else its value for the player to move: -1.0 (lost) or 0.0 (draw)."""

    @abc.abstractmethod
    def encode(self, s: State) -> np.ndarray:
        """``float32[num_planes, rows, cols]``: plane 0 the stones of the player to move, plane 1 the opponent's."""

    def encode_batch(self, states: Sequence[State]) -> np.ndarray:
        """``float32[B, num_planes, rows, cols]``: :meth:`encode` of every state, stacked."""
        return np.stack([self.encode(s) for s in states]) if states else np.zeros(
            (0, self.num_planes, self.rows, self.cols), np.float32)

    @abc.abstractmethod
    def symmetries(self, planes: np.ndarray, policy: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """The board's symmetric images of ``(planes [C, R, W], policy [num_actions])``, identity first."""

    @abc.abstractmethod
    def render(self, s: State) -> str:
        """A text board with the labels a person types to :meth:`parse_move`."""

    @abc.abstractmethod
    def parse_move(self, s: State, text: str) -> int:
        """The action a person typed; ValueError with a one-line message when malformed or illegal."""

    def is_terminal(self, s: State) -> bool:
        return self.outcome(s) is not None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


def _popcount(x: int) -> int:
    return x.bit_count()


class BitboardGame(Game):
    """k stones in a row on a bitboard; the shared machinery of tic-tac-toe, Gomoku and Connect Four.

    Subclasses give the cell layout (``cell_bits``: the bit of each cell ``r * cols + c``, row 0 at the top),
    the stride of a line (``inner``, the padding bit follows each line), and the action -> bit rule.
    State: ``(stones_p0, stones_p1, moves_played, won)`` where ``won`` says the player who just moved won.
    """

    num_planes = 3  # mover's stones, opponent's stones, a constant plane: 1.0 when the first player is to move

    def _setup(self, rows: int, cols: int, k: int, inner: int, cell_bits: Sequence[int]) -> None:
        self.rows, self.cols, self.k = rows, cols, k
        self.inner = inner
        self.cell_bits = np.asarray(cell_bits, dtype=np.int64)  # [rows * cols]
        self.board_mask = 0
        for b in cell_bits:
            self.board_mask |= 1 << int(b)
        self.size = rows * cols
        # strides: along a line, across lines, and the two diagonals
        self.directions = (1, inner + 1, inner + 2, inner)
        self._nbytes = (max(cell_bits) + 8) // 8
        self._win_masks = self._line_masks(k)
        # actions sorted from the centre outwards: the move order of the solver and the minimax player
        centre_r, centre_c = (rows - 1) / 2, (cols - 1) / 2
        if self.num_actions == cols:  # one action per column (Connect Four)
            self.move_order = sorted(range(cols), key=lambda c: (abs(c - centre_c), c))
        else:
            self.move_order = sorted(range(rows * cols), key=lambda a: (
                abs(a // cols - centre_r) + abs(a % cols - centre_c), a))

    def _line_masks(self, length: int) -> list[int]:
        """Every set of ``length`` cells in a row on the board, as a bit mask (for heuristics)."""
        masks = []
        cell_set = {int(b) for b in self.cell_bits}
        for b0 in sorted(cell_set):
            for d in self.directions:
                cells = [b0 + d * i for i in range(length)]
                if all(c in cell_set for c in cells):
                    m = 0
                    for c in cells:
                        m |= 1 << c
                    masks.append(m)
        return masks

    # -- rules -------------------------------------------------------------------------------------------
    def initial(self) -> State:
        return (0, 0, 0, False)

    def to_move(self, s: State) -> int:
        return s[2] & 1

    def has_line(self, p: int) -> bool:
        """True if the stones ``p`` hold ``k`` in a row in any direction."""
        k = self.k
        if k == 4:  # two shifts per direction: pairs, then pairs of pairs
            for d in self.directions:
                m = p & (p >> d)
                if m & (m >> (2 * d)):
                    return True
            return False
        for d in self.directions:
            m = p
            for i in range(1, k):
                m &= p >> (d * i)
                if not m:
                    break
            if m:
                return True
        return False

    @abc.abstractmethod
    def _action_bit(self, mask: int, a: int) -> int:
        """The bit a stone played by action ``a`` occupies given occupied cells ``mask``; 0 if illegal."""

    def play(self, s: State, a: int) -> State:
        b0, b1, n, won = s
        if won or n == self.size:
            raise ValueError(f"the game is over; no move can be played ({self.name})")
        try:
            a = int(a)
        except (TypeError, ValueError):
            raise ValueError(f"action {a!r} is not an integer") from None
        if not 0 <= a < self.num_actions:
            raise ValueError(f"action {a} out of range: {self.name} has actions 0..{self.num_actions - 1}")
        bit = self._action_bit(b0 | b1, a)
        if not bit:
            raise ValueError(f"illegal action {a} in {self.name}: {self._illegal_reason(a)}")
        if n & 1:
            b1 |= bit
            return (b0, b1, n + 1, self.has_line(b1))
        b0 |= bit
        return (b0, b1, n + 1, self.has_line(b0))

    def _illegal_reason(self, a: int) -> str:
        return "the cell is occupied"

    def legal_actions(self, s: State) -> list[int]:
        b0, b1, n, won = s
        if won or n == self.size:
            return []
        mask = b0 | b1
        return [a for a in range(self.num_actions) if self._action_bit(mask, a)]

    def legal(self, s: State) -> np.ndarray:
        out = np.zeros(self.num_actions, dtype=bool)
        out[self.legal_actions(s)] = True
        return out

    def outcome(self, s: State) -> float | None:
        if s[3]:
            return -1.0
        if s[2] == self.size:
            return 0.0
        return None

    def is_terminal(self, s: State) -> bool:
        return bool(s[3]) or s[2] == self.size

    def mover_bits(self, s: State) -> tuple[int, int]:
        """``(stones of the player to move, stones of the opponent)``."""
        return (s[1], s[0]) if s[2] & 1 else (s[0], s[1])

    # -- encoding ----------------------------------------------------------------------------------------
    def encode(self, s: State) -> np.ndarray:
        return self.encode_batch([s])[0]

    def encode_batch(self, states: Sequence[State]) -> np.ndarray:
        """``float32[B, 3, rows, cols]`` for many states at once (bytes -> ``np.unpackbits``, no Python loop
        over cells)."""
        B, nb = len(states), self._nbytes
        buf = bytearray()
        for s in states:
            me, opp = self.mover_bits(s)
            buf += me.to_bytes(nb, "little") + opp.to_bytes(nb, "little")
        raw = np.frombuffer(bytes(buf), dtype=np.uint8).reshape(B, 2, nb)
        bits = np.unpackbits(raw, axis=2, bitorder="little")  # [B, 2, nb * 8]
        out = np.empty((B, 3, self.rows, self.cols), dtype=np.float32)
        out[:, :2] = bits[:, :, self.cell_bits].reshape(B, 2, self.rows, self.cols)
        first = np.fromiter(((s[2] & 1) == 0 for s in states), dtype=np.float32, count=B)
        out[:, 2] = first[:, None, None]
        return out

    def stones(self, s: State) -> np.ndarray:
        """``int8[rows, cols]``: 0 empty, 1 first player's stone, 2 second player's (row 0 at the top)."""
        out = np.zeros(self.rows * self.cols, dtype=np.int8)
        for i, b in enumerate(self.cell_bits.tolist()):
            if s[0] >> b & 1:
                out[i] = 1
            elif s[1] >> b & 1:
                out[i] = 2
        return out.reshape(self.rows, self.cols)

    def from_stones(self, board: Sequence[Sequence[int]] | np.ndarray | str) -> State:
        """A state from a board drawing: rows top to bottom, ``X``/``1`` first player, ``O``/``2`` second,
        ``.``/``0`` empty (a string of lines, or an array). Raises ValueError for a board no game reaches
        (stone counts) or, in Connect Four, a floating stone. Whether someone has won is recomputed."""
        if isinstance(board, str):
            lines = [ln.split() if " " in ln.strip() else list(ln.strip()) for ln in board.strip().splitlines()]
            table = {"x": 1, "1": 1, "o": 2, "2": 2, ".": 0, "0": 0, "-": 0, "_": 0}
            try:
                grid = np.array([[table[c.lower()] for c in ln] for ln in lines], dtype=np.int8)
            except KeyError as e:
                raise ValueError(f"unknown board character {e.args[0]!r}: use X, O and .") from None
        else:
            grid = np.asarray(board, dtype=np.int8)
        if grid.shape != (self.rows, self.cols):
            raise ValueError(f"board of shape {grid.shape}, expected ({self.rows}, {self.cols})")
        b0 = b1 = 0
        for i, b in enumerate(self.cell_bits.tolist()):
            v = grid.flat[i]
            if v == 1:
                b0 |= 1 << b
            elif v == 2:
                b1 |= 1 << b
        n0, n1 = _popcount(b0), _popcount(b1)
        if n0 - n1 not in (0, 1):
            raise ValueError(f"{n0} first-player and {n1} second-player stones: no game reaches that")
        self._check_reachable(b0 | b1)
        last = b1 if (n0 + n1) & 1 == 0 else b0
        return (b0, b1, n0 + n1, self.has_line(last) if n0 + n1 else False)

    def _check_reachable(self, mask: int) -> None:
        """Hook for rules on where stones may be (Connect Four's gravity)."""

    # -- symmetries --------------------------------------------------------------------------------------
    def _board_transforms(self) -> list[Callable[[np.ndarray], np.ndarray]]:
        """Transforms of the last two axes of an array ``[..., rows, cols]``, identity first."""
        flips: list[Callable[[np.ndarray], np.ndarray]] = [
            lambda x: x,
            lambda x: x[..., :, ::-1],
            lambda x: x[..., ::-1, :],
            lambda x: x[..., ::-1, ::-1],
        ]
        if self.rows != self.cols:
            return flips
        transpose = [lambda x, f=f: np.swapaxes(f(x), -1, -2) for f in flips]
        return flips + transpose

    def _policy_transform(self, f: Callable[[np.ndarray], np.ndarray], policy: np.ndarray) -> np.ndarray:
        return f(policy.reshape(self.rows, self.cols)).reshape(-1)  # policy over cells r * cols + c

    def symmetries(self, planes: np.ndarray, policy: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(np.ascontiguousarray(f(planes)), np.ascontiguousarray(self._policy_transform(f, policy)))
                for f in self._board_transforms()]


# -- registry -------------------------------------------------------------------------------------------
GAMES: Registry[Callable[[], Game]] = Registry("game")
"""Named game factories. :func:`make_game` also builds ``connectK-WxH`` and ``gomoku-WxH-K`` on demand."""

_PATTERNS = (
    (re.compile(r"connect(\d)-(\d+)x(\d+)$"), "connect"),
    (re.compile(r"gomoku-(\d+)x(\d+)-(\d+)$"), "gomoku"),
)


@functools.cache
def make_game(name: str) -> Game:
    """The game called ``name`` (one shared instance per name: games hold no state).

    Registered names: see ``GAMES.names()``; besides them ``connectK-WxH`` (Connect Four with K in a row on a
    board W columns wide and H rows high, e.g. ``connect4-5x4``) and ``gomoku-WxH-K`` (K in a row on a W x H
    board, e.g. ``gomoku-6x6-4``). An unknown name raises :class:`UnknownNameError` with one line.
    """
    if name in GAMES:
        return GAMES.get(name)()
    for pattern, kind in _PATTERNS:
        m = pattern.match(name)
        if not m:
            continue
        a, b, c = (int(g) for g in m.groups())
        if kind == "connect":
            from dlfrontier.games.connect4 import Connect4

            return Connect4(cols=b, rows=c, k=a)
        from dlfrontier.games.gomoku import Gomoku

        return Gomoku(cols=a, rows=b, k=c)
    raise UnknownNameError(GAMES.unknown_message(name)
                           + " (or connectK-WxH, gomoku-WxH-K)")


def _register_builtin() -> None:
    from dlfrontier.games.connect4 import Connect4
    from dlfrontier.games.gomoku import Gomoku
    from dlfrontier.games.tictactoe import TicTacToe

    GAMES.register("tictactoe", TicTacToe)
    GAMES.register("connect4", lambda: Connect4(cols=7, rows=6))
    for w, h in ((4, 4), (5, 4), (6, 5)):
        GAMES.register(f"connect4-{w}x{h}", functools.partial(Connect4, cols=w, rows=h))
    for w, h, k in ((6, 6, 4), (8, 8, 5), (9, 9, 5), (15, 15, 5)):
        GAMES.register(f"gomoku-{w}x{h}-{k}", functools.partial(Gomoku, cols=w, rows=h, k=k))

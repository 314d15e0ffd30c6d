"""Tiny games written in the tests (independent of dlfrontier.games): tic-tac-toe and a fixed depth-3 tree."""

from __future__ import annotations

import functools

import numpy as np

LINES = [(0, 1, 2), (3, 4, 5), (6, 7, 8), (0, 3, 6), (1, 4, 7), (2, 5, 8), (0, 4, 8), (2, 4, 6)]


class TinyTicTacToe:
    """State: a tuple of 9 cells (0 empty, 1 first player, 2 second player)."""

    name, rows, cols, num_actions, num_planes = "tiny-ttt", 3, 3, 9, 2

    def initial(self):
        return (0,) * 9

    def to_move(self, s):
        return sum(c != 0 for c in s) % 2

    def winner(self, s):
        for a, b, c in LINES:
            if s[a] and s[a] == s[b] == s[c]:
                return s[a]
        return 0

    def outcome(self, s):
        if self.winner(s):
            return -1.0
        return 0.0 if all(s) else None

    def legal(self, s):
        if self.outcome(s) is not None:
            return np.zeros(9, bool)
        return np.array([c == 0 for c in s])

    def play(self, s, a):
        if not self.legal(s)[a]:
            raise ValueError(f"illegal {a}")
        t = list(s)
        t[a] = 1 + self.to_move(s)
        return tuple(t)

    def encode(self, s):
        me = 1 + self.to_move(s)
        b = np.array(s).reshape(3, 3)
        return np.stack([(b == me), (b == 3 - me)]).astype(np.float32)

    def symmetries(self, planes, policy):
        out = []
        p = policy.reshape(3, 3)
        for k in range(4):
            for flip in (False, True):
                x, y = np.rot90(planes, k, axes=(1, 2)), np.rot90(p, k)
                if flip:
                    x, y = x[:, :, ::-1], y[:, ::-1]
                out.append((np.ascontiguousarray(x), np.ascontiguousarray(y).reshape(-1)))
        return out

    @functools.cache  # noqa: B019 (tests only)
    def solve(self, s):
        """Exact value for the player to move."""
        o = self.outcome(s)
        if o is not None:
            return o
        return max(-self.solve(self.play(s, a)) for a in np.flatnonzero(self.legal(s)))

    def action_values(self, s):
        out = np.full(9, np.nan)
        for a in np.flatnonzero(self.legal(s)):
            out[a] = -self.solve(self.play(s, int(a)))
        return out


class ChainGame:
    """Two actions per move, three moves, always a draw at the end; used with a fixed evaluator."""

    name, rows, cols, num_actions, num_planes = "chain", 1, 3, 2, 1

    def initial(self):
        return ()

    def to_move(self, s):
        return len(s) % 2

    def outcome(self, s):
        return 0.0 if len(s) == 3 else None

    def legal(self, s):
        return np.array([len(s) < 3] * 2)

    def play(self, s, a):
        return s + (int(a),)


def table_evaluator(priors: dict, values: dict, num_actions: int):
    """evaluate(states) from tables (missing: uniform prior, value 0)."""

    def evaluate(states):
        logits = np.array([np.log(priors.get(s, np.full(num_actions, 1.0 / num_actions))) for s in states])
        v = np.array([values.get(s, 0.0) for s in states])
        return logits, v

    return evaluate

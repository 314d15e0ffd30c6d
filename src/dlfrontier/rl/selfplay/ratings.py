"""Ratings from a round robin: Bradley-Terry maximum likelihood on the Elo scale, with bootstrap 95% intervals.

The model (Bradley & Terry 1952; Elo's logistic form): player ``i`` scores against ``j`` with expected score

    E[score_ij] = 1 / (1 + 10 ** ((r_j - r_i) / 400))

so 400 Elo points are a factor of 10 in the odds, i.e. ``400 / ln 10 ~ 173.7`` Elo per logit. A draw counts half
a win for each side (the usual treatment in Elo rating lists), so a pair's data is its total score ``s_ij`` over
``n_ij`` games. :func:`fit_ratings` maximises the log-likelihood
``sum_{i<j} s_ij log p_ij + (n_ij - s_ij) log (1 - p_ij)`` by Newton's method (the problem is concave once one
rating is fixed), so the fit is deterministic: the same results give the same ratings, bit for bit.

Ratings are relative: only differences are identified. They are *anchored* by fixing one player (``random`` by
default) at ``anchor_rating`` (0), so "minimax-2: +560" reads "560 Elo above the uniformly random player".

**The prior for perfect scores.** With a pair where one side won every game (or lost every game) the maximum
likelihood can be infinite. The one adjustment made: a pair's score of exactly 0 or ``n_ij`` is counted half a
game from the end (``0.5`` or ``n_ij - 0.5``), the same convention as
:func:`dlfrontier.games.arena.elo_from_score`. Pairs with a mixed result are untouched, so on such data the fit
is the exact maximum likelihood (75 of 100 -> +190.8 Elo, ``400 log10 3``); 100 of 100 reads as 99.5 of 100
(+920 Elo). Every player must be connected to the anchor through played games (a one-line error otherwise).

:func:`bootstrap_ratings` resamples the games within each pair (a multinomial draw of wins / draws / losses with
the observed frequencies and the same number of games), refits, and reports percentile intervals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlfrontier.errors import DLFrontierError

ELO_PER_LOGIT = 400.0 / math.log(10.0)  # 173.72 Elo points per unit of log-odds


@dataclass
class Results:
    """A round robin's outcome, from the row player's view.

    Attributes:
        players: the names, one per row / column.
        wins: ``int[P, P]``, ``wins[i, j]`` = games ``i`` won against ``j``.
        draws: ``int[P, P]``, symmetric, ``draws[i, j]`` = drawn games between ``i`` and ``j``.
    """

    players: list[str]
    wins: np.ndarray = None  # type: ignore[assignment]  # None: zeros
    draws: np.ndarray = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.players = [str(p) for p in self.players]
        if len(set(self.players)) != len(self.players):
            raise DLFrontierError(f"player names must be distinct: {self.players}")
        p = len(self.players)
        self.wins = np.zeros((p, p), np.int64) if self.wins is None else np.asarray(self.wins, np.int64)
        self.draws = np.zeros((p, p), np.int64) if self.draws is None else np.asarray(self.draws, np.int64)
        if self.wins.shape != (p, p) or self.draws.shape != (p, p):
            raise DLFrontierError(f"results of {p} players need {p}x{p} wins and draws, got "
                                  f"{self.wins.shape} and {self.draws.shape}")
        if (self.wins < 0).any() or (self.draws < 0).any() or (self.draws != self.draws.T).any():
            raise DLFrontierError("wins and draws must be non-negative counts and draws symmetric")
        if np.diag(self.wins).any() or np.diag(self.draws).any():
            raise DLFrontierError("a player cannot play itself (non-zero diagonal)")

    def add(self, i: int, j: int, score: float) -> None:
        """Record one game of player ``i`` against ``j``: ``score`` 1 (i won), 0.5 (draw) or 0 (j won)."""
        if i == j:
            raise ValueError("a player cannot play itself")
        if score == 1:
            self.wins[i, j] += 1
        elif score == 0:
            self.wins[j, i] += 1
        elif score == 0.5:
            self.draws[i, j] += 1
            self.draws[j, i] += 1
        else:
            raise ValueError(f"score {score!r}: expected 1, 0.5 or 0")

    def games(self) -> np.ndarray:
        """``int[P, P]``: games played between each pair."""
        return self.wins + self.wins.T + self.draws

    def score_matrix(self) -> np.ndarray:
        """``float[P, P]``: the mean score of ``i`` against ``j`` (a draw one half; nan on the diagonal and
        where no game was played)."""
        n = self.games().astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            s = (self.wins + 0.5 * self.draws) / n
        s[n == 0] = np.nan
        np.fill_diagonal(s, np.nan)
        return s

    def to_json(self) -> dict[str, Any]:
        return {"players": list(self.players), "wins": self.wins.tolist(), "draws": self.draws.tolist()}

    @classmethod
    def from_json(cls, d: Any) -> Results:
        """Rebuild from :meth:`to_json`; malformed input is one :class:`DLFrontierError`."""
        try:
            players = d["players"]
            if not isinstance(players, list) or not all(isinstance(p, str) for p in players):
                raise TypeError("players must be a list of names")
            wins = np.asarray(d["wins"], dtype=np.int64)
            draws = np.asarray(d["draws"], dtype=np.int64)
        except (KeyError, TypeError, ValueError) as e:
            raise DLFrontierError(f"not a results record: {e}") from None
        return cls(players, wins, draws)


def _pair_totals(results: Results) -> tuple[np.ndarray, np.ndarray]:
    """``(score s[i, j], games n[i, j])`` with a perfect pair score moved half a game from the end."""
    n = results.games().astype(float)
    s = results.wins + 0.5 * results.draws
    s = np.where((n > 0) & (s == 0), 0.5, s)
    s = np.where((n > 0) & (s == n), n - 0.5, s)
    return s, n


def _check_connected(results: Results, a: int) -> None:
    n = results.games()
    seen, todo = {a}, [a]
    while todo:
        i = todo.pop()
        for j in np.flatnonzero(n[i]).tolist():
            if j not in seen:
                seen.add(j)
                todo.append(j)
    missing = [p for k, p in enumerate(results.players) if k not in seen]
    if missing:
        raise DLFrontierError(f"cannot rate {', '.join(missing)}: no games connect them to the anchor "
                              f"{results.players[a]!r}")


def _newton(s: np.ndarray, n: np.ndarray, a: int, iters: int = 100) -> np.ndarray:
    """Maximum likelihood log-strengths ``theta`` (natural-log scale) with ``theta[a] = 0``."""
    p_count = s.shape[0]
    free = np.array([k for k in range(p_count) if k != a], dtype=np.int64)
    theta = np.zeros(p_count)

    def loglik(t: np.ndarray) -> float:
        d = t[:, None] - t[None, :]
        return float(np.sum(s * -np.logaddexp(0.0, -d)))  # s_ij log sigmoid(t_i - t_j), both orders

    ll = loglik(theta)
    tol = 1e-10 * max(1.0, float(n.max()))  # in games: float sums of many games carry rounding error
    for _ in range(iters):
        d = theta[:, None] - theta[None, :]
        p = 1.0 / (1.0 + np.exp(-d))
        grad = np.sum(s - n * p, axis=1)
        w = n * p * (1.0 - p)
        hess = w.copy()
        np.fill_diagonal(hess, -w.sum(axis=1))  # Hessian of the log-likelihood: w_ij off, -sum_j w_ij on diag
        g, h = grad[free], hess[np.ix_(free, free)]
        if np.max(np.abs(g), initial=0.0) < tol:
            break
        step = np.linalg.solve(h, -g)
        t = 1.0
        while True:  # backtracking: the likelihood is concave, so this only guards very large first steps
            cand = theta.copy()
            cand[free] += t * step
            cll = loglik(cand)
            if cll >= ll - 1e-12 or t < 1e-6:
                break
            t *= 0.5
        theta, ll = cand, cll
    return theta


def _fit(results: Results, a: int, anchor_rating: float) -> np.ndarray:
    s, n = _pair_totals(results)
    return anchor_rating + ELO_PER_LOGIT * _newton(s, n, a)


def _anchor_index(results: Results, anchor: str) -> int:
    if anchor not in results.players:
        raise DLFrontierError(f"anchor {anchor!r} did not play; players: {', '.join(results.players)}")
    return results.players.index(anchor)


def fit_ratings(results: Results, *, anchor: str = "random", anchor_rating: float = 0.0) -> dict[str, float]:
    """Bradley-Terry maximum-likelihood ratings on the Elo scale, ``anchor`` fixed at ``anchor_rating``.

    A draw is half a win for each side; a pair with a perfect score counts half a game from the end (the weak
    prior of the module docstring), so every rating is finite. Deterministic.
    """
    a = _anchor_index(results, anchor)
    _check_connected(results, a)
    r = _fit(results, a, anchor_rating)
    return {p: float(r[k]) for k, p in enumerate(results.players)}


def bootstrap_ratings(results: Results, *, anchor: str = "random", samples: int = 1000, seed: int = 0,
                      level: float = 0.95, anchor_rating: float = 0.0) -> dict[str, tuple[float, float, float]]:
    """``name -> (rating, lo, hi)``: the fit of :func:`fit_ratings` and a percentile bootstrap interval.

    Each sample redraws every pair's games (same count, wins / draws / losses with the observed frequencies,
    from a generator seeded by ``seed``: deterministic) and refits. The anchor's interval is a point.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level {level}: expected a value in (0, 1)")
    if samples < 1:
        raise ValueError(f"samples {samples}: expected >= 1")
    point = fit_ratings(results, anchor=anchor, anchor_rating=anchor_rating)
    a = results.players.index(anchor)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1952]))
    p = len(results.players)
    pairs = [(i, j) for i in range(p) for j in range(i + 1, p) if results.games()[i, j] > 0]
    draws_of = np.zeros((samples, p))
    for b in range(samples):
        wins = np.zeros((p, p), np.int64)
        draws = np.zeros((p, p), np.int64)
        for i, j in pairs:
            counts = np.array([results.wins[i, j], results.draws[i, j], results.wins[j, i]], float)
            w, d, lo = rng.multinomial(int(counts.sum()), counts / counts.sum())
            wins[i, j], wins[j, i], draws[i, j], draws[j, i] = w, lo, d, d
        draws_of[b] = _fit(Results(results.players, wins, draws), a, anchor_rating)
    alpha = (1.0 - level) / 2.0
    lo_q, hi_q = np.quantile(draws_of, [alpha, 1.0 - alpha], axis=0)
    return {name: (point[name], float(lo_q[k]), float(hi_q[k])) for k, name in enumerate(results.players)}


def expected_score(r_i: float, r_j: float) -> float:
    """The Elo model's expected score of a player rated ``r_i`` against one rated ``r_j``."""
    return 1.0 / (1.0 + 10.0 ** ((r_j - r_i) / 400.0))

"""Batched, iterative Monte-Carlo tree search: AlphaZero's PUCT and Gumbel AlphaZero, over B games at once.

One search grows B trees side by side in flat arrays (mctx's layout: node 0 is the root, node ``k`` is the one
added by simulation ``k``). Each simulation step walks all B trees down together (a ``while`` over depth, no
recursion), expands one leaf per tree, evaluates every new leaf of the B trees in ONE call of ``evaluate`` and
backs the values up, again for all trees together. Only the game rules (``game.play``) run per game.

Sign convention (two players): every node stores values from the point of view of the player to move AT THAT
NODE. ``Q(s, a)`` seen from ``s`` is ``+value(child)`` when the same player moves again and ``-value(child)``
otherwise (always the case in tic-tac-toe and Connect Four); the backup flips the sign the same way on every edge
it climbs. A terminal node's value is ``game.outcome`` (``-1``: the player who just moved won).

PUCT (Silver et al. 2017/2018): ``a* = argmax Q(s,a) + c_puct P(s,a) sqrt(N(s)) / (1 + N(s,a))`` with Dirichlet
noise on the root prior, unvisited ``Q = fpu``; the policy target is the root's visit distribution.
Gumbel AlphaZero (Danihelka et al., "Policy improvement by planning with Gumbel", ICLR 2022): at the root,
Gumbel-top-m sampling plus sequential halving over the considered actions (scores ``g + logits + sigma(q)``);
below it, the deterministic selection ``argmax pi'(a) - N(a) / (1 + sum N)`` with ``pi' = softmax(logits +
sigma(completed q))``; ``sigma(q) = (c_visit + max_b N(b)) * c_scale * q`` on completed Q values (the mixed
value ``v_mix`` for unvisited actions), rescaled to [0, 1] per node as mctx does; the policy target is ``pi'`` at
the root. Defaults follow mctx: ``max_considered=16``, ``c_visit=50``, ``c_scale=0.1``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

# evaluate(states) -> (logits float[n, A], values float[n]): the network's prior logits (any value at illegal
# actions: they are masked here) and its value for the player to move at each state.
Evaluate = Callable[[Sequence[Any]], tuple[np.ndarray, np.ndarray]]
NEG = -1e9  # "minus infinity" for masked logits (keeps arithmetic finite)


@dataclass
class SearchConfig:
    """Settings of one search (both algorithms; each reads its own)."""

    algorithm: Literal["puct", "gumbel"] = field(default="puct", metadata={"help": "puct (AlphaZero) or gumbel"})
    simulations: int = field(default=32, metadata={"help": "simulations per move", "range": "[1, inf)"})
    c_puct: float = field(default=1.5, metadata={"help": "PUCT exploration constant", "range": "(0, inf)"})
    fpu: float = field(default=0.0, metadata={"help": "PUCT value of an unvisited action", "range": "[-1, 1]"})
    dirichlet_alpha: float = field(default=0.5, metadata={"help": "root Dirichlet noise alpha", "range": "(0, inf)"})
    dirichlet_eps: float = field(default=0.25, metadata={
        "help": "root noise weight (0: none; evaluation uses none)", "range": "[0, 1]"})
    max_considered: int = field(default=16, metadata={
        "help": "Gumbel: actions considered at the root (m)", "range": "[1, inf)"})
    gumbel_scale: float = field(default=1.0, metadata={
        "help": "Gumbel: scale of the root Gumbel noise (0: deterministic)", "range": "[0, inf)"})
    c_visit: float = field(default=50.0, metadata={"help": "Gumbel: sigma's c_visit", "range": "[0, inf)"})
    c_scale: float = field(default=0.1, metadata={"help": "Gumbel: sigma's c_scale", "range": "(0, inf)"})


@dataclass
class SearchResult:
    """What a search returns per game (row b)."""

    action: np.ndarray         # int[B]: the move chosen (PUCT: by the visit counts at ``temperature``)
    policy: np.ndarray         # float[B, A]: the policy target (PUCT: visit distribution; Gumbel: pi')
    visits: np.ndarray         # int[B, A]: root visit counts
    q: np.ndarray              # float[B, A]: root Q values from the root player's view (nan: unvisited)
    prior: np.ndarray          # float[B, A]: the network's prior at the root (before noise)
    value: np.ndarray          # float[B]: the root's mean value (root player's view)
    raw_value: np.ndarray      # float[B]: the network's value of the root


class Tree:
    """B search trees in flat arrays; node 0 of each is its root. Shapes in the comments."""

    def __init__(self, batch: int, num_nodes: int, num_actions: int) -> None:
        b, n, a = batch, num_nodes, num_actions
        self.visits = np.zeros((b, n), np.int64)                # [B, N] visit count (root: 1 after its eval)
        self.value_sum = np.zeros((b, n))                       # [B, N] sum of values, node player's view
        self.raw_value = np.zeros((b, n))                       # [B, N] network value (or terminal outcome)
        self.player = np.zeros((b, n), np.int64)                # [B, N] player to move at the node
        self.terminal = np.zeros((b, n), bool)                  # [B, N] game over at the node
        self.parent = np.full((b, n), -1, np.int64)             # [B, N] parent node (-1: root / unused)
        self.children = np.full((b, n, a), -1, np.int64)        # [B, N, A] child node per action (-1: none)
        self.legal = np.zeros((b, n, a), bool)                  # [B, N, A] legal actions
        self.logits = np.full((b, n, a), NEG)                   # [B, N, A] masked prior logits
        self.prior = np.zeros((b, n, a))                        # [B, N, A] prior probabilities (root: noised)
        self.size = np.ones(b, np.int64)                        # [B] nodes used
        self.states: list[list[Any]] = [[None] * n for _ in range(b)]  # [B][N] game states

    def child_stats(self, rows: np.ndarray, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Visit counts int[len, A] and Q values float[len, A] (nan if unvisited) of the children of ``nodes``,
        seen from the player to move at each node."""
        kids = self.children[rows, nodes]                       # [R, A]
        safe = np.maximum(kids, 0)
        r = rows[:, None]
        n = np.where(kids >= 0, self.visits[r, safe], 0)        # [R, A]
        same = self.player[r, safe] == self.player[rows, nodes][:, None]
        mean = self.value_sum[r, safe] / np.maximum(n, 1)
        q = np.where(n > 0, np.where(same, mean, -mean), np.nan)
        return n, q


def masked_softmax(logits: np.ndarray, legal: np.ndarray) -> np.ndarray:
    z = np.where(legal, logits, -np.inf)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.where(legal, np.exp(z), 0.0)
    return e / e.sum(axis=-1, keepdims=True)


def considered_visits(m: int, n: int) -> list[int]:
    """Gumbel sequential halving: the visit count the root action to simulate must have, for simulations 0..n-1.

    ``m`` actions start; each of ``ceil(log2 m)`` phases gives every remaining action
    ``max(1, floor(n / (ceil(log2 m) * remaining)))`` more visits, then keeps the better half (at least 2).
    Simulation ``k`` visits the best-scoring action whose count equals entry ``k`` (so the actions of a phase are
    visited round-robin in score order). Phases repeat until ``n`` entries exist.
    """
    if m <= 1:
        return list(range(n))
    log2m = math.ceil(math.log2(m))
    seq: list[int] = []
    visits = [0] * m
    remaining = m
    while len(seq) < n:
        extra = max(1, n // (log2m * remaining))
        for _ in range(extra):
            seq.extend(visits[:remaining])
            for i in range(remaining):
                visits[i] += 1
        remaining = max(2, remaining // 2)
    return seq[:n]


def completed_q(tree: Tree, rows: np.ndarray, nodes: np.ndarray, cfg: SearchConfig) -> tuple[np.ndarray, np.ndarray]:
    """sigma(completed Q) float[R, A] and child visit counts int[R, A] at ``nodes`` (Gumbel AlphaZero, eq. 10-11
    and Appendix D: unvisited actions get v_mix; Q rescaled to [0, 1] over the legal actions as in mctx)."""
    n, q = tree.child_stats(rows, nodes)
    prior = tree.prior[rows, nodes]                              # [R, A]
    legal = tree.legal[rows, nodes]
    visited = n > 0
    sum_n = n.sum(axis=1)                                        # [R]
    p_vis = np.where(visited, prior, 0.0).sum(axis=1)
    pq = np.where(visited, prior * np.nan_to_num(q), 0.0).sum(axis=1)
    raw = tree.raw_value[rows, nodes]
    weighted = np.where(p_vis > 0, pq / np.maximum(p_vis, 1e-12), raw)
    v_mix = (raw + sum_n * weighted) / (1 + sum_n)               # [R]
    cq = np.where(visited, np.nan_to_num(q), v_mix[:, None])
    lo = np.where(legal, cq, np.inf).min(axis=1, keepdims=True)
    hi = np.where(legal, cq, -np.inf).max(axis=1, keepdims=True)
    cq = (cq - lo) / np.maximum(hi - lo, 1e-8)
    sigma = (cfg.c_visit + n.max(axis=1, keepdims=True)) * cfg.c_scale * cq
    return sigma, n


class BatchedMCTS:
    """PUCT or Gumbel search over B games with one ``evaluate`` call per simulation step.

    ``search(game, states, evaluate, rng)`` searches from each (non-terminal) state of ``states``.
    """

    def __init__(self, cfg: SearchConfig) -> None:
        self.cfg = cfg
        self._halving: dict[int, np.ndarray] = {}

    # ------------------------------------------------------------------ helpers
    def _halving_table(self, m: int) -> np.ndarray:
        if m not in self._halving:
            self._halving[m] = np.array(considered_visits(m, self.cfg.simulations), np.int64)
        return self._halving[m]

    def _expand(self, game: Any, tree: Tree, rows: np.ndarray, nodes: np.ndarray, states: list,
                evaluate: Evaluate) -> np.ndarray:
        """Fill ``nodes`` (one per row) with ``states``; evaluate the non-terminal ones in one call. Returns the
        leaf values float[R] from each node's player's view."""
        values = np.zeros(len(rows))
        pending = []
        for i, (b, node, s) in enumerate(zip(rows, nodes, states, strict=True)):
            tree.states[b][node] = s
            tree.player[b, node] = game.to_move(s)
            out = game.outcome(s)
            if out is not None:
                tree.terminal[b, node] = True
                values[i] = out
            else:
                tree.legal[b, node] = game.legal(s)
                pending.append(i)
        if pending:
            logits, v = evaluate([states[i] for i in pending])
            idx = np.array(pending)
            pr, nd = rows[idx], nodes[idx]
            legal = tree.legal[pr, nd]
            tree.logits[pr, nd] = np.where(legal, np.asarray(logits, np.float64), NEG)
            tree.prior[pr, nd] = masked_softmax(tree.logits[pr, nd], legal)
            values[idx] = np.asarray(v, np.float64).reshape(-1)
        tree.raw_value[rows, nodes] = values
        return values

    def _backup(self, tree: Tree, rows: np.ndarray, leaves: np.ndarray, values: np.ndarray) -> None:
        """Add each leaf's value (its player's view) to every node on its path, flipping sign per player change."""
        cur, v = leaves.copy(), values.copy()
        active = np.ones(len(rows), bool)
        while active.any():
            r, c = rows[active], cur[active]
            tree.visits[r, c] += 1
            tree.value_sum[r, c] += v[active]
            par = tree.parent[r, c]
            up = par >= 0
            flip = np.where(tree.player[r[up], par[up]] == tree.player[r[up], c[up]], 1.0, -1.0)
            idx = np.flatnonzero(active)
            v[idx[up]] *= flip
            cur[idx] = np.where(up, par, c)
            active[idx[~up]] = False

    def _select_child(self, tree: Tree, rows: np.ndarray, nodes: np.ndarray, at_root: np.ndarray,
                      sim: int, gumbel: np.ndarray, m: np.ndarray) -> np.ndarray:
        """The action int[R] to follow at each ``nodes`` (PUCT or Gumbel rules)."""
        legal = tree.legal[rows, nodes]                           # [R, A]
        if self.cfg.algorithm == "puct":
            n, q = tree.child_stats(rows, nodes)
            q = np.where(n > 0, q, self.cfg.fpu)
            u = self.cfg.c_puct * tree.prior[rows, nodes] * np.sqrt(tree.visits[rows, nodes])[:, None] / (1 + n)
            return np.where(legal, q + u, -np.inf).argmax(axis=1)
        sigma, n = completed_q(tree, rows, nodes, self.cfg)
        logits = tree.logits[rows, nodes]
        # interior nodes: deterministic selection argmax pi'(a) - N(a) / (1 + sum N)
        pi = masked_softmax(logits + sigma, legal)
        score = np.where(legal, pi - n / (1 + n.sum(axis=1, keepdims=True)), -np.inf)
        if at_root.any():  # root: sequential halving among the Gumbel-top-m actions
            ri = np.flatnonzero(at_root)
            target = np.array([self._halving_table(int(m[rows[i]]))[sim] for i in ri])
            cand = legal[ri] & (n[ri] == target[:, None])
            cand = np.where(cand.any(axis=1, keepdims=True), cand, legal[ri])  # (safety: never an empty set)
            root_score = gumbel[rows[ri]] + logits[ri] + sigma[ri]
            score[ri] = np.where(cand, root_score, -np.inf)
        return score.argmax(axis=1)

    # ------------------------------------------------------------------ search
    def search(self, game: Any, states: Sequence[Any], evaluate: Evaluate, rng: np.random.Generator, *,
               temperature: float = 0.0, add_noise: bool = True) -> SearchResult:
        """Search from every state of ``states`` (none terminal) and return the root statistics and moves.

        ``add_noise``: PUCT's Dirichlet root noise / Gumbel's root Gumbel noise (self-play); off for evaluation.
        ``temperature`` (PUCT): 0 plays the most visited move, otherwise samples visits ** (1 / temperature).
        """
        cfg = self.cfg
        batch, nsim, num_actions = len(states), cfg.simulations, game.num_actions
        tree = Tree(batch, nsim + 1, num_actions)
        all_rows = np.arange(batch)
        roots = np.zeros(batch, np.int64)
        root_values = self._expand(game, tree, all_rows, roots, list(states), evaluate)
        if tree.terminal[:, 0].any():
            raise ValueError("search from a terminal state")
        self._backup(tree, all_rows, roots, root_values)
        prior = tree.prior[:, 0].copy()                           # [B, A] before noise
        legal0 = tree.legal[:, 0]                                 # [B, A]
        gumbel = np.zeros((batch, num_actions))                   # [B, A]
        if add_noise and cfg.algorithm == "puct" and cfg.dirichlet_eps > 0:
            for b in range(batch):
                idx = np.flatnonzero(legal0[b])
                noise = rng.dirichlet([cfg.dirichlet_alpha] * len(idx))
                tree.prior[b, 0, idx] = (1 - cfg.dirichlet_eps) * tree.prior[b, 0, idx] + cfg.dirichlet_eps * noise
        if add_noise and cfg.algorithm == "gumbel" and cfg.gumbel_scale > 0:
            gumbel = cfg.gumbel_scale * rng.gumbel(size=(batch, num_actions))
        m = np.minimum(cfg.max_considered, legal0.sum(axis=1))    # [B] considered actions (Gumbel)
        for sim in range(nsim):
            node = np.zeros(batch, np.int64)                       # [B] current node of each walk
            leaf_action = np.full(batch, -1, np.int64)             # [B] action to expand (-1: reached terminal)
            walking = np.ones(batch, bool)
            depth = 0
            while walking.any():
                r = np.flatnonzero(walking)
                term = tree.terminal[r, node[r]]
                walking[r[term]] = False                           # a terminal node is its own leaf
                r = r[~term]
                if len(r) == 0:
                    break
                a = self._select_child(tree, r, node[r], np.full(len(r), depth == 0), sim, gumbel, m)
                kid = tree.children[r, node[r], a]
                new = kid < 0
                leaf_action[r[new]] = a[new]
                walking[r[new]] = False
                node[r[~new]] = kid[~new]
                depth += 1
            leaves = node.copy()
            exp_rows = np.flatnonzero(leaf_action >= 0)
            values = tree.raw_value[all_rows, leaves].copy()       # terminal leaves: their outcome
            if len(exp_rows):
                parents, acts = node[exp_rows], leaf_action[exp_rows]
                new_nodes = tree.size[exp_rows].copy()
                tree.size[exp_rows] += 1
                tree.parent[exp_rows, new_nodes] = parents
                tree.children[exp_rows, parents, acts] = new_nodes
                new_states = [game.play(tree.states[b][p], int(a))
                              for b, p, a in zip(exp_rows, parents, acts, strict=True)]
                values[exp_rows] = self._expand(game, tree, exp_rows, new_nodes, new_states, evaluate)
                leaves[exp_rows] = new_nodes
            self._backup(tree, all_rows, leaves, values)
        return self._result(tree, prior, gumbel, rng, temperature)

    def _result(self, tree: Tree, prior: np.ndarray, gumbel: np.ndarray, rng: np.random.Generator,
                temperature: float) -> SearchResult:
        batch = tree.visits.shape[0]
        rows, roots = np.arange(batch), np.zeros(batch, np.int64)
        n, q = tree.child_stats(rows, roots)
        legal = tree.legal[:, 0]
        value = tree.value_sum[:, 0] / tree.visits[:, 0]
        if self.cfg.algorithm == "gumbel":
            sigma, _ = completed_q(tree, rows, roots, self.cfg)
            policy = masked_softmax(tree.logits[:, 0] + sigma, legal)
            best = legal & (n == n.max(axis=1, keepdims=True))
            action = np.where(best, gumbel + tree.logits[:, 0] + sigma, -np.inf).argmax(axis=1)
        else:
            policy = n / n.sum(axis=1, keepdims=True)
            action = pick_by_visits(n, legal, temperature, rng)
        return SearchResult(action, policy, n, q, prior, value, tree.raw_value[:, 0].copy())


def pick_by_visits(n: np.ndarray, legal: np.ndarray, temperature: float, rng: np.random.Generator) -> np.ndarray:
    """Moves int[B] from visit counts int[B, A]: the most visited (ties: random) at temperature 0, else sampled
    with probability proportional to ``n ** (1 / temperature)``."""
    out = np.empty(len(n), np.int64)
    for b in range(len(n)):
        if temperature <= 0:
            best = np.flatnonzero(legal[b] & (n[b] == n[b][legal[b]].max()))
            out[b] = best[rng.integers(len(best))] if len(best) > 1 else best[0]
        else:
            w = np.where(legal[b], n[b].astype(np.float64), 0.0) ** (1.0 / temperature)
            if w.sum() <= 0:
                w = legal[b].astype(np.float64)
            out[b] = rng.choice(len(w), p=w / w.sum())
    return out


__all__ = ["BatchedMCTS", "Evaluate", "SearchConfig", "SearchResult", "Tree", "completed_q", "considered_visits",
           "masked_softmax", "pick_by_visits"]

"""Measuring self-play agents: batched colour-balanced matches and rated round robins with fixed anchors.

:func:`batched_match` plays all games of a match at once on :mod:`dlfrontier.games` states (the rules module,
not the training environment, so evaluation is an independent check of it): a side with ``select_many``
(a :class:`~dlfrontier.rl.selfplay.agent.PolicyPlayer`) moves in every game with one network call, any other
:class:`~dlfrontier.games.Player` game by game. :func:`rate` plays every pair of a set of players and fits
Bradley-Terry ratings (:func:`dlfrontier.rl.selfplay.ratings.fit_ratings`, the random player at 0 Elo).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlfrontier.games.arena import MatchResult
from dlfrontier.games.base import Game
from dlfrontier.rl.selfplay.ratings import Results, fit_ratings


def _moves(game: Game, player: Any, states: list[Any], rng: np.random.Generator) -> list[int]:
    if hasattr(player, "select_many"):
        return [int(a) for a in player.select_many(game, states, rng)]
    return [int(player.select(game, s, rng)) for s in states]


def batched_match(game: Game, a: Any, b: Any, n_games: int, seed: int) -> tuple[MatchResult, np.ndarray]:
    """``n_games`` games of ``a`` against ``b``, ``a`` moving first in the even-numbered games, all at once.
    Returns the score of ``a`` and each game's result for ``a`` (1 / 0.5 / 0)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 19]))
    a_first = np.arange(n_games) % 2 == 0
    states = [game.initial() for _ in range(n_games)]
    result = np.full(n_games, np.nan)
    active = list(range(n_games))
    while active:
        for side, player in ((True, a), (False, b)):
            turn = [g for g in active if game.outcome(states[g]) is None
                    and (game.to_move(states[g]) == 0) == (a_first[g] == side)]
            for g, m in zip(turn, _moves(game, player, [states[g] for g in turn], rng), strict=True):
                states[g] = game.play(states[g], m)
        still = []
        for g in active:
            o = game.outcome(states[g])
            if o is None:
                still.append(g)
                continue
            a_to_move = (game.to_move(states[g]) == 0) == a_first[g]
            result[g] = ((o if a_to_move else -o) + 1) / 2
        active = still
    return MatchResult(int((result == 1).sum()), int((result == 0.5).sum()), int((result == 0).sum())), result


def solved_in_full(game: Game) -> bool:
    """Whether :func:`exploitable_positions` can walk ``game`` (the exact solver labels every position quickly)."""
    from dlfrontier.games.connect4 import Connect4
    from dlfrontier.games.solver import perfect_can_play

    return not isinstance(game, Connect4) and perfect_can_play(game)


def exploitable_positions(game: Game, player: Any) -> tuple[int, int]:
    """Exactly how exploitable a deterministic player is, on games the exact solver labels in full (boards of at
    most 12 cells: tic-tac-toe). Walks the game tree from the start with the player in each seat: its own move
    where it is to move, every legal move of the opponent. Returns the number of (position, player's seat) pairs,
    summed over both seats, where the player's move lowers its exact value (a lost draw or a missed win), and how
    many of them are reachable when the opponent plays only optimal moves: 0 there means no game against the
    perfect player can be lost.

    Raises:
        ValueError: a game the solver does not label in full here (Connect Four, Gomoku).
    """
    from dlfrontier.games.solver import solve

    if not solved_in_full(game):
        raise ValueError(f"exploitable_positions needs a game solved in full (tic-tac-toe), not {game.name}")
    rng = np.random.default_rng(0)
    seen: dict[tuple[Any, int, bool], bool] = {}

    def walk(s: Any, seat: int, optimal_only: bool) -> None:
        key = (s, seat, optimal_only)
        if key in seen or game.outcome(s) is not None:
            return
        values = {a: -solve(game, game.play(s, a)) for a in game.legal_actions(s)}
        best = max(values.values())
        if game.to_move(s) == seat:
            a = int(_moves(game, player, [s], rng)[0])
            seen[key] = values[a] < best
            walk(game.play(s, a), seat, optimal_only)
        else:
            seen[key] = False
            for a, v in values.items():
                if v == best or not optimal_only:
                    walk(game.play(s, a), seat, optimal_only)

    for seat in (0, 1):
        for optimal_only in (False, True):
            walk(game.initial(), seat, optimal_only)
    return (sum(v for (_, _, o), v in seen.items() if not o), sum(v for (_, _, o), v in seen.items() if o))


def rate(game: Game, players: dict[str, Any], games_per_pair: int, seed: int, anchor: str = "random",
         pairs: list[tuple[str, str]] | None = None, results: Results | None = None) -> tuple[Results, dict]:
    """Play ``games_per_pair`` colour-balanced games for every pair (or only ``pairs``), adding to ``results``
    if given, and fit ratings (``anchor`` at 0). Returns the results and ``name -> Elo``."""
    names = list(players)
    res = results if results is not None else Results(names)
    todo = pairs if pairs is not None else [(x, y) for i, x in enumerate(names) for y in names[i + 1:]]
    for k, (x, y) in enumerate(todo):
        _, per_game = batched_match(game, players[x], players[y], games_per_pair, seed=seed * 7919 + k)
        i, j = res.players.index(x), res.players.index(y)
        for s in per_game:
            res.add(i, j, float(s))
    return res, fit_ratings(res, anchor=anchor)


def evaluate_run(loaded: Any, *, episodes: int = 10, out_dir: Any = None, gif: str | None = None,
                 **_: Any) -> dict[str, float]:
    """``dlfrontier eval`` of a self-play run: ``episodes`` colour-balanced games of the greedy learner against
    random, one-step lookahead, depth-2 minimax and (where the solver is fast) the perfect player
    (``score.json`` and a printed table), the exploitable positions where the solver labels the whole game
    (:func:`exploitable_positions`), and one game record against lookahead (``game.txt``; with ``gif``, also
    that game as an animated GIF)."""
    import json
    import sys
    from pathlib import Path

    from dlfrontier.games import make_game, make_player
    from dlfrontier.games.draw import write_game_gif
    from dlfrontier.games.solver import perfect_can_play
    from dlfrontier.rl.selfplay.agent import PolicyPlayer
    from dlfrontier.rl.selfplay.ppo import net_from_state

    cfg = loaded.config
    game_name = cfg.game if hasattr(cfg, "game") else cfg.base.game
    game = make_game(game_name)
    player = PolicyPlayer(net_from_state(loaded.state["learner"]), name="learner")
    names = ["random", "lookahead", "minimax-2"] + (["perfect"] if perfect_can_play(game) else [])
    rows: list[list[Any]] = []
    out: dict[str, float] = {}
    for i, name in enumerate(names):
        s, _games = batched_match(game, player, make_player(name), max(episodes, 2), seed=777 + i)
        rows.append([name, s.wins, s.draws, s.losses, round(s.score, 3)])
        out[f"score_vs_{name}"] = s.score
        print(f"{name:>10}: {s.wins} wins, {s.draws} draws, {s.losses} losses, score {s.score:.3f}")
    if solved_in_full(game):
        holes, holes_vs_perfect = exploitable_positions(game, player)
        out["exploitable_positions"], out["exploitable_positions_vs_perfect"] = holes, holes_vs_perfect
        print(f"exploitable positions (exact): {holes} against any opponent, {holes_vs_perfect} reachable by the "
              f"perfect player")
    moves: list[int] = []
    record = game_record(game, player, make_player("lookahead"), moves=moves)
    if gif:
        path_gif = write_game_gif(game, moves, ("learner", "lookahead"), gif, result=record.rstrip().split("\n")[-1])
        print(f"wrote {path_gif} (one game against lookahead, {len(moves)} moves)")
    if out_dir is not None:
        path = Path(out_dir)
        path.mkdir(parents=True, exist_ok=True)
        table = {"title": f"{loaded.experiment} seed {loaded.seed}: greedy learner vs opponents ({episodes} games "
                          "each, colour-balanced)", "columns": ["opponent", "wins", "draws", "losses", "score"],
                 "rows": rows}
        (path / "score.json").write_text(json.dumps(table, indent=1))
        (path / "game.txt").write_text(record)
        print(f"wrote {path / 'score.json'} and {path / 'game.txt'}", file=sys.stderr)
    return out


def game_record(game: Game, player: Any, opponent: Any, seed: int = 0, moves: list[int] | None = None) -> str:
    """One game, the learner first: every board, the policy's probabilities over the legal moves, each move
    (also appended to ``moves`` when given)."""
    rng = np.random.default_rng(seed)
    s, lines = game.initial(), []
    label = getattr(game, "cell_label", lambda a: str(a + 1))
    while game.outcome(s) is None:
        lines.append(game.render(s))
        if game.to_move(s) == 0:
            p = player.probabilities(game, [s])[0]
            lines.append("  policy: " + " ".join(f"{label(int(a))}:{p[a]:.2f}" for a in np.flatnonzero(p > 0)))
            a = int(player.select(game, s, rng))
            lines.append(f"learner plays {label(a)}\n")
        else:
            a = int(opponent.select(game, s, rng))
            lines.append(f"{opponent.name} plays {label(a)}\n")
        if moves is not None:
            moves.append(a)
        s = game.play(s, a)
    lines.append(game.render(s))
    o = float(game.outcome(s) or 0.0)
    result = o if game.to_move(s) == 0 else -o
    lines.append({1.0: "learner wins", 0.0: "draw", -1.0: "learner loses"}[float(result)])
    return "\n".join(lines) + "\n"


__all__ = ["batched_match", "evaluate_run", "game_record", "rate"]

"""Round-robin tournaments between built-in players and trained agents, rated on one Elo ladder.

    from dlfrontier.games import make_game
    from dlfrontier.rl.selfplay.tournament import resolve_player, round_robin, rating_rows
    from dlfrontier.rl.selfplay.ratings import bootstrap_ratings
    game = make_game("tictactoe")
    specs = ["random", "lookahead", "minimax-2", "runs/alphazero-tictactoe/0-<time>"]
    players = dict(resolve_player(p, game) for p in specs)
    results = round_robin(game, players, games_per_pair=100, seed=0)
    rows = rating_rows(results, bootstrap_ratings(results))

* :func:`resolve_player`: a built-in name (:func:`dlfrontier.games.make_player`: ``random``, ``lookahead``,
  ``minimax-N``, ``perfect``, ``uct-N``) or a run folder of a ``selfplay-*`` or ``alphazero-*`` experiment (a
  seed's folder, the one holding ``config.json``), checked to have been trained on the tournament's game.
* :func:`round_robin`: every pair plays ``games_per_pair`` games, each player moving first in exactly half of
  them. Game ``g`` of a pair draws its randomness from ``SeedSequence([seed, crc32(pair names), g])``, so a pair's
  games do not depend on who else takes part. Players with a batched ``select_many`` (AlphaZero's search agent,
  the self-play policy) play all games of a pair at once (one call per move for every unfinished game).
* ``dlfrontier tournament PLAYERS... --game G --games N --seed S --out DIR`` (:func:`main`) prints the rating
  table and writes a run-style folder ``DIR/tournament-<game>/<seed>-<UTC time>/`` that ``dlfrontier report``
  reads: ``summary.json`` (metrics ``elo/<player>``), ``config.json``, ``results.json`` (the raw results and the
  ratings), ``tables/ratings.json`` and ``crossplay.png``.
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dlfrontier.errors import DLFrontierError
from dlfrontier.games.base import Game, State
from dlfrontier.games.players import Player, make_player
from dlfrontier.games.solver import check_perfect_game
from dlfrontier.rl.selfplay.ratings import Results, bootstrap_ratings

_KINDS = ("selfplay-", "alphazero-")


def _run_player(path: Path, game: Game) -> tuple[str, Player]:
    from dlfrontier.tracking import RunDir

    run = RunDir(path)
    if not (path / "config.json").is_file():
        raise DLFrontierError(f"{path} is not a run folder (no config.json); give a seed's folder, e.g. "
                              f"runs/alphazero-tictactoe/0-<time>")
    record = run.read_config()
    experiment = record.get("experiment")
    cfg = record.get("config")
    if not isinstance(experiment, str) or not isinstance(cfg, dict):
        raise DLFrontierError(f"{path}/config.json names no experiment and config")
    if not experiment.startswith(_KINDS):
        raise DLFrontierError(f"{path} is a run of {experiment}, not of a game-playing agent "
                              f"(selfplay-* or alphazero-*)")
    base = cfg.get("base")  # a pool-vs-naive run keeps its game in the learners' shared config
    trained_on = cfg.get("game", base.get("game") if isinstance(base, dict) else None)
    if trained_on != game.name:
        raise DLFrontierError(f"{path} is an agent for {trained_on}, not for {game.name}")
    seed = record.get("seed")
    name = f"{experiment}-s{seed}" if isinstance(seed, int) and not isinstance(seed, bool) else experiment
    if experiment.startswith("selfplay-"):
        try:
            from dlfrontier.rl.selfplay.agent import load_player
        except ImportError as e:
            raise DLFrontierError(f"cannot load self-play agents: {e}") from None
        return name, load_player(path)
    from dlfrontier.rl.search.play import load_agent

    return name, load_agent(path, game.name)[1]


def resolve_player(spec: str, game: Game) -> tuple[str, Player]:
    """``(name, player)`` of a built-in player name or a ``selfplay-*`` / ``alphazero-*`` run folder.

    Raises:
        DLFrontierError: one line for an unknown name, a folder that is not a run of a game-playing agent, or
            an agent trained on another game.
    """
    path = Path(spec)
    if path.is_dir():
        return _run_player(path, game)
    if "/" in spec or spec.startswith("."):
        raise DLFrontierError(f"{spec}: no such folder (a player is a built-in name or a run folder)")
    try:
        player = make_player(spec)
    except DLFrontierError as e:
        raise DLFrontierError(f"{e}, or a selfplay-*/alphazero-* run folder") from None
    if player.name == "perfect":
        check_perfect_game(game)
    return player.name, player


def _pair_key(a: str, b: str) -> int:
    return zlib.crc32(f"{a}\x00{b}".encode())


def _batched(player: Player, game: Game) -> Callable[[list[State], np.random.Generator], Any] | None:
    """The player's batched move function as ``f(states, rng)``, if it has one: AlphaZero's
    ``select_many(states, rng)`` or the self-play policy's ``select_many(game, states, rng)``."""
    many = getattr(player, "select_many", None)
    if not callable(many):
        return None
    try:
        params = inspect.signature(many).parameters
    except (TypeError, ValueError):
        return None
    if "game" in params:
        return lambda states, rng: many(game, states, rng)
    return many


def _play_pair(game: Game, a: Player, b: Player, n: int, seed: int, pair: int) -> list[float]:
    """``n`` games of ``a`` against ``b`` (``a`` moves first in the even games), all at once; ``a``'s results."""
    rngs = [np.random.default_rng(np.random.SeedSequence([seed, pair, g])) for g in range(n)]
    batch_rng = np.random.default_rng(np.random.SeedSequence([seed, pair, 2**31]))
    states: list[State] = [game.initial() for _ in range(n)]
    active = list(range(n))
    while active:
        for who, player in ((0, a), (1, b)):
            # games where `player` is to move: a moves as player 0 in even games, as player 1 in odd ones
            turn = [g for g in active if game.outcome(states[g]) is None
                    and (game.to_move(states[g]) == g % 2) == (who == 0)]
            if not turn:
                continue
            many = _batched(player, game)
            if many is not None:
                acts = [int(x) for x in many([states[g] for g in turn], batch_rng)]
            else:
                acts = [int(player.select(game, states[g], rngs[g])) for g in turn]
            for g, act in zip(turn, acts, strict=True):
                states[g] = game.play(states[g], act)
        active = [g for g in active if game.outcome(states[g]) is None]
    out = []
    for g, s in enumerate(states):
        o = float(game.outcome(s) or 0.0)  # for the player to move at the end (every game here is over)
        a_to_move = game.to_move(s) == g % 2
        out.append(o if a_to_move else -o)
    return out


def round_robin(game: Game, players: dict[str, Player], *, games_per_pair: int, seed: int,
                progress: Callable[[int, int], None] | None = None) -> Results:
    """Every pair of ``players`` plays ``games_per_pair`` games (even: each side moves first in half of them).

    Deterministic in ``seed``; a pair's games depend only on the two players' names and ``seed``.
    ``progress(pairs_done, pairs_total)`` is called after each pair.
    """
    if games_per_pair < 2 or games_per_pair % 2:
        raise DLFrontierError(f"games per pair {games_per_pair}: expected an even number >= 2 (colour balance)")
    names = list(players)
    if len(names) < 2:
        raise DLFrontierError("a tournament needs at least two players")
    results = Results(names)
    pairs = [(i, j) for i in range(len(names)) for j in range(i + 1, len(names))]
    for k, (i, j) in enumerate(pairs):
        scores = _play_pair(game, players[names[i]], players[names[j]], games_per_pair, seed,
                            _pair_key(names[i], names[j]))
        for r in scores:
            results.add(i, j, 0.5 * (r + 1.0))
        if progress is not None:
            progress(k + 1, len(pairs))
    return results


def rating_rows(results: Results, ci: dict[str, tuple[float, float, float]]) -> list[dict[str, Any]]:
    """One row per player, best first: ``player``, ``rating``, ``lo``, ``hi``, ``games``, ``score`` (mean over
    all its games) and ``vs`` (its mean score against each opponent, nan where they did not meet)."""
    s = results.score_matrix()
    n = results.games()
    rows: list[dict[str, Any]] = []
    for k, name in enumerate(results.players):
        rating, lo, hi = ci[name]
        total = n[k].sum()
        score = float((results.wins[k].sum() + 0.5 * results.draws[k].sum()) / total) if total else float("nan")
        rows.append({"player": name, "rating": rating, "lo": lo, "hi": hi, "games": int(total), "score": score,
                     "vs": {o: float(s[k, m]) for m, o in enumerate(results.players) if m != k}})
    rows.sort(key=lambda r: (-r["rating"], r["player"]))
    return rows


def _short(name: str) -> str:
    return name.replace("alphazero-", "az-").replace("selfplay-", "sp-")


def rating_table(rows: list[dict[str, Any]], title: str) -> dict[str, Any]:
    """``{"title", "columns", "rows"}`` (the report's table format): rank, player, Elo, CI, games, score, vs."""
    order = [r["player"] for r in rows]
    columns = ["#", "player", "Elo", "95% CI", "games", "score"] + [f"vs {_short(o)}" for o in order]
    table = []
    for k, r in enumerate(rows):
        vs = ["-" if o == r["player"] or np.isnan(r["vs"].get(o, np.nan)) else round(r["vs"][o], 3) for o in order]
        table.append([k + 1, r["player"], round(r["rating"]), f"{r['lo']:.0f} to {r['hi']:.0f}", r["games"],
                      round(r["score"], 3)] + vs)
    return {"title": title, "columns": columns, "rows": table}


def format_table(table: dict[str, Any]) -> str:
    """Plain-text rendering of :func:`rating_table`'s table."""
    cells = [[str(c) for c in table["columns"]]] + [[str(c) for c in row] for row in table["rows"]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    lines = ["  ".join(c.rjust(w) if i != 1 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in cells]
    return "\n".join([table["title"], *lines])


def plot_crossplay(results: Results, path: Path, order: list[str] | None = None) -> None:
    """A heatmap of :meth:`Results.score_matrix` (row player's mean score against the column player), players
    in ``order`` (default: as in ``results``; the CLI passes the rating order, best first)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(order) if order is not None else list(results.players)
    idx = [results.players.index(n) for n in names]
    s = results.score_matrix()[np.ix_(idx, idx)]
    p = len(names)
    labels = [_short(n) for n in names]
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * p, 0.8 + 0.6 * p))
    im = ax.imshow(np.ma.masked_invalid(s), cmap="RdYlGn", vmin=0.0, vmax=1.0)
    for i in range(p):
        for j in range(p):
            if not np.isnan(s[i, j]):
                ax.text(j, i, f"{s[i, j]:.2f}", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(p), labels, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(p), labels, fontsize=8)
    ax.set_xlabel("opponent")
    ax.set_ylabel("player (row's mean score)")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_tournament(out: str | Path, game: Game, specs: list[str], results: Results,
                     ci: dict[str, tuple[float, float, float]], *, seed: int, games_per_pair: int,
                     wall_seconds: float) -> Path:
    """The run-style folder ``out/tournament-<game>/<seed>-<time>/`` the report reads (see the module docstring)."""
    from dlfrontier.tracking import RunDir, atomic_write_json

    run = RunDir.create(out, f"tournament-{game.name}", seed)
    rows = rating_rows(results, ci)
    title = f"Elo ratings on {game.name}, random = 0 ({games_per_pair} games per pair, seed {seed})"
    run.write_config({"experiment": f"tournament-{game.name}", "seed": seed, "budget": "quick",
                      "config": {"game": game.name, "players": specs, "games_per_pair": games_per_pair},
                      "command": sys.argv})
    atomic_write_json(run.path / "results.json", {"results": results.to_json(), "ratings": rows})
    (run.path / "tables").mkdir()
    atomic_write_json(run.path / "tables" / "ratings.json", rating_table(rows, title))
    plot_crossplay(results, run.path / "crossplay.png", order=[r["player"] for r in rows])
    run.write_summary({
        "experiment": f"tournament-{game.name}", "seed": seed, "budget": "quick", "status": "done",
        "group": "selfplay", "metrics": {f"elo/{r['player']}": r["rating"] for r in rows},
        "wall_seconds": wall_seconds, "run_dir": str(run.path)})
    return run.path


def main(args: argparse.Namespace) -> int:
    """``dlfrontier tournament``: resolve the players, play the round robin, print and write the ratings."""
    from dlfrontier.games import make_game
    from dlfrontier.tracking import check_writable_folder

    try:
        game = make_game(args.game)
    except ValueError as e:  # a malformed connectK-WxH; an unknown name is already one DLFrontierError
        raise DLFrontierError(f"--game {args.game}: {e}") from None
    if args.games < 2 or args.games % 2:
        raise DLFrontierError(f"--games {args.games}: expected an even number >= 2 (each side starts half)")
    check_writable_folder(args.out)
    players: dict[str, Player] = {}
    for spec in args.players:
        name, player = resolve_player(spec, game)
        base, k = name, 2
        while name in players:
            name, k = f"{base}-{k}", k + 1
        players[name] = player
    if "random" not in players:
        raise DLFrontierError("include the player `random`: ratings are anchored at random = 0")
    if len(players) < 2:
        raise DLFrontierError("a tournament needs at least two players")
    start = time.time()
    total = len(players) * (len(players) - 1) // 2

    def progress(done: int, n: int) -> None:
        print(f"pair {done}/{n} done ({time.time() - start:.0f} s)", file=sys.stderr, flush=True)

    results = round_robin(game, players, games_per_pair=args.games, seed=args.seed, progress=progress)
    ci = bootstrap_ratings(results, anchor="random", seed=args.seed)
    path = write_tournament(args.out, game, list(args.players), results, ci, seed=args.seed,
                            games_per_pair=args.games, wall_seconds=time.time() - start)
    table = json.loads((path / "tables" / "ratings.json").read_text())
    print(format_table(table))
    print(f"{total} pairs x {args.games} games in {time.time() - start:.0f} s; written to {path}")
    return 0

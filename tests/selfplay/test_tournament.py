"""Tournaments: resolving players (built-ins, run folders), colour-balanced deterministic round robins, the
rating table and plot, and the `dlfrontier tournament` command (one-line errors, a short real tournament)."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from dlfrontier.cli import main as cli_main
from dlfrontier.errors import DLFrontierError
from dlfrontier.games import LookaheadPlayer, MinimaxPlayer, RandomPlayer, make_game
from dlfrontier.rl.selfplay.ratings import Results, bootstrap_ratings, fit_ratings
from dlfrontier.rl.selfplay.tournament import (
    plot_crossplay,
    rating_rows,
    rating_table,
    resolve_player,
    round_robin,
)

TTT = make_game("tictactoe")


def _fake_run(root: Path, experiment: str, game: str, seed: int = 0, *, net: bool = False) -> Path:
    """A minimal run folder: config.json (and, for AlphaZero, a checkpoint holding a tiny untrained network)."""
    from dlfrontier.tracking import RunDir

    run = RunDir.create(root, experiment, seed)
    config = {"game": game, "search": {"algorithm": "puct", "simulations": 4}, "eval_simulations": 4}
    run.write_config({"experiment": experiment, "seed": seed, "budget": "quick", "config": config})
    if net:
        import torch

        from dlfrontier.rl.search.network import build_network

        torch.manual_seed(0)
        network = build_network(make_game(game), channels=4, blocks=1)
        run.save_checkpoint({"net": {"shape": dict(network.shape), "weights": network.state_dict()}},
                            experiment=experiment, seed=seed, step=0, metrics_rows=0, wall_seconds=0.0)
    return run.path


class _Recorder:
    """Plays randomly and records, per game (keyed by its rng), whether it moved first."""

    def __init__(self, name: str, batched: str | None = None) -> None:
        self.name, self.firsts, self.moves, self.batch_calls = name, 0, 0, 0
        if batched == "states":  # AlphaZero's SearchAgent.select_many(states, rng)
            self.select_many = self._many
        elif batched == "game":  # the self-play PolicyPlayer.select_many(game, states, rng)
            self.select_many = lambda game, states, rng: self._many(states, rng)

    def select(self, game, s, rng):
        self.moves += 1
        if s == game.initial():
            self.firsts += 1
        return RandomPlayer().select(game, s, rng)

    def _many(self, states, rng):
        self.batch_calls += 1
        return np.array([self.select(TTT, s, rng) for s in states])


def test_resolve_builtins_and_one_line_errors(tmp_path):
    for spec in ("random", "lookahead", "minimax-2", "perfect", "uct-10"):
        name, player = resolve_player(spec, TTT)
        assert name == spec == player.name
    with pytest.raises(DLFrontierError, match="unknown player 'minmax-2'.*run folder"):
        resolve_player("minmax-2", TTT)
    with pytest.raises(DLFrontierError, match="no such folder"):
        resolve_player(str(tmp_path / "missing"), TTT)
    with pytest.raises(DLFrontierError, match="not a run folder"):
        resolve_player(str(tmp_path), TTT)
    other = _fake_run(tmp_path, "ppo-cartpole", "tictactoe")
    with pytest.raises(DLFrontierError, match="run of ppo-cartpole, not of a game-playing agent"):
        resolve_player(str(other), TTT)
    c4 = _fake_run(tmp_path, "alphazero-connect4-small", "connect4-5x4")
    with pytest.raises(DLFrontierError, match="agent for connect4-5x4, not for tictactoe"):
        resolve_player(str(c4), TTT)


def test_resolve_dispatches_alphazero_and_selfplay_folders(tmp_path, monkeypatch):
    az = _fake_run(tmp_path, "alphazero-tictactoe", "tictactoe", seed=2, net=True)
    name, player = resolve_player(str(az), TTT)
    assert name == "alphazero-tictactoe-s2"
    s = TTT.play(TTT.initial(), 4)
    assert TTT.legal(s)[player.select(TTT, s, np.random.default_rng(0))]
    sp = _fake_run(tmp_path, "selfplay-ppo-tictactoe", "tictactoe", seed=1)
    loaded = []
    fake = types.ModuleType("dlfrontier.rl.selfplay.agent")
    fake.load_player = lambda run_dir: loaded.append(Path(run_dir)) or RandomPlayer()
    monkeypatch.setitem(sys.modules, "dlfrontier.rl.selfplay.agent", fake)
    name, _ = resolve_player(str(sp), TTT)
    assert name == "selfplay-ppo-tictactoe-s1" and loaded == [sp]


@pytest.mark.parametrize("batched", [None, "states", "game"])
def test_round_robin_is_colour_balanced(batched):
    players = {n: _Recorder(n, batched=batched if n == "b" else None) for n in ("a", "b", "c")}
    results = round_robin(TTT, players, games_per_pair=10, seed=0)
    # every player plays 2 pairs x 10 games and moves first in exactly half of them
    assert all(p.firsts == 10 for p in players.values())
    assert (players["b"].batch_calls > 0) == (batched is not None)  # a batched player is asked in batches
    assert (results.games() == 10 * (1 - np.eye(3))).all()


def test_round_robin_is_deterministic_and_pairs_are_independent():
    def players(*names):
        table = {"random": RandomPlayer(), "lookahead": LookaheadPlayer(), "minimax-1": MinimaxPlayer(1)}
        return {n: table[n] for n in names}

    r1 = round_robin(TTT, players("random", "lookahead", "minimax-1"), games_per_pair=20, seed=3)
    r2 = round_robin(TTT, players("random", "lookahead", "minimax-1"), games_per_pair=20, seed=3)
    assert r1.to_json() == r2.to_json()
    alone = round_robin(TTT, players("random", "lookahead"), games_per_pair=20, seed=3)
    assert (alone.wins == r1.wins[:2, :2]).all() and (alone.draws == r1.draws[:2, :2]).all()
    other = round_robin(TTT, players("random", "lookahead", "minimax-1"), games_per_pair=20, seed=4)
    assert other.to_json() != r1.to_json()
    with pytest.raises(DLFrontierError, match="even number"):
        round_robin(TTT, players("random", "lookahead"), games_per_pair=5, seed=0)


def test_rating_rows_table_and_plot(tmp_path):
    r = Results(["random", "a", "b"])
    for i, j, scores in ((1, 0, [1.0] * 8 + [0.0] * 2), (2, 0, [1.0] * 9 + [0.5]), (2, 1, [1.0, 0.5, 0.0, 1.0])):
        for s in scores:
            r.add(i, j, s)
    ci = bootstrap_ratings(r, samples=50)
    rows = rating_rows(r, ci)
    assert [row["player"] for row in rows] == sorted(r.players, key=lambda p: -fit_ratings(r)[p])
    assert rows[-1]["player"] == "random" and rows[-1]["rating"] == 0.0
    b = next(row for row in rows if row["player"] == "b")
    assert b["games"] == 14 and b["vs"]["a"] == pytest.approx(0.625) and b["vs"]["random"] == pytest.approx(0.95)
    table = rating_table(rows, "t")
    assert table["columns"][:6] == ["#", "player", "Elo", "95% CI", "games", "score"]
    assert len(table["rows"]) == 3 and all(len(row) == 9 for row in table["rows"])
    plot_crossplay(r, tmp_path / "x.png")
    assert (tmp_path / "x.png").read_bytes()[:4] == b"\x89PNG"


def test_cli_tournament_between_builtins(tmp_path, capsys):
    rc = cli_main(["tournament", "random", "lookahead", "minimax-2", "--game", "tictactoe", "--games", "10",
                   "--seed", "1", "--out", str(tmp_path)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "Elo ratings on tictactoe" in out and "lookahead" in out and "95% CI" in out
    (run,) = list((tmp_path / "tournament-tictactoe").iterdir())
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "done" and summary["metrics"]["elo/random"] == 0.0
    assert set(summary["metrics"]) == {"elo/random", "elo/lookahead", "elo/minimax-2"}
    saved = json.loads((run / "results.json").read_text())
    assert Results.from_json(saved["results"]).games().sum() == 3 * 10 * 2
    assert json.loads((run / "tables" / "ratings.json").read_text())["columns"][1] == "player"
    assert (run / "crossplay.png").is_file()
    # the report shows a tournament folder's rating table and cross-play plot (it has no primary metric)
    report = ["report", str(tmp_path), "-o", str(tmp_path / "r.html"), "--markdown", str(tmp_path / "r.md")]
    assert cli_main(report) == 0
    html = (tmp_path / "r.html").read_text()
    assert "Elo ratings on tictactoe" in html and "crossplay" in html


@pytest.mark.parametrize("args, message", [
    (["random", "minmax-2"], "unknown player 'minmax-2'"),
    (["random", "{tmp}"], "is not a run folder"),
    (["random", "{c4}"], "agent for connect4-5x4, not for tictactoe"),
    (["random", "lookahead", "--games", "7"], "--games 7: expected an even number"),
    (["lookahead", "minimax-2"], "include the player `random`"),
    (["random", "lookahead", "--game", "chess"], "unknown game 'chess'"),
    (["random", "perfect", "--game", "connect4"], "the perfect player cannot play connect4"),
])
def test_cli_errors_are_one_line(args, message, tmp_path, capsys):
    c4 = _fake_run(tmp_path / "runs", "alphazero-connect4-small", "connect4-5x4")
    args = [a.format(tmp=tmp_path, c4=c4) for a in args]
    extra = ([] if "--game" in args else ["--game", "tictactoe"]) + ([] if "--games" in args else ["--games", "4"])
    rc = cli_main(["tournament", *args, *extra, "--out", str(tmp_path / "out")])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert not (tmp_path / "out").exists()


def test_the_perfect_player_is_refused_where_it_cannot_solve_every_move(tmp_path, capsys):
    from dlfrontier.errors import ConfigError
    from dlfrontier.experiments import EXPERIMENTS
    from dlfrontier.games import make_game
    from dlfrontier.games.solver import check_perfect_game

    for name in ("tictactoe", "connect4-4x4", "connect4-5x4"):
        check_perfect_game(make_game(name))
    for name in ("connect4", "connect4-6x5", "gomoku-6x6-4"):
        with pytest.raises(ValueError, match=f"cannot play {name}"):
            check_perfect_game(make_game(name))
    # every way to ask for it is one line before anything runs: configs, tournaments, the terminal game
    c4 = EXPERIMENTS.get("selfplay-ppo-connect4")
    for key in ("eval_opponents", "final_opponents"):
        with pytest.raises(ConfigError, match="perfect player cannot play connect4"):
            c4.make_config("quick", {key: "[random,perfect]"})
    with pytest.raises(ConfigError, match="perfect player cannot play connect4"):
        EXPERIMENTS.get("selfplay-pool-vs-naive-connect4").make_config("quick", {"anchors": "[random,perfect]"})
    with pytest.raises(ConfigError, match="perfect player cannot play connect4"):  # AlphaZero's default opponents
        EXPERIMENTS.get("alphazero-tictactoe").make_config("quick", {"game": "connect4"})
    assert EXPERIMENTS.get("selfplay-ppo-tictactoe").make_config("quick", {"game": "connect4-5x4"}).game == (
        "connect4-5x4")  # its perfect opponents play 5x4
    rc = cli_main(["play", "connect4", "--opponent", "perfect"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "perfect player cannot play connect4" in err and "\n" not in err
    rc = cli_main(["run", "selfplay-ppo-connect4", "--set", "eval_opponents=[perfect]", "--out", str(tmp_path)])
    assert rc == 2 and "perfect player cannot play" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())

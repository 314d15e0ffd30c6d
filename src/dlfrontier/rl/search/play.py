"""``dlfrontier play GAME``: a person against a trained agent (``--agent RUN_DIR``) or a classic opponent, in the
terminal; and ``dlfrontier eval`` of an AlphaZero run (score table against opponents plus one game record).

For every agent move the screen shows, per legal move, the network's prior, the search's visit count and Q
value, and the root value (AlphaZero.jl's explorer is the example). A malformed or illegal move gets one line
and the prompt again; ``q`` or end of input quits.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dlfrontier.errors import DLFrontierError
from dlfrontier.games import make_player
from dlfrontier.rl.search.evaluation import SearchAgent, batched_match
from dlfrontier.rl.search.mcts import SearchConfig, SearchResult
from dlfrontier.rl.search.network import network_from_state
from dlfrontier.rl.search.training import eval_search


def load_agent(run_dir: str | Path, game_name: str | None = None, simulations: int | None = None,
               device: str = "cpu") -> tuple[Any, SearchAgent]:
    """The game and the search agent of an AlphaZero run folder (the checkpoint is loaded safely)."""
    from dlfrontier.games import make_game
    from dlfrontier.tracking import RunDir

    run = RunDir(run_dir)
    if not (run.path / "config.json").is_file():
        raise DLFrontierError(f"{run.path} is not a run folder (no config.json)")
    cfg = run.read_config().get("config", {})
    if not isinstance(cfg, dict) or "game" not in cfg or "search" not in cfg:
        raise DLFrontierError(f"{run.path} is not an AlphaZero run (no game/search in its config)")
    if game_name is not None and cfg["game"] != game_name:
        raise DLFrontierError(f"{run.path} plays {cfg['game']}, not {game_name}")
    state = run.load_checkpoint().state
    if "net" not in state:
        raise DLFrontierError(f"{run.path}: the checkpoint holds no network")
    game = make_game(str(cfg["game"]))
    search = SearchConfig(**{k: v for k, v in cfg["search"].items() if k in SearchConfig.__dataclass_fields__})
    search.simulations = int(simulations or cfg.get("eval_simulations", search.simulations))
    return game, SearchAgent(game, network_from_state(state["net"]), search, name=run.path.name, device=device)


def analysis(game: Any, out: SearchResult, labels: Callable[[int], str]) -> str:
    """A table of the root: move, prior, visits, Q (root player's view) and the root value."""
    lines = [f"  {'move':>5} {'prior':>6} {'visits':>6} {'Q':>6}"]
    for a in np.argsort(-out.visits[0], kind="stable"):
        if out.prior[0, a] <= 0 and out.visits[0, a] == 0:
            continue
        q = "" if np.isnan(out.q[0, a]) else f"{out.q[0, a]:+.2f}"
        lines.append(f"  {labels(int(a)):>5} {out.prior[0, a]:6.2f} {int(out.visits[0, a]):6d} {q:>6}")
    lines.append(f"  value {out.value[0]:+.2f} (network {out.raw_value[0]:+.2f}), for the player to move")
    return "\n".join(lines)


def _label_fn(game: Any) -> Callable[[int], str]:
    cell = getattr(game, "cell_label", None)
    if callable(cell):
        return lambda a: str(cell(a))
    return lambda a: str(a + 1)


def play_terminal(game: Any, opponent: Any, *, human_first: bool, seed: int, read: Callable[[str], str] = input,
                  write: Callable[[str], None] = print) -> float:
    """One game person vs ``opponent`` (a :class:`SearchAgent` shows its analysis); the person's result."""
    rng = np.random.default_rng(seed)
    s = game.initial()
    human = 0 if human_first else 1
    labels = _label_fn(game)
    while game.outcome(s) is None:
        write(game.render(s))
        if game.to_move(s) == human:
            try:
                text = read("your move (q quits): ")
            except EOFError:
                write("bye")
                return 0.0
            if text.strip().lower() in ("q", "quit", "exit"):
                write("bye")
                return 0.0
            try:
                s = game.play(s, game.parse_move(s, text))
            except ValueError as e:
                write(f"{str(e).splitlines()[0] if str(e) else 'illegal move'}; try again")
            continue
        if isinstance(opponent, SearchAgent):
            out = opponent.search([s], rng)
            write(analysis(game, out, labels))
            a = int(out.action[0])
        else:
            a = int(opponent.select(game, s, rng))
        write(f"{getattr(opponent, 'name', 'opponent')} plays {labels(a)}")
        s = game.play(s, a)
    write(game.render(s))
    o = game.outcome(s)
    result = o if game.to_move(s) == human else -o
    write({1.0: "you win", 0.0: "draw", -1.0: "you lose"}[float(result)])
    return float(result)


def main(args: argparse.Namespace) -> int:
    from dlfrontier.games import make_game

    if (args.agent is None) == (args.opponent is None):
        raise DLFrontierError("give exactly one of --agent RUN_DIR or --opponent NAME")
    if args.simulations is not None and args.simulations < 1:
        raise DLFrontierError(f"--simulations {args.simulations}: expected a whole number >= 1")
    game = make_game(args.game)
    if args.agent is not None:
        game, opponent = load_agent(args.agent, args.game, args.simulations)
    else:
        opponent = make_player(args.opponent)  # an unknown name is one line (UnknownNameError)
        if opponent.name == "perfect":
            from dlfrontier.games.solver import check_perfect_game

            check_perfect_game(game)
    play_terminal(game, opponent, human_first=not args.second, seed=args.seed)
    return 0


def evaluate_run(loaded: Any, *, episodes: int = 10, out_dir: Path | str | None = None, device: str = "auto",
                 gif: str | None = None, **_: Any) -> dict[str, float]:
    """``dlfrontier eval`` of an AlphaZero run: ``episodes`` colour-balanced games against each final opponent
    (``tables/score.json`` and a printed table) and one game record against the first opponent."""
    from dlfrontier.games import make_game

    cfg = loaded.config
    game = make_game(cfg.game)
    agent = SearchAgent(game, network_from_state(loaded.state["net"]), eval_search(cfg))
    rows, out = [], {}
    for i, name in enumerate(cfg.final_opponents):
        res = batched_match(game, agent, make_player(name), episodes, seed=777 + i)
        lo, hi = res.wilson_ci()
        rows.append([name, res.wins, res.draws, res.losses, round(res.score, 3), f"{lo:.2f}-{hi:.2f}"])
        out[f"score_vs_{name}"] = res.score
        print(f"{name:>10}: {res.wins} wins, {res.draws} draws, {res.losses} losses, score {res.score:.3f} "
              f"(Wilson 95% {lo:.2f}-{hi:.2f})")
    moves: list[int] = []
    first = cfg.final_opponents[0]
    record = _game_record(game, agent, make_player(first), moves=moves)
    if gif:
        from dlfrontier.games.draw import write_game_gif

        path_gif = write_game_gif(game, moves, ("agent", first), gif, result=record.rstrip().split("\n")[-1])
        print(f"wrote {path_gif} (one game against {first}, {len(moves)} moves)")
    if out_dir is not None:
        path = Path(out_dir)
        path.mkdir(parents=True, exist_ok=True)
        table = {"title": f"{loaded.experiment} seed {loaded.seed} vs opponents ({episodes} games each)",
                 "columns": ["opponent", "wins", "draws", "losses", "score", "Wilson 95%"], "rows": rows}
        (path / "score.json").write_text(json.dumps(table, indent=1))
        (path / "game.txt").write_text(record)
        print(f"wrote {path / 'score.json'} and {path / 'game.txt'}", file=sys.stderr)
    return out


def _game_record(game: Any, agent: SearchAgent, opponent: Any, moves: list[int] | None = None) -> str:
    rng = np.random.default_rng(0)
    s, lines, labels = game.initial(), [], _label_fn(game)
    while game.outcome(s) is None:
        lines.append(game.render(s))
        if game.to_move(s) == 0:
            out = agent.search([s], rng)
            lines.append(analysis(game, out, labels))
            a = int(out.action[0])
            lines.append(f"agent plays {labels(a)}\n")
        else:
            a = int(opponent.select(game, s, rng))
            lines.append(f"{getattr(opponent, 'name', 'opponent')} plays {labels(a)}\n")
        if moves is not None:
            moves.append(a)
        s = game.play(s, a)
    lines.append(game.render(s))
    o = float(game.outcome(s) or 0.0)
    result = o if game.to_move(s) == 0 else -o
    lines.append({1.0: "agent wins", 0.0: "draw", -1.0: "agent loses"}[result])
    return "\n".join(lines) + "\n"


__all__ = ["analysis", "evaluate_run", "load_agent", "main", "play_terminal"]

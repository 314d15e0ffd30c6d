"""A trained self-play policy as a :class:`dlfrontier.games.Player`, and loading one from a run folder.

    from dlfrontier.rl.selfplay.agent import load_player
    from dlfrontier.games import make_game, make_player, match
    player = load_player("runs/selfplay-ppo-connect4/0-20261201-030000")
    match(make_game("connect4"), player, make_player("lookahead"), n_games=100)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from dlfrontier.errors import DLFrontierError
from dlfrontier.games.base import Game, State
from dlfrontier.rl.selfplay.ppo import masked_log_probs, net_from_state


class PolicyPlayer:
    """The policy network's move: the most likely legal move (``greedy``) or one sampled from the masked
    softmax. Illegal moves have probability 0 (their logits are ``-inf``), so it never plays one.

    Args:
        net: a :class:`~dlfrontier.rl.selfplay.ppo.PolicyValueNet` of this game's shape.
        name: the name tables show.
        greedy: argmax (default) or sample.
    """

    def __init__(self, net: torch.nn.Module, name: str = "selfplay-ppo", greedy: bool = True,
                 game_name: str | None = None) -> None:
        self.net, self.name, self.greedy, self.game_name = net.eval(), name, greedy, game_name

    @torch.no_grad()
    def probabilities(self, game: Game, states: list[State]) -> np.ndarray:
        """``float[B, num_actions]``: the policy over the legal moves of each state."""
        obs = torch.from_numpy(game.encode_batch(states))
        mask = torch.from_numpy(np.stack([game.legal(s) for s in states]))
        logits, _ = self.net(obs)
        return masked_log_probs(logits, mask).exp().numpy()

    def select_many(self, game: Game, states: list[State], rng: np.random.Generator) -> np.ndarray:
        """One move per state (batched: one network call)."""
        if not states:
            return np.zeros(0, np.int64)
        p = self.probabilities(game, states)
        if self.greedy:
            return p.argmax(axis=1)
        with np.errstate(divide="ignore"):
            logp = np.log(p)                      # -inf at illegal moves: never drawn
        return np.argmax(logp + rng.gumbel(size=p.shape), axis=1)

    def select(self, game: Game, s: State, rng: np.random.Generator) -> int:
        return int(self.select_many(game, [s], rng)[0])


def load_player(run_dir: str | Path, *, greedy: bool = True) -> PolicyPlayer:
    """The learner of a self-play run folder (its checkpoint loaded with ``torch.load(weights_only=True)``).

    Raises:
        DLFrontierError: one line if the folder is not a self-play run or its checkpoint is damaged.
    """
    from dlfrontier.tracking import RunDir

    run = RunDir(run_dir)
    if not (run.path / "config.json").is_file():
        raise DLFrontierError(f"{run.path} is not a run folder (no config.json)")
    record = run.read_config()
    experiment = str(record.get("experiment", ""))
    cfg = record.get("config", {})
    game_name = _game_of(cfg)
    if not experiment.startswith("selfplay-") or game_name is None:
        raise DLFrontierError(f"{run.path} is not a self-play run (experiment {experiment or '?'})")
    try:
        state = run.load_checkpoint().state
        net = net_from_state(state["learner"])
    except DLFrontierError:
        raise
    except Exception as e:  # a damaged or foreign checkpoint: one line
        raise DLFrontierError(f"{run.path}: the checkpoint holds no usable self-play network "
                              f"({type(e).__name__})") from None
    return PolicyPlayer(net, name=f"{experiment}/{run.path.name}", greedy=greedy, game_name=game_name)


def _game_of(cfg: Any) -> str | None:
    if not isinstance(cfg, dict):
        return None
    if isinstance(cfg.get("game"), str):
        return cfg["game"]
    base = cfg.get("base")
    return base.get("game") if isinstance(base, dict) and isinstance(base.get("game"), str) else None


__all__ = ["PolicyPlayer", "load_player"]

"""Masked PPO for two-player games: the policy network, masked log-probabilities, batched rollouts, the update.

Papers: Schulman et al., "Proximal Policy Optimization Algorithms" (2017, https://arxiv.org/abs/1707.06347);
Huang & Ontanon, "A Closer Look at Invalid Action Masking in Policy Gradient Algorithms" (FLAIRS 2022,
https://arxiv.org/abs/2006.14171): illegal actions get logit ``-inf`` before the softmax, so they have
probability exactly 0, are never sampled, and get no gradient.

A rollout (:func:`play_rollout`) plays ``n`` games to the end, every game in lockstep (at ply ``t`` the player
to move is ``t % 2`` everywhere). Each game has two seats; a seat is played by the learner (``-1``) or by
opponent ``k`` of a list of frozen networks. Only the learner's moves are training data. Rewards come at the
end of a game: the mover's move that ends it gets +1 (win) or 0 (draw), and **the other seat's previous move**
gets -1 (or 0): the loss is attributed to the player whose trajectory it ends. Advantages are GAE along each
seat's own moves (its next state is its next turn, two plies later).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from dlfrontier.games.base import Game
from dlfrontier.rl.ppo import ppo_clip_loss
from dlfrontier.rl.selfplay.env import BatchedGames, is_gravity

NetKind = Literal["mlp", "cnn"]
Features = Literal["stones", "threats"]


@dataclass
class MaskedPPOConfig:
    """Options of masked self-play PPO."""

    learning_rate: float = field(default=1e-3, metadata={"help": "Adam learning rate", "range": "(0, inf)"})
    n_epochs: int = field(default=4, metadata={"help": "optimization epochs per rollout", "range": "[1, inf)"})
    batch_size: int = field(default=1024, metadata={"help": "minibatch size (learner moves)", "range": "[1, inf)"})
    gamma: float = field(default=1.0, metadata={"help": "discount factor", "range": "(0, 1]"})
    gae_lambda: float = field(default=0.95, metadata={"help": "GAE lambda", "range": "[0, 1]"})
    clip_range: float = field(default=0.2, metadata={"help": "policy ratio clip epsilon", "range": "(0, inf)"})
    ent_coef: float = field(default=0.01, metadata={"help": "entropy bonus coefficient", "range": "[0, inf)"})
    vf_coef: float = field(default=0.5, metadata={"help": "value loss coefficient", "range": "[0, inf)"})
    max_grad_norm: float = field(default=0.5, metadata={"help": "gradient clipping norm", "range": "(0, inf)"})
    anneal: bool = field(default=False, metadata={"help": "anneal the learning rate linearly to 0 over the run"})
    net: NetKind = field(default="mlp", metadata={"help": "policy/value network: MLP on the planes or a small CNN"})
    hidden: int = field(default=256, metadata={"help": "MLP width (two layers) / CNN head width", "range": "[1, inf)"})
    channels: int = field(default=32, metadata={"help": "CNN channels (two 3x3 convolutions)", "range": "[1, inf)"})
    features: Features = field(default="stones", metadata={
        "help": "network input: the stones (the games' encoding) or the stones plus three hand-made planes, "
                "AlphaGo-style: cells that complete a line for the mover, for the opponent, and the playable cells"})


class ThreatPlanes(nn.Module):
    """Hand-made input planes computed from the games' 3-plane encoding, with no parameters (AlphaGo's input had
    48 such planes: liberties, ladders, ...): the empty cells where the player to move would complete ``k`` in a
    row, those where the opponent would, and the cells playable now (the lowest empty cell of each column under
    gravity, every empty cell otherwise). ``[B, 3, R, C] -> [B, 6, R, C]`` (the input planes first).

    A line window of ``k`` cells (four directions) is a threat of a player when it holds ``k - 1`` of that
    player's stones and one empty cell; the empty cell of such a window is marked. Windows are shifted slices
    of the whole batch (both players at once as two channels), no convolution: these boards are tiny.
    """

    def __init__(self, k: int, gravity: bool) -> None:
        super().__init__()
        self.k, self.gravity = k, gravity

    def _threats(self, stones: torch.Tensor, empty: torch.Tensor) -> torch.Tensor:
        """``stones [B, P, R, C]`` (one channel per player), ``empty [B, 1, R, C]`` -> threat cells ``[B, P, R, C]``."""
        k = self.k
        R, C = stones.shape[-2:]
        out = torch.zeros_like(stones)
        # (row step, column step) of the four directions; a window starts at (r, c) and covers (r + i*dr, c + i*dc)
        for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
            nr, nc = R - dr * (k - 1), C - abs(dc) * (k - 1)
            if nr <= 0 or nc <= 0:
                continue
            c0 = (k - 1) if dc < 0 else 0
            cells = [(slice(i * dr, i * dr + nr), slice(c0 + i * dc, c0 + i * dc + nc)) for i in range(k)]
            own = sum(stones[..., r, c] for r, c in cells)
            free = sum(empty[..., r, c] for r, c in cells)
            window = ((torch.as_tensor(own) == k - 1) & (torch.as_tensor(free) == 1)).to(stones.dtype)
            for r, c in cells:
                out[..., r, c] += window
        return (out > 0).to(stones.dtype) * empty

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        empty = 1.0 - x[:, 0:1] - x[:, 1:2]
        if self.gravity:  # empty, and the cell below is taken (or it is the bottom row)
            below = torch.ones_like(empty)
            below[:, :, :-1] = 1.0 - empty[:, :, 1:]
            playable = empty * below
        else:
            playable = empty
        return torch.cat([x, self._threats(x[:, 0:2], empty), playable], dim=1)


class PolicyValueNet(nn.Module):
    """Shared trunk, a logit per action and a value in [-1, 1] for the player to move."""

    def __init__(self, planes: int, rows: int, cols: int, actions: int, kind: NetKind = "mlp", hidden: int = 256,
                 channels: int = 32, features: Features = "stones", k: int = 0, gravity: bool = False) -> None:
        super().__init__()
        self.shape: dict[str, Any] = {"planes": planes, "rows": rows, "cols": cols, "actions": actions, "kind": kind,
                      "hidden": hidden, "channels": channels}
        self.features: nn.Module = nn.Identity()
        if features == "threats":  # recorded only when used, so older checkpoints' shapes read the same
            if k < 2:
                raise ValueError(f"threat planes need the game's line length k >= 2, got {k}")
            self.shape.update({"features": features, "k": k, "gravity": gravity})
            self.features = ThreatPlanes(k, gravity)
            planes += 3
        if kind == "cnn":
            self.trunk: nn.Module = nn.Sequential(
                nn.Conv2d(planes, channels, 3, padding=1), nn.ReLU(),
                nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(), nn.Flatten(),
                nn.Linear(channels * rows * cols, hidden), nn.ReLU())
        else:
            self.trunk = nn.Sequential(nn.Flatten(), nn.Linear(planes * rows * cols, hidden), nn.ReLU(),
                                       nn.Linear(hidden, hidden), nn.ReLU())
        self.pi = nn.Linear(hidden, actions)
        self.v = nn.Linear(hidden, 1)
        nn.init.orthogonal_(self.pi.weight, 0.01)
        nn.init.zeros_(self.pi.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.heads(self.features(x))

    def heads(self, planes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and values from the input planes (``features(x)``): what ``forward`` does after the features,
        for callers that compute the parameter-free features once (the PPO epochs over one rollout)."""
        h = self.trunk(planes)
        return self.pi(h), torch.tanh(self.v(h)).squeeze(-1)


def build_net(game: Game, cfg: MaskedPPOConfig) -> PolicyValueNet:
    return PolicyValueNet(game.num_planes, game.rows, game.cols, game.num_actions, cfg.net, cfg.hidden,
                          cfg.channels, cfg.features, int(getattr(game, "k", 0)), is_gravity(game))


def net_from_state(state: dict) -> PolicyValueNet:
    """A network from ``{"shape": ..., "weights": ...}`` (what checkpoints hold)."""
    s = state["shape"]
    kind: NetKind = "cnn" if s["kind"] == "cnn" else "mlp"
    features: Features = "threats" if s.get("features") == "threats" else "stones"
    net = PolicyValueNet(int(s["planes"]), int(s["rows"]), int(s["cols"]), int(s["actions"]), kind,
                         int(s["hidden"]), int(s["channels"]), features, int(s.get("k", 0)), bool(s.get("gravity")))
    net.load_state_dict(state["weights"])
    return net


def net_state(net: nn.Module) -> dict:
    """``{"shape": ..., "weights": ...}`` of a :class:`PolicyValueNet`: tensors, numbers and strings only."""
    shape = dict(net.shape)  # type: ignore[arg-type]
    return {"shape": shape, "weights": {k: v.detach().clone() for k, v in net.state_dict().items()}}


def masked_log_probs(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``log softmax`` over the legal actions; ``-inf`` at illegal ones (probability exactly 0)."""
    return torch.log_softmax(logits.masked_fill(~mask, float("-inf")), dim=-1)


def masked_entropy(logp: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Entropy of the masked distribution (illegal actions contribute 0, not ``0 * -inf``, and no NaN gradient:
    the ``-inf`` entries are replaced before the product)."""
    safe = logp.masked_fill(~mask, 0.0)
    return -(safe.exp() * safe * mask).sum(-1)


class Explorer(nn.Module):
    """A network whose moves :func:`act` mixes with uniformly random legal moves: with probability ``epsilon``
    a legal move drawn uniformly, else the network's own (masked) policy. It wraps the network itself (no copy),
    so it always plays the network's current weights."""

    def __init__(self, net: nn.Module, epsilon: float) -> None:
        super().__init__()
        if not 0.0 < epsilon <= 1.0:
            raise ValueError(f"epsilon must be in (0, 1], got {epsilon}")
        self.net, self.epsilon = net, epsilon

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net(x)


@torch.no_grad()
def act(net: nn.Module, obs: np.ndarray, mask: np.ndarray, rng: np.random.Generator, greedy: bool = False
        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Actions, their log-probabilities and the values for a batch; sampling uses ``rng`` (Gumbel-max). An
    :class:`Explorer` samples from ``(1 - epsilon) * policy + epsilon * uniform over the legal moves``."""
    logits, value = net(torch.from_numpy(obs))
    logp = masked_log_probs(logits, torch.from_numpy(mask)).numpy()
    if isinstance(net, Explorer):
        with np.errstate(divide="ignore"):
            logp = np.log((1.0 - net.epsilon) * np.exp(logp) + net.epsilon * mask / mask.sum(1, keepdims=True))
    if greedy:
        a = np.argmax(logp, axis=1)
    else:
        a = np.argmax(logp + rng.gumbel(size=logp.shape), axis=1)  # -inf + noise stays -inf: never illegal
    return a, logp[np.arange(len(a)), a], value.numpy()


@dataclass
class Rollout:
    """The learner's moves of one rollout, flattened, and how the games went (from the learner's side)."""

    obs: np.ndarray
    mask: np.ndarray
    actions: np.ndarray
    log_probs: np.ndarray
    values: np.ndarray
    advantages: np.ndarray
    returns: np.ndarray
    opponent: np.ndarray   # [n] opponent index of each game, -1 when the learner played both seats
    score: np.ndarray      # [n] the learner's result in games against an opponent: 1 / 0.5 / 0 (nan in self-play)
    seat_result: np.ndarray  # [n, 2] result of each seat: +1 / 0 / -1
    lengths: np.ndarray      # [n] plies


def play_rollout(game: Game, learner: nn.Module, opponents: list[nn.Module], roles: np.ndarray,
                 rng: np.random.Generator, gamma: float = 1.0, lam: float = 0.95,
                 opening: np.ndarray | None = None) -> Rollout:
    """Play ``len(roles)`` games to the end; ``roles int[n, 2]``: -1 the learner plays that seat, ``k >= 0``
    opponent network ``k`` (sampling its moves); ``opening int[n]``: game ``i`` starts with ``opening[i]``
    uniformly random legal moves (not training data; none by default), the seats' players move after them.
    Returns the learner's moves with GAE advantages."""
    n, T = len(roles), game.rows * game.cols
    env = BatchedGames.new(game, n)
    shape = (T, n)
    obs = np.zeros(shape + (game.num_planes, game.rows, game.cols), np.float32)
    masks = np.zeros(shape + (game.num_actions,), bool)
    acts, logps = np.zeros(shape, np.int64), np.zeros(shape, np.float32)
    values, rewards = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
    rec = np.zeros(shape, bool)
    seat_result = np.zeros((n, 2))
    for t in range(T):
        live = np.flatnonzero(~env.done)
        if len(live) == 0:
            break
        seat = t % 2
        o, m = env.encode()[live], env.legal()[live]
        a = np.zeros(len(live), np.int64)
        who = roles[live, seat]
        if opening is not None:  # -2: a uniformly random move of the opening
            who = np.where(t < opening[live], -2, who)
            rand = who == -2
            if rand.any():
                a[rand] = np.argmax(np.where(m[rand], rng.random(m[rand].shape), -1.0), axis=1)
        mine = who == -1
        if mine.any():
            a[mine], lp, v = act(learner, o[mine], m[mine], rng)
            g = live[mine]
            obs[t, g], masks[t, g], acts[t, g], logps[t, g], values[t, g], rec[t, g] = o[mine], m[mine], a[mine], \
                lp, v, True
        for k in np.unique(who[who >= 0]):
            sel = who == k
            a[sel] = act(opponents[int(k)], o[sel], m[sel], rng)[0]
        won = env.step(a, live)
        ended = live[env.done[live]]
        r = won[env.done[live]]                     # +1 for the mover if won, 0 for a draw
        rewards[t, ended] += r
        if t > 0:
            rewards[t - 1, ended] -= r               # the other seat's last move loses
        seat_result[ended, seat] = r
        seat_result[ended, 1 - seat] = -r
    adv = seat_gae(rewards, values, rec, gamma, lam)
    opp = np.where(roles[:, 0] >= 0, roles[:, 0], roles[:, 1])
    vs = (roles == -1).sum(axis=1) == 1
    learner_seat = np.where(roles[:, 0] == -1, 0, 1)
    score = np.where(vs, (seat_result[np.arange(n), learner_seat] + 1) / 2, np.nan)
    return Rollout(obs[rec], masks[rec], acts[rec], logps[rec], values[rec], adv[rec], (adv + values)[rec],
                   np.where(vs, opp, -1), score, seat_result, env.ply.copy())


def seat_gae(rewards: np.ndarray, values: np.ndarray, rec: np.ndarray, gamma: float, lam: float) -> np.ndarray:
    """GAE along each seat's own moves: the move at ply ``t`` is followed by the same seat's move at ``t + 2``
    (when it is recorded) or ends the seat's trajectory. ``[T, n]`` arrays; zeros where ``rec`` is False."""
    T = len(rewards)
    adv = np.zeros_like(values)
    for t in range(T - 1, -1, -1):
        if t + 2 < T:
            nt = rec[t + 2]
            delta = rewards[t] + gamma * values[t + 2] * nt - values[t]
            adv[t] = delta + gamma * lam * nt * adv[t + 2]
        else:
            adv[t] = rewards[t] - values[t]
    return np.where(rec, adv, 0.0).astype(np.float32)


def ppo_update(net: nn.Module, opt: torch.optim.Optimizer, ro: Rollout, cfg: MaskedPPOConfig,
               rng: np.random.Generator) -> dict[str, float]:
    """``n_epochs`` passes of clipped-surrogate PPO over the rollout's learner moves (masked)."""
    n = len(ro.actions)
    t = {k: torch.from_numpy(getattr(ro, k)) for k in ("obs", "mask", "actions", "log_probs", "values",
                                                        "advantages", "returns")}
    # The threat planes have no parameters and act on each position alone: computed once for the rollout rather
    # than once per epoch and minibatch (the same values, so the same updates; ~40% of a minibatch's time)
    forward: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]] = net
    if isinstance(net, PolicyValueNet) and not isinstance(net.features, nn.Identity):
        with torch.no_grad():
            t["obs"] = net.features(t["obs"])
        forward = net.heads
    stats = np.zeros(4)
    count = 0
    for _ in range(cfg.n_epochs):
        perm = rng.permutation(n)
        for start in range(0, n, cfg.batch_size):
            mb = torch.from_numpy(perm[start:start + cfg.batch_size])
            logits, v = forward(t["obs"][mb])
            logp_all = masked_log_probs(logits, t["mask"][mb])
            logp = logp_all.gather(1, t["actions"][mb, None]).squeeze(1)
            adv = t["advantages"][mb]
            if len(mb) > 1:
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            pg = ppo_clip_loss(logp, t["log_probs"][mb], adv, cfg.clip_range)
            vl = 0.5 * (v - t["returns"][mb]).pow(2).mean()
            ent = masked_entropy(logp_all, t["mask"][mb]).mean()
            loss = pg + cfg.vf_coef * vl - cfg.ent_coef * ent
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), cfg.max_grad_norm)
            opt.step()
            stats += [pg.item(), vl.item(), ent.item(), (t["log_probs"][mb] - logp).mean().item()]
            count += 1
    s = stats / max(count, 1)
    return {"train/policy_loss": s[0], "train/value_loss": s[1], "train/entropy": s[2], "train/approx_kl": s[3]}


__all__ = ["MaskedPPOConfig", "PolicyValueNet", "Rollout", "ThreatPlanes", "act", "build_net", "masked_entropy",
           "masked_log_probs", "net_from_state", "net_state", "play_rollout", "ppo_update", "seat_gae"]

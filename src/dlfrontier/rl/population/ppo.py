"""Population PPO: K independent PPO agents (one per seed) trained in one process with stacked actor-critics.

The pattern of :mod:`dlfrontier.rl.population.dqn` for the on-policy side (issue 17): each member's single agent
``PPO(env, seed=k, **options)`` is built first and serves as the parameter template and the holder of the member's
vector env, NumPy generator and episode returns; the members' actor and critic MLPs and heads are stacked
(:mod:`dlfrontier.rl.population.layers`), every minibatch step is one forward/backward for all members and one
optimizer step over the stacked parameters.

Members never share information, and member k *is* ``PPO(env, seed=k, **options)``:

* its networks start from the single agent's initial parameters; its envs are the single agent's (reset with
  ``seed=k`` at the first rollout);
* actions are sampled from its own ``torch.Generator``, which starts in the state a single agent's global torch
  generator is in after construction (``torch.manual_seed(k)``, then the network initialisation) and is drawn in
  the same order, by the same kernels (``torch.multinomial`` / ``torch.normal`` on the member's own
  distribution): a single PPO agent draws nothing else from torch's generator while it learns;
* GAE and the explained variance are computed per member; the minibatch permutations come from the member's
  NumPy generator in the single agent's order; advantages are normalised per member and minibatch;
* the loss is the sum of the members' PPO losses (each a mean over its own minibatch), so member k's gradient is
  its own loss's gradient; gradients are clipped by each member's own norm; Adam is elementwise (see
  :class:`~dlfrontier.rl.population.layers.MemberParameter` for the rounding details); learning rate and clip
  range annealing depend on the step count only.

``tests/rl/population/test_population_ppo.py`` checks that member k's episode returns equal the single run's
exactly and its parameters within 1e-5 (Discrete and Box actions). :meth:`PopulationPPO.member` returns member k as
an ordinary :class:`~dlfrontier.rl.ppo.PPO` (networks, optimizer state, counters, envs, generator) that
``save``/``PPO.load`` handle as any other; :meth:`PopulationPPO.torch_rng_state` is the state to give torch's
global generator (``torch.set_rng_state``) for the extracted member to continue exactly as the single run.

Observation normalization and reward scaling (``normalize_obs``, ``normalize_reward``) are per member: each member's
statistics are its single agent's, updated by its own observations and returns in the single collector's order.

Not supported yet (a :class:`~dlfrontier.errors.ConfigError` names the option): ``target_kl`` (members would stop
their epochs at different minibatches), ``share_features`` and custom ``features`` (CNNs), env instances (an env
id is needed to make each member's copies).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
import torch
from torch import nn

from dlfrontier.rl.common.env import final_observations
from dlfrontier.rl.common.networks import ActorCritic, MLPFeatures, adam
from dlfrontier.rl.common.returns import gae
from dlfrontier.rl.population.base import Population
from dlfrontier.rl.population.layers import (
    MemberGradClipper,
    MemberParameter,
    Slot,
    StackedLinear,
    StackedSequential,
    load_member_optimizer_state,
)
from dlfrontier.rl.ppo import PPO, PPOConfig, ppo_clip_loss, value_loss


class StackedActorCritic(nn.Module):
    """K :class:`~dlfrontier.rl.common.networks.ActorCritic` MLPs (separate actor and critic), stacked.

    Shapes:
        input ``[K, B, *obs]``; :meth:`heads` returns the policy's output ``[K, B, A]`` (logits, or Gaussian
        means) and values ``[K, B]``.
    """

    def __init__(self, members: Sequence[ActorCritic]) -> None:
        super().__init__()
        for m in members:
            if m.shared or not isinstance(m.pi_features, MLPFeatures) or not isinstance(m.vf_features, MLPFeatures):
                raise TypeError("population actor-critics support the default (unshared) MLP features only")
        first = members[0]
        self.k = len(members)
        self.discrete = first.discrete
        self.discrete_n: int | None = first.pi_features.discrete_n  # type: ignore[assignment]
        # the actors' and the critics' feature MLPs (same factory, same shapes) as one stack of 2K members: actor k
        # is member k, critic k is member K + k (half the batched products of two stacks)
        self.features = StackedSequential.from_sequentials(
            [m.pi_features.net for m in members] + [m.vf_features.net for m in members])  # type: ignore[misc]
        self.pi_head = StackedLinear.from_linears([m.pi_head for m in members])
        self.vf_head = StackedLinear.from_linears([m.vf_head for m in members])
        self.log_std: MemberParameter | None = None
        if not self.discrete:
            self.log_std = MemberParameter(self.k, tuple(first.log_std.shape))  # type: ignore[union-attr]
            self.log_std.load_members([m.log_std for m in members])  # type: ignore[misc]

    def _x(self, obs: torch.Tensor) -> torch.Tensor:
        K, B = obs.shape[0], obs.shape[1]
        if self.discrete_n is not None:
            return nn.functional.one_hot(obs.long().reshape(K, B), self.discrete_n).float()
        return obs.reshape(K, B, -1).float()

    def _features(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The actors' and the critics' features ``[K, B, h]`` each, from one pass of the 2K-member stack."""
        x = self._x(obs)
        pi, vf = torch.split(self.features(torch.cat([x, x])), self.k)
        return pi, vf

    def heads(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pi, vf = self._features(obs)
        return self.pi_head(pi), self.vf_head(vf).squeeze(-1)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.vf_head(self._features(obs)[1]).squeeze(-1)

    def member_value(self, k: int, obs: torch.Tensor) -> torch.Tensor:
        """Member ``k``'s values of ``obs [B, *obs]`` -> ``[B]``, computed as its single agent's critic would."""
        x = self._x(obs.unsqueeze(0))[0]
        return self.vf_head.member_forward(k, self.features.member_forward(self.k + k, x)).squeeze(-1)

    def distribution(self, out: torch.Tensor, k: int | None = None) -> torch.distributions.Distribution:
        """The policy over the head output ``out`` (``[K, B, A]``; or member ``k``'s ``[B, A]``)."""
        if self.discrete:
            return torch.distributions.Categorical(logits=out, validate_args=False)
        assert self.log_std is not None
        log_std = self.log_std.tensor() if k is None else self.log_std.member(k)
        if k is None:
            log_std = log_std.unsqueeze(1)  # [K, 1, A]
        return torch.distributions.Normal(out, log_std.exp().expand_as(out), validate_args=False)

    def evaluate_actions(self, obs: torch.Tensor, actions: torch.Tensor
                         ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Log-probabilities, entropies and values, all ``[K, B]`` (ActorCritic's expressions, batched)."""
        out, values = self.heads(obs)
        dist = self.distribution(out)
        if self.discrete:
            return dist.log_prob(actions.long()), dist.entropy(), values
        return dist.log_prob(actions).sum(-1), dist.entropy().sum(-1), values

    def slots(self, k: int) -> list[Slot]:
        """Member ``k``'s parameters in the order of a single :class:`ActorCritic`'s ``parameters()`` (its own
        ``log_std`` parameter first, then the submodules')."""
        out = (self.features.slots(k) + self.features.slots(self.k + k) + self.pi_head.slots(k)
               + self.vf_head.slots(k))
        return ([self.log_std.slot(k)] if self.log_std is not None else []) + out

    def copy_member_to(self, k: int, policy: ActorCritic) -> None:
        """Write member ``k``'s parameters into a single :class:`ActorCritic` of the same shape."""
        self.features.copy_member_to(k, policy.pi_features.net)  # type: ignore[arg-type]
        self.features.copy_member_to(self.k + k, policy.vf_features.net)  # type: ignore[arg-type]
        self.pi_head.copy_member_to(k, policy.pi_head)
        self.vf_head.copy_member_to(k, policy.vf_head)
        if self.log_std is not None:
            with torch.no_grad():
                policy.log_std.copy_(self.log_std.member(k))  # type: ignore[union-attr]


def flat_members(x: np.ndarray, device: torch.device) -> torch.Tensor:
    """A members' rollout field ``[K, T, N, ...]`` as ``[K, T*N, ...]`` on ``device``."""
    return torch.as_tensor(x.reshape(x.shape[0], -1, *x.shape[3:]), device=device)


def sample_member(dist: torch.distributions.Distribution, generator: torch.Generator,
                  k: int | None = None) -> torch.Tensor:
    """``dist.sample()`` drawn from ``generator`` instead of torch's global one, with the same kernel and order
    (Categorical: ``torch.multinomial`` on the 2-D probabilities; Normal: ``torch.normal``). With ``k``: member
    ``k``'s sample from a distribution over all members (batch ``[K, ...]``), as its own distribution would draw."""
    with torch.no_grad():
        if isinstance(dist, torch.distributions.Categorical):
            probs = dist.probs if k is None else dist.probs[k]
            shape = probs.shape[:-1]
            probs = probs.reshape(-1, probs.shape[-1])
            return torch.multinomial(probs, 1, True, generator=generator).T.reshape(shape)
        assert isinstance(dist, torch.distributions.Normal)
        if k is None:
            return torch.normal(dist.loc, dist.scale, generator=generator)
        return torch.normal(dist.loc[k], dist.scale[k], generator=generator)


class OnPolicyPopulation(Population):
    """What the on-policy populations share: the stacked actor-critic, batched rollouts (:meth:`_collect`),
    deterministic actions, member extraction (members and generators: :class:`~.base.Population`). A subclass sets
    ``agent_cls`` and ``config_cls``, builds its optimizer in :meth:`_make_optimizer` and trains in ``_learn``."""

    name = "OnPolicyPopulation"

    def _build(self) -> None:
        self.policy = StackedActorCritic([m.policy for m in self.members])
        self.optimizer = self._make_optimizer()
        self._clipper = MemberGradClipper([self.policy.slots(k) for k in range(self.k)])
        self._total_planned = 0

    def _make_optimizer(self) -> torch.optim.Optimizer:
        raise NotImplementedError

    def _step(self, losses: torch.Tensor) -> None:
        """One optimizer step on the sum of the members' losses ``[K]``, each member's gradient clipped by its own
        norm (``config.max_grad_norm``). Gradients are zeroed in place (every parameter gets one each step, so the
        arithmetic is the single agent's ``set_to_none`` one) and the clipper keeps its views of them."""
        self.optimizer.zero_grad(set_to_none=False)
        losses.sum().backward()
        if self.config.max_grad_norm is not None:
            self._clipper(self.config.max_grad_norm)
        self.optimizer.step()
        self.num_updates += 1

    def _collect(self, n_steps: int) -> dict[str, np.ndarray]:
        """One rollout of every member (:class:`~dlfrontier.rl.common.rollout.RolloutCollector`'s steps, batched
        over members): fields ``[K, T, N, ...]``."""
        cols = [m.collector for m in self.members]
        for col in cols:
            if col.obs is None:
                col.reset(col.seed)
        K, N = self.k, cols[0].envs.num_envs
        obs0 = cols[0].obs
        assert obs0 is not None
        obs_buf = np.zeros((K, n_steps, *obs0.shape), dtype=cols[0].view(obs0).dtype)
        act_buf = np.zeros((K, n_steps, N, *cols[0].action_shape), dtype=cols[0].action_dtype)
        logp = np.zeros((K, n_steps, N), dtype=np.float32)
        values = np.zeros((K, n_steps + 1, N), dtype=np.float32)
        rewards = np.zeros((K, n_steps, N), dtype=np.float32)
        term = np.zeros((K, n_steps, N), dtype=bool)
        ended = np.zeros((K, n_steps, N), dtype=bool)
        final_values: list[tuple[int, int, np.ndarray, np.ndarray]] = []
        with torch.no_grad():
            for t in range(n_steps):
                for col in cols:  # as the single collector: each observation updates the stats first
                    if col.obs_norm is not None:
                        col.obs_norm.update(col.obs)  # type: ignore[arg-type]
                obs = np.stack([col.view(col.obs) for col in cols])  # type: ignore[arg-type]
                obs_buf[:, t] = obs
                out, v = self.policy.heads(torch.as_tensor(obs, device=self.device))
                values[:, t] = v.cpu().numpy()
                # one distribution over all members (its normalisation is row-wise: member k's rows are what its
                # own distribution holds); each member samples from its own generator
                dist = self.policy.distribution(out)
                a = torch.stack([sample_member(dist, self.generators[k], k) for k in range(K)])
                lp = dist.log_prob(a)
                actions = a.cpu().numpy()
                act_buf[:, t] = actions
                logp[:, t] = (lp if self.policy.discrete else lp.sum(-1)).cpu().numpy()
                for k, col in enumerate(cols):
                    next_obs, r, te, tr, infos = col.envs.step(actions[k])
                    done = te | tr
                    rewards[k, t] = col.reward_norm(r, done) if col.reward_norm is not None else r
                    term[k, t] = te
                    ended[k, t] = done
                    col.ep_returns += r
                    if done.any():
                        idx = np.flatnonzero(done)
                        col.finished.extend(col.ep_returns[idx].tolist())
                        col.ep_returns[idx] = 0.0
                        trunc_idx = np.flatnonzero(tr & ~te)
                        if trunc_idx.size:  # bootstrap time-limit ends from the true final observation
                            fin = col.view(final_observations(next_obs, done, infos)[trunc_idx])
                            fv = self.policy.member_value(k, torch.as_tensor(fin, device=self.device)).cpu().numpy()
                            final_values.append((k, t, trunc_idx, fv))
                    col.obs = next_obs
            last = np.stack([col.view(col.obs) for col in cols])  # type: ignore[arg-type]
            values[:, n_steps] = self.policy.value(torch.as_tensor(last, device=self.device)).cpu().numpy()
        next_values = values[:, 1:].copy()
        for k, t, idx, v in final_values:
            next_values[k, t, idx] = v
        for m, col in zip(self.members, cols, strict=True):
            m.episode_returns.extend(col.finished)
            col.finished.clear()
        return {"obs": obs_buf, "actions": act_buf, "log_probs": logp, "values": values[:, :-1], "rewards": rewards,
                "next_values": next_values, "terminated": term, "episode_end": ended}

    def _advantages(self, ro: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """GAE advantages and returns of each member's rollout, ``[K, T, N]`` each (the single agent's call)."""
        c = self.config
        advs, rets = zip(*(gae(ro["rewards"][k], ro["values"][k], ro["next_values"][k], ro["terminated"][k],
                               ro["episode_end"][k], c.gamma, c.gae_lambda) for k in range(self.k)), strict=True)
        return np.stack(advs), np.stack(rets)

    # -- inference and members ---------------------------------------------------------------------------
    def predict(self, obs: Any) -> np.ndarray:
        """Deterministic actions (argmax logit or Gaussian mean): obs ``[K, B, *obs]`` -> ``[K, B, ...]``."""
        x = np.stack([m.collector.view(np.asarray(o)) for m, o in zip(self.members, obs, strict=True)])  # frozen
        with torch.inference_mode():
            out, _ = self.policy.heads(torch.as_tensor(x, device=self.device))
        return (out.argmax(-1) if self.policy.discrete else out).cpu().numpy()

    def member(self, k: int) -> Any:
        """Member ``k`` (an index into ``seeds``) as an independent single agent (a ``PPO`` or ``A2C``): its
        networks, optimizer state, counters, envs (mid-episode), generator and episode returns, copied. To continue
        it exactly as the single run, also ``torch.set_rng_state(pop.torch_rng_state(k))`` before its next
        ``learn``."""
        if not 0 <= k < self.k:
            raise IndexError(f"member {k}: the population has {self.k} members")
        m = self.members[k]
        self.policy.copy_member_to(k, m.policy)
        load_member_optimizer_state(self.optimizer, self.policy.slots(k), m.optimizer, list(m.policy.parameters()))
        m.num_steps, m.num_updates = self.num_steps, self.num_updates
        if hasattr(m, "_total_planned"):  # PPO's annealing horizon
            m._total_planned = self._total_planned
        m.stats = {key: float(v[k]) for key, v in self.stats.items()}
        return copy.deepcopy(m)


class PopulationPPO(OnPolicyPopulation):
    """K independent PPO agents, one per seed, trained together; member k equals ``PPO(env, seed=seeds[k])``.

    Example::

        pop = PopulationPPO("CartPole-v1", seeds=range(5), n_envs=8, n_steps=32, batch_size=256).learn(100_000)
        pop.member(3).save("seed3.pt")            # an ordinary PPO checkpoint: PPO.load("seed3.pt")

    Args:
        env: a registered Gymnasium env id (each member makes its own vector env).
        seeds: one seed per member.
        device: torch device.
        **config: :class:`~dlfrontier.rl.ppo.PPOConfig` options, as for :class:`PPO`.

    Raises:
        ConfigError: an unknown option or value, an env instance, no seeds, or an option not supported by the
            population path yet (``target_kl``, ``share_features``).
    """

    name = "PopulationPPO"
    agent_cls = PPO
    config_cls = PPOConfig
    config: PPOConfig

    def _make_optimizer(self) -> torch.optim.Optimizer:
        return adam(self.policy.parameters(), lr=self.config.learning_rate, eps=1e-5)

    @staticmethod
    def unsupported(config: PPOConfig) -> str | None:
        """Why the population path cannot train ``config`` (None: it can)."""
        if config.target_kl is not None:
            return ("target_kl is not supported yet (members would stop at different minibatches); train single "
                    "PPO agents or set target_kl=None")
        if config.share_features:
            return "share_features=True is not supported yet; train single PPO agents"
        return None

    # -- training ----------------------------------------------------------------------------------------
    def _learn(self, total_steps: int, callback: Callable[[Any], Any] | None, callback_every: int) -> None:
        c = self.config
        end = self.num_steps + total_steps
        self._total_planned = max(self._total_planned, end)
        per_rollout = c.n_envs * c.n_steps
        next_callback = (self.num_steps // callback_every + 1) * callback_every if callback_every > 0 else None
        while self.num_steps < end:
            frac = 1.0 - self.num_steps / self._total_planned if c.anneal else 1.0
            for group in self.optimizer.param_groups:
                group["lr"] = c.learning_rate * frac
            ro = self._collect(c.n_steps)  # each field [K, T, N, ...]
            self.num_steps += per_rollout
            adv, ret = self._advantages(ro)
            flat = partial(flat_members, device=self.device)
            self._update(flat(ro["obs"]), flat(ro["actions"]), flat(ro["log_probs"]), flat(ro["values"]), flat(adv),
                         flat(ret), c.clip_range * frac)
            explained = np.full(self.k, np.nan)
            for k in range(self.k):
                var_y = float(np.var(ret[k]))
                if var_y != 0:
                    explained[k] = 1 - float(np.var(ret[k] - ro["values"][k])) / var_y
            self.stats["train/explained_variance"] = explained
            if next_callback is not None and callback is not None and self.num_steps >= next_callback:
                callback(self)
                next_callback = (self.num_steps // callback_every + 1) * callback_every

    def _update(self, obs: torch.Tensor, actions: torch.Tensor, old_logp: torch.Tensor, old_values: torch.Tensor,
                advantages: torch.Tensor, returns: torch.Tensor, clip: float) -> None:
        """:meth:`PPO._update` for K members: inputs ``[K, n, ...]``; the sum of the members' losses."""
        c = self.config
        K, n = obs.shape[0], obs.shape[1]
        rows = torch.arange(K)[:, None]
        stats = torch.zeros(5, K)
        count = 0
        fields = (obs, actions, old_logp, old_values, advantages, returns)
        for _ in range(c.n_epochs):
            perms = torch.from_numpy(np.stack([m.rng.permutation(n) for m in self.members]))  # [K, n]
            # each member's rollout in its own minibatch order, once an epoch: a minibatch is then a slice of each
            # field (each member's rows contiguous, as the single agent's minibatch is)
            shuffled = [f[rows, perms] for f in fields]
            for start in range(0, n, c.batch_size):
                end = min(start + c.batch_size, n)
                mb_obs, mb_actions, old, mb_values, adv, mb_returns = (f[:, start:end] for f in shuffled)
                logp, entropy, values = self.policy.evaluate_actions(mb_obs, mb_actions)
                if c.normalize_advantage and end - start > 1:
                    adv = (adv - adv.mean(dim=1, keepdim=True)) / (adv.std(dim=1, keepdim=True) + 1e-8)
                pg = ppo_clip_loss(logp, old, adv, clip, dim=1)  # [K]: each member's own loss terms
                vl = value_loss(values, mb_values, mb_returns, c.clip_range_vf, dim=1)
                ent = entropy.mean(dim=1)
                loss = pg + c.vf_coef * vl - c.ent_coef * ent  # [K]: each member's PPO loss
                self._step(loss)
                with torch.no_grad():
                    log_ratio = logp - old
                    approx_kl = ((log_ratio.exp() - 1) - log_ratio).mean(dim=1)
                    clipfrac = ((log_ratio.exp() - 1).abs() > clip).float().mean(dim=1)
                    stats += torch.stack([pg.detach(), vl.detach(), ent.detach(), approx_kl, clipfrac])
                count += 1
        s = (stats / max(count, 1)).numpy()
        for i, key in enumerate(("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction")):
            self.stats[f"train/{key}"] = s[i]


__all__ = ["OnPolicyPopulation", "flat_members", "PopulationPPO", "StackedActorCritic", "sample_member"]

"""Population DQN: K independent DQN agents (one per seed) trained in one process with stacked networks.

Issue 17 ("many seeds for the price of one"): every RL number is reported over >= 5 seeds, and for small
networks a training step costs per-operation overhead, so five single-seed runs cost five times one. Here the K
members' Q-networks are stacked (:mod:`dlfrontier.rl.population.layers`: weights ``[K, out, in]``, one
``torch.baddbmm`` per layer), every gradient step is one forward/backward for all members and one optimizer step
over the stacked parameters. Greedy actions for the K envs come from one call of the stacked network, whose layers
do K matrix-vector products there (``nn.Linear``'s arithmetic for one observation; acting costs what K agents pay).

Members never share information, and member k *is* ``DQN(env, seed=k, **options)``:

* its network starts from the parameters a single agent with seed k gets (each member's single agent is built
  with its seed, and its tensors are stacked);
* it has its own env (reset with ``seed=k`` as :class:`~dlfrontier.rl.dqn.DQN` does), its own NumPy generator
  (the same stream as a single agent's: exploration coin flips, random actions and replay sampling are drawn
  from it in the single agent's order), its own replay memory (a buffer with a member axis) and n-step adder;
* the loss is the sum of the members' mean losses, so member k's gradient is its own loss's gradient; gradient
  clipping uses each member's own norm; Adam (and centered RMSProp) is elementwise, so one optimizer over the
  stacked parameters equals K separate ones (the step count is shared: all members update together), and the
  epsilon and ``lr_decay`` schedules depend on the step count only.

So member k's trajectory and parameters equal the single run's: ``tests/rl/population`` checks that parameters
match within 1e-5 and episode returns exactly (on this CPU build they are bit-for-bit equal, see
:mod:`~dlfrontier.rl.population.layers`). :meth:`PopulationDQN.member` returns member k as an ordinary
:class:`DQN` (networks, optimizer state, counters, replay buffer, env, RNG) that ``save``/``DQN.load`` handle as
any other.

Peers: PureJaxRL (Lu et al., 2022, https://github.com/luchris429/purejaxrl) trains populations of seeds with
``jax.vmap`` of the whole training loop; Stable-Baselines3 runs one seed per process. The papers behind DQN and its
switches are listed in :mod:`dlfrontier.rl.dqn`.

Measured (``benchmarks/population_dqn.py``, CartPole-v1, dqn-cartpole settings, 10k steps per member, one thread
on a shared, loaded 2-core machine, one repetition): with 256x256 networks the population takes 1.17x / 0.90x /
0.77x / 0.77x the wall time of K = 1 / 2 / 5 / 10 separate runs; with 64x64, 1.27x (K = 1) and 0.48x (K = 5).
At 256x256 a batched matmul runs at ~110 GFLOP/s on one core, as fast as K separate ones, so only the
per-operation overhead (about half of a single agent's step) is saved; the issue's 2.6x was measured against a
slower single-agent step. Every member's returns equalled its single run's in these runs.

Not done yet: soft target updates (``tau < 1``) run but are not checked for bitwise equality (``lerp`` on stacked
tensors may round a small tensor's tail differently, see :class:`~dlfrontier.rl.population.layers.MemberParameter`);
prioritized replay and ``frame_buffer`` (a :class:`ConfigError`; experiments with them run seed by seed), custom
``features`` factories (CNNs: grouped convolutions or batched matmul), env instances (an env id is needed to make K
copies). Population runs of experiments: :mod:`dlfrontier.rl.population.runs` (one folder and checkpoint per seed).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from dlfrontier.rl.common.buffers import ReplayBatch
from dlfrontier.rl.common.networks import MLPFeatures, QNetwork
from dlfrontier.rl.common.returns import double_q_target, td_target
from dlfrontier.rl.dqn import DQN, DQNConfig, linear_schedule, make_optimizer
from dlfrontier.rl.population.base import Population
from dlfrontier.rl.population.layers import (
    MemberGradClipper,
    Slot,
    StackedLinear,
    StackedSequential,
    load_member_optimizer_state,
)


class StackedQNetwork(nn.Module):
    """K :class:`~dlfrontier.rl.common.networks.QNetwork` MLPs (plain or dueling), stacked.

    Shapes:
        input ``[K, B, *obs]``; output ``[K, B, A]``.

    Built from the members' own networks (their current parameters are copied).
    """

    def __init__(self, members: Sequence[QNetwork]) -> None:
        super().__init__()
        feats: list[MLPFeatures] = []
        for m in members:
            if not isinstance(m.features, MLPFeatures):
                raise TypeError("population networks support the default MLP features only")
            feats.append(m.features)
        self.k = len(members)
        self.discrete_n: int | None = feats[0].discrete_n
        self.features = StackedSequential.from_sequentials([f.net for f in feats])
        self.head = StackedLinear.from_linears([m.head for m in members])
        values = [m.value for m in members if m.value is not None]
        self.value = StackedLinear.from_linears(values) if members[0].dueling else None

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        K, B = obs.shape[0], obs.shape[1]
        if self.discrete_n is not None:
            x = nn.functional.one_hot(obs.long().reshape(K, B), self.discrete_n).float()
        else:
            x = obs.reshape(K, B, -1).float()
        z = self.features(x)
        q = self.head(z)
        if self.value is not None:  # the same expression as QNetwork's, over the last dim
            q = self.value(z) + q - q.mean(dim=-1, keepdim=True)
        return q

    def slots(self, k: int) -> list[Slot]:
        """Member ``k``'s parameters in the order of a single :class:`QNetwork`'s ``parameters()``."""
        return self.features.slots(k) + self.head.slots(k) + (self.value.slots(k) if self.value is not None else [])

    def copy_member_to(self, k: int, q_net: QNetwork) -> None:
        """Write member ``k``'s parameters into a single :class:`QNetwork` of the same shape."""
        self.features.copy_member_to(k, q_net.features.net)  # type: ignore[arg-type]
        self.head.copy_member_to(k, q_net.head)
        if self.value is not None:
            self.value.copy_member_to(k, q_net.value)  # type: ignore[arg-type]


def population_dqn_loss(
    q_net: nn.Module, target_net: nn.Module, batch: ReplayBatch, *, double: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`~dlfrontier.rl.dqn.dqn_loss` for K members at once: batch fields ``[K, B, ...]``.

    Returns:
        ``(loss, member_losses [K] (detached), member_mean_q [K] (detached))``; ``loss`` is the sum of the members'
        mean Huber losses, so each member's gradient is that of its own loss.
    """
    K, B = batch.actions.shape[0], batch.actions.shape[1]
    if double:
        q_both = q_net(torch.cat([batch.obs, batch.next_obs], dim=1))  # [K, 2B, A]
        q_all, next_online = q_both[:, :B], q_both[:, B:].detach()
    else:
        q_all, next_online = q_net(batch.obs), None
    A = q_all.shape[-1]
    q = q_all.gather(2, batch.actions.long().unsqueeze(2)).squeeze(2)  # [K, B]
    with torch.no_grad():
        next_target = target_net(batch.next_obs)  # [K, B, A]
        flat = (batch.rewards.reshape(-1), batch.dones.reshape(-1), batch.discounts.reshape(-1))
        if next_online is not None:
            target = double_q_target(flat[0], next_online.reshape(K * B, A), next_target.reshape(K * B, A),
                                     flat[1], flat[2])
        else:
            target = td_target(flat[0], next_target.reshape(K * B, A).max(dim=1).values, flat[1], flat[2])
        target = target.view(K, B)
    member_losses = (batch.weights * nn.functional.smooth_l1_loss(q, target, reduction="none")).mean(dim=1)
    return member_losses.sum(), member_losses.detach(), q.detach().mean(dim=1)


class MemberReplayBuffer:
    """K uniform replay ring buffers in one set of arrays with a member axis: ``obs [K, capacity, *obs]``
    (actions ``[K, capacity, *action_shape]``: indices for DQN, vectors for SAC).

    Each member has its own position and size; :meth:`sample` draws member k's indices from member k's generator
    exactly as :meth:`ReplayBuffer.sample <dlfrontier.rl.common.buffers.ReplayBuffer.sample>` does, then gathers
    all members' batches with one indexing operation per field.
    """

    FIELDS = ("obs", "next_obs", "actions", "rewards", "dones", "discounts")

    def __init__(self, k: int, capacity: int, obs_shape: tuple[int, ...], obs_dtype: Any = np.float32,
                 device: torch.device | str = "cpu", action_shape: tuple[int, ...] = (),
                 action_dtype: Any = np.int64) -> None:
        self.k, self.capacity = k, int(capacity)
        self.obs = np.zeros((k, self.capacity, *obs_shape), dtype=obs_dtype)
        self.next_obs = np.zeros((k, self.capacity, *obs_shape), dtype=obs_dtype)
        self.actions = np.zeros((k, self.capacity, *action_shape), dtype=action_dtype)
        self.rewards = np.zeros((k, self.capacity), dtype=np.float32)
        self.dones = np.zeros((k, self.capacity), dtype=np.float32)
        self.discounts = np.zeros((k, self.capacity), dtype=np.float32)
        self.pos = np.zeros(k, dtype=np.int64)
        self.size = np.zeros(k, dtype=np.int64)
        self.device = torch.device(device)
        self._rows = np.arange(k)[:, None]

    def add(self, m: int, obs: np.ndarray, action: Any, reward: float, next_obs: np.ndarray, done: bool,
            discount: float) -> None:
        """Store one transition of member ``m``."""
        i = self.pos[m]
        self.obs[m, i] = obs
        self.actions[m, i] = action
        self.rewards[m, i] = reward
        self.next_obs[m, i] = next_obs
        self.dones[m, i] = float(done)
        self.discounts[m, i] = discount
        self.pos[m] = (i + 1) % self.capacity
        self.size[m] = min(self.size[m] + 1, self.capacity)

    def sample(self, batch_size: int, rngs: Sequence[np.random.Generator]) -> ReplayBatch:
        """A uniform batch per member (with replacement): fields ``[K, B, ...]``, ``indices [K, B]``."""
        idx = np.stack([rng.integers(0, int(n), size=batch_size) for rng, n in zip(rngs, self.size, strict=True)])

        def t(x: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(x[self._rows, idx]).to(self.device)

        weights = torch.ones(self.k, batch_size, device=self.device)
        return ReplayBatch(t(self.obs), t(self.actions), t(self.rewards), t(self.next_obs), t(self.dones),
                           t(self.discounts), weights, idx)

    def member_state(self, m: int) -> dict[str, Any]:
        """Member ``m``'s memory in :meth:`ReplayBuffer.state_dict`'s format (for a single agent's buffer)."""
        n = int(self.size[m])
        arrays = {f: getattr(self, f)[m, :n].copy() for f in self.FIELDS}
        return {"arrays": arrays, "pos": int(self.pos[m]), "size": n}


class PopulationDQN(Population):
    """K independent DQN agents, one per seed, trained together; member k equals ``DQN(env, seed=seeds[k])``.

    Example::

        pop = PopulationDQN("CartPole-v1", seeds=[0, 1, 2, 3, 4], double=True).learn(50_000)
        pop.member(2).save("seed2.pt")            # an ordinary DQN checkpoint: DQN.load("seed2.pt")

    Args:
        env: a registered Gymnasium env id (each member makes its own copy).
        seeds: one seed per member (distinct or not: equal seeds give equal members).
        device: torch device.
        **config: :class:`~dlfrontier.rl.dqn.DQNConfig` options, as for :class:`DQN`.

    Raises:
        ConfigError: an unknown option or value, an env instance, no seeds, or an option not supported by the
            population path yet (``prioritized``, ``frame_buffer``).
    """

    name = "PopulationDQN"
    agent_cls = DQN
    config_cls = DQNConfig
    config: DQNConfig

    def _build(self) -> None:
        # Each member's single agent, built with its seed (Population.__init__): the parameter templates (exactly the
        # initial parameters of DQN(seed=k)) and the holders of the member's env, generator, n-step adder and episode
        # returns. A DQN draws nothing more from torch while learning, so each member's torch generator state stays
        # what the single run's global generator holds.
        c = self.config
        first = self.members[0]
        if not isinstance(first.action_space, gym.spaces.Discrete):  # DQN already refused other spaces
            raise TypeError("PopulationDQN needs a Discrete action space")
        self.n_actions = int(first.action_space.n)
        self.q_net = StackedQNetwork([m.q_net for m in self.members])
        self.target_net = copy.deepcopy(self.q_net).requires_grad_(False)
        self.optimizer = make_optimizer(c.optimizer, self.q_net.parameters(), c.learning_rate)
        self._clipper = MemberGradClipper([self.q_net.slots(k) for k in range(self.k)])
        obs_space = first.observation_space
        self.buffer = MemberReplayBuffer(len(self.seeds), c.buffer_size, obs_space.shape or (),
                                         obs_space.dtype or np.float32, device=self.device)
        self._total_planned = 0
        self._started = False

    @staticmethod
    def unsupported(config: DQNConfig) -> str | None:
        """Why the population path cannot train ``config`` (None: it can)."""
        for option in ("prioritized", "frame_buffer"):
            if getattr(config, option):
                return f"{option}=True is not supported yet; train single DQN agents"
        return None

    def epsilon(self) -> float:
        c = self.config
        progress = self.num_steps / max(1, self._total_planned)
        return linear_schedule(c.exploration_initial_eps, c.exploration_final_eps, c.exploration_fraction, progress)

    # -- training ----------------------------------------------------------------------------------------
    def _learn(self, total_steps: int, callback: Callable[[PopulationDQN], Any] | None, callback_every: int) -> None:
        c = self.config
        end = self.num_steps + total_steps
        self._total_planned = max(self._total_planned, end)
        if not self._started:
            for m in self.members:  # as DQN._learn's first call
                m._obs, _ = m.env.reset(seed=m.seed + self.num_steps)
                m._ep_return = 0.0
                m.adder.reset()
            self._started = True
        members, n_actions = self.members, self.n_actions
        member_obs: list[np.ndarray] = [m._obs for m in members]  # type: ignore[misc]
        actions = [0] * self.k
        while self.num_steps < end:
            eps = self.epsilon()
            greedy = []
            for i, m in enumerate(members):  # each member's draws, in DQN's order
                if self.num_steps < c.learning_starts or m.rng.random() < eps:
                    actions[i] = int(m.rng.integers(n_actions))
                else:
                    greedy.append(i)
            if greedy:
                obs = torch.as_tensor(np.stack(member_obs), device=self.device).unsqueeze(1)
                with torch.no_grad():
                    best = self.q_net(obs)[:, 0].argmax(dim=1).tolist()  # [K]: one batched forward
                for i in greedy:
                    actions[i] = int(best[i])
            for i, m in enumerate(members):
                next_obs, reward, terminated, truncated, _ = m.env.step(actions[i])
                m._ep_return += float(reward)
                for tr in m.adder.push(member_obs[i], actions[i], float(reward), next_obs, terminated, truncated):
                    self.buffer.add(i, *tr)
                if terminated or truncated:
                    m.episode_returns.append(m._ep_return)
                    m._ep_return = 0.0
                    next_obs, _ = m.env.reset()
                m._obs = member_obs[i] = next_obs
            self.num_steps += 1
            if self.num_steps >= c.learning_starts:
                if self.num_steps % c.train_freq == 0:
                    self._train_phase()
                if self.num_steps % c.target_update_interval == 0:
                    self._sync_target()
            if callback is not None and callback_every > 0 and self.num_steps % callback_every == 0:
                self.stats["train/epsilon"] = np.full(self.k, eps)
                callback(self)

    def _train_phase(self) -> None:
        c = self.config
        ready = self.buffer.size >= c.batch_size
        if not ready.any():
            return
        if not ready.all():  # a single agent would skip this phase for some members only: not representable
            raise RuntimeError(
                f"PopulationDQN: members {np.flatnonzero(~ready).tolist()} hold fewer than batch_size transitions "
                "at a training phase while others do not; use learning_starts >= batch_size + n_step - 1")
        if c.lr_decay:
            for group in self.optimizer.param_groups:
                group["lr"] = c.learning_rate * max(0.0, 1.0 - self.num_steps / max(1, self._total_planned))
        rngs = [m.rng for m in self.members]
        losses = torch.zeros(c.gradient_steps, self.k)
        qs = torch.zeros(c.gradient_steps, self.k)
        for g in range(c.gradient_steps):
            batch = self.buffer.sample(c.batch_size, rngs)
            loss, member_losses, member_q = population_dqn_loss(self.q_net, self.target_net, batch, double=c.double)
            self.optimizer.zero_grad(set_to_none=False)  # in place: the clipper keeps its views of the gradients
            loss.backward()
            if c.max_grad_norm is not None:
                self._clipper(c.max_grad_norm)
            self.optimizer.step()
            losses[g] = member_losses
            qs[g] = member_q
            self.num_updates += 1
        self.stats["train/loss"] = losses.mean(dim=0).numpy()
        self.stats["train/q"] = qs.mean(dim=0).numpy()

    def _sync_target(self) -> None:
        tau = self.config.tau
        with torch.no_grad():
            if tau >= 1.0:
                torch._foreach_copy_(list(self.target_net.parameters()), list(self.q_net.parameters()))
            else:
                for p, tp in zip(self.q_net.parameters(), self.target_net.parameters(), strict=True):
                    tp.lerp_(p, tau)

    # -- inference and members ---------------------------------------------------------------------------
    def q_values(self, obs: Any) -> torch.Tensor:
        """Each member's Q-values: obs ``[K, B, *obs]`` (or ``[K, *obs]``, one per member) -> ``[K, B, A]``."""
        x = torch.tensor(np.asarray(obs), device=self.device)
        obs_shape = self.members[0].observation_space.shape or ()
        if x.dim() == 1 + len(obs_shape):
            x = x.unsqueeze(1)
        with torch.inference_mode():
            return self.q_net(x)

    def predict(self, obs: Any) -> np.ndarray:
        """Greedy actions: obs ``[K, B, *obs]`` -> ``[K, B]`` (or ``[K, *obs]`` -> ``[K]``)."""
        x = np.asarray(obs)
        obs_shape = self.members[0].observation_space.shape or ()
        actions = self.q_values(x).argmax(dim=-1).cpu().numpy()
        return actions[:, 0] if x.ndim == 1 + len(obs_shape) else actions

    def member(self, k: int) -> DQN:
        """Member ``k`` (an index into ``seeds``) as an independent single :class:`DQN`: its networks, optimizer
        state, counters, replay buffer, env, generator and episode returns, copied. Training the returned agent
        further continues member k's run exactly as the single run with its seed would (nothing is shared)."""
        if not 0 <= k < self.k:
            raise IndexError(f"member {k}: the population has {self.k} members")
        m = self.members[k]
        self.q_net.copy_member_to(k, m.q_net)
        self.target_net.copy_member_to(k, m.target_net)
        load_member_optimizer_state(self.optimizer, self.q_net.slots(k), m.optimizer, list(m.q_net.parameters()))
        m.buffer.load_state_dict(self.buffer.member_state(k))
        m.num_steps, m.num_updates, m._total_planned = self.num_steps, self.num_updates, self._total_planned
        m.stats = {key: float(v[k]) for key, v in self.stats.items()}
        return copy.deepcopy(m)

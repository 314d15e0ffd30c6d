"""The small base class every algorithm shares: config, env, seeding, predict, save/load, the learn loop hook.

Paper: Raffin et al., "Stable-Baselines3: Reliable Reinforcement Learning Implementations" (JMLR 2021,
https://jmlr.org/papers/v22/20-1364.html), whose public API (``Algo(env).learn(n)``, ``predict``, ``save``,
``load``) this follows; the class hierarchy is kept one level deep on purpose.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import sys
import time
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from dlfrontier.errors import CheckpointError, ConfigError
from dlfrontier.ranges import check_ranges, check_values
from dlfrontier.registry import Registry
from dlfrontier.rl.common.env import EnvLike, check_space, env_id, make_env
from dlfrontier.rl.common.networks import FeaturesFactory
from dlfrontier.runtime import cpu_threads

A = TypeVar("A", bound="Algorithm")
Callback = Callable[["Algorithm"], Any]

# name -> class, filled by each algorithm module; used for "which algorithms support this space" errors
ALGORITHMS: Registry[type[Algorithm]] = Registry("RL algorithm")


def register_algorithm(cls: type[A]) -> type[A]:
    ALGORITHMS.register(cls.name, cls)
    return cls


def check_off_or_positive(config: Any, *names: str) -> None:
    """Raise unless each named option is ``None`` (off) or positive: ``0`` does not mean "off" in a config."""
    for name in names:
        value = getattr(config, name)
        if value is not None and value <= 0:
            raise ValueError(f"{name}={value}: expected a positive value, or None to turn it off")


def build_config(config_cls: type, values: dict[str, Any]) -> Any:
    """``config_cls(**values)``; an unknown key, a string option outside its ``Literal`` choices, a value outside
    its field's declared ``range`` (:mod:`dlfrontier.ranges`, the check the experiment configs use) or a value the
    config refuses raises :class:`ConfigError` (naming the valid keys, choices or range)."""
    names = [f.name for f in dataclasses.fields(config_cls)]
    unknown = [k for k in values if k not in names]
    if unknown:
        raise ConfigError(f"{config_cls.__name__}: unknown option(s) {', '.join(unknown)}; valid: {', '.join(names)}")
    hints = typing.get_type_hints(config_cls)
    for k, v in values.items():
        choices = typing.get_args(hints[k]) if typing.get_origin(hints[k]) is typing.Literal else None
        if choices and v not in choices:
            raise ConfigError(f"{config_cls.__name__}: {k}={v!r}; choose one of {', '.join(map(str, choices))}")
    try:
        check_values(config_cls, values)
        config = config_cls(**values)
        check_ranges(config)
    except ConfigError as e:
        raise ConfigError(f"{config_cls.__name__}: {e}") from None
    except ValueError as e:
        raise ConfigError(f"{config_cls.__name__}: {e}") from None
    return config


def check_total_steps(total_steps: Any) -> int:
    """``learn``'s step count as an int; a negative or fractional count is a :class:`ConfigError`."""
    ok = isinstance(total_steps, (int, float, np.integer, np.floating)) and not isinstance(total_steps, bool)
    if not (ok and 0 <= total_steps < float("inf") and int(total_steps) == total_steps):
        raise ConfigError(f"learn(total_timesteps={total_steps!r}): expected a whole number of env steps >= 0")
    return int(total_steps)


class Algorithm:
    """Base of DQN, REINFORCE, A2C, PPO and SAC.

    Subclasses set ``name``, ``config_cls`` and ``action_spaces``, build their networks in ``_setup`` and
    implement ``_learn`` (the training loop), ``_act`` (batched greedy/sampled actions) and
    ``_modules``/``_extra_state`` (what is saved).

    Args:
        env: a Gymnasium env id or instance.
        features: a features factory ``obs_space -> nn.Module with .out_dim`` (default: the algorithm's MLP).
        seed: seeds the algorithm's NumPy generator, torch and the env's first reset.
        device: torch device.
        verbose: 0 (silent) or 1 (one summary line per callback interval of :meth:`learn`, and one at its end).
            The ``repr`` names the algorithm, the env, a few key settings, the seed and the steps done.
        **config: the algorithm's options (fields of its config dataclass).
    """

    name: ClassVar[str] = "algorithm"
    config_cls: ClassVar[type]
    action_spaces: ClassVar[tuple[type, ...]] = ()

    def __init__(
        self,
        env: EnvLike,
        *,
        features: FeaturesFactory | None = None,
        seed: int = 0,
        device: str | torch.device = "cpu",
        verbose: int = 0,
        **config: Any,
    ) -> None:
        if verbose not in (0, 1) or isinstance(verbose, bool):
            raise ConfigError(f"verbose={verbose!r}: expected 0 (silent) or 1 (a summary line per interval)")
        self.verbose = int(verbose)
        self.config = build_config(self.config_cls, config)
        self.env_id = env_id(env)
        self._env_arg = env
        probe = make_env(env)
        self.observation_space: gym.Space = probe.observation_space
        self.action_space: gym.Space = probe.action_space
        alternatives = {n: ALGORITHMS.get(n).action_spaces for n in ALGORITHMS}
        check_space(self.name, self.action_space, self.action_spaces, alternatives)
        self.features = features
        self.seed = int(seed)
        self.device = torch.device(device)
        self.rng = np.random.default_rng(self.seed)
        torch.manual_seed(self.seed)
        self.num_steps = 0
        self.num_updates = 0
        self.episode_returns: list[float] = []
        self.stats: dict[str, float] = {}
        self._bar: _LearnProgress | None = None
        self._summary_at = -1
        self._setup()

    # -- to implement ------------------------------------------------------------------------------------
    def _setup(self) -> None:
        raise NotImplementedError

    def _learn(self, total_steps: int, callback: Callback | None, callback_every: int) -> None:
        raise NotImplementedError

    def _act(self, obs: torch.Tensor, deterministic: bool) -> torch.Tensor:
        raise NotImplementedError

    def _modules(self) -> dict[str, nn.Module | torch.optim.Optimizer]:
        raise NotImplementedError

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        pass

    # -- public API --------------------------------------------------------------------------------------
    def learn(self: A, total_timesteps: int, callback: Callback | None = None, *, callback_every: int = 0,
              progress_bar: bool = False) -> A:
        """Train for ``total_timesteps`` more environment steps (summed over parallel envs), as Stable-Baselines3's
        ``learn``.

        Args:
            total_timesteps: env steps to add to ``num_steps``.
            callback: called as ``callback(self)`` each time ``num_steps`` crosses a multiple of
                ``callback_every`` (on-policy algorithms: at the first rollout end after it).
            callback_every: the callback interval in env steps (0: never). With ``verbose=1`` a summary line is
                printed at each of these points (every tenth of the run when 0).
            progress_bar: show a rich progress bar of the steps (on stderr; nothing changes in the training).

        Raises:
            ConfigError: a negative or fractional ``total_timesteps`` or ``callback_every``.
        """
        total_steps = check_total_steps(total_timesteps)
        try:
            callback_every = check_total_steps(callback_every)
        except ConfigError:
            raise ConfigError(f"learn(callback_every={callback_every!r}): expected env steps >= 0 (0: never)") from None
        inner = callback
        if self.verbose and callback_every == 0:  # a summary every tenth of the run: the bar's tick does it
            summary_every = max(1, total_steps // 10)
        else:
            summary_every = 0
        if self.verbose and callback_every > 0:
            def callback(agent: Algorithm) -> None:  # the user's callback first: it may log evaluation metrics
                if inner is not None:
                    inner(agent)
                agent._print_summary()

        self._summary_at = -1
        self._bar = _LearnProgress(self, total_steps, progress_bar, summary_every)
        try:
            # tiny MLPs are dominated by Python overhead; extra threads only add synchronization cost
            with cpu_threads(1 if self.device.type == "cpu" else None):
                self._learn(int(total_steps), callback, int(callback_every))
        finally:
            self._bar.close()
            self._bar = None
        if self.verbose and self._summary_at != self.num_steps:
            self._print_summary()
        return self

    def _on_steps(self) -> None:
        """Called by each training loop after ``num_steps`` grows: progress bar and periodic summaries only."""
        if self._bar is not None:
            self._bar.update()

    def _print_summary(self) -> None:
        """``verbose=1``'s line: steps, updates, episodes, the recent training return, the loss."""
        self._summary_at = self.num_steps
        parts = [f"{type(self).__name__} {self.env_id or type(self._env_arg).__name__}", f"steps {self.num_steps}",
                 f"updates {self.num_updates}", f"episodes {len(self.episode_returns)}"]
        if self.episode_returns:
            parts.append(f"return(last 20) {self.recent_return():.4g}")
        parts += [f"{k} {v:.4g}" for k, v in self.stats.items() if k in ("train/loss", "train/policy_loss")]
        print(" | ".join(parts), flush=True)

    def __repr__(self) -> str:
        env = self.env_id if self.env_id is not None else f"<{type(self._env_arg).__name__}>"
        keys = ("n_envs", "learning_rate", "batch_size", "gamma")
        settings = [f"{k}={getattr(self.config, k)!r}" for k in keys if hasattr(self.config, k)]
        device = [] if self.device.type == "cpu" else [f"device={str(self.device)!r}"]
        return (f"{type(self).__name__}(env={env!r}, {', '.join(settings)}, seed={self.seed}, "
                f"{', '.join(device + [f'num_steps={self.num_steps}'])})")

    def predict(self, obs: Any, state: Any = None, episode_start: Any = None,
                deterministic: bool = False) -> tuple[np.ndarray, Any]:
        """``(action, state)`` for one observation (shape of the observation space) or a batch ``[B, *obs_shape]``,
        as Stable-Baselines3's ``predict``.

        Args:
            obs: the observation(s).
            state, episode_start: a recurrent policy's hidden state and episode starts; our policies are
                feed-forward, so they are ignored and ``state`` is returned unchanged (``None``).
            deterministic: the most likely action (greedy, the Gaussian's mean) instead of a sampled one.

        Returns:
            ``(action, state)``: ``action`` has the action space's shape, or ``[B, ...]`` for a batch.
        """
        x = np.asarray(obs)
        single = x.shape == self.observation_space.shape
        t = torch.as_tensor(x[None] if single else x, device=self.device)
        with torch.inference_mode():
            a = self._act(t, deterministic).cpu().numpy()
        return (a[0] if single else a), state

    def recent_return(self, episodes: int = 20) -> float:
        """Mean undiscounted return of the last ``episodes`` finished training episodes (nan if none)."""
        if not self.episode_returns:
            return float("nan")
        return float(np.mean(self.episode_returns[-episodes:]))

    def make_eval_env(self) -> gym.Env:
        """A fresh env for evaluation: made from the id, or a deep copy of an unregistered instance."""
        if self.env_id is not None:
            return make_env(self.env_id)
        assert isinstance(self._env_arg, gym.Env)
        return copy.deepcopy(self._env_arg)

    def state_dict(self, *, include_buffer: bool = True) -> dict[str, Any]:
        """Everything needed to continue training: networks, optimizers, counters, RNGs, replay buffer."""
        state: dict[str, Any] = {
            "algo": self.name,
            "config": dataclasses.asdict(self.config),
            "env_id": self.env_id,
            "seed": self.seed,
            "num_steps": self.num_steps,
            "num_updates": self.num_updates,
            "episode_returns": list(self.episode_returns),
            "rng": self.rng.bit_generator.state,
            "modules": {k: m.state_dict() for k, m in self._modules().items()},
        }
        extra = self._extra_state()
        if not include_buffer:
            extra.pop("buffer", None)
        state["extra"] = extra
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("algo") != self.name:
            raise CheckpointError(f"checkpoint is for {state.get('algo')!r}, not {self.name}")
        for k, m in self._modules().items():
            m.load_state_dict(state["modules"][k])
        self.num_steps = int(state["num_steps"])
        self.num_updates = int(state["num_updates"])
        self.episode_returns = list(state["episode_returns"])
        self.rng.bit_generator.state = state["rng"]
        self._load_extra_state(state.get("extra", {}))

    def save(self, path: str | os.PathLike[str], *, include_buffer: bool = False) -> Path:
        """Write the agent (networks, optimizers, config, env id) to ``path`` atomically; returns the path."""
        from dlfrontier.tracking import save_checkpoint

        path = Path(path)
        save_checkpoint(path, self.state_dict(include_buffer=include_buffer))
        return path

    @classmethod
    def load(cls: type[A], path: str | os.PathLike[str], env: EnvLike | None = None, *,
             features: FeaturesFactory | None = None, device: str | torch.device = "cpu",
             verbose: int = 0) -> A:
        """An agent saved by :meth:`save`. ``env`` is needed when the agent was trained on an unregistered
        instance; ``features`` when it was trained with a custom features factory.

        The file is read with ``torch.load(weights_only=True)`` (tensors, numbers, NumPy arrays): a file holding
        anything else is refused, since unpickling it could run code.

        Raises:
            CheckpointError: unreadable, refused by the safe loader, or another algorithm's agent.
        """
        from dlfrontier.tracking import torch_load

        state = torch_load(path, map_location=device)
        if not isinstance(state, dict) or state.get("algo") != cls.name:
            algo = state.get("algo") if isinstance(state, dict) else None
            raise CheckpointError(f"{path} holds a {algo!r} agent, not {cls.name}; load it with that class")
        target = env if env is not None else state["env_id"]
        if target is None:
            raise CheckpointError(f"{path} was trained on an unregistered env instance; pass env=... to load")
        agent = cls(target, features=features, seed=state["seed"], device=device, verbose=verbose, **state["config"])
        agent.load_state_dict(state)
        return agent


class _LearnProgress:
    """The optional rich progress bar of one ``learn`` call and the verbose summaries every ``summary_every`` steps.

    Redraws at most ten times a second; it reads the agent's counters only (no RNG, no tensors), so training is
    the same with or without it.
    """

    def __init__(self, agent: Algorithm, total: int, bar: bool, summary_every: int) -> None:
        self.agent, self.start, self.total = agent, agent.num_steps, total
        self.summary_every = summary_every
        self.next_summary = self.start + summary_every if summary_every else None
        self.last_draw = 0.0
        self.progress: Any = None
        if bar:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.progress = Progress(TextColumn(f"{agent.name} {agent.env_id or ''}"), BarColumn(),
                                     MofNCompleteColumn(), TimeRemainingColumn(), console=Console(stderr=True))
            self.progress.start()
            self.task = self.progress.add_task("learn", total=total)

    def update(self) -> None:
        done = self.agent.num_steps - self.start
        if self.next_summary is not None and self.agent.num_steps >= self.next_summary:
            self.next_summary = self.agent.num_steps + self.summary_every
            self.agent._print_summary()
        if self.progress is not None:
            now = time.monotonic()
            if now - self.last_draw >= 0.1 or done >= self.total:
                self.last_draw = now
                self.progress.update(self.task, completed=min(done, self.total))

    def close(self) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=min(self.agent.num_steps - self.start, self.total))
            self.progress.stop()
            sys.stderr.flush()

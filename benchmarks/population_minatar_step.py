"""Would a population pay for MinAtar DQN on a CPU? One gradient step and one acting step of K MinAtar networks,
stacked against K separate networks (issue 17: "MinAtar/Atari CNNs too (grouped convolutions or batched matmul),
where it pays: measure").

The network is the MinAtar paper's (:class:`dlfrontier.rl.atari.networks.MinAtarCNN`: 3x3 convolution of 16
channels on the 10x10xC grid, 1024 -> 128 fully connected, a Q head), the step the dqn-minatar quick budget's
(batch 32, Huber loss, Adam). Three ways for K members:

* ``separate``: K ``nn.Module`` networks, K forward/backward passes and K Adam steps (what K single runs do);
* ``grouped``: one grouped convolution (``groups=K``) and stacked linear layers
  (:class:`~dlfrontier.rl.population.layers.StackedLinear`), one Adam over the stacked parameters;
* ``unfold``: the convolution as ``unfold`` + one batched matmul (``baddbmm``), stacked linear layers.

Acting is one observation per member (``separate``: K forward passes of one observation).
Timed back to back, the order alternating, after a warm-up; one torch thread. A benchmark, not a test.

Usage: ``OMP_NUM_THREADS=1 python benchmarks/population_minatar_step.py [--k 3 5] [--channels 4]``; writes
``benchmarks/results/population_minatar_step.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from dlfrontier.rl.population.layers import StackedLinear

BATCH, ACTIONS, GRID = 32, 3, 10


class Net(nn.Module):
    """The MinAtar DQN network (the layers of MinAtarCNN and a Q head)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv, self.fc, self.head = nn.Conv2d(c, 16, 3), nn.Linear(16 * 8 * 8, 128), nn.Linear(128, ACTIONS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv(x.permute(0, 3, 1, 2).float())).flatten(1)
        return self.head(torch.relu(self.fc(x)))


def ways(k: int, c: int) -> dict[str, tuple[Callable[[], None], Callable[[], None]]]:
    """``name -> (gradient step, acting step)`` for K members on the same random data."""
    nets = [Net(c) for _ in range(k)]
    opts = [torch.optim.Adam(n.parameters(), 2.5e-4) for n in nets]
    obs = torch.rand(k, BATCH, GRID, GRID, c) > 0.8
    actions = torch.randint(0, ACTIONS, (k, BATCH))
    target = torch.randn(k, BATCH)

    def separate_step() -> None:
        for i in range(k):
            q = nets[i](obs[i]).gather(1, actions[i, :, None]).squeeze(1)
            loss = nn.functional.smooth_l1_loss(q, target[i])
            opts[i].zero_grad()
            loss.backward()
            opts[i].step()

    def separate_act() -> None:
        with torch.no_grad():
            for i in range(k):
                nets[i](obs[i, :1]).argmax(1)

    fc = StackedLinear.from_linears([n.fc for n in nets])
    head = StackedLinear.from_linears([n.head for n in nets])
    conv_w = nn.Parameter(torch.cat([n.conv.weight.detach() for n in nets]))  # [K*16, C, 3, 3]
    conv_b = nn.Parameter(torch.cat([n.conv.bias.detach() for n in nets]))
    grouped_opt = torch.optim.Adam([conv_w, conv_b, *fc.parameters(), *head.parameters()], 2.5e-4)

    def grouped_q(x: torch.Tensor) -> torch.Tensor:  # x [K, B, H, W, C]
        b = x.shape[1]
        x = x.permute(1, 0, 4, 2, 3).reshape(b, k * c, GRID, GRID).float()
        h = torch.relu(nn.functional.conv2d(x, conv_w, conv_b, groups=k))  # [B, K*16, 8, 8]
        h = h.reshape(b, k, 16 * 64).transpose(0, 1)
        return head(torch.relu(fc(h)))

    unfold_w = nn.Parameter(torch.stack([n.conv.weight.detach().reshape(16, -1) for n in nets]))  # [K, 16, C*9]
    unfold_b = nn.Parameter(torch.stack([n.conv.bias.detach() for n in nets])[:, :, None])
    fc2, head2 = StackedLinear.from_linears([n.fc for n in nets]), StackedLinear.from_linears([n.head for n in nets])
    unfold_opt = torch.optim.Adam([unfold_w, unfold_b, *fc2.parameters(), *head2.parameters()], 2.5e-4)

    def unfold_q(x: torch.Tensor) -> torch.Tensor:
        b = x.shape[1]
        cols = nn.functional.unfold(x.reshape(k * b, GRID, GRID, c).permute(0, 3, 1, 2).float(), 3)  # [KB, C*9, 64]
        cols = cols.reshape(k, b, c * 9, 64).permute(0, 2, 1, 3).reshape(k, c * 9, b * 64)
        h = torch.relu(torch.baddbmm(unfold_b, unfold_w, cols)).reshape(k, 16, b, 64).transpose(1, 2)
        return head2(torch.relu(fc2(h.reshape(k, b, 16 * 64))))

    def stacked(q_fn: Callable[[torch.Tensor], torch.Tensor], opt: torch.optim.Optimizer
                ) -> tuple[Callable[[], None], Callable[[], None]]:
        def step() -> None:
            q = q_fn(obs).gather(2, actions[:, :, None]).squeeze(2)
            loss = nn.functional.smooth_l1_loss(q, target, reduction="none").mean(1).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()

        def act() -> None:
            with torch.no_grad():
                q_fn(obs[:, :1]).argmax(2)

        return step, act

    return {"separate": (separate_step, separate_act), "grouped": stacked(grouped_q, grouped_opt),
            "unfold": stacked(unfold_q, unfold_opt)}


def timed(fn: Callable[[], None], n: int) -> float:
    for _ in range(5):
        fn()
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--k", type=int, nargs="+", default=[3, 5])
    parser.add_argument("--channels", type=int, default=4, help="MinAtar Breakout has 4 channels")
    parser.add_argument("--iters", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    results: dict[str, object] = {"machine": platform.processor() or platform.machine(), "torch": torch.__version__,
                                  "rows": []}
    for k in args.k:
        fns = ways(k, args.channels)
        best: dict[str, list[float]] = {f"{name}_{part}": [] for name in fns for part in ("step", "act")}
        for r in range(args.rounds):  # alternate the order between rounds
            for name in (list(fns) if r % 2 == 0 else list(reversed(fns))):
                best[f"{name}_step"].append(timed(fns[name][0], args.iters))
                best[f"{name}_act"].append(timed(fns[name][1], args.iters))
        row = {"k": k, **{key: min(v) * 1e3 for key, v in best.items()}}
        for name in ("grouped", "unfold"):
            row[f"{name}_step_ratio"] = row[f"{name}_step"] / row["separate_step"]
            row[f"{name}_act_ratio"] = row[f"{name}_act"] / row["separate_act"]
        results["rows"].append(row)  # type: ignore[union-attr]
        print(f"K={k}: gradient step ms separate {row['separate_step']:.2f}, grouped {row['grouped_step']:.2f} "
              f"({row['grouped_step_ratio']:.2f}x), unfold {row['unfold_step']:.2f} ({row['unfold_step_ratio']:.2f}x); "
              f"acting ms separate {row['separate_act']:.3f}, grouped {row['grouped_act']:.3f} "
              f"({row['grouped_act_ratio']:.2f}x), unfold {row['unfold_act']:.3f} ({row['unfold_act_ratio']:.2f}x)")
    out = Path(__file__).parent / "results" / "population_minatar_step.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

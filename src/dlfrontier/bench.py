"""The benchmark registry behind ``dlfrontier bench NAME``.

A benchmark is a function ``fn(quick: bool, out: Path) -> dict`` that measures speed or memory side by
side with a peer, in the same run on the same machine, prints a table and returns its results (saved as
JSON under ``benchmarks/results/``). Benchmarks are never tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlfrontier.registry import Registry


@dataclass(frozen=True)
class Benchmark:
    name: str
    summary: str
    fn: Callable[..., dict[str, Any]]


BENCHMARKS: Registry[Benchmark] = Registry("benchmark")


def benchmark(name: str, *, summary: str) -> Callable[[Callable[..., dict[str, Any]]], Callable[..., dict[str, Any]]]:
    """Register ``fn(quick: bool, out: Path) -> dict`` as benchmark ``name``."""

    def wrap(fn: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        BENCHMARKS.register(name, Benchmark(name, summary, fn))
        return fn

    return wrap


def load_benchmarks() -> Registry[Benchmark]:
    """Import the modules that register benchmarks and return the registry."""
    import importlib

    for module in BENCHMARK_MODULES:
        importlib.import_module(module)
    return BENCHMARKS


# Each capability appends the module that registers its benchmarks.
BENCHMARK_MODULES: list[str] = [
    "dlfrontier.attention.bench",
    "dlfrontier.rl.bench",
    "dlfrontier.compression.bench",
    "dlfrontier.rl.atari.bench",
    "dlfrontier.rl.search.bench",
    "dlfrontier.bench_executor",
    "dlfrontier.rl.robot.bench",
    "dlfrontier.rl.population.bench",
]


def default_out() -> Path:
    return Path("benchmarks") / "results"

"""Value ranges declared on config fields, and the one check that enforces them.

A numeric field of a config dataclass declares its allowed values beside its help text, in interval notation::

    learning_rate: float = field(default=3e-4, metadata={"help": "Adam learning rate", "range": "(0, inf)"})
    gamma: float = field(default=0.99, metadata={"help": "discount factor", "range": "(0, 1]"})
    n_envs: int = field(default=1, metadata={"help": "parallel envs", "range": "[1, inf)"})

``[`` / ``]`` include the bound, ``(`` / ``)`` exclude it, ``inf`` / ``-inf`` leave a side open. ``None`` (an
option turned off) is always allowed where the field's type allows it; a tuple's items are each checked. NaN is
never in a range. :func:`check_ranges` raises :class:`ConfigError` naming the key, the value and the range; the
experiment configs (``experiments.config.build_config``) and the RL algorithms (``PPO(env, **options)``) both
build their configs through it.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import typing
from collections.abc import Mapping
from typing import Any, NamedTuple

from dlfrontier.errors import ConfigError

_INTERVAL = re.compile(r"^\s*([\[(])\s*([^,\s]+)\s*,\s*([^,\s]+)\s*([\])])\s*$")


class Range(NamedTuple):
    """An interval ``lo..hi``; ``lo_closed`` / ``hi_closed`` say whether the bound itself is allowed."""

    lo: float
    hi: float
    lo_closed: bool
    hi_closed: bool

    def __contains__(self, value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        v = float(value)
        if math.isnan(v):
            return False
        above = v >= self.lo if self.lo_closed else v > self.lo
        below = v <= self.hi if self.hi_closed else v < self.hi
        return above and below

    def __str__(self) -> str:
        lo, hi = f"{self.lo:g}", f"{self.hi:g}"
        if math.isinf(self.hi) and not math.isinf(self.lo):
            return f"{'>=' if self.lo_closed else '>'} {lo}"
        if math.isinf(self.lo) and not math.isinf(self.hi):
            return f"{'<=' if self.hi_closed else '<'} {hi}"
        return f"in {'[' if self.lo_closed else '('}{lo}, {hi}{']' if self.hi_closed else ')'}"


@functools.cache
def parse_range(text: str) -> Range:
    """``"(0, 1]"`` -> ``Range(0.0, 1.0, False, True)``; a malformed declaration is a programming error."""
    m = _INTERVAL.match(text)
    if not m:
        raise ValueError(f"range {text!r}: expected interval notation like '(0, 1]' or '[1, inf)'")
    try:
        lo, hi = float(m.group(2)), float(m.group(3))
    except ValueError:
        raise ValueError(f"range {text!r}: the bounds must be numbers or inf") from None
    if math.isnan(lo) or math.isnan(hi) or lo > hi:
        raise ValueError(f"range {text!r}: the lower bound must not exceed the upper one")
    return Range(lo, hi, m.group(1) == "[" and not math.isinf(lo), m.group(4) == "]" and not math.isinf(hi))


def field_range(f: dataclasses.Field) -> Range | None:
    """The :class:`Range` a dataclass field declares in ``metadata["range"]``, or None."""
    text = f.metadata.get("range")
    return parse_range(text) if text is not None else None


def range_problem(key: str, value: Any, allowed: Range) -> str | None:
    """A one-line problem with ``value`` for ``key`` (None when every value is in range)."""
    items = value if isinstance(value, (tuple, list)) else (value,)
    for item in items:
        if item is not None and item not in allowed:
            shown = f"{value!r}" if item is value else f"{value!r} (item {item!r})"
            return f"{key}={shown}: expected a value {allowed}"
    return None


def field_ranges(config: Any, prefix: str = "") -> dict[str, Range]:
    """``{dotted key: Range}`` of every field of a config dataclass (class or instance) that declares one."""
    out: dict[str, Range] = {}
    hints = typing.get_type_hints(config if isinstance(config, type) else type(config))
    for f in dataclasses.fields(config):
        nested = hints.get(f.name)
        if isinstance(nested, type) and dataclasses.is_dataclass(nested):
            out.update(field_ranges(nested, f"{prefix}{f.name}."))
        elif (allowed := field_range(f)) is not None:
            out[prefix + f.name] = allowed
    return out


def check_values(config: Any, values: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigError` for the first of ``values`` (``{dotted key: value}``) outside its field's range."""
    ranges = field_ranges(config)
    for key, value in values.items():
        if key in ranges and (problem := range_problem(key, value, ranges[key])):
            raise ConfigError(problem)


def check_ranges(config: Any, prefix: str = "") -> None:
    """Raise :class:`ConfigError` for the first field of a config instance (nested ones included) out of range."""
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            check_ranges(value, f"{prefix}{f.name}.")
        elif (allowed := field_range(f)) is not None and (problem := range_problem(prefix + f.name, value, allowed)):
            raise ConfigError(problem)

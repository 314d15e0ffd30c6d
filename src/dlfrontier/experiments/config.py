"""Experiment configs: typed dataclasses, nested (``algo.learning_rate``), checked ``--set key=value`` overrides.

A config is a dataclass whose fields have defaults and a ``metadata={"help": ...}`` line. A field whose type is
itself a dataclass nests (the RL experiments hold their algorithm's config as ``algo``); its fields are
addressed with dots: ``--set algo.learning_rate=1e-3``. Values are converted to the field's type: ``int``,
``float``, ``bool``, ``Literal[...]`` (a string option: anything else is rejected), tuples, and ``X | None``
(``none`` turns an option off). A numeric field declares its allowed values beside its help text,
``metadata={"help": ..., "range": "(0, 1]"}`` (see :mod:`dlfrontier.ranges`); :func:`build_config` refuses a
value outside it with one line naming the key, the value and the range.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any

from dlfrontier.errors import ConfigError
from dlfrontier.ranges import check_ranges, check_values


def _hints(config: type) -> dict[str, Any]:
    hints = typing.get_type_hints(config)
    return {f.name: hints[f.name] for f in dataclasses.fields(config) if f.init}


def _is_config(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def config_fields(config: type, prefix: str = "") -> dict[str, Any]:
    """``{dotted name: type}`` of every leaf field of a config dataclass (nested configs flattened)."""
    out: dict[str, Any] = {}
    for name, tp in _hints(config).items():
        if _is_config(tp):
            out.update(config_fields(tp, f"{prefix}{name}."))
        else:
            out[prefix + name] = tp
    return out


def field_help(config: type, prefix: str = "") -> dict[str, str]:
    """``{dotted name: help text}`` from each field's ``metadata={"help": ...}``."""
    out: dict[str, str] = {}
    hints = _hints(config)
    for f in dataclasses.fields(config):
        if _is_config(hints.get(f.name)):
            out.update(field_help(hints[f.name], f"{prefix}{f.name}."))
        else:
            out[prefix + f.name] = f.metadata.get("help", "")
    return out


def type_name(tp: Any) -> str:
    """A readable name of a field type: ``int``, ``float | None``, ``'adam' | 'sgd'``, ``tuple[int, ...]``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(a) for a in args)
    if tp is type(None):
        return "None"
    if origin in (tuple, list):
        inner = ", ".join("..." if a is Ellipsis else type_name(a) for a in args)
        return f"{origin.__name__}[{inner}]"
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"algo": {"lr": 1}}`` and ``{"algo.lr": 1}`` both -> ``{"algo.lr": 1}``."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def convert(tp: Any, raw: Any, key: str) -> Any:
    """``raw`` (a string from ``--set``, or a Python/JSON value) converted to field type ``tp``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if raw is None or (isinstance(raw, str) and raw.lower() in ("none", "null", "off")):
            if type(None) in args:
                return None
        for a in args:
            if a is type(None):
                continue
            try:
                return convert(a, raw, key)
            except ConfigError:
                continue
        raise ConfigError(f"{key}={raw!r}: expected {type_name(tp)}")
    if origin is typing.Literal:
        for a in args:
            if raw == a or str(raw) == str(a):
                return a
        raise ConfigError(f"{key}={raw!r}: expected one of {', '.join(map(str, args))}")
    if origin in (tuple, list):
        items = raw
        if isinstance(raw, str):
            items = [s for s in raw.strip("()[]").split(",") if s.strip() != ""]
        if not isinstance(items, (list, tuple)):
            raise ConfigError(f"{key}={raw!r}: expected a comma-separated list")
        inner = args[0] if args else str
        vals = [convert(inner, v.strip() if isinstance(v, str) else v, key) for v in items]
        return tuple(vals) if origin is tuple else vals
    if tp is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in ("true", "1", "yes", "on"):
            return True
        if isinstance(raw, str) and raw.lower() in ("false", "0", "no", "off"):
            return False
        raise ConfigError(f"{key}={raw!r}: expected bool (true/false)")
    if tp is int:
        if isinstance(raw, bool):
            raise ConfigError(f"{key}={raw!r}: expected int")
        if isinstance(raw, int):
            return raw
        text = str(raw).replace("_", "")
        try:
            return int(text)  # exact, however large; "1e3" goes through float below
        except ValueError:
            pass
        try:
            f = float(text)
        except ValueError:
            raise ConfigError(f"{key}={raw!r}: expected int") from None
        if not f.is_integer():
            raise ConfigError(f"{key}={raw!r}: expected int")
        return int(f)
    if tp is float:
        if isinstance(raw, bool):
            raise ConfigError(f"{key}={raw!r}: expected float")
        try:
            return float(raw)
        except (TypeError, ValueError, OverflowError):
            raise ConfigError(f"{key}={raw!r}: expected float") from None
    if tp is str:
        return str(raw)
    if isinstance(tp, type) and isinstance(raw, tp):
        return raw
    raise ConfigError(f"{key}={raw!r}: cannot convert to {type_name(tp)}")


def parse_values(config: type, values: Mapping[str, Any], *, what: str = "--set") -> dict[str, Any]:
    """Check (dotted) keys against the config's fields and convert each value; returns flat dotted keys."""
    fields = config_fields(config)
    out = {}
    for key, raw in flatten(values).items():
        if key not in fields:
            raise ConfigError(f"{what}: unknown key {key!r}; valid keys: {', '.join(fields)}")
        out[key] = convert(fields[key], raw, key)
    return out


def build_config(config: type, values: Mapping[str, Any], *, what: str = "config") -> Any:
    """An instance of ``config`` with ``values`` (dotted or nested keys, strings or typed values) applied.

    Raises:
        ConfigError: an unknown key, a value of the wrong type or outside its field's declared ``range``, or a
            value the config's ``__post_init__`` refuses.
    """
    flat = parse_values(config, values, what=what)
    check_values(config, flat)  # before __post_init__ sees a value it would choke on
    cfg = _build(config, flat, "")
    check_ranges(cfg)  # the defaults and anything __post_init__ derived
    return cfg


def _build(config: type, flat: Mapping[str, Any], prefix: str) -> Any:
    kwargs: dict[str, Any] = {}
    for name, tp in _hints(config).items():
        if _is_config(tp):
            kwargs[name] = _build(tp, flat, f"{prefix}{name}.")
        elif prefix + name in flat:
            kwargs[name] = flat[prefix + name]
    try:
        return config(**kwargs)
    except (ValueError, TypeError) as e:
        if isinstance(e, ConfigError):
            raise
        raise ConfigError(f"{config.__name__}: {e}") from None


def parse_set_args(items: list[str] | None) -> dict[str, str]:
    """``["lr=0.1", "algo.gamma=0.9"]`` -> ``{"lr": "0.1", "algo.gamma": "0.9"}``."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected key=value")
        out[key.strip()] = value.strip()
    return out


def path_fields(config: type, prefix: str = "") -> set[str]:
    """Dotted names of the fields that hold a file or folder path (``metadata={"path": True}``)."""
    out: set[str] = set()
    hints = _hints(config)
    for f in dataclasses.fields(config):
        if _is_config(hints.get(f.name)):
            out |= path_fields(hints[f.name], f"{prefix}{f.name}.")
        elif f.metadata.get("path"):
            out.add(prefix + f.name)
    return out


def plain_string_fields(config: type) -> list[str]:
    """Fields typed plain ``str`` (a string option should be a ``Literal``; the registry test uses this), paths
    (``metadata={"path": True}``) excepted."""
    bad = []
    paths = path_fields(config)
    for key, tp in config_fields(config).items():
        members = typing.get_args(tp) if typing.get_origin(tp) in (typing.Union, types.UnionType) else (tp,)
        if str in members and key not in paths:
            bad.append(key)
    return bad

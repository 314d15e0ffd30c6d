from dataclasses import asdict, dataclass, field
from typing import Literal

import pytest

from dlfrontier import ConfigError
from dlfrontier.experiments import EXPERIMENTS
from dlfrontier.experiments.base import Expect
from dlfrontier.experiments.config import build_config, parse_set_args
from dlfrontier.experiments.executors import parse_seeds
from tests.experiments.toy import ToyConfig  # noqa: F401  (registers toy-regression)


def make(**overrides):
    return EXPERIMENTS.get("toy-regression").make_config("quick", {k: str(v) for k, v in overrides.items()})


def test_overrides_are_converted_to_field_types():
    cfg = make(steps="1e3", lr="0.5", mode="crash", widths="8,4,2", note="hi", verbose="true")
    assert cfg.steps == 1000 and isinstance(cfg.steps, int)
    assert cfg.lr == 0.5 and cfg.mode == "crash" and cfg.widths == (8, 4, 2) and cfg.note == "hi"
    assert cfg.verbose is True
    assert make(note="none").note is None


def test_budget_overrides_apply():
    assert EXPERIMENTS.get("toy-regression").make_config("full").steps == 200


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("stepz", "3", "unknown key 'stepz'; valid keys: steps, lr, checkpoint_every, mode, widths, note, verbose"),
        ("steps", "3.5", "steps='3.5': expected int"),
        ("steps", "ten", "steps='ten': expected int"),
        ("lr", "fast", "lr='fast': expected float"),
        ("verbose", "maybe", "verbose='maybe': expected bool"),
        ("mode", "jump", "mode='jump': expected one of fit, crash"),
    ],
)
def test_bad_overrides_name_the_fix(key, value, message):
    with pytest.raises(ConfigError) as e:
        make(**{key: value})
    assert message in str(e.value)


def test_unknown_budget():
    with pytest.raises(ConfigError, match="unknown budget 'huge'.*quick, full"):
        EXPERIMENTS.get("toy-regression").make_config("huge")


def test_parse_set_args():
    assert parse_set_args(["a=1", "b = x=y"]) == {"a": "1", "b": "x=y"}
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_set_args(["novalue"])


@pytest.mark.parametrize(
    ("text", "seeds"), [("0", [0]), ("0,1,2", [0, 1, 2]), ("0-4", [0, 1, 2, 3, 4]), ("3-4,7,3", [3, 4, 7])]
)
def test_parse_seeds(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["", "a", "4-2", "1,,x", "-1"])
def test_parse_seeds_rejects(text):
    with pytest.raises(ConfigError, match="--seeds"):
        parse_seeds(text)


def test_expect_ops():
    assert Expect("m", ">=", 0.5).passed(0.5) and not Expect("m", ">", 0.5).passed(0.5)
    assert Expect("m", "<=", 1).passed(0.2) and not Expect("m", "<", 1).passed(float("nan"))
    assert not Expect("m", ">=", 0).passed(None)
    with pytest.raises(ValueError):
        Expect("m", "==", 1)


@dataclass
class Inner:
    lr: float = field(default=0.1, metadata={"help": "learning rate"})
    act: Literal["relu", "tanh"] = field(default="relu", metadata={"help": "activation"})
    clip: float | None = field(default=None, metadata={"help": "off when none"})


@dataclass
class Outer:
    steps: int = field(default=10, metadata={"help": "steps"})
    algo: Inner = field(default_factory=Inner)


def test_nested_configs_take_dotted_and_nested_keys():
    cfg = build_config(Outer, {"algo.lr": "0.5", "steps": "20", "algo": {"act": "tanh"}})
    assert cfg == Outer(20, Inner(0.5, "tanh", None))
    assert build_config(Outer, {"algo.clip": "1.5"}).algo.clip == 1.5
    assert build_config(Outer, {"algo.clip": "none"}).algo.clip is None
    with pytest.raises(ConfigError, match="unknown key 'algo.gamma'; valid keys: steps, algo.lr, algo.act"):
        build_config(Outer, {"algo.gamma": "0.9"})
    with pytest.raises(ConfigError, match="algo.act='relux': expected one of relu, tanh"):
        build_config(Outer, {"algo.act": "relux"})
    # a config read back from config.json (nested dicts, lists for tuples) rebuilds the same value
    assert build_config(Outer, asdict(cfg)) == cfg


@dataclass
class Ranged:
    lr: float = field(default=0.1, metadata={"help": "learning rate", "range": "(0, inf)"})
    gamma: float = field(default=0.99, metadata={"help": "discount", "range": "(0, 1]"})
    epochs: int = field(default=1, metadata={"help": "epochs (0: skip)", "range": "[0, inf)"})
    clip: float | None = field(default=None, metadata={"help": "off when none", "range": "(0, inf)"})
    widths: tuple[int, ...] = field(default=(4,), metadata={"help": "widths", "range": "[1, inf)"})


@dataclass
class RangedOuter:
    steps: int = field(default=10, metadata={"help": "steps", "range": "[1, inf)"})
    algo: Ranged = field(default_factory=Ranged)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("steps", "0", "steps=0: expected a value >= 1"),
        ("algo.lr", "0", "algo.lr=0.0: expected a value > 0"),
        ("algo.lr", "-1e-3", "algo.lr=-0.001: expected a value > 0"),
        ("algo.lr", "nan", "algo.lr=nan: expected a value > 0"),
        ("algo.gamma", "1.5", "algo.gamma=1.5: expected a value in (0, 1]"),
        ("algo.gamma", "0", "algo.gamma=0.0: expected a value in (0, 1]"),
        ("algo.epochs", "-1", "algo.epochs=-1: expected a value >= 0"),
        ("algo.clip", "0", "algo.clip=0.0: expected a value > 0"),
        ("algo.widths", "4,0", "algo.widths=(4, 0) (item 0): expected a value >= 1"),
    ],
)
def test_declared_ranges_refuse_values_before_anything_runs(key, value, message):
    with pytest.raises(ConfigError) as e:
        build_config(RangedOuter, {key: value})
    assert str(e.value) == message


def test_declared_ranges_accept_their_bounds_and_none():
    cfg = build_config(RangedOuter, {"steps": "1", "algo.gamma": "1", "algo.epochs": "0", "algo.clip": "none",
                                     "algo.lr": "1e-9"})
    assert cfg.steps == 1 and cfg.algo.gamma == 1.0 and cfg.algo.epochs == 0 and cfg.algo.clip is None


def test_a_saved_config_out_of_range_is_refused_too():
    """``load_run`` rebuilds config.json through build_config: an edited file cannot smuggle a bad value in."""
    with pytest.raises(ConfigError, match=r"algo\.gamma=2\.0: expected a value in \(0, 1\]"):
        build_config(RangedOuter, {"algo": {"gamma": 2.0}})


def test_range_declarations_are_checked():
    from dlfrontier.ranges import parse_range

    assert str(parse_range("[0, 1)")) == "in [0, 1)" and str(parse_range("(-inf, 0]")) == "<= 0"
    for bad in ("0..1", "[1, 0]", "(0, 1", "[a, 1]"):
        with pytest.raises(ValueError, match="range"):
            parse_range(bad)


def test_big_integers_are_exact():
    assert make(steps="12345678901234567891").steps == 12345678901234567891

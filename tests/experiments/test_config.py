import pytest

from dlfrontier import ConfigError
from dlfrontier.experiments import EXPERIMENTS
from dlfrontier.experiments.base import Expect, parse_set_args
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


def test_every_registered_experiment_is_complete():
    for name in EXPERIMENTS.names():
        e = EXPERIMENTS.get(name)
        assert e.name == name and e.summary and e.topic and e.anchor.source
        for budget in ("quick", "full"):
            e.make_config(budget)  # budgets hold valid values
        assert e.criterion("quick").metric

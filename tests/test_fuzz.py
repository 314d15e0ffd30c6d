"""Fuzzing what users hand us: `--set` values, seed lists and checkpoint files.

Each property: the input becomes a value or one DLFrontierError (the CLI prints it as one line), never another
exception, a crash or a hang. Bounded (examples, deadline) and derandomized: the same examples on every run.
(The `.dlfc` reader is fuzzed in tests/compression/test_fileformat_fuzz.py.)
"""

from __future__ import annotations

import dataclasses
import io
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlfrontier import tracking
from dlfrontier.errors import CheckpointError, ConfigError
from dlfrontier.experiments import EXPERIMENTS
from dlfrontier.experiments.config import build_config, config_fields, parse_set_args
from dlfrontier.experiments.executors import parse_seeds
from dlfrontier.ranges import check_ranges

FUZZ = settings(max_examples=200, deadline=1000, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])

# values people type: numbers in every spelling, words, lists, off-switches, and anything at all
NUMBERS = st.one_of(st.integers(-10**30, 10**30).map(str), st.floats(allow_nan=True, allow_infinity=True).map(repr),
                    st.sampled_from(["1e3", "1_000", "-0", "0x10", "1e400", "nan", "inf", "-inf", "1.5e-3", " 7 "]))
VALUES = st.one_of(NUMBERS, st.sampled_from(["none", "null", "off", "true", "false", "relu", "tanh", "adam", "",
                                             "(1, 2)", "[64,64]", "4,0", ",", "()", "=", "a=b"]),
                   st.lists(NUMBERS, max_size=3).map(",".join), st.text(max_size=12))
CONFIGS = {name: EXPERIMENTS.get(name) for name in ("ppo-cartpole", "dqn-cartpole", "sac-pendulum", "lenet5-mnist",
                                                      "deep-compression-lenet300", "vqa-rn")
           if name in EXPERIMENTS}


def test_the_fuzzed_experiments_exist():
    assert len(CONFIGS) >= 4, sorted(EXPERIMENTS.names())


@FUZZ
@given(name=st.sampled_from(sorted(CONFIGS)), data=st.data())
def test_set_values_become_a_valid_config_or_one_config_error(name, data):
    exp = CONFIGS[name]
    keys = sorted(config_fields(exp.config))
    overrides = data.draw(st.dictionaries(st.sampled_from(keys), VALUES, min_size=1, max_size=3))
    try:
        cfg = exp.make_config("quick", overrides)
    except ConfigError as e:
        assert str(e) and "\n" not in str(e)
        return
    check_ranges(cfg)  # nothing out of its declared range gets through
    flat = {f"{p}{f.name}": getattr(obj, f.name) for p, obj in _walk(cfg) for f in dataclasses.fields(obj)}
    for key, tp in config_fields(exp.config).items():
        value = flat[key]
        if tp is int:
            assert type(value) is int, (key, value)
        elif tp is float:
            assert type(value) is float, (key, value)


def _walk(cfg, prefix=""):
    yield prefix, cfg
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            yield from _walk(value, f"{prefix}{f.name}.")


@FUZZ
@given(st.lists(st.text(max_size=20), max_size=4))
def test_set_arguments_parse_or_are_one_config_error(items):
    try:
        parsed = parse_set_args(items)
    except ConfigError as e:
        assert "expected key=value" in str(e)
        return
    assert all(k and k == k.strip() for k in parsed)


@FUZZ
@given(st.dictionaries(st.text(max_size=10), st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
                                                        st.text(max_size=8), st.lists(st.integers(), max_size=3)),
                       max_size=4))
def test_a_config_json_with_any_values_builds_or_is_one_config_error(values):
    """`load_run` rebuilds config.json through build_config: a hand-edited file is a value or a ConfigError."""
    exp = CONFIGS["ppo-cartpole"]
    keys = sorted(config_fields(exp.config))
    values = {keys[hash(k) % len(keys)] if k[:1].isalpha() else k: v for k, v in values.items()}
    try:
        build_config(exp.config, values)
    except ConfigError as e:
        assert str(e) and "\n" not in str(e)


SEED_TEXT = st.one_of(st.text(alphabet="0123456789-, x", max_size=16), st.text(max_size=16),
                      st.lists(st.integers(-5, 10**12), max_size=3).map(lambda xs: "-".join(map(str, xs))))


@FUZZ
@given(SEED_TEXT)
def test_seed_lists_parse_or_are_one_config_error(text):
    try:
        seeds = parse_seeds(text)
    except ConfigError as e:
        assert str(e).startswith("--seeds")
        return
    assert seeds and all(isinstance(s, int) and 0 <= s < 2**32 for s in seeds) and len(set(seeds)) == len(seeds)


def test_a_huge_seed_range_is_refused_not_expanded():
    """Found by the fuzzer: `--seeds 0-99999999999` built a list of 10^11 seeds (minutes, then out of memory)."""
    with pytest.raises(ConfigError, match="--seeds"):
        parse_seeds("0-99999999999")
    assert parse_seeds("0-999") == list(range(1000))
    with pytest.raises(ConfigError, match="2\\^32"):  # torch.manual_seed would fail inside the run
        parse_seeds("99999999999999999999")


def _checkpoint_bytes() -> bytes:
    model = torch.nn.Linear(3, 2)
    state = {"model": model.state_dict(), "opt": torch.optim.Adam(model.parameters()).state_dict(), "step": 7,
             "rng": np.random.default_rng(0).bit_generator.state, "buffer": np.arange(12, dtype=np.float32),
             "torch_rng": torch.get_rng_state(), "name": "ppo"}
    with tempfile.TemporaryDirectory() as d:
        tracking.save_checkpoint(Path(d) / "c.pt", state)
        return (Path(d) / "c.pt").read_bytes()


CHECKPOINT = _checkpoint_bytes()


def _original_digest() -> str:
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "c.pt").write_bytes(CHECKPOINT)
        return tracking.state_digest(tracking.load_checkpoint(Path(d) / "c.pt"))


ORIGINAL_DIGEST = _original_digest()
CKPT_FUZZ = settings(FUZZ, max_examples=120)


def _load(tmp: Path, data: bytes) -> None:
    """A damaged checkpoint is one CheckpointError, or (a flip in bytes nothing reads) loads exactly the original."""
    path = tmp / "checkpoint.pt"
    path.write_bytes(data)
    try:
        state = tracking.load_checkpoint(path)
    except CheckpointError as e:
        assert str(e) and "\n" not in str(e).strip()
        return
    assert isinstance(state, dict) and tracking.state_digest(state) == ORIGINAL_DIGEST


@pytest.fixture(scope="module")
def tmp(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def test_the_checkpoint_loads(tmp):
    _load(tmp, CHECKPOINT)
    assert tracking.load_checkpoint(tmp / "checkpoint.pt")["step"] == 7


@CKPT_FUZZ
@given(cut=st.integers(0, 10**7))
def test_a_truncated_checkpoint_is_one_checkpoint_error(tmp, cut):
    cut %= len(CHECKPOINT)
    with pytest.raises(CheckpointError):
        tracking.load_checkpoint(_write(tmp, CHECKPOINT[:cut]))


@CKPT_FUZZ
@given(flips=st.lists(st.integers(0, 10**8), min_size=1, max_size=3))
def test_a_bit_flipped_checkpoint_loads_or_is_one_checkpoint_error(tmp, flips):
    data = bytearray(CHECKPOINT)
    for f in flips:
        data[(f // 8) % len(data)] ^= 1 << (f % 8)
    _load(tmp, bytes(data))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch's note on a random "pickle" header
@CKPT_FUZZ
@given(st.binary(max_size=200))
def test_arbitrary_bytes_are_one_checkpoint_error(tmp, data):
    with pytest.raises(CheckpointError):
        tracking.load_checkpoint(_write(tmp, data))


def _write(tmp: Path, data: bytes) -> Path:
    path = tmp / "checkpoint.pt"
    path.write_bytes(data)
    return path


def test_a_bit_flipped_inside_a_tensor_is_refused(tmp):
    """The zip and pickle layers do not check tensor payloads; the SHA-256 saved with the state does."""
    weights = torch.full((256,), 1.5)
    tracking.save_checkpoint(tmp / "w.pt", {"w": weights, "step": 3})
    data = bytearray((tmp / "w.pt").read_bytes())
    at = bytes(data).index(weights.numpy().tobytes())
    data[at + 4 * 100] ^= 0x01  # the lowest mantissa bit of weights[100]
    (tmp / "w.pt").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="SHA-256"):
        tracking.load_checkpoint(tmp / "w.pt")
    data[at + 4 * 100] ^= 0x01
    (tmp / "w.pt").write_bytes(bytes(data))
    state = tracking.load_checkpoint(tmp / "w.pt")
    assert torch.equal(state["w"], weights) and state["step"] == 3 and tracking.DIGEST_KEY not in state


def test_a_checkpoint_without_a_digest_still_loads(tmp):
    """Checkpoints written before the digest existed load as they did."""
    torch.save({"w": torch.ones(3), "step": 1}, tmp / "old.pt")
    assert tracking.load_checkpoint(tmp / "old.pt")["step"] == 1


def test_checkpoint_bytes_are_a_zip():
    assert io.BytesIO(CHECKPOINT).read(2) == b"PK"

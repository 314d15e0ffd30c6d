"""What the compression runs share (dlfrontier.compression.recipes and deep_compression), without training."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from dlfrontier.compression.deep_compression import (
    PAPER,
    LeNet5CompressionConfig,
    LeNet300CompressionConfig,
    deep_compression,
    no_compression_ratio,
)
from dlfrontier.compression.recipes import (
    BinaryConfig,
    Int8Config,
    iterations,
    mnist_test,
    phase_config,
    ratio_at_tol,
)
from dlfrontier.errors import ConfigError
from dlfrontier.experiments import EXPERIMENTS
from dlfrontier.models.classifier import TrainConfig
from dlfrontier.models.lenet import LeNet5, LeNet300100


def test_phase_config_keeps_the_training_fields_only() -> None:
    cfg = BinaryConfig(epochs=3, lr=0.5, train_subset=100, binary_epochs=7)
    phase = phase_config(cfg, epochs=1)
    assert type(phase) is TrainConfig
    assert (phase.epochs, phase.lr, phase.train_subset) == (1, 0.5, 100)


def test_iterations_and_ratio_at_tolerance() -> None:
    assert iterations(TrainConfig(epochs=2, batch_size=64), 1000) == 2 * 16
    assert iterations(TrainConfig(epochs=1, batch_size=64, train_subset=100), 1000) == 2
    assert iterations(TrainConfig(epochs=1, batch_size=64, train_subset=5000), 1000) == 16  # capped at the set
    assert ratio_at_tol(40.0, 0.003, 0.003) == 40.0
    assert ratio_at_tol(40.0, 0.0031, 0.003) == 0.0
    assert ratio_at_tol(40.0, -0.01, 0.0) == 40.0  # the compressed model may be better


def test_options_are_typed_and_none_means_default() -> None:
    assert LeNet300CompressionConfig().index_bits is None and Int8Config().test_subset is None
    with pytest.raises(ValueError, match="test_subset"):
        Int8Config(test_subset=0)
    e = EXPERIMENTS.get("binary-lenet5")
    assert e.make_config("quick", {"per": "layer"}).per == "layer"
    with pytest.raises(ConfigError):
        e.make_config("quick", {"per": "row"})
    assert EXPERIMENTS.get("deep-compression-lenet5").make_config("quick", {"index_bits": "5"}).index_bits == 5


def test_mnist_test_subset() -> None:
    assert len(mnist_test(100).labels) == 100
    assert len(mnist_test(None).labels) == 10_000


def test_storing_a_model_as_it_is_is_ratio_one() -> None:
    # the no-compression baseline of compress/ratio_at_tol: only the file's headers separate it from 1.0
    for make in (LeNet300100, LeNet5):
        assert no_compression_ratio(make()) == pytest.approx(1.0, abs=2e-4)


def test_per_layer_values_must_match_the_layers(tmp_path) -> None:
    ctx = SimpleNamespace(seed=0, device=torch.device("cpu"), run_dir=tmp_path, resume_state=None)
    with pytest.raises(ConfigError, match="densities needs one value per layer"):
        deep_compression(ctx, LeNet5CompressionConfig(densities=(0.5, 0.5)), LeNet5, "LeNet-5")
    assert set(PAPER) == {"LeNet-300-100", "LeNet-5"}

"""The two Deep Compression baselines (declared in experiments/compression.py): the networks' sizes, the budgets,
and a short learning run of each through the experiment (the quick criteria themselves are published with
`dlfrontier run`, docs/results.md)."""

import pytest

from dlfrontier.experiments import EXPERIMENTS
from dlfrontier.experiments.compression import CAFFE_SOLVER
from dlfrontier.experiments.runner import run_one
from dlfrontier.models.lenet import LeNet5, LeNet300100, parameter_bytes


def test_parameter_counts_match_the_paper():
    # Deep Compression Table 1: 1070 KB and 1720 KB of float32 weights.
    assert sum(p.numel() for p in LeNet300100().parameters()) == 266_610
    assert sum(p.numel() for p in LeNet5().parameters()) == 431_080
    assert round(parameter_bytes(LeNet300100()) / 1000) == 1066 and round(parameter_bytes(LeNet5()) / 1000) == 1724


@pytest.mark.parametrize("name", ["lenet300-mnist", "lenet5-mnist", "deep-compression-lenet300", "binary-lenet5",
                                  "int8-lenet5"])
def test_full_budgets_use_the_caffe_solver(name):
    cfg = EXPERIMENTS.get(name).make_config("full")
    assert {k: getattr(cfg, k) for k in CAFFE_SOLVER} == CAFFE_SOLVER


def test_dataset_is_a_literal():
    from dlfrontier.errors import ConfigError

    e = EXPERIMENTS.get("lenet5-mnist")
    assert e.datasets(e.make_config("quick", {"dataset": "fashion-mnist"})) == ("fashion-mnist",)
    with pytest.raises(ConfigError):
        e.make_config("quick", {"dataset": "cifar10"})


# One epoch over the first 6,000 training images, seed 0. Measured (2026-12-02, seeds 100 / 101 / 102 / 0): LeNet-5
# 0.932 / 0.938 / 0.934 / 0.928 in ~5.5 s; LeNet-300-100 0.893 / 0.895 / 0.896 / 0.892 in ~0.8 s; untrained 0.10.
@pytest.mark.parametrize("name, threshold", [("lenet300-mnist", 0.85), ("lenet5-mnist", 0.90)])
def test_a_short_run_learns_far_above_the_untrained_network(name, threshold, tmp_path):
    s = run_one(name, 0, out=tmp_path, tensorboard=False, overrides={"epochs": "1", "train_subset": "6000"})
    assert s["status"] == "done"
    assert s["metrics"]["eval/accuracy"] >= threshold > EXPERIMENTS.get(name).baseline.value + 0.7, s["metrics"]

"""The two Deep Compression baselines (declared in experiments/compression.py): the networks' sizes, the budgets,
and their quick-budget criteria run for real (seed 0)."""

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


@pytest.mark.slow
@pytest.mark.parametrize("name", ["lenet300-mnist", "lenet5-mnist"])
def test_quick_criterion(name, tmp_path):
    s = run_one(name, 0, out=tmp_path, tensorboard=False)
    e = EXPERIMENTS.get(name).criterion("quick")
    assert s["status"] == "done"
    assert s["metrics"]["eval/accuracy"] >= e.threshold, s["metrics"]
    assert s["expect"]["passed"] is True

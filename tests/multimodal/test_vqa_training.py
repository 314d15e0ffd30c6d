"""The VQA training and evaluation helpers, the typed configs and the experiments' declarations."""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import pytest
import torch

from dlfrontier.data.sort_of_clevr import NUM_ANSWERS, make_sort_of_clevr, to_float
from dlfrontier.errors import ConfigError
from dlfrontier.experiments import EXPERIMENTS
from dlfrontier.experiments.base import Expect, Paired, criteria_problems
from dlfrontier.experiments.config import plain_string_fields
from dlfrontier.multimodal import build_vqa_model
from dlfrontier.multimodal.batchnorm import recalibrate_batchnorm
from dlfrontier.multimodal.config import CNNMLPConfig, MCANConfig, RNConfig, UpDnConfig, VQAConfig
from dlfrontier.multimodal.evaluation import answer_prior, no_learning_scores, prior_predict
from dlfrontier.multimodal.tables import write_tables
from dlfrontier.multimodal.training import score, warmup_cosine
from dlfrontier.multimodal.vqa_base import VQA_MODELS

SRC = Path(__file__).resolve().parents[2] / "src" / "dlfrontier"
VQA = ("vqa-cnn-mlp", "vqa-relation-network", "vqa-updn", "vqa-mcan")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_layering_has_no_circle_and_no_experiment_imports() -> None:
    assert "dlfrontier.multimodal.vqa_base" not in _imports(SRC / "multimodal" / "bottom_up.py")
    assert not any(m.startswith("dlfrontier.experiments") for p in (SRC / "multimodal").glob("*.py")
                   for m in _imports(p))
    assert "dlfrontier.experiments.attention" not in _imports(SRC / "experiments" / "vqa.py")
    assert len((SRC / "experiments" / "vqa.py").read_text().splitlines()) <= 250


def test_every_model_is_in_the_registry() -> None:
    assert VQA_MODELS.names() == ["cnn-mlp", "mcan", "relation-network", "updn"]


def test_warmup_then_cosine_to_zero() -> None:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = warmup_cosine(opt, warmup=4, total=14)
    lrs = []
    for _ in range(16):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert lrs[4] == pytest.approx(1.0) and lrs[9] == pytest.approx(0.5 * (1 + math.cos(math.pi * 5 / 10)))
    assert lrs[14] == pytest.approx(0.0, abs=1e-12) and all(a >= b for a, b in zip(lrs[4:14], lrs[5:15], strict=True))


def test_score_splits_relational_and_question_types() -> None:
    data = make_sort_of_clevr(6, seed=0, nonrelational=4, relational=4)
    pred = data.answers.clone()
    pred[data.relational] = (pred[data.relational] + 1) % NUM_ANSWERS  # every relational answer wrong
    s = score(pred, data)
    assert s["eval/accuracy_nonrelational"] == 1.0 and s["eval/accuracy_relational"] == 0.0
    assert s["eval/accuracy"] == 0.5 and s["eval/accuracy_shape"] == 1.0 and s["eval/accuracy_count"] == 0.0


def test_answer_prior_is_the_majority_answer() -> None:
    data = make_sort_of_clevr(50, seed=4)
    for by_colour in (False, True):
        prior = answer_prior(data, by_colour=by_colour)
        for t in range(6):
            for c in range(6) if by_colour else (None,):
                m = data.qtypes == t if c is None else (data.qtypes == t) & (data.colours == c)
                counts = torch.bincount(data.answers[m], minlength=NUM_ANSWERS)
                got = prior[t] if c is None else prior[t, c]
                assert counts[got] == counts.max()
        pred = prior_predict(prior, data)
        assert pred.shape == data.answers.shape


def test_no_learning_scores_are_near_chance() -> None:
    cfg = CNNMLPConfig(train_images=200, test_images=20, bn_images=50, hidden=16)
    s = no_learning_scores("cnn-mlp", cfg, seed=0)
    assert set(s) == {"prior_type", "prior_type_colour", "untrained"}
    for v in s.values():
        assert 0.0 <= v["eval/accuracy_relational"] <= 0.6 and 0.0 <= v["eval/accuracy_nonrelational"] <= 0.65


def test_recalibrate_batchnorm_gives_exact_statistics() -> None:
    torch.manual_seed(0)
    cnn = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)).eval()
    images = to_float(make_sort_of_clevr(30, seed=1).images)
    recalibrate_batchnorm(cnn, images, batch=10)  # equal batches: the mean of their means
    with torch.no_grad():
        feats = cnn[0](images)
    torch.testing.assert_close(cnn[1].running_mean, feats.mean((0, 2, 3)), rtol=1e-4, atol=1e-5)
    assert not cnn.training and cnn[1].momentum == 0.1


def test_configs_are_typed_and_none_means_off() -> None:
    for cfg in (VQAConfig, CNNMLPConfig, RNConfig, UpDnConfig, MCANConfig):
        assert plain_string_fields(cfg) == []
    exp = EXPERIMENTS.get("vqa-updn")
    with pytest.raises(ConfigError, match="bottom_up_steps"):
        exp.make_config("quick", {"bottom_up_steps": "-1"})
    plain = exp.make_config("quick", {"bottom_up_steps": "0"})  # UpDn learns its CNN end to end
    assert plain.bottom_up_steps == 0
    model = build_vqa_model("relation-network", **RNConfig(bottom_up_steps=0, objects=None).model_kwargs())
    assert model.detector is None


@pytest.mark.parametrize("name", VQA)
def test_declared_criteria_are_honest(name: str) -> None:
    exp = EXPERIMENTS.get(name)
    assert criteria_problems(exp) == []
    assert exp.baseline.value > 0.4 and "seeds 0-2" in exp.baseline.source
    for budget in ("quick", "full"):
        primary = exp.criterion(budget)
        assert primary.op == ">=" and primary.threshold >= 1.5 * exp.baseline.value


def test_cnn_mlp_learns_and_stays_below_rn() -> None:
    exp = EXPERIMENTS.get("vqa-cnn-mlp")
    for budget in ("quick", "full"):
        learns, below, paired = exp.criteria(budget)
        assert isinstance(below, Expect) and below.op == "<=" and below.threshold == 0.80
        assert isinstance(paired, Paired) and paired.other == "vqa-relation-network" and paired.margin == -0.05
        assert learns.name == "learns" and learns.passed(0.703) and not learns.passed(0.45)


def test_write_tables(tmp_path) -> None:
    data = make_sort_of_clevr(4, seed=0)
    write_tables(tmp_path, "relation-network", score(data.answers, data), 1.25)
    acc = json.loads((tmp_path / "tables" / "accuracy.json").read_text())
    assert acc["rows"][0] == ["relation-network", "100.0%", "100.0%", "100.0%", "94.0%", "94.0%", 1.2]
    types = json.loads((tmp_path / "tables" / "question_types.json").read_text())
    assert [r[1] for r in types["rows"]] == ["no"] * 3 + ["yes"] * 3

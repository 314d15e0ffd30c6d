"""SegFCN, its scoring and its training loop (dlfrontier.attention.segmentation), and the model measurements."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from dlfrontier.attention.segmentation import (
    LABELS,
    ContextSegConfig,
    SegFCN,
    background_miou,
    build_seg_fcn,
    evaluate_segmentation,
    segmentation_scores,
    train_context_seg,
    untrained_miou,
)
from dlfrontier.experiments.attention import CONTEXT_SEG
from dlfrontier.models.measure import count_params, latency_ms


@pytest.mark.parametrize("suffix", list(CONTEXT_SEG))
def test_fcn_keeps_the_image_size(suffix: str) -> None:
    module, options, *_ = CONTEXT_SEG[suffix]
    model = build_seg_fcn(module, 16, options)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 4, 32, 32)
    assert (count_params(model.context) == 0) == (module is None)


class _Oracle(nn.Module):
    """Predicts the true labels (one-hot logits) of a fixed set of masks."""

    def __init__(self, masks: torch.Tensor) -> None:
        super().__init__()
        self.masks, self.pos = masks, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.masks[self.pos : self.pos + len(x)]
        self.pos += len(x)
        return nn.functional.one_hot(m, len(LABELS)).permute(0, 3, 1, 2).float()


def test_scores_of_a_perfect_and_a_background_predictor() -> None:
    masks = torch.randint(0, 4, (6, 8, 8))
    scores = evaluate_segmentation(_Oracle(masks), torch.zeros(6, 3, 8, 8), masks, batch=4)
    assert scores["miou"] == 1.0 and scores["pixel_acc"] == 1.0 and scores["object_acc"] == 1.0
    conf = torch.tensor([[8, 0, 0, 0], [2, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])  # all predicted background
    by_hand = segmentation_scores(conf)
    assert by_hand["miou"] == pytest.approx((0.8 + 0.0) / 2)  # labels 2 and 3 absent: skipped
    assert by_hand["object_acc"] == 0.0 and by_hand["pixel_acc"] == pytest.approx(0.8)
    assert math.isnan(by_hand["iou"][2])


def test_no_learning_baselines_are_far_below_the_criteria() -> None:
    cfg = ContextSegConfig(test_images=100)
    bg = background_miou(cfg)
    assert 0.2 < bg < 0.25  # background IoU ~0.89 over 4 labels
    assert 0.0 <= untrained_miou(cfg, None, seed=0) <= bg + 1e-3


def test_train_context_seg_tiny(tmp_path) -> None:
    logged: list = []
    ctx = SimpleNamespace(seed=0, device=torch.device("cpu"), run_dir=tmp_path, resume_state=None,
                          logger=SimpleNamespace(log=lambda m, s: logged.append((s, dict(m)))),
                          progress=SimpleNamespace(start=lambda *a, **k: None, update=lambda *a, **k: None),
                          save_checkpoint=lambda state, step: None)
    cfg = ContextSegConfig(train_images=32, test_images=16, epochs=1, batch_size=16)
    before = torch.get_num_threads()
    out = train_context_seg(ctx, cfg, "non-local", {})
    assert torch.get_num_threads() == before
    assert 0.0 <= out["eval/miou"] <= 1.0 and out["model/context_params"] > 0
    assert any("eval/miou" in m for _, m in logged)
    assert json.loads((tmp_path / "tables" / "iou.json").read_text())["title"].endswith("(non-local)")


def test_count_params_and_latency() -> None:
    model = nn.Linear(3, 2)
    assert count_params(model) == 8
    model.train()
    assert latency_ms(model, torch.zeros(1, 3), repeats=3) >= 0.0
    assert model.training  # the mode is restored
    assert isinstance(SegFCN(None, width=8), nn.Module)

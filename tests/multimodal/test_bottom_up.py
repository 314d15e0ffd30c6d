"""Bottom-up features: per-cell detection targets, pretraining that learns them, and a frozen CNN."""

from __future__ import annotations

import torch

from dlfrontier.data.sort_of_clevr import make_sort_of_clevr, to_float
from dlfrontier.multimodal import build_vqa_model
from dlfrontier.multimodal.bottom_up import IGNORE, cell_targets, pretrain_bottom_up


def test_cell_targets_match_a_per_object_loop() -> None:
    data = make_sort_of_clevr(20, seed=3)
    colour, shape, offset = cell_targets(data, grid=5)
    for i in range(len(data)):
        want_colour = torch.zeros(5, 5, dtype=torch.long)
        want_shape = torch.full((5, 5), IGNORE, dtype=torch.long)
        want_offset = torch.zeros(2, 5, 5)
        for k in range(6):
            y, x = (int(v) for v in data.centres[i, k])
            r, c = y * 5 // 75, x * 5 // 75
            want_colour[r, c] = k + 1
            want_shape[r, c] = int(data.shapes[i, k])
            # pixel y covers [y, y + 1); the cell's centre is at 15 r + 7.5; cells are 15 px wide
            want_offset[:, r, c] = torch.tensor([(y + 0.5 - (15 * r + 7.5)) / 15, (x + 0.5 - (15 * c + 7.5)) / 15])
        assert torch.equal(colour[i], want_colour) and torch.equal(shape[i], want_shape)
        torch.testing.assert_close(offset[i], want_offset)
    assert float(offset.abs().max()) < 0.5
    # every object is somewhere: at least 4 distinct object cells per image, never more than 6
    per_image = (colour > 0).flatten(1).sum(1)
    assert int(per_image.min()) >= 4 and int(per_image.max()) <= 6


def test_pretraining_learns_cell_colours_far_above_the_empty_cell_baseline() -> None:
    torch.manual_seed(0)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        data = make_sort_of_clevr(400, seed=1, nonrelational=1, relational=1)
        model = build_vqa_model("updn", hidden=16)
        metrics = pretrain_bottom_up(model.cnn, data, steps=120, seed=0)
    finally:
        torch.set_num_threads(before)
    colour, _, _ = cell_targets(data, 5)
    empty = float((colour[360:] == 0).float().mean())  # always answering "no object" (about 0.77)
    assert metrics["bottom_up/colour_accuracy"] >= empty + 0.12, (metrics, empty)
    assert metrics["bottom_up/shape_accuracy"] >= 0.75, metrics
    # the offset of an object centre within its 15 px cell: guessing the cell centre is off by 5.4 px on average
    assert metrics["bottom_up/offset_error_px"] <= 4.0, metrics


def test_a_frozen_cnn_gets_no_gradient_and_stays_in_eval_mode() -> None:
    data = make_sort_of_clevr(4, seed=0)
    model = build_vqa_model("cnn-mlp", hidden=16)
    model.freeze_cnn()
    model.train()
    assert not model.cnn.training and model.training
    model(to_float(data.images), data.vectors).sum().backward()
    assert all(p.grad is None for p in model.cnn.parameters())
    assert any(p.grad is not None for p in model.parameters())
    stats = [m.running_mean.clone() for m in model.cnn.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    model(to_float(data.images), data.vectors)
    after = [m.running_mean for m in model.cnn.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert all(torch.equal(a, b) for a, b in zip(stats, after, strict=True))  # BatchNorm statistics stay fixed

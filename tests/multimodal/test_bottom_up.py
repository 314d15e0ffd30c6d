"""Bottom-up features: per-cell detection targets, pretraining that learns them, and a frozen CNN."""

from __future__ import annotations

from typing import Any

import torch

from dlfrontier.data.sort_of_clevr import SortOfClevr, make_sort_of_clevr, to_float
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


def _pretrain(model: torch.nn.Module, steps: int, **kwargs: Any) -> tuple[dict[str, float], SortOfClevr]:
    """Pretrain ``model.cnn`` on 400 images (seed 1) on one thread; returns the metrics and the data."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        data = make_sort_of_clevr(400, seed=1, nonrelational=1, relational=1)
        return pretrain_bottom_up(model.cnn, data, steps=steps, seed=0, **kwargs), data
    finally:
        torch.set_num_threads(before)


def test_pretraining_learns_cell_colours_far_above_the_empty_cell_baseline() -> None:
    torch.manual_seed(0)
    # 200 steps: the margin over "no object" is 0.195-0.209 for model seeds 0-4 (120 steps: 0.128-0.186)
    metrics, data = _pretrain(build_vqa_model("updn", hidden=16), 200)
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


def test_detected_objects_are_the_surest_cells_at_their_refined_positions() -> None:
    from dlfrontier.multimodal.bottom_up import HEAD_OUTPUTS, detected_objects

    b, c, g = 2, 3, 5
    features = torch.randn(b, c, g, g)
    head = torch.zeros(b, HEAD_OUTPUTS, g, g)
    head[:, 0] = 5.0  # "no object" everywhere ...
    sure = [(0, (1, 2), 0.9), (0, (4, 0), 0.6), (1, (0, 0), 0.8), (1, (3, 3), 0.7)]
    for i, (r, col), p_obj in sure:  # ... except these cells: objectness p_obj
        head[i, 0, r, col] = 0.0
        head[i, 1, r, col] = float(torch.log(torch.tensor(p_obj / (1 - p_obj))))
    head[:, 9] = 0.25  # every offset: a quarter cell down ...
    head[:, 10] = -0.5  # ... and half a cell left
    out = detected_objects(features, head, 2)
    assert out.shape == (b, 2, c + 2)
    for i, cells in enumerate([[(1, 2), (4, 0)], [(0, 0), (3, 3)]]):  # most certain first
        for j, (r, col) in enumerate(cells):
            torch.testing.assert_close(out[i, j, :c], features[i, :, r, col])
            # feature_map_objects' coordinates are -1 + index / 2 for a 5x5 grid; one cell is 0.5
            torch.testing.assert_close(out[i, j, c:], torch.tensor([-1 + (r + 0.25) / 2, -1 + (col - 0.5) / 2]))


def test_pretraining_a_kept_head_finds_the_objects() -> None:
    from dlfrontier.multimodal.bottom_up import detected_objects

    torch.manual_seed(0)
    model = build_vqa_model("relation-network", hidden=16, objects=6)
    _pretrain(model, 150, head=model.detector)
    model.freeze_cnn()
    held = make_sort_of_clevr(50, seed=2, nonrelational=1, relational=1)
    with torch.no_grad():
        features = model.cnn(to_float(held.images))
        objects = detected_objects(features, model.detector(features), 6)  # [50, 6, 26]
    # a true object centre with a detection within 0.2 (6 px; one cell is 0.5 in these coordinates): 97% here,
    # 16% for 6 of the 25 cell centres drawn at random
    truth = held.centres.float() / 75 * 5  # in cells, continuous
    truth = (truth - 0.5) / 2 - 1  # feature_map_objects' coordinates of that position
    dist = torch.cdist(truth, objects[..., -2:])  # [50, 6 true, 6 detected]
    found = float((dist.min(-1).values < 0.2).float().mean())
    assert found >= 0.8, found

"""The procedural context-seg set: deterministic, labelled by the far-away key, locally uninformative."""

from __future__ import annotations

import pytest
import torch

from dlfrontier.data.context_seg import confusion_matrix, make_context_seg, mean_iou


def test_same_seed_same_set_other_seed_other_set() -> None:
    a, b, c = make_context_seg(20, seed=1), make_context_seg(20, seed=1), make_context_seg(20, seed=2)
    assert a.images.shape == (20, 3, 32, 32) and a.images.dtype == torch.float32
    assert a.masks.shape == (20, 32, 32) and a.masks.dtype == torch.int64
    assert torch.equal(a.images, b.images) and torch.equal(a.masks, b.masks)
    assert not torch.equal(a.images, c.images)


def test_object_labels_are_the_key_colour_and_the_key_is_background() -> None:
    s = make_context_seg(200, seed=3, noise=0.0)
    for img, mask in zip(s.images, s.masks, strict=True):
        labels = mask.unique()
        assert len(labels) == 2 and labels[0] == 0  # background + exactly one object class per image
        colour = int(labels[1]) - 1
        keys = (img.max(0).values - img.min(0).values) > 0.5  # the only coloured pixels
        assert int(keys.sum()) == 25 and bool((mask[keys] == 0).all())
        assert bool((img[:, keys].argmax(0) == colour).all())
        # the key stays one pixel away from every object
        near = torch.nn.functional.max_pool2d(keys[None, None].float(), 3, 1, 1)[0, 0] > 0
        assert bool((mask[near] == 0).all())


def test_objects_look_the_same_whatever_their_class() -> None:
    s = make_context_seg(300, seed=4)
    objects = s.masks > 0
    for label in (1, 2, 3):
        sel = s.masks == label
        assert 0.02 < float(sel.float().mean()) < 0.07  # the classes are balanced
        pix = s.images.permute(0, 2, 3, 1)[sel]  # [P, 3]
        # grey: the three channels have the same mean, and the same mean as all objects
        assert float((pix.mean(0) - s.images.permute(0, 2, 3, 1)[objects].mean(0)).abs().max()) < 0.02
        assert float((pix.mean(0) - pix.mean()).abs().max()) < 0.02


def test_bad_arguments_are_errors() -> None:
    with pytest.raises(ValueError, match="num_classes"):
        make_context_seg(2, seed=0, num_classes=4)
    with pytest.raises(ValueError, match="size"):
        make_context_seg(2, seed=0, size=8)


def test_confusion_and_mean_iou_by_hand() -> None:
    target = torch.tensor([0, 0, 1, 1, 2])
    pred = torch.tensor([0, 1, 1, 1, 0])
    conf = confusion_matrix(pred, target, 3)
    assert conf.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    # IoU: label 0 = 1/3, label 1 = 2/3, label 2 = 0/1
    assert mean_iou(conf) == pytest.approx((1 / 3 + 2 / 3 + 0) / 3)
    assert mean_iou(confusion_matrix(torch.tensor([1]), torch.tensor([1]), 3)) == 1.0  # absent labels skipped

"""The captioners: shapes, teacher forcing equals step-wise decoding, region masks, causality, PAD/BOS never
predicted; the detector's targets and duplicate suppression."""

from __future__ import annotations

import pytest
import torch

from dlfrontier.multimodal.captioning.features import RegionDetector, cell_targets, region_features, suppress_duplicates
from dlfrontier.multimodal.captioning.models import BOS, PAD, build_captioner

NAMES = ("updn", "transformer", "aoa")
D, V, K = 10, 12, 5


def tiny(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    kw = {} if name == "updn" else {"heads": 2, "layers": 2}
    return build_captioner(name, feat_dim=D, vocab_size=V, hidden=16, **kw).eval()


def finite_close(a: torch.Tensor, b: torch.Tensor) -> bool:
    fin = torch.isfinite(a)
    return bool(torch.equal(fin, torch.isfinite(b))) and torch.allclose(a[fin], b[fin], atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_shapes_and_teacher_forcing_equals_steps(name: str) -> None:
    model = tiny(name)
    feats, words = torch.randn(3, K, D), torch.randint(3, V, (3, 7))
    logp, attn = model(feats, words)
    assert logp.shape == (3, 7, V) and attn.shape == (3, 7, K)
    assert torch.allclose(attn.sum(-1), torch.ones(3, 7), atol=1e-5)
    assert torch.isinf(logp[..., PAD]).all() and torch.isinf(logp[..., BOS]).all()  # never predicted
    assert torch.allclose(logp.exp().sum(-1), torch.ones(3, 7), atol=1e-5)
    memory = model.encode(feats)
    state = model.init_state(memory)
    for t in range(7):
        step_logp, step_attn, state = model.step(memory, state, words[:, t])
        assert finite_close(step_logp, logp[:, t]) and torch.allclose(step_attn, attn[:, t], atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_masked_regions_are_never_attended(name: str) -> None:
    model = tiny(name)
    feats, words = torch.randn(2, K, D), torch.randint(3, V, (2, 6))
    mask = torch.zeros(2, K, dtype=torch.bool)
    mask[0, 3:] = True
    mask[1, 1] = True
    logp, attn = model(feats, words, mask)
    assert attn[mask.unsqueeze(1).expand_as(attn)].abs().max() == 0
    other = feats.clone()
    other[mask] = torch.randn(int(mask.sum()), D) * 10  # change only the padded regions
    logp2, attn2 = model(other, words, mask)
    assert finite_close(logp, logp2) and torch.allclose(attn, attn2, atol=1e-6)
    logp3, _ = model(other, words)  # without the mask they matter
    assert not finite_close(logp, logp3)


@pytest.mark.parametrize("name", NAMES)
def test_a_later_word_never_changes_an_earlier_prediction(name: str) -> None:
    model = tiny(name)
    feats, words = torch.randn(2, K, D), torch.randint(3, V, (2, 6))
    changed = words.clone()
    changed[:, 4:] = (changed[:, 4:] + 1 - 3) % (V - 3) + 3
    a, _ = model(feats, words)
    b, _ = model(feats, changed)
    assert finite_close(a[:, :4], b[:, :4]) and not finite_close(a[:, 4], b[:, 4])  # output t reads words[:t+1]


def test_bad_inputs_are_one_clear_error() -> None:
    model = tiny("updn")
    with pytest.raises(ValueError, match=r"region features must be \[B, K, 10\]"):
        model(torch.randn(2, K, D + 1), torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="region mask"):
        model(torch.randn(2, K, D), torch.zeros(2, 3, dtype=torch.long), torch.zeros(2, K))


def test_cell_targets_place_each_object_in_its_cell() -> None:
    det = RegionDetector(colours=6, shapes=3)  # 75 px -> 5x5 cells of 15 px
    colours = torch.tensor([[2, 0, -1, -1]])
    shapes, sizes = torch.tensor([[1, 2, -1, -1]]), torch.tensor([[0, 1, -1, -1]])
    centres = torch.tensor([[[7, 7], [40, 70], [-1, -1], [-1, -1]]])
    colour, shape, size, offset = cell_targets(det, colours, shapes, sizes, centres, 5)
    assert colour.sum() == 3 + 1 and colour[0, 0, 0] == 3 and colour[0, 2, 4] == 1
    assert shape[0, 0, 0] == 1 and shape[0, 2, 4] == 2 and (shape >= 0).sum() == 2
    assert size[0, 2, 4] == 1
    # pixel 7 is the middle of cell 0 (pixels 0..14); pixels 40 and 70 lie 0.2 cell widths past their cells' centres
    assert torch.allclose(offset[0, :, 0, 0], torch.zeros(2))
    assert torch.allclose(offset[0, :, 2, 4], torch.tensor([0.2, 0.2]))


def test_duplicate_cells_of_one_object_are_suppressed() -> None:
    score = torch.tensor([[0.9, 0.8, 0.7, 0.1]])
    centres = torch.tensor([[[0.0, 0.0], [0.1, 0.0], [3.0, 3.0], [6.0, 6.0]]])  # cells 0 and 1 see one object
    assert suppress_duplicates(score, centres, 3, radius=0.5).tolist() == [[0, 2, 3]]
    assert suppress_duplicates(score, centres, 4, radius=0.5).tolist() == [[0, 2, 3, 1]]  # fill from suppressed


def test_region_features_shape() -> None:
    torch.manual_seed(0)
    det = RegionDetector(colours=6, shapes=3, channels=8)
    out = region_features(det, torch.randint(0, 255, (3, 3, 75, 75), dtype=torch.uint8), k=4)
    assert out.shape == (3, 4, det.feature_dim)
    assert out[..., -2:].abs().max() <= 1.5  # (row, col) around [-1, 1]

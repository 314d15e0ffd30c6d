"""The COCO path of the captioning full budgets, on a fabricated Karpathy split file and random region features:
the vocabulary threshold, truncation, padded region sets with a mask, a short run, and a missing file in one line."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import dlfrontier.experiments  # noqa: F401  (registers the caption-* experiments)
from dlfrontier.data import captions as cap
from dlfrontier.errors import DataError
from dlfrontier.experiments.base import EXPERIMENTS
from dlfrontier.experiments.runner import run_one
from dlfrontier.multimodal.captioning.coco import MIN_COUNT, build_vocab, coco_paths, load_coco, require_coco
from tests.helpers import only_run

SPLITS = ["train"] * 6 + ["restval"] * 2 + ["val"] * 2 + ["test"] * 2  # 12 images: 8 train, 2 val, 2 test
COMMON = ["a", "dog", "on", "the", "grass", "cat", "sits", "near", "red", "ball"]
TINY = {"data": "coco", "train_images": "100", "val_images": "100", "test_images": "100", "max_regions": "6",
        "epochs": "2", "batch_images": "4", "hidden": "16", "heads": "2", "scst_steps": "2", "scst_eval_every": "1",
        "scst_batch_images": "4", "scst_samples": "2", "log_every": "1", "beam": "2"}


def fabricate(root, *, features: bool = True) -> None:
    """``root/coco/dataset_coco.json`` (5 sentences per image, one 20 words long) and ``root/coco/features/``."""
    rng = np.random.default_rng(0)
    images = []
    for i, split in enumerate(SPLITS):
        sentences = []
        for j in range(5):
            words = [COMMON[k] for k in rng.integers(0, len(COMMON), size=4 + j)]
            if i == 0 and j == 0:
                words = ["long"] + words * 5  # 1 + 5 * 4 = 21 words: truncated to 16
            if i == 1 and j == 1:
                words = [*words, "zebra"]  # seen once: UNK
            sentences.append({"tokens": words, "raw": " ".join(words)})
        images.append({"cocoid": 100 + i, "filename": f"COCO_{100 + i}.jpg", "split": split,
                       "sentences": sentences})
    (root / "coco").mkdir(parents=True)
    (root / "coco" / "dataset_coco.json").write_text(json.dumps({"images": images}))
    if features:
        feat_dir = root / "coco" / "features"
        feat_dir.mkdir()
        for i in range(len(SPLITS)):
            k = 2 + i % 5  # 2..6 regions: padded, masked
            feat = rng.standard_normal((k, 8)).astype(np.float32)
            if i % 2:
                np.savez(feat_dir / f"{100 + i}.npz", feat=feat)
            else:
                np.save(feat_dir / f"{100 + i}.npy", feat)


def test_vocabulary_keeps_words_seen_at_least_five_times() -> None:
    sentences = [["a"] * 5, ["b"] * 4, ["c", "c"], ["c", "c", "c"], ["d"] * 9]
    vocab = build_vocab(sentences)
    assert MIN_COUNT == 5
    assert vocab == (*cap.SPECIALS, "d", "a", "c")  # most frequent first, ties alphabetical; "b" (4x) is out
    assert build_vocab(sentences, min_count=4) == (*cap.SPECIALS, "d", "a", "c", "b")


def test_load_coco_pads_masks_truncates_and_maps_rare_words_to_unk(tmp_path) -> None:
    fabricate(tmp_path)
    data = load_coco(100, 100, 100, max_regions=5, root=tmp_path)
    assert (len(data.train), len(data.val), len(data.test)) == (8, 2, 2)  # restval joins train
    assert "zebra" not in data.vocab and "long" not in data.vocab and "dog" in data.vocab
    # regions: image i has 2 + i % 5, capped at 5; padding is masked and zero
    counts = [min(2 + i % 5, 5) for i in range(8)]
    assert data.train.feats.shape == (8, 5, 8)
    assert data.train.mask.sum(1).tolist() == [5 - c for c in counts]
    assert (data.train.feats[data.train.mask] == 0).all()
    # captions: BOS + at most 16 words + EOS, 5 per image; the 21-word one is cut to 16
    assert data.train.tokens.shape == (8, cap.REFS_PER_IMAGE, cap.MAX_LEN + 2)
    first = data.train.tokens[0, 0]
    assert first[0] == cap.BOS and first[1] == cap.UNK and first[cap.MAX_LEN + 1] == cap.EOS
    assert (data.train.tokens[1, 1] == cap.UNK).sum() == 1  # "zebra"
    # the metrics score against the untruncated references
    assert len(data.train.texts[0][0].split()) == 21


def test_short_coco_run_ends_with_finite_metrics_and_a_run_folder(tmp_path, monkeypatch) -> None:
    fabricate(tmp_path / "data")
    monkeypatch.setenv("DLFRONTIER_DATA", str(tmp_path / "data"))
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out = run_one("caption-updn-scst", 0, out=tmp_path / "runs", overrides=TINY, tensorboard=False,
                      device="cpu")
    finally:
        torch.set_num_threads(before)
    assert out["status"] == "done"
    for key in ("eval/cider_d", "eval/bleu4", "xe/cider_d", "eval/cider_d_beam", "eval/scst_gain"):
        assert math.isfinite(out["metrics"][key]), key
    run = only_run(tmp_path / "runs", "caption-updn-scst")
    assert (run / "tables" / "cider.json").is_file() and (run / "metrics.csv").is_file()


@pytest.mark.parametrize("features", [False, True])
def test_missing_coco_files_are_one_line_before_a_run_folder(tmp_path, monkeypatch, features: bool) -> None:
    root = tmp_path / "data"
    if features:  # the split file is there, the features folder is not
        fabricate(root, features=False)
    monkeypatch.setenv("DLFRONTIER_DATA", str(root))
    json_path, feat_dir = coco_paths()
    with pytest.raises(DataError) as err:
        require_coco()
    msg = str(err.value)
    assert "\n" not in msg and str(feat_dir) in msg and "dataset_coco.json" in msg and "features" in msg
    assert (str(json_path) in msg.split(";")[0]) != features  # the missing paths are named first
    with pytest.raises(DataError):
        run_one("caption-updn-xe", 0, out=tmp_path / "runs", overrides={"data": "coco"}, tensorboard=False,
                device="cpu")
    assert not (tmp_path / "runs").exists()


def test_full_budgets_read_coco_and_quick_budgets_generate() -> None:
    for name in ("caption-updn-xe", "caption-transformer-xe", "caption-aoa-xe", "caption-updn-scst",
                 "caption-aoa-scst", "caption-updn-nsc"):
        e = EXPERIMENTS.get(name)
        assert e.make_config("full").data == "coco" and e.datasets(e.make_config("full")) == ("coco",)
        assert e.make_config("quick").data == "generated" and e.datasets(e.make_config("quick")) == ()


@pytest.mark.parametrize("name", ["updn", "transformer", "aoa"])
def test_padded_regions_under_the_mask_change_nothing(name: str) -> None:
    from dlfrontier.multimodal.captioning.models import build_captioner

    torch.manual_seed(0)
    kw = {} if name == "updn" else {"heads": 2, "layers": 1}
    model = build_captioner(name, feat_dim=8, vocab_size=12, hidden=16, dropout=0.0, **kw).eval()
    feats = torch.randn(1, 3, 8)
    padded = torch.cat([feats, torch.randn(1, 2, 8) * 10], 1)
    mask = torch.tensor([[False, False, False, True, True]])
    words = torch.tensor([[cap.BOS, 5, 6, 7]])
    with torch.no_grad():
        want, _ = model(feats, words)
        got, _ = model(padded, words, mask)
    assert torch.allclose(want, got, atol=1e-5)


def test_runs_saved_before_the_data_field_still_match_their_quick_config() -> None:
    # published quick runs were written without `data` / `max_regions`: they resume and are reused as before
    from dlfrontier.experiments.runner import RunPlan, saved_config

    for name in ("caption-updn-xe", "caption-updn-scst"):
        e = EXPERIMENTS.get(name)
        plan = RunPlan(name, 0, "quick", e.make_config("quick"), "cpu", "runs", False)
        old = {k: v for k, v in plan.config_dict.items() if k not in ("data", "max_regions")}
        assert saved_config(e, {"config": old}) == plan.config_dict
        assert saved_config(e, {"config": {**old, "data": "coco"}})["data"] == "coco"  # a saved value is kept

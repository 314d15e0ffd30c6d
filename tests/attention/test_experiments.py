"""The attention experiments: smoke runs through the runner, and one learning test showing the context signal."""

from __future__ import annotations

import json

import pytest
import torch

from dlfrontier.attention import create_attention
from dlfrontier.experiments import EXPERIMENTS
from dlfrontier.experiments.attention import CONTEXT_SEG, SegFCN, SmallResNet
from dlfrontier.experiments.runner import run_one

TINY = {"train_images": "64", "test_images": "32", "epochs": "1", "batch_size": "16"}


def test_every_context_module_has_an_experiment() -> None:
    names = {f"context-seg-{s}" for s in CONTEXT_SEG} | {
        f"attention-fashion-mnist-{m}" for m in ("none", "se", "cbam", "gc")
    }
    assert names <= set(EXPERIMENTS.names())
    assert {"none", "non-local", "danet", "oc", "cc-r1", "cc-r2", "ema"} == set(CONTEXT_SEG)


@pytest.mark.parametrize("suffix", list(CONTEXT_SEG))
def test_fcn_keeps_the_image_size(suffix: str) -> None:
    module, options, _, _ = CONTEXT_SEG[suffix]
    model = SegFCN(create_attention(module, 16, **options) if module else None, width=16)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 4, 32, 32)


def test_context_seg_smoke_run_writes_metrics_and_table(tmp_path) -> None:
    s = run_one("context-seg-cc-r2", 0, out=tmp_path, overrides=TINY, tensorboard=False, device="cpu")
    assert s["status"] == "done"
    for key in ("eval/miou", "eval/object_acc", "model/params", "model/context_params", "time/latency_ms"):
        assert key in s["metrics"]
    assert 0.0 <= s["metrics"]["eval/miou"] <= 1.0
    run_dir = next((tmp_path / "context-seg-cc-r2").iterdir())
    table = json.loads((run_dir / "tables" / "iou.json").read_text())
    assert [r[0] for r in table["rows"]] == ["background", "red", "green", "blue"]
    assert (run_dir / "checkpoint.pt").is_file()


def test_fashion_smoke_run(tmp_path) -> None:
    s = run_one(
        "attention-fashion-mnist-cbam",
        0,
        out=tmp_path,
        tensorboard=False,
        device="cpu",
        overrides={"epochs": "1", "train_subset": "128", "test_subset": "200"},
    )
    assert s["status"] == "done" and s["metrics"]["model/attention_params"] > 0
    assert SmallResNet(None)(torch.randn(2, 1, 28, 28)).shape == (2, 10)


@pytest.mark.slow
def test_criss_cross_brings_the_far_key(tmp_path) -> None:
    # Without context the object class is a guess (object accuracy ~1/3, mIoU ~0.4 at best); two criss-cross
    # loops must carry the key's colour across the image.
    overrides = {"train_images": "2400", "test_images": "300", "epochs": "4"}
    s = run_one("context-seg-cc-r2", 0, out=tmp_path, overrides=overrides, tensorboard=False, device="cpu")
    assert s["metrics"]["eval/object_acc"] > 0.6, s["metrics"]
    assert s["metrics"]["eval/miou"] > 0.55, s["metrics"]

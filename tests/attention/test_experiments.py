"""The attention experiments: declarations (paired comparisons with no attention), smoke runs through the runner,
and one learning test showing the context signal."""

from __future__ import annotations

import json

import pytest

from dlfrontier.experiments import EXPERIMENTS
from dlfrontier.experiments.attention import CONTEXT_SEG
from dlfrontier.experiments.base import Paired
from dlfrontier.experiments.runner import run_one

TINY = {"train_images": "64", "test_images": "32", "epochs": "1", "batch_size": "16"}
FASHION = [f"attention-fashion-mnist-{m}" for m in ("none", "se", "cbam", "gc")]


def test_every_context_module_has_an_experiment() -> None:
    names = {f"context-seg-{s}" for s in CONTEXT_SEG} | set(FASHION)
    assert names <= set(EXPERIMENTS.names())
    assert {"none", "non-local", "danet", "oc", "cc-r1", "cc-r2", "ema"} == set(CONTEXT_SEG)


@pytest.mark.parametrize("name", [f"context-seg-{s}" for s in CONTEXT_SEG if s != "none"] + FASHION[1:])
def test_every_module_is_compared_with_no_module_on_both_budgets(name: str) -> None:
    e = EXPERIMENTS.get(name)
    other = "context-seg-none" if name.startswith("context-seg") else "attention-fashion-mnist-none"
    for budget in ("quick", "full"):
        paired = [c for c in e.criteria(budget) if isinstance(c, Paired)]
        assert [(p.other, p.metric, p.op) for p in paired] == [(other, e.anchor.metric, ">")]
    # a context module must clear the no-context ceiling (the anchor) by the registry's margin
    if name.startswith("context-seg"):
        assert e.criterion("quick").threshold >= 1.5 * e.anchor.value - 1e-9


def test_threads_is_no_setting_of_a_run_and_zero_subset_is_refused() -> None:
    from dlfrontier.errors import ConfigError

    e = EXPERIMENTS.get("context-seg-none")
    with pytest.raises(ConfigError, match="unknown key 'threads'"):  # the CLI's --threads, one place for all
        e.make_config("quick", {"threads": "2"})
    fashion = EXPERIMENTS.get("attention-fashion-mnist-se")
    assert fashion.make_config("quick").test_subset is None
    with pytest.raises(ConfigError):
        fashion.make_config("quick", {"test_subset": "0"})


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


@pytest.mark.slow
def test_criss_cross_brings_the_far_key(tmp_path) -> None:
    # Without context the object class is a guess (object accuracy ~1/3, mIoU ~0.4 at best); two criss-cross
    # loops must carry the key's colour across the image.
    overrides = {"train_images": "2400", "test_images": "300", "epochs": "4"}
    s = run_one("context-seg-cc-r2", 0, out=tmp_path, overrides=overrides, tensorboard=False, device="cpu")
    assert s["metrics"]["eval/object_acc"] > 0.6, s["metrics"]
    assert s["metrics"]["eval/miou"] > 0.55, s["metrics"]

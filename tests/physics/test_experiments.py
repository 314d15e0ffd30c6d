"""The five physics experiments through the runner: declarations, smoke runs, resume, and `dlfrontier eval`."""

from __future__ import annotations

import pytest

from dlfrontier.experiments import EXPERIMENTS
from dlfrontier.experiments.runner import load_run, run_one
from tests.helpers import InterruptAt, only_run

NAMES = ["label-free-free-fall", "supervised-free-fall", "label-free-free-fall-no-physics", "label-free-walking",
         "label-free-causal"]
TINY_VIDEOS = {"train_videos": "32", "test_videos": "16", "epochs": "2", "batch_size": "8"}
TINY_CAUSAL = {"train_images": "64", "test_images": "32", "epochs": "2", "batch_size": "16"}


def test_the_five_experiments_are_registered_with_one_demo() -> None:
    assert set(NAMES) <= set(EXPERIMENTS.names())
    assert [n for n in NAMES if EXPERIMENTS.get(n).demo] == ["label-free-free-fall"]
    assert all(EXPERIMENTS.get(n).evaluate is not None for n in NAMES)
    ablation = EXPERIMENTS.get("label-free-free-fall-no-physics")
    assert not ablation.anchor.higher_is_better and ablation.criterion("quick").op == "<="


@pytest.mark.parametrize("name", NAMES)
def test_smoke_run_and_eval(name: str, tmp_path) -> None:
    tiny = TINY_CAUSAL if name == "label-free-causal" else TINY_VIDEOS
    s = run_one(name, 0, out=tmp_path, overrides=tiny, tensorboard=False, device="cpu")
    assert s["status"] == "done", s.get("error")
    key = EXPERIMENTS.get(name).anchor.metric
    assert key in s["metrics"]
    run = only_run(tmp_path, name)
    out = EXPERIMENTS.get(name).evaluate(load_run(run), episodes=2, device="cpu", out_dir=tmp_path / "eval")
    assert out.read_bytes()[:4] == b"\x89PNG" and tmp_path / "eval" in out.parents
    if name != "label-free-causal":
        assert (run / "strip.png").is_file() and "eval/affine_rmse" in s["metrics"]


def test_resume_matches_uninterrupted(tmp_path) -> None:
    full = run_one("label-free-free-fall", 0, out=tmp_path / "a", overrides=TINY_VIDEOS, tensorboard=False,
                   device="cpu")
    with pytest.raises(KeyboardInterrupt):  # in the second epoch (4 iterations per epoch)
        run_one("label-free-free-fall", 0, out=tmp_path / "b", overrides=TINY_VIDEOS, tensorboard=False,
                device="cpu", progress=InterruptAt(6))
    resumed = run_one("label-free-free-fall", 0, out=tmp_path / "b", overrides=TINY_VIDEOS, tensorboard=False,
                      device="cpu", resume=True)
    assert resumed["status"] == "done"
    for key in ("eval/corr", "eval/affine_rmse", "eval/output_spread"):
        assert resumed["metrics"][key] == full["metrics"][key], key


def test_causal_restarts_resume_matches_uninterrupted(tmp_path) -> None:
    tiny = {**TINY_CAUSAL, "restarts": "2"}  # 4 iterations per epoch, 8 per restart
    full = run_one("label-free-causal", 0, out=tmp_path / "a", overrides=tiny, tensorboard=False, device="cpu")
    with pytest.raises(KeyboardInterrupt):  # in the second restart's second epoch
        run_one("label-free-causal", 0, out=tmp_path / "b", overrides=tiny, tensorboard=False, device="cpu",
                progress=InterruptAt(14))
    resumed = run_one("label-free-causal", 0, out=tmp_path / "b", overrides=tiny, tensorboard=False,
                      device="cpu", resume=True)
    assert resumed["status"] == "done" and set(full["metrics"]) >= {"train/restart", "train/objective"}
    for key in full["metrics"]:
        assert resumed["metrics"][key] == full["metrics"][key], key
    again = run_one("label-free-causal", 0, out=tmp_path / "b", overrides=tiny, tensorboard=False, device="cpu",
                    resume=True)  # a finished run: nothing retrained, the kept detectors scored again
    assert again["metrics"]["eval/min_accuracy"] == full["metrics"]["eval/min_accuracy"]

"""Captioning training: the SCST gradient's sign, the new self-critical baseline, checkpoints and resume, and a
short learning test."""

from __future__ import annotations

import pytest
import torch

import dlfrontier.experiments  # noqa: F401  (registers the caption-* experiments)
from dlfrontier.experiments.runner import run_one
from dlfrontier.multimodal.captioning.training import nsc_baseline, scst_loss
from dlfrontier.tracking import torch_load
from tests.helpers import only_run

TINY = {"train_images": "40", "val_images": "10", "test_images": "10", "detector_steps": "3", "channels": "8",
        "epochs": "2", "batch_images": "10", "hidden": "16", "heads": "2", "scst_steps": "4", "scst_eval_every": "2",
        "scst_batch_images": "5", "scst_samples": "3", "log_every": "2"}


def test_scst_gradient_raises_better_samples_and_lowers_worse_ones() -> None:
    # two sampled captions of 3 tokens (the second ends after 2: its last log-prob is the 0 of padding)
    logp = torch.tensor([[-1.0, -0.5, -2.0], [-0.3, -1.2, 0.0]], requires_grad=True)
    rewards, baseline = torch.tensor([1.5, 0.2]), torch.tensor([1.0, 1.0])  # first beats its baseline, second not
    loss = scst_loss(logp, rewards, baseline)
    loss.backward()
    assert logp.grad is not None
    # a gradient-descent step moves log p by -grad: up for the better sample, down for the worse one
    assert (-logp.grad[0] > 0).all()
    assert (-logp.grad[1, :2] < 0).all() and logp.grad[1, 2] == 0
    # value: -sum((r - b) * log p) over the 5 sampled tokens, averaged over them
    expected = -(0.5 * (-3.5) + (-0.8) * (-1.5)) / 5
    assert abs(float(loss) - expected) < 1e-6
    # a sample equal to its baseline gets no gradient
    logp2 = torch.tensor([[-1.0, -1.0]], requires_grad=True)
    scst_loss(logp2, torch.tensor([0.7]), torch.tensor([0.7])).backward()
    assert logp2.grad is not None and (logp2.grad == 0).all()


def test_new_self_critical_baseline_is_the_mean_of_the_other_samples() -> None:
    rewards = torch.tensor([1.0, 2.0, 3.0, 6.0,   0.0, 0.0, 4.0, 0.0])  # 2 images x 4 samples
    b = nsc_baseline(rewards, 4)
    assert torch.allclose(b, torch.tensor([11 / 3, 10 / 3, 3.0, 2.0, 4 / 3, 4 / 3, 0.0, 4 / 3]))
    # the advantages of an image sum to zero: the baseline adds no net push to any image's captions
    assert torch.allclose((rewards - b).view(2, 4).sum(1), torch.zeros(2), atol=1e-6)
    with pytest.raises(ValueError, match="at least 2 samples"):
        nsc_baseline(rewards, 1)


class InterruptInScst:
    """Raises KeyboardInterrupt at SCST step ``step`` (the second phase that starts a progress count)."""

    def __init__(self, step: int) -> None:
        self.step, self.starts = step, 0

    def start(self, total, unit="steps"):
        self.starts += 1

    def update(self, completed, **info):
        if self.starts >= 2 and completed >= self.step:
            raise KeyboardInterrupt


@pytest.mark.parametrize("interrupt", ["xe", "scst"])
def test_resume_ends_where_an_uninterrupted_run_ends(tmp_path, interrupt: str) -> None:
    from tests.helpers import InterruptAt

    def run(out: str, **kw):
        return run_one("caption-updn-scst", 0, out=tmp_path / out, overrides=TINY, tensorboard=False,
                       device="cpu", **kw)

    full = run("a")
    with pytest.raises(KeyboardInterrupt):
        run("b", progress=InterruptAt(3) if interrupt == "xe" else InterruptInScst(3))
    resumed = run("b", resume=True)
    assert resumed["status"] == "done"
    for key in ("eval/cider_d", "xe/cider_d", "eval/bleu4", "detector/colour_accuracy"):
        assert resumed["metrics"][key] == full["metrics"][key], key
    # the checkpoint loads with PyTorch's safe loader (weights_only=True, NumPy RNG arrays allowed)
    state = torch_load(only_run(tmp_path / "b", "caption-updn-scst") / "checkpoint.pt")
    assert isinstance(state, dict)
    logged = (only_run(tmp_path / "a", "caption-updn-scst") / "metrics.csv").read_text()
    for key in ("scst/sample_reward", "scst/greedy_reward", "scst/reward_gap"):
        assert logged.count(f",{key},") == 4  # every SCST step


@pytest.mark.slow
def test_updn_learns_to_caption() -> None:
    # Region vectors made from the scene annotations (colour, shape, size one-hots and the centre), so that the
    # test measures the captioner, not the detector: 150 cross-entropy steps (~10-20 s on one thread) must lift
    # test CIDEr-D far above the untrained model's (0.0: it emits the same word until the step limit).
    from dlfrontier.data import captions as cap
    from dlfrontier.multimodal.captioning.models import build_captioner
    from dlfrontier.multimodal.captioning.training import caption_scores, decode_all, xe_loss

    def regions(s: cap.CaptionSet) -> torch.Tensor:
        present = s.colours >= 0
        parts = [torch.nn.functional.one_hot(s.colours.clamp_min(0), 6), torch.nn.functional.one_hot(
            s.shapes.clamp_min(0), 3), torch.nn.functional.one_hot(s.sizes.clamp_min(0), 2)]
        vec = torch.cat([*parts, s.centres.float() / 37.5 - 1, present.unsqueeze(-1)], -1).float()
        return vec * present.unsqueeze(-1)

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        train, _, test = cap.caption_splits(1500, 0, 200, seed=100)
        f_train, f_test = regions(train), regions(test)
        model = build_captioner("updn", feat_dim=f_train.shape[-1], vocab_size=len(cap.VOCAB), hidden=64,
                                dropout=0.0)
        untrained = caption_scores(decode_all(model, f_test), test.texts)["eval/cider_d"]
        opt = torch.optim.Adam(model.parameters(), 3e-3)
        gen = torch.Generator().manual_seed(0)
        for _ in range(150):
            idx = torch.randint(0, len(train), (20,), generator=gen)
            loss = xe_loss(model, f_train[idx], train.tokens[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        trained = caption_scores(decode_all(model, f_test), test.texts)["eval/cider_d"]
    finally:
        torch.set_num_threads(before)
    assert trained > untrained + 0.5, (untrained, trained)

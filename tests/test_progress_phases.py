"""A named phase instead of a silent `0/?` bar (issue 16): runs tell their progress when they generate data or a
pipeline changes stage, the CLI's bars and plain lines show it, and telling changes no number."""

from __future__ import annotations

from types import SimpleNamespace

from torch import nn

from dlfrontier.cli import PlainProgress, RichProgress
from dlfrontier.compression.pipeline import Pipeline, phase_label
from dlfrontier.compression.state import snapshot
from dlfrontier.experiments.runner import run_one
from dlfrontier.runtime import NullProgress, show_phase

VQA_TINY = {"train_images": "16", "test_images": "8", "epochs": "1", "batch_images": "8", "hidden": "16",
            "bn_images": "16", "bottom_up_steps": "3", "bottom_up_images": "16"}


class Recording:
    """A progress that records its phases (and has the rest of the protocol)."""

    def __init__(self) -> None:
        self.phases: list[str] = []

    def start(self, total, unit="steps"):
        pass

    def update(self, completed, **info):
        pass

    def phase(self, name):
        self.phases.append(name)


def test_a_vqa_run_names_its_phases_and_they_change_no_number(tmp_path):
    rec = Recording()
    s = run_one("vqa-cnn-mlp", 0, out=tmp_path / "a", overrides=VQA_TINY, tensorboard=False, device="cpu",
                progress=rec)
    assert s["status"] == "done"
    assert rec.phases == ["generating 16 Sort-of-CLEVR images",
                          "generating the fixed test set (8 Sort-of-CLEVR images)",
                          "generating 16 Sort-of-CLEVR images for bottom-up features",
                          "pretraining bottom-up features (3 steps)", "training cnn-mlp"], rec.phases
    quiet = run_one("vqa-cnn-mlp", 0, out=tmp_path / "b", overrides=VQA_TINY, tensorboard=False, device="cpu")
    def untimed(m):
        return {k: v for k, v in m.items() if not k.startswith("time/")}

    assert untimed(quiet["metrics"]) == untimed(s["metrics"])  # the same numbers without a progress that listens


def test_a_compression_pipeline_names_each_phase_it_runs():
    rec = Recording()
    ctx = SimpleNamespace(progress=rec, resume_state=None, save_checkpoint=lambda state, step: None)
    pipe = Pipeline(ctx, total_steps=10)
    model = nn.Linear(2, 2)
    for name in ("baseline", "prune1", "prune2", "sweep", "share"):
        pipe.phase(name, model, lambda: {"acc": 1.0})
    assert rec.phases == ["training the baseline", "pruning round 1 (prune, then retrain)",
                          "pruning round 2 (prune, then retrain)", phase_label("sweep"),
                          "sharing weights (k-means) and fine-tuning"]
    # a resumed pipeline skips the finished phases silently and names the one it reruns
    carry = {"results": {"baseline": {"acc": 1.0}}, "offset": 4, "model": snapshot(model)}
    rec2 = Recording()
    ctx2 = SimpleNamespace(progress=rec2, resume_state={"carry": carry}, save_checkpoint=lambda *a, **k: None)
    resumed = Pipeline(ctx2, total_steps=10)
    resumed.phase("baseline", model, lambda: {"acc": 0.0})
    resumed.phase("prune1", model, lambda: {"acc": 1.0})
    assert rec2.phases == ["pruning round 1 (prune, then retrain)"]


def test_show_phase_skips_a_progress_without_one():
    show_phase(SimpleNamespace(start=lambda *a: None, update=lambda *a, **k: None), "anything")
    show_phase(NullProgress(), "anything")


def test_plain_progress_prints_a_line_per_phase():
    out: list[str] = []
    p = PlainProgress("vqa-updn seed 0", out.append)
    p.phase("generating 16,000 Sort-of-CLEVR images")
    assert out == ["  vqa-updn seed 0: generating 16,000 Sort-of-CLEVR images"]


def test_rich_progress_shows_the_phase_in_its_bar():
    calls: list[dict] = []
    bar = SimpleNamespace(add_task=lambda *a, **k: 1, update=lambda task, **k: calls.append(k))
    RichProgress(bar, "vqa-updn s0").phase("pretraining bottom-up features")
    assert calls == [{"info": "pretraining bottom-up features"}]


class Everything(Recording):
    """Records the whole protocol, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple] = []

    def start(self, total, unit="steps"):
        self.calls.append(("start", total, unit))

    def update(self, completed, **info):
        self.calls.append(("update", completed))

    def phase(self, name):
        super().phase(name)
        self.calls.append(("phase", name))


def test_process_workers_relay_their_progress_and_phases_to_the_parent(tmp_path):
    from dlfrontier.experiments.executors import Job, run_jobs
    from dlfrontier.experiments.runner import plan_run

    jobs = [Job(plan_run("vqa-cnn-mlp", seed, budget="quick", device="cpu", overrides=VQA_TINY, out=str(tmp_path)),
                tensorboard=False) for seed in (0, 1)]
    shown: dict[int, Everything] = {}

    def progress_for(job):
        shown[job.seed] = Everything()
        return shown[job.seed]

    outcomes = run_jobs(jobs, executor="process", workers=2, progress_for=progress_for)
    assert sorted(o.job.seed for o in outcomes if o.summary and o.summary["status"] == "done") == [0, 1]
    for seed in (0, 1):
        rec = shown[seed]
        assert rec.phases == ["generating 16 Sort-of-CLEVR images",
                              "generating the fixed test set (8 Sort-of-CLEVR images)",
                              "generating 16 Sort-of-CLEVR images for bottom-up features",
                              "pretraining bottom-up features (3 steps)", "training cnn-mlp"], rec.phases
        starts = [c for c in rec.calls if c[0] == "start"]
        updates = [c for c in rec.calls if c[0] == "update"]
        assert starts and updates and updates[-1][1] == starts[-1][1]  # the last update (the end) is never dropped

"""Label-free supervision from physics and logic: free fall, a walking figure, a causal pair (no labels).

Stewart and Ermon, "Label-Free Supervision of Neural Networks with Physics and Domain Knowledge", AAAI 2017
(https://arxiv.org/abs/1609.05566): a CNN that maps each video frame to a number, trained only by asking the
numbers over a video to be a parabola with the known acceleration, tracked a thrown pillow's height with a
90.1% correlation to the truth. The paper's other two tasks: a walking man (constant velocity, plus terms
against the trivial constant output) and Super Mario scenes where Peach appears only with Mario (an implication,
plus terms that make both detectors vary). No public code exists; :mod:`dlfrontier.physics` builds all three on
procedural scenes (``docs/physics.md``).

``label-free-free-fall``: the fixed-g parabola loss; ``supervised-free-fall``: the same network with the true
heights (the ceiling); ``label-free-free-fall-no-physics``: the ablation, any parabola fits (free curvature), so a
constant output has zero loss and the network collapses. Its criterion is on ``eval/output_spread`` (the trained
network's output standard deviation over its untrained self's, lower is "more collapsed"), because "learns
nothing" cannot be written as beating an untrained network on the correlation. ``label-free-walking`` is scored
by |correlation| (constant velocity cannot tell left from right); ``label-free-causal`` by the smaller of the two
detectors' accuracies. Its detectors can only fire on evidence (non-negative weights on max-pooled features,
:class:`~dlfrontier.physics.models.EvidenceDetectors`): the logic alone scores "Mario without Peach" exactly like
Peach; and its loss adds to the paper's kind of spread terms a converse term (Mario fires more often than Peach).
A single training run still ends in a wrong state on about a third of the initialisations (one detector constant,
or a weak copy of the other), so the quick run trains 3 initialisations and keeps the one with the lowest
label-free loss on its training images (model selection by the training objective; no label is read to choose).
Height and position are identifiable only up to offset and scale, hence correlation; the runs also report
``eval/affine_rmse``, the error after the best affine map from outputs to the truth.

How the settings were chosen: image size, frames, gravity and noise were set once for a sub-minute run on one
thread; the video budgets (2,000 videos, 10 epochs, Adam 1e-3, l1 distance as in the paper; walking spread weight
0.5, range weight 1) were checked on seeds 100-101 and not changed; the causal design (evidence detectors, initial
logit -2, converse term, weights 1, 12 epochs) was chosen on seeds 100-105, where 4 of 6 seeds learn both
detectors (100 and 105 keep Peach a weak copy of Mario; converse 0.5 or 2, differ 2, lr 3e-4 x 20 epochs did no
better). Published on seeds 0-2, where seed 0 failed the same way (min accuracy 0.69 / 1.00 / 1.00). The restarts
(``restarts=3``) were then chosen on seeds 100-119, with seeds 0-2 not looked at: one run learns both detectors on
14 of 20 seeds (40 of 60 initialisations); in every seed the initialisations that failed had a higher final
training loss than those that learned, so keeping the lowest of 3 succeeds on 20 of 20 seeds (of 2: 19 of 20).
"""

from __future__ import annotations

from functools import partial

from dlfrontier.experiments.base import Anchor, Baseline, Budget, Expect, Experiment, register
from dlfrontier.physics.evaluation import evaluate_run
from dlfrontier.physics.training import CausalConfig, Mode, VideoConfig, train_causal, train_videos
from dlfrontier.runtime import RunContext

# Seconds per quick run (wall time, 1 torch thread), the ETA of `dlfrontier run` and the time `dlfrontier list` shows:
# the mean of the published runs (seeds 0-2, one run at a time on the shared 2-core machine, beside other work)
TYPICAL_SECONDS: dict[str, float] = {"label-free-free-fall": 29, "supervised-free-fall": 31,
    "label-free-free-fall-no-physics": 36, "label-free-walking": 33, "label-free-causal": 47}

PAPER = "Stewart & Ermon, AAAI 2017, Label-Free Supervision of Neural Networks with Physics and Domain Knowledge"
VIDEO_QUICK = {"train_videos": 2000, "epochs": 10}
VIDEO_FULL = {"train_videos": 8000, "epochs": 20}
UNTRAINED_FALL = Baseline(-0.0188, "untrained FrameNet on the 300 held-out free-fall videos (2,400 frames), init "
                                   "seeds 0-4, measured: -0.119 / 0.070 / 0.040 / -0.075 / -0.010 (mean -0.0188)")


def videos(ctx: RunContext, cfg: VideoConfig, *, task: str, mode: Mode) -> dict[str, float]:
    """Train the per-frame CNN on ``task`` videos with ``mode``'s signal; held-out correlation and fit error."""
    return train_videos(ctx, cfg, task, mode)


def causal(ctx: RunContext, cfg: CausalConfig) -> dict[str, float]:
    """Train two presence detectors from Peach => Mario alone; held-out accuracy of each."""
    return train_causal(ctx, cfg)


# name, mode, summary, quick and full thresholds on eval/corr, anchor, demo
FREE_FALL: tuple[tuple[str, Mode, str, float, float, Anchor, bool], ...] = (
    ("label-free-free-fall", "physics", "no labels: outputs over a video must be a parabola with the known g",
     0.90, 0.95, Anchor("eval/corr", 0.901, f"{PAPER}: thrown pillow, correlation with the true height 90.1%"),
     True),
    ("supervised-free-fall", "labels", "the same CNN trained on the true heights (the supervised ceiling)",
     0.97, 0.98, Anchor("eval/corr", 0.901, f"{PAPER}: the label-free result (90.1%) this ceiling bounds"), False),
)
for _name, _mode, _what, _quick, _full, _anchor, _demo in FREE_FALL:
    register(Experiment(
        name=_name,
        typical_seconds=TYPICAL_SECONDS[_name],
        group="physics",
        summary=f"per-frame CNN tracks a thrown ball's height in noisy 32x32 videos; {_what}",
        topic="Label-free supervision from physics (Stewart & Ermon 2017): free fall",
        config=VideoConfig,
        run=partial(videos, task="free-fall", mode=_mode),
        budgets={"quick": Budget(VIDEO_QUICK, Expect("eval/corr", ">=", _quick)),
                 "full": Budget(VIDEO_FULL, Expect("eval/corr", ">=", _full))},
        anchor=_anchor,
        baseline=UNTRAINED_FALL,
        demo=_demo,
        evaluate=partial(evaluate_run, task="free-fall"),
    ))

register(Experiment(
    name="label-free-free-fall-no-physics",
    typical_seconds=TYPICAL_SECONDS["label-free-free-fall-no-physics"],
    group="physics",
    summary="ablation: the free-fall CNN fitted to parabolas of any curvature (g not given) collapses to a constant",
    topic="Label-free supervision from physics (Stewart & Ermon 2017): without the knowledge of g",
    config=VideoConfig,
    run=partial(videos, task="free-fall", mode="free-curvature"),
    budgets={"quick": Budget(VIDEO_QUICK, Expect("eval/output_spread", "<=", 0.01)),
             "full": Budget(VIDEO_FULL, Expect("eval/output_spread", "<=", 0.01))},
    anchor=Anchor("eval/output_spread", 0.0, f"{PAPER}: without a term that rules it out, the trivial constant "
                  "output (spread 0) has zero loss; with free curvature nothing rules it out", higher_is_better=False),
    baseline=Baseline(1.0, "the untrained network itself (the spread is relative to it: 1 by definition)"),
    curve="eval/output_spread",
    evaluate=partial(evaluate_run, task="free-fall"),
))

register(Experiment(
    name="label-free-walking",
    typical_seconds=TYPICAL_SECONDS["label-free-walking"],
    group="physics",
    summary="per-frame CNN tracks a walking figure's position, no labels: constant velocity + spread + range terms",
    topic="Label-free supervision from physics (Stewart & Ermon 2017): walking at constant velocity",
    config=VideoConfig,
    run=partial(videos, task="walking", mode="physics"),
    budgets={"quick": Budget(VIDEO_QUICK, Expect("eval/abs_corr", ">=", 0.90)),
             "full": Budget(VIDEO_FULL, Expect("eval/abs_corr", ">=", 0.95))},
    anchor=Anchor("eval/abs_corr", 0.954, f"{PAPER}: walking man, correlation with the true position (95.4% as we "
                  "recall it; not confirmed from a copy of the paper this session)"),
    baseline=Baseline(0.047, "untrained FrameNet on the 300 held-out walking videos, init seeds 0-4, measured "
                             "|r|: 0.125 / 0.018 / 0.018 / 0.062 / 0.012 (mean 0.047)"),
    evaluate=partial(evaluate_run, task="walking"),
))

register(Experiment(
    name="label-free-causal",
    typical_seconds=TYPICAL_SECONDS["label-free-causal"],
    group="physics",
    summary="two evidence detectors trained only from 'Peach => Mario' plus terms that make both vary (no labels); "
            "3 initialisations, the lowest label-free loss kept",
    topic="Label-free supervision from logic (Stewart & Ermon 2017): a causal pair",
    config=CausalConfig,
    run=causal,
    budgets={"quick": Budget({"restarts": 3}, Expect("eval/min_accuracy", ">=", 0.90)),
             "full": Budget({"train_images": 16000, "epochs": 20, "restarts": 3},
                            Expect("eval/min_accuracy", ">=", 0.95))},
    anchor=Anchor("eval/min_accuracy", 0.90, f"{PAPER}: Mario and Peach detected without labels (the paper's "
                  "figure could not be confirmed this session; 0.90 is the issue's target)"),
    baseline=Baseline(0.345, "untrained detectors (initial logit -2: nothing detected) on the 1,000 held-out "
                             "images, init seeds 0-4, measured smaller accuracy: 0.345 on every seed (Mario's)"),
    evaluate=partial(evaluate_run, task="causal"),
))

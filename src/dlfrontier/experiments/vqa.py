"""Visual question answering on Sort-of-CLEVR: CNN+MLP, Relation Network, bottom-up/top-down attention and MCAN.

Papers: Santoro et al., "A simple neural network module for relational reasoning", NeurIPS 2017
(https://arxiv.org/abs/1706.01427); Anderson et al., "Bottom-Up and Top-Down Attention for Image Captioning and
Visual Question Answering", CVPR 2018 (https://arxiv.org/abs/1707.07998); Yu et al., "Deep Modular Co-Attention
Networks for Visual Question Answering", CVPR 2019 (https://arxiv.org/abs/1906.10770).

``vqa-<model>``: the model trains on Sort-of-CLEVR images generated from the run's seed (10 non-relational + 10
relational questions per image, all answered from one CNN pass per image) and is scored on a fixed held-out test
set: accuracy on relational and non-relational questions and per question type
(:func:`dlfrontier.multimodal.training.train_vqa`). ``dlfrontier eval RUN_DIR`` draws test images with their
question, the predicted and the true answer, and the model's attention over the image
(:func:`dlfrontier.multimodal.evaluation.evaluate_vqa`).

How the settings were chosen: the quick budgets (images, epochs, learning rates, the bottom-up pretraining, RN's 6
detected objects, MCAN's geometry term) were tuned in earlier sessions on seeds 0-2, the same seeds the results
were then published on (see docs/vqa.md); they have not been re-tuned on seeds >= 100. The full budgets (10,000
images x 40 epochs, 64 images per step, wider models) follow the paper's scale and were never tuned.

Baselines: measured by :func:`dlfrontier.multimodal.evaluation.no_learning_scores` on the quick config of each
experiment, seeds 0-2, scored on the fixed test set (500 images x 20 questions): the most common training answer
per question type and per (type, colour) (the best predictor that reads only the question), and the model
untrained. Each baseline is the highest of these (mean over the three seeds).
"""

from __future__ import annotations

from functools import partial

from dlfrontier.experiments.base import Anchor, Baseline, Budget, Expect, Experiment, Paired, register
from dlfrontier.multimodal.config import CNNMLPConfig, MCANConfig, RNConfig, UpDnConfig
from dlfrontier.multimodal.evaluation import evaluate_vqa
from dlfrontier.multimodal.training import train_vqa

# Seconds per quick run (wall time, 1 torch thread), the ETA of `dlfrontier run` and the time `dlfrontier list` shows:
# measured in the issue-15 re-runs (two runs side by side on 2 cores, beside other work); vqa-relation-network and
# vqa-mcan: the earlier sessions' runs under heavier load
TYPICAL_SECONDS: dict[str, float] = {"vqa-cnn-mlp": 53, "vqa-relation-network": 754, "vqa-updn": 36, "vqa-mcan": 1068}


REL, NONREL = "eval/accuracy_relational", "eval/accuracy_nonrelational"
TOPIC = "Visual question answering: relational reasoning and co-attention"
SANTORO = "Santoro et al. 2017 (arXiv:1706.01427), Section 5.2, Sort-of-CLEVR"
RN_ANCHOR = Anchor(REL, 0.94, f'{SANTORO}: RN "above 94% for both relational and non-relational questions"')
NONREL_ANCHOR = Anchor(NONREL, 0.94, f'{SANTORO}: RN "above 94% for both relational and non-relational questions"; '
                                     'CNN+MLP "only reached this performance on the non-relational questions"')
MEASURED = "measured by multimodal.evaluation.no_learning_scores on the quick config, seeds 0-2, 500 test images x 20 "


def _baseline(value: float, what: str) -> Baseline:
    return Baseline(value, f"{MEASURED}questions: {what}")


# 8,000 training images (cnn-mlp, updn) or 16,000 (relation-network, mcan); means over seeds 0-2.
CNN_MLP_BASELINE = _baseline(0.438, "relational accuracy of the majority training answer per question type 0.438 "
                                    "(per type and colour 0.438), the untrained CNN+MLP 0.132")
RN_BASELINE = _baseline(0.449, "relational accuracy of the majority training answer per question type and colour "
                               "0.449 (per type 0.434), the untrained RN 0.035")
MCAN_BASELINE = _baseline(0.449, "relational accuracy of the majority training answer per question type and colour "
                                 "0.449 (per type 0.434), the untrained MCAN 0.030")
UPDN_BASELINE = _baseline(0.502, "non-relational accuracy of the majority training answer per question type 0.502 "
                                 "(per type and colour 0.498), the untrained UpDn 0.109")
FULL = {"train_images": 10000, "epochs": 40, "batch_images": 64}  # the paper's scale; never tuned

# name -> (config, summary, anchor, baseline, budgets)
VQA = {
    # CNN+MLP: the baseline without a relational module. Its quick budget (3,000 steps) was chosen in an earlier
    # session on seeds 0-2 and not re-tuned. It must learn: 0.66 relational is 1.5 x the no-learning 0.438 (the
    # quick runs of seeds 0-2 scored 0.703-0.713); and it must stay clearly below the relational models: below RN's
    # 0.85 criterion (with a margin) and at least 5 points below RN on the same seeds. The full budget keeps 0.66
    # (at least as strict as quick; the paper's CNN+MLP plateaus at 0.63).
    "cnn-mlp": (
        CNNMLPConfig,
        "CNN+MLP baseline on Sort-of-CLEVR (no relational module)",
        Anchor(REL, 0.63, f'{SANTORO}: CNN+MLP on relational questions, "plateauing at 63%"'),
        CNN_MLP_BASELINE,
        {"quick": Budget({"train_images": 8000, "epochs": 6}, [
            Expect(REL, ">=", 0.66, "learns"),
            Expect(REL, "<=", 0.80, "below RN's criterion"),
            Paired("vqa-relation-network", REL, "<", -0.05, "clearly below RN")]),
         "full": Budget(FULL, [
             Expect(REL, ">=", 0.66, "learns"),
             Expect(REL, "<=", 0.80, "below RN's criterion"),
             Paired("vqa-relation-network", REL, "<", -0.05, "clearly below RN")])},
    ),
    # RN over the bottom-up detector's 6 objects: quick budget (24,000 steps, lr 2e-3) tuned in an earlier session
    # on seeds 0-2 (the 12,000-step schedule reached 78.7-81.7% there); not re-tuned.
    "relation-network": (
        RNConfig,
        "Relation Network (pairs of the bottom-up detector's 6 objects + coordinates) on Sort-of-CLEVR",
        RN_ANCHOR,
        RN_BASELINE,
        {"quick": Budget({"train_images": 16000, "epochs": 24, "lr": 2e-3}, Expect(REL, ">=", 0.85)),
         "full": Budget({**FULL, "hidden": 256, "g_layers": 4, "f_layers": 3}, Expect(REL, ">=", 0.95))},
    ),
    # UpDn: one glimpse finds the named object but cannot compare two, so it is judged on non-relational
    # questions. Quick budget (1,000 steps, lr 3e-3) chosen in an earlier session on seeds 0-2; not re-tuned.
    "updn": (
        UpDnConfig,
        "bottom-up/top-down attention over the CNN grid on Sort-of-CLEVR",
        NONREL_ANCHOR,
        UPDN_BASELINE,
        {"quick": Budget({"train_images": 8000, "epochs": 2, "lr": 3e-3}, Expect(NONREL, ">=", 0.90)),
         "full": Budget({**FULL, "hidden": 256, "glimpses": 2}, Expect(NONREL, ">=", 0.95))},
    ),
    # MCAN with the geometry term: quick budget (16,000 images x 6 epochs, lr 2e-3) chosen in an earlier session
    # on seeds 0-2 (4,000 steps passed only seed 0 there); not re-tuned.
    "mcan": (
        MCANConfig,
        "MCAN encoder-decoder co-attention (question tokens x image grid, geometry-biased SA) on Sort-of-CLEVR",
        RN_ANCHOR,
        MCAN_BASELINE,
        {"quick": Budget({"train_images": 16000, "epochs": 6, "lr": 2e-3}, Expect(REL, ">=", 0.90)),
         "full": Budget({**FULL, "dim": 128, "ffn": 256, "layers": 4, "heads": 8}, Expect(REL, ">=", 0.95))},
    ),
}

for _name, (_config, _summary, _anchor, _baseline, _budgets) in VQA.items():
    register(Experiment(
        name=f"vqa-{_name}",
        typical_seconds=TYPICAL_SECONDS[f"vqa-{_name}"],
        group="multimodal",
        summary=_summary,
        topic=TOPIC,
        config=_config,
        run=partial(train_vqa, model_name=_name),
        budgets=_budgets,
        anchor=_anchor,
        baseline=_baseline,
        demo=_name == "updn",  # the VQA model whose quick criterion passes on every seed (see docs/vqa.md)
        evaluate=partial(evaluate_vqa, model_name=_name),
    ))

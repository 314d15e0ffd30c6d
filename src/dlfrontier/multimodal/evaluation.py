"""Evaluating VQA models: ``dlfrontier eval`` drawings of a finished run, and the no-learning baselines.

:func:`evaluate_vqa` scores a loaded run on the fixed test set and draws test images with a question, the
predicted and true answer and the model's attention. :func:`answer_prior` and :func:`no_learning_scores` measure
what a VQA experiment must beat: the best answer-prior-only predictor (the most common training answer per
question) and an untrained model.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dlfrontier.data.sort_of_clevr import (
    ANSWERS,
    COLOURS,
    IMAGE_SIZE,
    NUM_ANSWERS,
    QUESTION_TYPES,
    SortOfClevr,
    make_sort_of_clevr,
    question_text,
    to_float,
)
from dlfrontier.multimodal.config import VQAConfig
from dlfrontier.multimodal.training import calibrate, fixed_test_set, predict, questions_of, score
from dlfrontier.multimodal.vqa_base import VQAModel, build_vqa_model
from dlfrontier.runtime import resolve_device, seed_everything


def evaluate_vqa(loaded: Any, *, model_name: str, episodes: int = 10, gif: str | None = None,
                 device: str = "auto", out_dir: str | Path = "eval") -> Path:
    """Score a loaded VQA run on the test set and draw ``episodes`` test images.

    Writes ``OUT_DIR/vqa_examples.png`` (never into the run folder, which the report reads): per image one
    question (alternating non-relational and relational), the predicted and true answer (green when right, red when
    wrong) and, for UpDn and MCAN, the attention heat map over the image (UpDn: its attention weights; MCAN: the last
    GA unit's weights averaged over heads).

    Args:
        loaded: a :class:`~dlfrontier.experiments.runner.LoadedRun` of a ``vqa-*`` run: ``config`` is its
            :class:`VQAConfig`, ``state["model"]`` the model's weights.
        model_name: the VQA model the run trained (``cnn-mlp``, ``relation-network``, ``updn``, ``mcan``).
        episodes: number of test images drawn.
        gif: unused (VQA has no episodes to animate).
        device: ``auto``, ``cpu`` or ``cuda``.
        out_dir: the folder the PNG goes to (created if needed).

    Returns:
        The PNG's path.
    """
    cfg: VQAConfig = loaded.config
    dev = resolve_device(device)
    model = build_vqa_model(model_name, **cfg.model_kwargs())
    model.load_state_dict(loaded.state["model"])
    model.to(dev).eval()
    test = fixed_test_set(cfg)
    scores = score(predict(model, test, device=dev), test)
    print(
        f"{loaded.experiment}: test accuracy {scores['eval/accuracy']:.4f} (relational "
        f"{scores['eval/accuracy_relational']:.4f}, non-relational {scores['eval/accuracy_nonrelational']:.4f})"
    )
    if gif:
        print("--gif is ignored: a VQA model has no episodes to animate")
    out = Path(out_dir) / "vqa_examples.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    draw_examples(model, test, max(1, min(episodes, len(test))), out, device=dev,
                  title=f"{loaded.experiment} (seed {loaded.seed})")
    print(f"wrote {out}")
    return out


def draw_examples(model: VQAModel, test: SortOfClevr, k: int, out: Path, *, device: Any = "cpu",
                  title: str = "") -> None:
    """Draw the first ``k`` test images, one question each, with the answers and the attention heat map."""
    from matplotlib.figure import Figure

    half = test.answers.shape[1] // 2
    with torch.no_grad():
        logits, maps = model.answer_with_attention(to_float(test.images[:k].to(device)),
                                                   questions_of(model, test)[:k].to(device))
    pred = logits.argmax(-1).cpu()
    cols = min(4, k)
    rows = math.ceil(k / cols)
    fig = Figure(figsize=(3.2 * cols, 4.0 * rows))
    for i in range(k):
        j = (i // 2) % half + (half if i % 2 else 0)  # alternate non-relational and relational questions
        ax = fig.add_subplot(rows, cols, i + 1)
        shown = test.images[i].permute(1, 2, 0).float() / 255.0  # [75, 75, 3]
        if maps is not None:
            # Darken where the model does not look (a colour overlay would hide the colours the questions name).
            heat = nn.functional.interpolate(maps[i : i + 1, j : j + 1].float().cpu(), size=(IMAGE_SIZE, IMAGE_SIZE),
                                             mode="bilinear", align_corners=False)[0, 0]
            heat = (heat - heat.min()) / (heat.max() - heat.min()).clamp_min(1e-8)
            shown = shown * (0.2 + 0.8 * heat.unsqueeze(-1))
        ax.imshow(shown.numpy())
        p, t = int(pred[i, j]), int(test.answers[i, j])
        q = "\n".join(textwrap.wrap(question_text(int(test.qtypes[i, j]), int(test.colours[i, j])), 30))
        ax.set_title(f"{q}\npred: {ANSWERS[p]}   true: {ANSWERS[t]}", fontsize=8,
                     color="green" if p == t else "red")
        ax.set_xticks([])
        ax.set_yticks([])
    what = "attention over the image (dark = not attended)" if maps is not None else "no image attention in this model"
    fig.suptitle(f"{title}: {what}", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=100)


# ---------------------------------------------------------------------------------------- no-learning baselines


def answer_prior(train: SortOfClevr, *, by_colour: bool = True) -> torch.Tensor:
    """The most common training answer per question type (``[types]``), or per (type, colour) (``[types, colours]``).

    Per (type, colour) is the best predictor that reads the question and not the image: the question is its type
    and its colour. Ties go to the lower answer index.
    """
    key = train.qtypes * len(COLOURS) + train.colours if by_colour else train.qtypes
    groups = len(QUESTION_TYPES) * (len(COLOURS) if by_colour else 1)
    counts = torch.zeros(groups, NUM_ANSWERS, dtype=torch.long)
    counts.index_put_((key.flatten(), train.answers.flatten()), torch.ones(key.numel(), dtype=torch.long),
                      accumulate=True)
    best = counts.argmax(1)
    return best.view(len(QUESTION_TYPES), len(COLOURS)) if by_colour else best


def prior_predict(prior: torch.Tensor, data: SortOfClevr) -> torch.Tensor:
    """Predictions ``[N, Q]`` of an :func:`answer_prior` table."""
    return prior[data.qtypes, data.colours] if prior.dim() == 2 else prior[data.qtypes]


def no_learning_scores(model_name: str, cfg: VQAConfig, seed: int) -> dict[str, dict[str, float]]:
    """Test scores (:func:`score`) of what learns nothing from the answers, on ``cfg``'s fixed test set.

    Returns ``{"prior_type": ..., "prior_type_colour": ..., "untrained": ...}``: the majority training answer per
    question type and per (type, colour), both from ``cfg.train_images`` images of ``seed``, and ``model_name``
    freshly initialised from ``seed`` (its BatchNorm statistics re-estimated on the training images, as every
    evaluation of a run does).
    """
    train = make_sort_of_clevr(cfg.train_images, seed=seed, nonrelational=cfg.nonrelational,
                               relational=cfg.relational)
    test = fixed_test_set(cfg)
    out = {name: score(prior_predict(answer_prior(train, by_colour=by), test), test)
           for name, by in (("prior_type", False), ("prior_type_colour", True))}
    seed_everything(seed)
    model = build_vqa_model(model_name, **cfg.model_kwargs())
    calibrate(model, train, images=cfg.bn_images)
    out["untrained"] = score(predict(model, test), test)
    return out


__all__ = ["answer_prior", "draw_examples", "evaluate_vqa", "no_learning_scores", "prior_predict"]

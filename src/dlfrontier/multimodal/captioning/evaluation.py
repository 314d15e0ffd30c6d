"""``dlfrontier eval RUN`` for a captioning run: test scores and a PNG of captions with per-word attention.

:func:`evaluate_captioning` rebuilds the run's detector and captioner from the checkpoint, scores the fixed test
set (greedy and beam CIDEr-D / BLEU-4) and draws ``episodes`` test images (:func:`draw_captions`): each image
with its greedy and beam captions and its five references, and beside it one panel per greedy word showing where
the captioner looked when it chose that word (the attention weights over the regions, each spread as a Gaussian
around the region's detected centre; dark = not attended).
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import torch

from dlfrontier.data import captions as cap
from dlfrontier.multimodal.captioning.config import CaptionConfig
from dlfrontier.multimodal.captioning.decoding import beam_search, greedy
from dlfrontier.multimodal.captioning.features import RegionDetector, freeze, region_features
from dlfrontier.multimodal.captioning.models import Captioner
from dlfrontier.multimodal.captioning.training import CaptionRun, max_steps, test_scores, texts_of
from dlfrontier.runtime import resolve_device

MAX_WORD_PANELS = 12
SPREAD_PX = 5.0  # width of the Gaussian drawn around each region's centre


def evaluate_captioning(loaded: Any, *, model_name: str, episodes: int = 6, gif: str | None = None,
                        device: str = "auto", out_dir: str | Path = "eval") -> Path:
    """Score a loaded ``caption-*`` run on its fixed test set and write ``OUT_DIR/captions.png``.

    Args:
        loaded: a :class:`~dlfrontier.experiments.runner.LoadedRun` (``config``: :class:`CaptionConfig`,
            ``state["model"]``: the detector's and captioner's weights).
        model_name: the captioner the run trained (``updn``, ``transformer``, ``aoa``).
        episodes: test images drawn (at most 8 are drawn).
        gif: unused (captioning has no episodes to animate).
        device: ``auto``, ``cpu`` or ``cuda``.
        out_dir: the folder the PNG goes to (never the run folder, which the report reads).
    """
    cfg: CaptionConfig = loaded.config
    if cfg.data == "coco":
        from dlfrontier.errors import DataError

        raise DataError(f"{loaded.experiment}: dlfrontier eval draws generated scenes only; a data=coco run's test "
                        "scores are in its summary and tables/ (drawing COCO images is not wired in)")
    dev = resolve_device(device)
    run = CaptionRun(cfg, model_name)
    run.load_state_dict(loaded.state["model"])
    run.to(dev)
    freeze(run.detector)
    run.captioner.eval()
    _, _, test = cap.caption_splits(0, 0, cfg.test_images, seed=loaded.seed)
    feats = region_features(run.detector, test.images, k=cfg.regions, device=dev).to(dev)
    scores = test_scores(run.captioner, feats, test.texts, cfg.beam)
    beam_part = f", beam {cfg.beam} {scores['eval/cider_d_beam']:.3f}" if cfg.beam > 1 else ""
    print(f"{loaded.experiment}: test CIDEr-D {scores['eval/cider_d']:.3f} (greedy){beam_part}, BLEU-4 "
          f"{scores['eval/bleu4']:.3f}")
    if gif:
        print("--gif is ignored: a captioner has no episodes to animate")
    out = Path(out_dir) / "captions.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    draw_captions(run.captioner, run.detector, feats, test, max(1, min(episodes, 8, len(test))), out,
                  beam=cfg.beam, title=f"{loaded.experiment} (seed {loaded.seed})")
    print(f"wrote {out}")
    return out


def region_centres_px(detector: RegionDetector, feats: torch.Tensor) -> torch.Tensor:
    """The regions' detected centres in pixels ``[N, K, 2]`` (row, col) from their (row, col) in [-1, 1]."""
    g = detector.grid
    scale = 2.0 / (g - 1) if g > 1 else 1.0
    return ((feats[..., -2:] + 1) / scale + 0.5) * (detector.image_size / g)


def attention_heat(weights: torch.Tensor, centres: torch.Tensor, size: int) -> torch.Tensor:
    """``sum_k w_k exp(-|x - c_k|^2 / (2 s^2))`` over a ``size x size`` image, scaled to max 1."""
    ys = torch.arange(size, dtype=torch.float32).view(size, 1, 1)
    xs = torch.arange(size, dtype=torch.float32).view(1, size, 1)
    d2 = (ys - centres[:, 0]) ** 2 + (xs - centres[:, 1]) ** 2  # [S, S, K]
    heat = (weights * torch.exp(-d2 / (2 * SPREAD_PX**2))).sum(-1)
    return heat / heat.max().clamp_min(1e-8)


def draw_captions(model: Captioner, detector: RegionDetector, feats: torch.Tensor, test: Any, k: int, out: Path, *,
                  beam: int = 3, title: str = "") -> None:
    """Draw ``k`` test images with greedy and beam captions, the references and per-word attention maps."""
    from matplotlib.figure import Figure

    with torch.no_grad():
        g = greedy(model, feats[:k], max_steps=max_steps())
        b = beam_search(model, feats[:k], beam=beam, max_steps=max_steps())
    centres = region_centres_px(detector, feats[:k].cpu())
    cols = 2 + MAX_WORD_PANELS
    fig = Figure(figsize=(1.3 * cols + 3.0, 1.9 * k + 0.5))
    grid = fig.add_gridspec(k, cols, width_ratios=[1.3, 3.2] + [1.0] * (cols - 2))
    greedy_txt, beam_txt = texts_of(g.tokens.cpu()), texts_of(b.tokens.cpu())
    for i in range(k):
        image = test.images[i].permute(1, 2, 0).float() / 255.0
        ax = fig.add_subplot(grid[i, 0])
        ax.imshow(image.numpy())
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"test image {i}", fontsize=8)
        text = fig.add_subplot(grid[i, 1])
        text.axis("off")
        lines = [f"greedy: {greedy_txt[i]}", f"beam {beam}: {beam_txt[i]}", "references:",
                 *[f"  {r}" for r in test.texts[i]]]
        text.text(0, 1, "\n".join(textwrap.fill(line, 44, subsequent_indent="    ") for line in lines),
                  va="top", fontsize=6.5, family="monospace")
        words = [w for w in g.tokens[i].tolist() if w != cap.PAD][:MAX_WORD_PANELS]
        for t, w in enumerate(words):
            ax = fig.add_subplot(grid[i, 2 + t])
            heat = attention_heat(g.attention[i, t].cpu(), centres[i], image.shape[0])
            ax.imshow((image * (0.2 + 0.8 * heat.unsqueeze(-1))).numpy())
            ax.set_title(cap.VOCAB[w] if w != cap.EOS else "<eos>", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(f"{title}: greedy and beam captions; per greedy word, the attention over the detected regions "
                 "(dark = not attended)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=90)


__all__ = ["attention_heat", "draw_captions", "evaluate_captioning", "region_centres_px"]

"""Scoring label-free outputs and drawing them: correlation, error after the best affine fit, the eval strip.

A label-free height is identifiable only up to offset and scale (the constraint does not say where the ground
is, nor the pixels per metre; for the walking figure not even the direction), so the primary score is the
Pearson correlation with the truth over all held-out frames, as in the paper; ``eval/affine_rmse`` is the error
left after the best affine map from outputs to the truth (frame units). ``eval/output_spread`` is the outputs'
standard deviation over the untrained network's: near 0 for a collapsed (constant) network.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from dlfrontier.physics.constraints import parabola_projection, polynomial_projection
from dlfrontier.physics.data import GRAVITY, CausalImages, Videos, to_float


def predict_frames(model: Any, frames: torch.Tensor, batch: int = 512) -> torch.Tensor:
    """The first output per frame of ``frames`` ``[N, T, C, H, W]`` (uint8) as ``[N, T]`` on the CPU."""
    was = model.training
    model.eval()
    flat = frames.flatten(0, 1)
    with torch.no_grad():
        out = torch.cat([model(to_float(flat[i : i + batch]))[:, 0].cpu() for i in range(0, len(flat), batch)])
    model.train(was)
    return out.view(frames.shape[:2])


def pearson(a: torch.Tensor, b: torch.Tensor) -> float:
    """Pearson correlation of two equally long tensors (0 when either is constant)."""
    a, b = a.flatten().double(), b.flatten().double()
    a, b = a - a.mean(), b - b.mean()
    den = float(a.norm() * b.norm())
    return float(a @ b) / den if den > 0 else 0.0


def affine_fit(pred: torch.Tensor, truth: torch.Tensor) -> tuple[float, float]:
    """``(scale, offset)`` minimising ``||scale * pred + offset - truth||^2`` over all entries."""
    p, y = pred.flatten().double(), truth.flatten().double()
    var = float(((p - p.mean()) ** 2).mean())
    scale = float(((p - p.mean()) * (y - y.mean())).mean()) / var if var > 0 else 0.0
    return scale, float(y.mean()) - scale * float(p.mean())


def sequence_scores(pred: torch.Tensor, truth: torch.Tensor, untrained: torch.Tensor) -> dict[str, float]:
    """Correlation, |correlation|, error after the best affine fit and output spread of ``pred`` ``[N, T]``."""
    r = pearson(pred, truth)
    scale, offset = affine_fit(pred, truth)
    rmse = float(((scale * pred.double() + offset - truth.double()) ** 2).mean().sqrt())
    spread = float(pred.double().std()) / max(float(untrained.double().std()), 1e-12)
    return {"eval/corr": r, "eval/abs_corr": abs(r), "eval/affine_rmse": rmse, "eval/output_spread": spread}


def causal_scores(model: Any, test: CausalImages, device: Any, batch: int = 500) -> dict[str, float]:
    """Accuracy of each presence detector (probability > 0.5) and the smaller of the two."""
    was = model.training
    model.eval()
    with torch.no_grad():
        logits = torch.cat([model(to_float(test.images[i : i + batch].to(device))).cpu()
                            for i in range(0, len(test), batch)])
    model.train(was)
    right = ((logits > 0).float() == test.present).float().mean(0)
    return {"eval/min_accuracy": float(right.min()), "eval/peach_accuracy": float(right[0]),
            "eval/mario_accuracy": float(right[1])}


def write_strip(path: Path, videos: Videos, pred: torch.Tensor, *, task: str, title: str = "") -> Path:
    """Draw ``len(pred)`` videos: their frames in a row, and beside them the true curve, the prediction (mapped
    to the truth's units by the best affine fit) and the curve the constraint fits to the prediction."""
    from matplotlib.figure import Figure

    k, frames = pred.shape
    truth = videos.heights[:k] if task == "free-fall" else videos.xs[:k]
    t = videos.times
    fitted = parabola_projection(pred, t, GRAVITY) if task == "free-fall" else polynomial_projection(pred, t, 1)
    scale, offset = affine_fit(pred, truth)
    fig = Figure(figsize=(1.0 * frames + 3.2, 1.25 * k + 0.6))
    grid = fig.add_gridspec(k, frames + 3)
    what = "height" if task == "free-fall" else "position"
    for i in range(k):
        for j in range(frames):
            ax = fig.add_subplot(grid[i, j])
            img = videos.frames[i, j].permute(1, 2, 0).squeeze(-1).numpy()
            ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=255)
            ax.set_xticks([])
            ax.set_yticks([])
        ax = fig.add_subplot(grid[i, frames:])
        ax.plot(t, truth[i], "k-o", ms=3, label=f"true {what}")
        ax.plot(t, scale * pred[i] + offset, "C0-s", ms=3, label="prediction (affine fit)")
        ax.plot(t, scale * fitted[i] + offset, "C1--", label="parabola, g fixed" if task == "free-fall" else "line")
        ax.tick_params(labelsize=6)
        if i == 0:
            ax.legend(fontsize=6, loc="best")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    return path


def write_causal_grid(path: Path, test: CausalImages, probs: torch.Tensor, *, title: str = "") -> Path:
    """Draw the first ``len(probs)`` images with both detectors' probabilities and the truth."""
    from matplotlib.figure import Figure

    k = len(probs)
    cols = min(8, k)
    rows = (k + cols - 1) // cols
    fig = Figure(figsize=(1.5 * cols, 1.7 * rows + 0.4))
    for i in range(k):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.imshow(test.images[i].permute(1, 2, 0).numpy())
        right = bool(((probs[i] > 0.5).float() == test.present[i]).all())
        ax.set_title(f"P {probs[i, 0]:.2f} M {probs[i, 1]:.2f}", fontsize=7, color="green" if right else "red")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title + " (P: Peach, M: Mario; green = both right)", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    return path


def evaluate_run(loaded: Any, *, task: str, episodes: int = 4, gif: str | None = None, device: str = "auto",
                 out_dir: str | Path = "eval") -> Path:
    """``dlfrontier eval``: score a finished run on its held-out set and draw ``episodes`` videos (or images).

    Free fall and walking write ``OUT_DIR/strip.png`` (frames, predicted curve over the true one, the fitted
    parabola or line); the causal pair writes ``OUT_DIR/detections.png``. Never into the run folder.
    """
    from dlfrontier.physics.training import causal_model, causal_sets, init_model, truth_of, video_sets
    from dlfrontier.runtime import resolve_device

    cfg, dev, out = loaded.config, resolve_device(device), Path(out_dir)
    title = f"{loaded.experiment} (seed {loaded.seed})"
    if gif:
        print("--gif is ignored: these tasks have no episodes to animate")
    if task == "causal":
        detectors = causal_model(0, cfg)
        detectors.load_state_dict(loaded.state["model"])
        _, test = causal_sets(type(cfg)(**{**cfg.__dict__, "train_images": 2}), 0)
        scores = causal_scores(detectors.to(dev), test, dev)
        with torch.no_grad():
            probs = torch.sigmoid(detectors.eval()(to_float(test.images[: max(1, episodes)].to(dev)))).cpu()
        path = write_causal_grid(out / "detections.png", test, probs, title=title)
    else:
        model = init_model(0, size=cfg.image_size, width=cfg.width)
        model.load_state_dict(loaded.state["model"])
        _, test = video_sets(task, type(cfg)(**{**cfg.__dict__, "train_videos": 1}), 0)
        pred = predict_frames(model.to(dev), test.frames.to(dev))
        scores = sequence_scores(pred, truth_of(task, test), pred)
        scores.pop("eval/output_spread")
        path = write_strip(out / "strip.png", test, pred[: max(1, min(episodes, len(pred)))], task=task, title=title)
    print(f"{loaded.experiment}: " + ", ".join(f"{k} {v:.4f}" for k, v in scores.items()))
    print(f"wrote {path}")
    return path

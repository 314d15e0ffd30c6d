"""The captioning run config: data, the bottom-up detector, the captioner, cross-entropy and SCST settings.

``data="coco"`` (the full budgets) reads COCO instead of generating images: ``*_images`` then take the first
images of each Karpathy split, and the detector settings are unused (:mod:`~dlfrontier.multimodal.captioning.coco`).
Every field has a default and a help line (``dlfrontier show caption-updn-xe`` prints them); ``scst_steps=0``
means cross-entropy training only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass
class CaptionConfig:
    """Settings shared by every ``caption-*`` experiment (the model is the experiment's)."""

    data: Literal["generated", "coco"] = field(default="generated", metadata={
        "help": "generated: captioned scenes made from the run's seed; coco: Karpathy-split COCO with bottom-up "
                "region features from <data root>/coco/dataset_coco.json and <data root>/coco/features/ (the data "
                "root is $DLFRONTIER_DATA, else ~/.cache/dlfrontier; see docs/captioning.md)"})
    train_images: int = field(default=3000, metadata={
        "help": "training images, 5 reference captions each (generated from the run's seed)", "range": "[1, inf)"})
    val_images: int = field(default=200, metadata={
        "help": "validation images (the run's seed; greedy CIDEr-D logged after every epoch)", "range": "[1, inf)"})
    test_images: int = field(default=500, metadata={
        "help": "test images (a fixed seed, the same for every run)", "range": "[1, inf)"})
    detector_steps: int = field(default=400, metadata={
        "help": "steps pretraining the bottom-up detector on the training images' scene annotations (32 images "
                "per step), then frozen", "range": "[1, inf)"})
    detector_lr: float = field(default=3e-3, metadata={"help": "detector Adam learning rate", "range": "(0, inf)"})
    channels: int = field(default=32, metadata={"help": "detector CNN width", "range": "[1, inf)"})
    regions: int = field(default=4, metadata={
        "help": "regions per image (the detector's most confident cells)", "range": "[1, 25]"})
    max_regions: int = field(default=50, metadata={
        "help": "coco: at most this many regions per image (the first ones of its feature file); fewer are padded "
                "and masked", "range": "[1, inf)"})
    hidden: int = field(default=128, metadata={"help": "captioner width", "range": "[1, inf)"})
    heads: int = field(default=4, metadata={
        "help": "attention heads (transformer, aoa; must divide hidden)", "range": "[1, inf)"})
    layers: int = field(default=2, metadata={
        "help": "encoder/decoder layers (transformer) or refiner layers (aoa)", "range": "[1, inf)"})
    dropout: float = field(default=0.1, metadata={"help": "dropout", "range": "[0, 1)"})
    epochs: int = field(default=4, metadata={
        "help": "cross-entropy passes over the training images (each image with all 5 references)",
        "range": "[1, inf)"})
    batch_images: int = field(default=25, metadata={
        "help": "images per cross-entropy step (x 5 references)", "range": "[1, inf)"})
    lr: float = field(default=2e-3, metadata={
        "help": "cross-entropy AdamW peak learning rate (linear warm-up, cosine to 0)", "range": "(0, inf)"})
    warmup: int = field(default=50, metadata={"help": "warm-up iterations", "range": "[0, inf)"})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay", "range": "[0, inf)"})
    grad_clip: float | None = field(default=1.0, metadata={
        "help": "gradient norm clip (none: off)", "range": "(0, inf)"})
    scst_steps: int = field(default=0, metadata={
        "help": "self-critical steps after cross-entropy (0: cross-entropy only)", "range": "[0, inf)"})
    scst_batch_images: int = field(default=25, metadata={"help": "images per SCST step", "range": "[1, inf)"})
    scst_samples: int = field(default=5, metadata={
        "help": "captions sampled per image and SCST step (nsc needs >= 2)", "range": "[1, inf)"})
    scst_baseline: Literal["greedy", "nsc"] = field(default="greedy", metadata={
        "help": "greedy: the greedy caption's reward (Rennie et al. 2017); nsc: the mean reward of the image's "
                "other samples (Luo 2020)"})
    scst_lr: float = field(default=5e-5, metadata={"help": "SCST Adam learning rate (constant)", "range": "(0, inf)"})
    temperature: float = field(default=1.0, metadata={
        "help": "SCST sampling temperature (the loss always uses the model's own log-probabilities)",
        "range": "(0, inf)"})
    scst_eval_every: int = field(default=50, metadata={
        "help": "SCST steps between validation scores and checkpoints", "range": "[1, inf)"})
    beam: int = field(default=3, metadata={
        "help": "beam size of the test captions scored beside the greedy ones (eval/cider_d_beam; 1: none)",
        "range": "[1, inf)"})
    log_every: int = field(default=20, metadata={"help": "log train/loss every N iterations", "range": "[1, inf)"})

    def __post_init__(self) -> None:
        from dlfrontier.errors import ConfigError

        if self.hidden % self.heads:
            raise ConfigError(f"heads={self.heads} must divide hidden={self.hidden}")
        if self.scst_baseline == "nsc" and self.scst_steps > 0 and self.scst_samples < 2:
            raise ConfigError("scst_baseline=nsc needs scst_samples >= 2 (the mean of the other samples)")


__all__ = ["CaptionConfig"]

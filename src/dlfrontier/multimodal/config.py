"""The VQA run configs: data and training settings shared by every model, plus each model's own fields.

Every field has a default and a help line (``dlfrontier show vqa-mcan`` prints them). ``None`` means "off" or
"all": RN's ``objects=None`` relates every grid cell.
``bottom_up_steps`` is a count of pretraining steps; 0 means no bottom-up pretraining. A setting that reads the
bottom-up detector without pretraining it is a :class:`~dlfrontier.errors.ConfigError`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from dlfrontier.errors import ConfigError


@dataclass
class VQAConfig:
    """Data and training settings shared by every VQA experiment."""

    train_images: int = field(default=4000, metadata={
        "help": "training images (generated from the run's seed)", "range": "[1, inf)"})
    test_images: int = field(default=500, metadata={
        "help": "test images (a fixed seed, the same for every run)", "range": "[1, inf)"})
    nonrelational: int = field(default=10, metadata={"help": "non-relational questions per image", "range": "[0, inf)"})
    relational: int = field(default=10, metadata={"help": "relational questions per image", "range": "[0, inf)"})
    epochs: int = field(default=6, metadata={"help": "passes over the training set", "range": "[1, inf)"})
    batch_images: int = field(default=16, metadata={
        "help": "images per mini-batch (each with all its questions)", "range": "[1, inf)"})
    lr: float = field(default=1e-3, metadata={
        "help": "AdamW peak learning rate (linear warm-up, cosine to 0)", "range": "(0, inf)"})
    warmup: int = field(default=100, metadata={"help": "warm-up iterations", "range": "[0, inf)"})
    weight_decay: float = field(default=1e-4, metadata={"help": "AdamW weight decay", "range": "[0, inf)"})
    channels: int = field(default=24, metadata={
        "help": "CNN width (24 in the relation-network paper)", "range": "[1, inf)"})
    bottom_up_steps: int = field(default=400, metadata={
        "help": "steps pretraining the CNN on per-cell colour and shape (bottom-up features, then frozen); "
                "0: no pretraining, learn the CNN end to end from the answers, as in the relation-network paper",
        "range": "[0, inf)"})
    bottom_up_images: int = field(default=4000, metadata={
        "help": "annotated images for the bottom-up pretraining", "range": "[1, inf)"})
    bn_images: int = field(default=1000, metadata={
        "help": "training images for the BatchNorm statistics", "range": "[1, inf)"})
    log_every: int = field(default=25, metadata={"help": "log train/loss every N iterations", "range": "[1, inf)"})

    def __post_init__(self) -> None:
        if self.bottom_up_steps < 0:
            raise ConfigError(f"bottom_up_steps={self.bottom_up_steps}: expected a count >= 0 (0: no pretraining)")
        needs = self.detector_use()
        if needs is not None and self.bottom_up_steps == 0:
            setting, without = needs
            raise ConfigError(f"{setting} reads the bottom-up detector: set bottom_up_steps > 0, or {without}")

    def detector_use(self) -> tuple[str, str] | None:
        """``(the setting that reads the trained detector, the setting without it)``; ``None`` when unused."""
        return None

    def model_kwargs(self) -> dict[str, Any]:
        """The model's constructor arguments: ``channels`` plus the subclass's own fields."""
        base = {f.name for f in fields(VQAConfig)}
        return {"channels": self.channels, **{k: v for k, v in asdict(self).items() if k not in base}}


@dataclass
class CNNMLPConfig(VQAConfig):
    hidden: int = field(default=256, metadata={"help": "MLP width", "range": "[1, inf)"})
    dropout: float = field(default=0.0, metadata={"help": "dropout before the classifier", "range": "[0, 1)"})


@dataclass
class RNConfig(VQAConfig):
    hidden: int = field(default=64, metadata={
        "help": "width of g and f (the cost of g grows with hidden^2 x pairs)", "range": "[1, inf)"})
    g_layers: int = field(default=3, metadata={"help": "linear layers of g", "range": "[1, inf)"})
    f_layers: int = field(default=2, metadata={
        "help": "linear layers of f (the last is the classifier)", "range": "[1, inf)"})
    objects: int | None = field(default=6, metadata={
        "help": "relate the k objects the bottom-up detector finds (k^2 pairs); none: every grid cell (625 pairs), "
                "as in the paper", "range": "[1, inf)"})

    def detector_use(self) -> tuple[str, str] | None:
        return (f"objects={self.objects}", "objects=none to relate every grid cell") if self.objects is not None \
            else None


@dataclass
class UpDnConfig(VQAConfig):
    hidden: int = field(default=128, metadata={"help": "joint embedding width", "range": "[1, inf)"})
    glimpses: int = field(default=1, metadata={"help": "attention glimpses (1 in the paper)", "range": "[1, inf)"})


@dataclass
class MCANConfig(VQAConfig):
    dim: int = field(default=64, metadata={"help": "model width d", "range": "[1, inf)"})
    heads: int = field(default=4, metadata={"help": "attention heads", "range": "[1, inf)"})
    ffn: int = field(default=128, metadata={"help": "FFN hidden width", "range": "[1, inf)"})
    layers: int = field(default=2, metadata={"help": "encoder and decoder depth", "range": "[1, inf)"})
    dropout: float = field(default=0.0, metadata={"help": "dropout in attention, FFN and AttFlat", "range": "[0, 1)"})
    geometry: bool = field(default=True, metadata={
        "help": "bias the image self-attention by the detected objects' relative geometry (Hu et al. 2018); "
                "false: the paper's MCAN"})

    def detector_use(self) -> tuple[str, str] | None:
        return ("geometry=true", "geometry=false") if self.geometry else None


__all__ = ["CNNMLPConfig", "MCANConfig", "RNConfig", "UpDnConfig", "VQAConfig"]

"""The run config of every ``nmt-*``, ``backtranslation-*`` and ``dual-learning-*`` experiment.

One config drives the four pipelines (:func:`dlfrontier.dual.training.train_translation`): the supervised
warm start on the bilingual pairs (both directions at once), then nothing more (``nmt-en-es-10pct``,
``nmt-en-es-full``), one round of back-translation, or dual learning. Every field has a default and a help line
(``dlfrontier show dual-learning-en-es`` prints them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass
class DualConfig:
    """Data, tokenizer, model, supervised, back-translation and dual-learning settings."""

    corpus: str = field(default="", metadata={
        "help": "the parallel corpus: empty = the bundled Old Testament (KJV / Reina-Valera 1909, split by book); "
                "else a folder (absolute, or relative to the data root) holding train.tsv, valid.tsv and test.tsv "
                "(each may be .tsv.gz), one 'english<TAB>spanish' pair a line (docs/dual.md: WMT-size data)",
        "path": True})
    fraction: float = field(default=0.1, metadata={
        "help": "share of the training pairs used as bilingual data (the rest: monolingual halves, no pair kept; "
                "1.0: every training pair, the supervised ceiling)", "range": "(0, 1]"})
    vocab_size: int = field(default=2000, metadata={
        "help": "joint English-Spanish sentencepiece vocabulary, trained on the training split's text only (of a "
                "corpus folder: at most its first 1M training pairs)",
        "range": "[16, inf)"})
    max_tokens: int = field(default=64, metadata={
        "help": "training sentences longer than this many subword tokens (either side) are left out of training "
                "(never out of the test set)", "range": "[4, inf)"})
    hidden: int = field(default=128, metadata={"help": "Transformer width", "range": "[8, inf)"})
    heads: int = field(default=4, metadata={"help": "attention heads (must divide hidden)", "range": "[1, inf)"})
    layers: int = field(default=2, metadata={"help": "encoder and decoder layers", "range": "[1, inf)"})
    lm_layers: int = field(default=2, metadata={"help": "language-model layers (dual learning)", "range": "[1, inf)"})
    dropout: float = field(default=0.1, metadata={"help": "dropout", "range": "[0, 1)"})
    label_smoothing: float = field(default=0.1, metadata={
        "help": "label smoothing of the supervised cross-entropy", "range": "[0, 1)"})
    epochs: int = field(default=20, metadata={
        "help": "supervised passes over the bilingual pairs (both directions trained on every batch)",
        "range": "[1, inf)"})
    batch_size: int = field(default=64, metadata={"help": "sentence pairs per supervised step", "range": "[1, inf)"})
    lr: float = field(default=1e-3, metadata={
        "help": "supervised AdamW peak learning rate (linear warm-up, cosine to 0)", "range": "(0, inf)"})
    warmup: int = field(default=200, metadata={"help": "warm-up iterations", "range": "[0, inf)"})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay", "range": "[0, inf)"})
    grad_clip: float = field(default=1.0, metadata={"help": "gradient norm clip", "range": "(0, inf)"})
    warm_start: str = field(default="", metadata={
        "help": "a finished supervised run (nmt-en-es-10pct) to continue from instead of training the warm start: "
                "its run folder, or a folder holding run folders (its newest finished one of this seed is taken); "
                "its seed and every data, model and supervised setting must equal this run's (empty: train it)",
        "path": True})
    method: Literal["supervised", "backtranslation", "dual"] = field(default="supervised", metadata={
        "help": "after the warm start: nothing more, one round of back-translation, or dual learning"})
    mono_sentences: int = field(default=4000, metadata={
        "help": "monolingual sentences used per language (back-translation and dual learning; the first ones of "
                "the seed's shuffled half)", "range": "[1, inf)"})
    bt_epochs: int = field(default=10, metadata={
        "help": "back-translation: passes over the real + synthetic pairs, continuing from the warm start",
        "range": "[1, inf)"})
    bt_lr: float = field(default=3e-4, metadata={
        "help": "back-translation AdamW peak learning rate (warm-up, cosine)", "range": "(0, inf)"})
    lm_epochs: int = field(default=5, metadata={
        "help": "dual learning: passes of each language model over its monolingual sentences (+ the bilingual "
                "pairs' side)", "range": "[1, inf)"})
    dual_steps: int = field(default=300, metadata={
        "help": "dual-learning rounds; each round plays one game from each language and one supervised step",
        "range": "[0, inf)"})
    games: bool = field(default=True, metadata={
        "help": "dual learning: play the games (false: the same rounds with the supervised step only, the control "
                "that shows what the monolingual games add to more supervised steps)"})
    dual_batch: int = field(default=32, metadata={
        "help": "monolingual sentences per game", "range": "[1, inf)"})
    middle: Literal["sample", "beam"] = field(default="sample", metadata={
        "help": "how the K middle translations are drawn: sampled (the unbiased policy gradient) or the K best of a "
                "beam of 2K (the paper's choice)"})
    samples: int = field(default=2, metadata={
        "help": "middle translations sampled per sentence (K; the baseline is the mean reward of the others)",
        "range": "[2, inf)"})
    alpha: float = field(default=0.5, metadata={
        "help": "reward = alpha * LM log-likelihood per token + (1 - alpha) * reconstruction log-likelihood per "
                "token", "range": "[0, 1]"})
    dual_lr: float = field(default=1e-4, metadata={
        "help": "dual-learning Adam learning rate (both models, games and supervised steps; its peak with "
                "dual_schedule=cosine)", "range": "(0, inf)"})
    dual_schedule: Literal["constant", "cosine"] = field(default="constant", metadata={
        "help": "dual-learning learning rate over the rounds: constant, or linear warm-up (warmup rounds, at most "
                "a tenth of them) then cosine to 0, as back-translation's"})
    pg_weight: float = field(default=1.0, metadata={
        "help": "weight of the primal model's policy-gradient loss beside the dual model's reconstruction loss in "
                "a game (the paper's two learning rates as one ratio; 0: the games train reconstruction only, "
                "online back-translation)", "range": "[0, inf)"})
    dual_eval_every: int = field(default=100, metadata={
        "help": "dual rounds between validation BLEU points and checkpoints", "range": "[1, inf)"})
    val_sentences: int = field(default=200, metadata={
        "help": "validation sentences decoded greedily for the learning curves", "range": "[1, inf)"})
    test_sentences: int = field(default=0, metadata={
        "help": "test sentences scored (0: all of the test books)", "range": "[0, inf)"})
    beam: int = field(default=4, metadata={"help": "beam size of the test translations", "range": "[1, inf)"})
    log_every: int = field(default=20, metadata={"help": "log train/loss every N iterations", "range": "[1, inf)"})

    def __post_init__(self) -> None:
        from dlfrontier.errors import ConfigError

        if self.hidden % self.heads:
            raise ConfigError(f"heads={self.heads} must divide hidden={self.hidden}")
        if self.warm_start and self.method == "supervised":
            raise ConfigError("warm_start only applies after the warm start: set method=backtranslation or "
                              "method=dual, or leave warm_start empty")
        if self.method != "supervised" and self.fraction >= 1.0:
            raise ConfigError(f"method={self.method} needs monolingual text: fraction must be < 1, got "
                              f"{self.fraction}")


__all__ = ["DualConfig"]

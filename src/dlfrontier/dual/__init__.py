"""Dual learning for machine translation (He et al., NIPS 2016) and its baselines, English <-> Spanish.

>>> from dlfrontier.dual import DualConfig
>>> cfg = DualConfig(method="dual", fraction=0.1)        # 10% bilingual warm start, then dual learning

Modules: ``tokenizer`` (a joint sentencepiece vocabulary), ``models`` (the Transformer translator on the
captioning decoder's step interface, so :mod:`dlfrontier.multimodal.captioning.decoding`'s greedy, sampling and beam
search drive it; the language model), ``objectives`` (the game's reward and losses), ``bleu`` (sacreBLEU),
``training`` (warm start, back-translation, dual learning: the run behind every experiment of
:mod:`dlfrontier.experiments.dual`), ``config``. The corpus and its splits: :mod:`dlfrontier.data.parallel`.
"""

from dlfrontier.dual.config import DualConfig

__all__ = ["DualConfig"]

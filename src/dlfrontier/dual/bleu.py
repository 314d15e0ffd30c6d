"""Corpus BLEU with sacreBLEU (Post, WMT 2018, https://aclanthology.org/W18-6319) on detokenized text.

sacreBLEU tokenizes hypotheses and references itself (``13a``, the WMT standard), so scores are comparable across
papers that print the same signature; the runs log the signature beside the score.
"""

from __future__ import annotations

from collections.abc import Sequence

from dlfrontier.errors import require


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[str]) -> tuple[float, str]:
    """sacreBLEU's corpus BLEU (0-100) of ``hypotheses`` against one reference each, and its signature."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    sacrebleu = require("sacrebleu", "dual")
    metric = sacrebleu.metrics.BLEU()
    score = metric.corpus_score(list(hypotheses), [list(references)])
    return float(score.score), str(metric.get_signature())


__all__ = ["corpus_bleu"]

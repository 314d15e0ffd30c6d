"""Caption metrics: corpus BLEU-1..4 and CIDEr-D, computing exactly what the COCO caption evaluation reports.

Papers: Papineni, Roukos, Ward, Zhu, "BLEU: a method for automatic evaluation of machine translation", ACL 2002;
Vedantam, Zitnick, Parikh, "CIDEr: Consensus-based image description evaluation", CVPR 2015,
https://arxiv.org/abs/1411.5726 (CIDEr-D: Section 7). The reference implementation is the COCO caption evaluation
code (``pycocoevalcap``: ``Bleu(4)`` and ``Cider()``, whose "CIDEr" is CIDEr-D); our functions are written here
from its definitions and are tested to equal it to 1e-6 (``tests/captioning/test_metrics.py``). Sentences are
split on whitespace (the caller tokenizes: our generated captions are lower case words without punctuation).

**BLEU** (corpus level, as ``Bleu(4).compute_score`` with its ``"closest"`` option): per candidate, the
reference length closest to its length (the shorter on a tie), its n-gram counts clipped by the largest count
in any one reference; summed over the corpus into ``correct[k]`` and ``guess[k] = max(0, len - k + 1)``;
``BLEU-k = (prod_{j<=k} (correct[j] + 1e-15) / (guess[j] + 1e-9)) ** (1/k)``, times the brevity penalty
``exp(1 - r / c)`` when ``c < r`` (``c``, ``r``: total candidate and closest-reference lengths, also with the
1e-15 / 1e-9 guards, so an empty corpus scores 0, not a division error).

**CIDEr-D** (n = 1..4, sigma = 6): every sentence becomes, per n-gram order, a tf-idf vector ``g(w) = tf(w) *
(log N - log max(1, df(w)))``, where ``df(w)`` is the number of reference *sets* (images) in which some reference
holds ``w`` and ``N`` the number of reference sets the document frequencies came from. Against each reference,
per order, the clipped cosine ``sum_w min(g_c(w), g_r(w)) g_r(w) / (|g_c| |g_r|)`` (0 when either norm is 0) is
multiplied by the Gaussian length penalty ``exp(-(l_c - l_r)^2 / (2 sigma^2))``; the score is the mean over the
4 orders, averaged over the references, times 10. As in pycocoevalcap, a sentence's length ``l`` is its number of
bigrams (``words - 1``, 0 for zero or one word).

:class:`CiderD` takes the document frequencies from a fixed corpus (the training references, as the SCST reward
of self-critical.pytorch does) and scores candidates one by one (:meth:`CiderD.scores`, the reward); it caches
the references' vectors per reference set. :func:`cider_d` is the evaluation number: document frequencies from
the evaluated references themselves, the mean over candidates (= ``Cider().compute_score``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

NGRAMS = 4
SIGMA = 6.0
_TINY, _SMALL = 1e-15, 1e-9  # pycocoevalcap's guards: numerator + 1e-15, denominator + 1e-9

NGram = tuple[str, ...]


def ngram_counts(words: Sequence[str], n: int = NGRAMS) -> Counter[NGram]:
    """Counts of every 1..n-gram of ``words`` (tuples of words)."""
    counts: Counter[NGram] = Counter()
    for k in range(1, n + 1):
        for i in range(len(words) - k + 1):
            counts[tuple(words[i : i + k])] += 1
    return counts


def _check(candidates: Sequence[str], references: Sequence[Sequence[str]]) -> None:
    if isinstance(candidates, str) or len(candidates) != len(references):
        raise ValueError(f"{len(candidates)} candidates but {len(references)} reference sets; need one set each")
    for refs in references:
        if isinstance(refs, str) or not len(refs):
            raise ValueError("every candidate needs a non-empty list of reference strings")


def bleu(candidates: Sequence[str], references: Sequence[Sequence[str]], n: int = NGRAMS) -> list[float]:
    """Corpus BLEU-1..n of ``candidates[i]`` against ``references[i]`` (see the module docstring).

    Returns:
        ``[BLEU-1, ..., BLEU-n]``.
    """
    _check(candidates, references)
    correct, guess = [0] * n, [0] * n
    cand_len = ref_len = 0
    for cand, refs in zip(candidates, references, strict=True):
        words = cand.split()
        c = len(words)
        max_ref: dict[NGram, int] = {}
        lengths = []
        for ref in refs:
            ref_words = ref.split()
            lengths.append(len(ref_words))
            for g, k in ngram_counts(ref_words, n).items():
                if k > max_ref.get(g, 0):
                    max_ref[g] = k
        cand_len += c
        ref_len += min(lengths, key=lambda length: (abs(length - c), length))
        for g, k in ngram_counts(words, n).items():
            correct[len(g) - 1] += min(k, max_ref.get(g, 0))
        for k in range(n):
            guess[k] += max(0, c - k)
    scores, product = [], 1.0
    for k in range(n):
        product *= (correct[k] + _TINY) / (guess[k] + _SMALL)
        scores.append(product ** (1.0 / (k + 1)))
    ratio = (cand_len + _TINY) / (ref_len + _SMALL)
    if ratio < 1:
        penalty = math.exp(1.0 - 1.0 / ratio)
        scores = [s * penalty for s in scores]
    return scores


def document_frequencies(reference_sets: Sequence[Sequence[str]], n: int = NGRAMS) -> Counter[NGram]:
    """For every n-gram, the number of reference sets in which at least one reference holds it."""
    df: Counter[NGram] = Counter()
    for refs in reference_sets:
        seen: set[NGram] = set()
        for ref in refs:
            seen.update(ngram_counts(ref.split(), n))
        df.update(seen)
    return df


def _vector(text: str, df: Counter[NGram], log_n: float, n: int) -> tuple[dict[NGram, float], list[float], int]:
    words = text.split()
    weights: dict[NGram, float] = {}
    squares = [0.0] * n
    for g, tf in ngram_counts(words, n).items():
        w = tf * (log_n - math.log(max(1.0, df.get(g, 0))))
        weights[g] = w
        squares[len(g) - 1] += w * w
    return weights, [math.sqrt(s) for s in squares], max(0, len(words) - 1)


def _similarity(
    cand: tuple[dict[NGram, float], list[float], int],
    ref: tuple[dict[NGram, float], list[float], int],
    n: int,
    sigma: float,
) -> float:
    """Sum over orders of the clipped cosine times the length penalty (one candidate, one reference)."""
    cw, cnorm, clen = cand
    rw, rnorm, rlen = ref
    dots = [0.0] * n
    for g, h in cw.items():
        r = rw.get(g)
        if r:
            dots[len(g) - 1] += min(h, r) * r
    penalty = math.exp(-((clen - rlen) ** 2) / (2 * sigma**2))
    total = 0.0
    for k in range(n):
        if cnorm[k] != 0 and rnorm[k] != 0:
            total += dots[k] / (cnorm[k] * rnorm[k]) * penalty
    return total


class CiderD:
    """CIDEr-D with document frequencies from a fixed corpus of reference sets (e.g. the training references).

    Args:
        corpus_references: one sequence of reference strings per image; ``df`` and ``N`` come from these.
        n: largest n-gram order; sigma: the Gaussian length penalty's width.
    """

    def __init__(self, corpus_references: Sequence[Sequence[str]], *, n: int = NGRAMS, sigma: float = SIGMA) -> None:
        if not len(corpus_references):
            raise ValueError("CiderD needs at least one reference set for its document frequencies")
        self.n, self.sigma = n, sigma
        self.df = document_frequencies(corpus_references, n)
        self.log_n = math.log(float(len(corpus_references)))
        self._refs: dict[tuple[str, ...], list[tuple[dict[NGram, float], list[float], int]]] = {}

    def _reference_vectors(self, refs: Sequence[str]) -> list[tuple[dict[NGram, float], list[float], int]]:
        key = tuple(refs)
        vecs = self._refs.get(key)
        if vecs is None:
            if len(self._refs) >= 50_000:  # bound the cache (a training set's references fit)
                self._refs.clear()
            vecs = [_vector(r, self.df, self.log_n, self.n) for r in key]
            self._refs[key] = vecs
        return vecs

    def scores(self, candidates: Sequence[str], references: Sequence[Sequence[str]]) -> np.ndarray:
        """CIDEr-D of each candidate against its references. Shapes: ``[C]`` strings -> ``[C]`` float64."""
        _check(candidates, references)
        out = np.zeros(len(candidates), dtype=np.float64)
        for i, (cand, refs) in enumerate(zip(candidates, references, strict=True)):
            vec = _vector(cand, self.df, self.log_n, self.n)
            ref_vecs = self._reference_vectors(refs)
            total = sum(_similarity(vec, r, self.n, self.sigma) for r in ref_vecs)
            out[i] = total / self.n / len(ref_vecs) * 10.0
        return out


def cider_d(candidates: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    """Corpus CIDEr-D: the mean over candidates, document frequencies from ``references`` themselves.

    Equals pycocoevalcap's ``Cider().compute_score`` (its first value) on the same sentences.
    """
    _check(candidates, references)
    return float(CiderD(references).scores(candidates, references).mean())


__all__ = ["NGRAMS", "SIGMA", "CiderD", "bleu", "cider_d", "document_frequencies", "ngram_counts"]

"""BLEU and CIDEr-D: hand-computed values on tiny examples, and equality with pycocoevalcap on a fixed fixture."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dlfrontier.data.captions import make_captions
from dlfrontier.multimodal.metrics import CiderD, bleu, cider_d, document_frequencies, ngram_counts

L2 = math.log(2.0)


def test_bleu_by_hand() -> None:
    # unigrams 5/6 (sat unmatched, "the" clipped at 2), bigrams 3/5, trigrams 1/4 ("on the mat"), 4-grams 0/3;
    # closest reference length 6 = candidate length: no brevity penalty
    got = bleu(["the cat sat on the mat"], [["the cat is on the mat", "there is a cat on the mat"]])
    assert got[0] == pytest.approx(5 / 6, abs=1e-9)
    assert got[1] == pytest.approx(math.sqrt(5 / 6 * 3 / 5), abs=1e-9)
    assert got[2] == pytest.approx(0.5, abs=1e-9)
    assert got[3] == pytest.approx((0.125 * 1e-15 / 3) ** 0.25, rel=1e-6)  # the 1e-15 guard, not 0


def test_bleu_brevity_penalty_and_closest_length() -> None:
    short = bleu(["the cat"], [["the cat is on the mat"]], n=2)
    assert short == pytest.approx([math.exp(1 - 6 / 2)] * 2, abs=1e-9)
    # lengths 3 and 5 are equally close to 4: the shorter one counts, so no penalty
    assert bleu(["a b c d"], [["a b c", "a b c d e"]], n=1)[0] == pytest.approx(1.0, abs=1e-9)
    # clipping: "the the the" against a reference with one "the"
    assert bleu(["the the the"], [["the cat the"]], n=1)[0] == pytest.approx(2 / 3, abs=1e-9)
    # corpus level: counts are summed before dividing (not a mean of sentence scores)
    two = bleu(["a b", "c d e f"], [["a b"], ["c x y z"]], n=1)[0]
    assert two == pytest.approx(3 / 6, abs=1e-9)
    assert bleu([""], [["a b"]])[0] == pytest.approx(0.0, abs=1e-9)


def test_cider_d_by_hand() -> None:
    corpus = [["red square"], ["blue circle"]]
    cider = CiderD(corpus)
    assert document_frequencies(corpus)[("red", "square")] == 1 and cider.log_n == pytest.approx(L2)
    # identical: cosine 1 for unigrams and bigrams, no 3-/4-grams -> mean (1 + 1 + 0 + 0) / 4 * 10
    assert cider.scores(["red square"], [["red square"]])[0] == pytest.approx(5.0, abs=1e-9)
    # one word: unigram cosine 1/sqrt(2); bigram lengths 0 vs 1 -> penalty exp(-1 / 72)
    one = (1 / math.sqrt(2)) * math.exp(-1 / 72) / 4 * 10
    assert cider.scores(["blue"], [["blue circle"]])[0] == pytest.approx(one, abs=1e-9)
    # clipping: candidate "red" tf 2 counts min(2 log2, log2) * log2: unigram 2/sqrt(10) (3/sqrt(10) unclipped),
    # bigrams 1/sqrt(2) ("red red" unseen: idf log 2), trigram against no reference trigram: 0
    clipped = (2 / math.sqrt(10) + 1 / math.sqrt(2)) * math.exp(-1 / 72) / 4 * 10
    assert cider.scores(["red red square"], [["red square"]])[0] == pytest.approx(clipped, abs=1e-9)
    # an n-gram present in every reference set has idf 0 and adds nothing
    flat = CiderD([["a red"], ["a blue"]])
    assert flat.scores(["a"], [["a red"]])[0] == pytest.approx(0.0, abs=1e-12)
    # the corpus score uses df from the evaluated references and averages candidates
    assert cider_d(["red square", "blue"], corpus) == pytest.approx((5.0 + one) / 2, abs=1e-9)
    assert cider.scores([""], [["red square"]])[0] == 0.0


def test_ngram_counts() -> None:
    c = ngram_counts("a b a b".split(), 2)
    assert c[("a",)] == 2 and c[("a", "b")] == 2 and c[("b", "a")] == 1 and len(c) == 4


def test_bad_inputs_are_one_line() -> None:
    with pytest.raises(ValueError):
        bleu(["a"], [["a"], ["b"]])
    with pytest.raises(ValueError):
        cider_d(["a"], [[]])
    with pytest.raises(ValueError):
        CiderD([])


def fixture() -> tuple[list[str], list[list[str]]]:
    """50 candidates against 5 generated references each: other images' references, shuffled words, an exact
    reference, repeats, unknown words, empty and one- or two-word candidates."""
    refs_set, cands_set = make_captions(50, seed=11), make_captions(50, seed=12)
    refs = [list(r) for r in refs_set.texts]
    rng = np.random.default_rng(0)
    cands = []
    for i in range(50):
        text = cands_set.texts[i][i % 5]
        kind = i % 10
        if kind == 1:
            text = refs[i][2]
        elif kind == 2:
            text = " ".join(rng.permutation(refs[i][0].split()))
        elif kind == 3:
            text = " ".join(refs[i][1].split()[:2])
        elif kind == 4:
            text = refs[i][0].split()[-1]
        elif kind == 5:
            text = ""
        elif kind == 6:
            text = refs[i][3] + " " + refs[i][3]
        elif kind == 7:
            text = "purple " + refs[i][4]
        cands.append(text)
    return cands, refs


def test_equals_pycocoevalcap() -> None:
    pytest.importorskip("pycocoevalcap")
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider

    cands, refs = fixture()
    gts = {i: refs[i] for i in range(len(refs))}
    res = {i: [cands[i]] for i in range(len(cands))}
    want_bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    want_cider, want_each = Cider().compute_score(gts, res)
    assert bleu(cands, refs) == pytest.approx(want_bleu, abs=1e-6)
    assert cider_d(cands, refs) == pytest.approx(want_cider, abs=1e-6)
    np.testing.assert_allclose(CiderD(refs).scores(cands, refs), want_each, atol=1e-6)
    for n in (1, 2, 3):
        assert bleu(cands, refs, n=n) == pytest.approx(want_bleu[:n], abs=1e-6)
    # and on subsets (the brevity penalty applies in some)
    for part in (slice(0, 7), slice(3, 6), slice(20, 50, 3)):
        g = {i: refs[i] for i in range(50)[part]}
        r = {i: [cands[i]] for i in range(50)[part]}
        assert bleu(cands[part], refs[part]) == pytest.approx(Bleu(4).compute_score(g, r, verbose=0)[0], abs=1e-6)
        assert cider_d(cands[part], refs[part]) == pytest.approx(Cider().compute_score(g, r)[0], abs=1e-6)


def test_cider_reward_uses_the_corpus_df_and_caches() -> None:
    train = make_captions(100, seed=5)
    cider = CiderD(train.texts)
    cands = [t[0] for t in train.texts[:10]]
    first = cider.scores(cands, train.texts[:10])
    assert np.array_equal(first, cider.scores(cands, train.texts[:10]))  # cached reference vectors agree
    assert (first > 0).all()
    # a reference scores high against its own image's other references and low against another image's
    own = cider.scores([train.texts[0][0]], [train.texts[0][1:]])[0]
    assert own > cider.scores([train.texts[0][0]], [train.texts[1][1:]])[0]

"""Decoding: beam search equals exhaustive search on a tiny vocabulary; beam 1 equals greedy; sampling."""

from __future__ import annotations

import itertools

import pytest
import torch

from dlfrontier.multimodal.captioning.decoding import beam_search, greedy, sample
from dlfrontier.multimodal.captioning.models import BOS, EOS, PAD, build_captioner

V = 6  # PAD, BOS, EOS, UNK and two words: EOS, UNK, 4, 5 can be emitted
STEPS = 4


def tiny(name: str, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    kw = {} if name == "updn" else {"heads": 2, "layers": 1}
    model = build_captioner(name, feat_dim=6, vocab_size=V, hidden=8, dropout=0.0, **kw).eval()
    with torch.no_grad():
        model.out.weight.mul_(8.0)  # sharper distributions: hypotheses that differ in score
        model.out.bias[EOS] -= 5.0  # captions longer than the empty one
    return model


def sequence_score(model: torch.nn.Module, feats: torch.Tensor, seq: list[int]) -> float:
    """Sum of the log-probabilities of ``seq`` (teacher forcing from BOS)."""
    words = torch.tensor([[BOS, *seq[:-1]]])
    with torch.no_grad():
        logp, _ = model(feats, words)
    return float(logp[0, torch.arange(len(seq)), torch.tensor(seq)].sum())


def exhaustive(model: torch.nn.Module, feats: torch.Tensor) -> tuple[list[int], float]:
    """Every caption of at most STEPS tokens: words then EOS, or STEPS words truncated."""
    words = [t for t in range(V) if t not in (PAD, BOS, EOS)]
    best: tuple[list[int], float] = ([], float("-inf"))
    for n in range(STEPS + 1):
        for body in itertools.product(words, repeat=n):
            seq = [*body, EOS] if n < STEPS else list(body)
            score = sequence_score(model, feats, seq)
            if score > best[1]:
                best = (seq, score)
    return best


@pytest.mark.parametrize("name", ["updn", "transformer", "aoa"])
def test_beam_search_equals_exhaustive_search(name: str) -> None:
    model = tiny(name)
    torch.manual_seed(1)
    feats = torch.randn(3, 4, 6)
    # 3 emittable non-EOS tokens, 4 steps: at most 3^4 live + 40 finished hypotheses; a beam of 128 holds them all
    out = beam_search(model, feats, beam=128, max_steps=STEPS)
    lengths = []
    for i in range(3):
        seq, score = exhaustive(model, feats[i : i + 1])
        got = [t for t in out.tokens[i].tolist() if t != PAD]
        assert got == seq
        assert abs(float(out.score[i]) - score) < 1e-4
        lengths.append(len(seq))
    assert max(lengths) > 1  # not only the empty caption


@pytest.mark.parametrize("name", ["updn", "transformer", "aoa"])
def test_beam_of_one_is_greedy_and_wider_beams_score_no_worse(name: str) -> None:
    model = tiny(name, seed=3)
    feats = torch.randn(5, 4, 6)
    g = greedy(model, feats, max_steps=STEPS)
    b1 = beam_search(model, feats, beam=1, max_steps=STEPS)
    assert torch.equal(g.tokens, b1.tokens) and torch.allclose(g.score, b1.score, atol=1e-5)
    b3 = beam_search(model, feats, beam=3, max_steps=STEPS)
    assert (b3.score >= g.score - 1e-5).all()
    # the reported scores are the captions' log-probabilities
    for i in range(5):
        seq = [t for t in b3.tokens[i].tolist() if t != PAD]
        assert abs(sequence_score(model, feats[i : i + 1], seq) - float(b3.score[i])) < 1e-4
    assert b3.attention.shape == (5, b3.tokens.shape[1], 4)


def test_sampling_shapes_padding_and_gradients() -> None:
    model = tiny("updn")
    model.train()
    feats = torch.randn(3, 4, 6)
    torch.manual_seed(0)
    tokens, logp = sample(model, feats, n=4, max_steps=STEPS)
    assert tokens.shape[0] == 12 and logp.shape == tokens.shape
    after_eos = (tokens == EOS).long().cumsum(1) - (tokens == EOS).long() > 0
    assert (tokens[after_eos] == PAD).all() and (logp[after_eos] == 0).all()
    assert (logp[~after_eos] < 0).all() and not ((tokens == PAD) & ~after_eos).any()
    logp.sum().backward()
    assert model.out.weight.grad is not None and model.out.weight.grad.abs().sum() > 0


def test_low_temperature_sampling_is_greedy() -> None:
    model = tiny("aoa")
    feats = torch.randn(4, 4, 6)
    torch.manual_seed(0)
    tokens, _ = sample(model, feats, n=2, temperature=1e-4, max_steps=STEPS)
    g = greedy(model, feats, max_steps=STEPS)
    assert torch.equal(tokens[::2, : g.tokens.shape[1]], g.tokens)
    with pytest.raises(ValueError, match="temperature"):
        sample(model, feats, temperature=0.0)

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



class EndsAt(torch.nn.Module):
    """A real decoder whose EOS is near impossible before and near certain once a caption has ``ends[i]`` tokens
    (input ``i``'s own length; set ``ends`` to the inputs' lengths before each decoding): captions of different
    lengths in one batch. The length is carried in the memory and the step count in the state, so expanding,
    reordering and dropping rows must keep them with their input."""

    def __init__(self, model: torch.nn.Module, ends: torch.Tensor) -> None:
        super().__init__()
        self.model, self.ends = model, ends

    def encode(self, feats, mask=None):  # type: ignore[no-untyped-def]
        if self.ends.shape[0] != feats.shape[0]:
            raise ValueError(f"{self.ends.shape[0]} lengths for {feats.shape[0]} inputs")
        return (*self.model.encode(feats, mask), self.ends.clone())

    def init_state(self, memory):  # type: ignore[no-untyped-def]
        return (*self.model.init_state(memory[:-1]), torch.zeros_like(memory[-1]))

    def step(self, memory, state, words):  # type: ignore[no-untyped-def]
        logp, attn, new = self.model.step(memory[:-1], state[:-1], words)
        count = state[-1] + 1
        bonus = torch.zeros_like(logp)
        bonus[:, EOS] = torch.where(count >= memory[-1], 30.0, -30.0)
        return (logp + bonus).log_softmax(-1), attn, (*new, count)


def varied(name: str) -> tuple[EndsAt, torch.Tensor, torch.Tensor]:
    """12 inputs for a tiny decoder of kind ``name`` wrapped to end its captions after 2..9 tokens."""
    torch.manual_seed(5)
    ends = torch.tensor([2, 9, 4, 7, 3, 9, 5, 2, 8, 6, 3, 9])
    if name == "translator":
        from dlfrontier.dual.models import Translator

        model = Translator(vocab_size=12, hidden=8, heads=2, layers=2, dropout=0.0).eval()
        feats = torch.randint(3, 12, (12, 5))
    else:
        kw = {} if name == "updn" else {"heads": 2, "layers": 1}
        model = build_captioner(name, feat_dim=6, vocab_size=12, hidden=8, dropout=0.0, **kw).eval()
        feats = torch.randn(12, 4, 6)
    with torch.no_grad():
        model.out.weight.mul_(4.0)
    return EndsAt(model, ends), feats, ends


@pytest.mark.parametrize("name", ["updn", "transformer", "aoa", "translator"])
def test_batched_decoding_equals_one_input_at_a_time_as_rows_finish(name: str) -> None:
    # Finished rows (greedy) and finished images (beam search) leave the batch: each input's caption, score and
    # attention must be what decoding it alone gives, and the batch must actually shrink on the way.
    model, feats, ends = varied(name)
    sizes: list[int] = []
    step = model.step

    def counting_step(memory, state, words):  # type: ignore[no-untyped-def]
        sizes.append(words.shape[0])
        return step(memory, state, words)

    model.step = counting_step  # type: ignore[method-assign]
    for per, decode in ((1, lambda f: greedy(model, f, max_steps=10)),
                        (1, lambda f: beam_search(model, f, beam=3, max_steps=10)),
                        (2, lambda f: beam_search(model, f, beam=4, max_steps=10, n_best=2))):
        sizes.clear()
        model.ends = ends
        out = decode(feats)
        batch_sizes = list(sizes)
        lengths = (out.tokens != PAD).sum(1)
        assert int(lengths.min()) <= 3 and int(lengths.max()) >= 8  # captions of different lengths
        assert batch_sizes[-1] < batch_sizes[0]  # and the batch shrank as they finished
        for i in range(12):
            model.ends = ends[i : i + 1]
            alone = decode(feats[i : i + 1])
            t = alone.tokens.shape[1]
            rows = slice(i * per, (i + 1) * per)
            assert torch.equal(out.tokens[rows, :t], alone.tokens)
            assert (out.tokens[rows, t:] == PAD).all()
            assert torch.allclose(out.score[rows], alone.score, atol=1e-5)
            assert torch.allclose(out.attention[rows, :t], alone.attention, atol=1e-5)
            assert (out.attention[rows, t:] == 0).all()


def test_decoding_needs_a_step() -> None:
    model = tiny("transformer")
    for decode in (greedy, beam_search):
        with pytest.raises(ValueError, match="max_steps must be >= 1"):
            decode(model, torch.randn(2, 4, 6), max_steps=0)

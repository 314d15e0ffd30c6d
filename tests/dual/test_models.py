"""The dual-learning models: teacher forcing equals step-wise decoding, beam search equals exhaustive search on a
tiny vocabulary, the LM equals a prefix-by-prefix loop, padding never changes a score, tied weights share storage,
and short learning tests (a translator learns to reverse, an LM learns a deterministic grammar)."""

from __future__ import annotations

import itertools

import pytest
import torch

from dlfrontier.dual.models import BOS, EOS, PAD, LanguageModel, Translator, sequence_logprob
from dlfrontier.multimodal.captioning.decoding import beam_search, greedy, sample
from dlfrontier.multimodal.captioning.models import CAPTIONERS

V = 6  # PAD, BOS, EOS, UNK and two words: EOS, UNK, 4, 5 can be emitted
STEPS = 3


def tiny(seed: int = 0, *, tie: bool = True, vocab_size: int = V) -> Translator:
    torch.manual_seed(seed)
    model = Translator(vocab_size=vocab_size, hidden=8, heads=2, layers=1, dropout=0.0, max_len=16, tie=tie).eval()
    with torch.no_grad():
        model.out.weight.mul_(4.0)  # sharper distributions: hypotheses that differ in score
        model.out.bias[EOS] -= 2.0  # sentences longer than the empty one
    return model


def sentences(rows: list[list[int]]) -> torch.Tensor:
    """``[[w, ..], ..]`` -> ``w .. EOS PAD ..`` ``[B, T]``."""
    out = torch.full((len(rows), max(map(len, rows)) + 1), PAD, dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, : len(r) + 1] = torch.tensor([*r, EOS])
    return out


def random_sentences(n: int, vocab: int, lo: int, hi: int, gen: torch.Generator) -> list[list[int]]:
    lengths = torch.randint(lo, hi + 1, (n,), generator=gen).tolist()
    return [torch.randint(4, vocab, (k,), generator=gen).tolist() for k in lengths]


@pytest.mark.parametrize("cache", [True, False])
def test_teacher_forced_logprob_equals_the_sum_of_steps(cache: bool) -> None:
    model = Translator(vocab_size=20, hidden=16, heads=4, layers=2, dropout=0.0, max_len=16).eval()
    gen = torch.Generator().manual_seed(0)
    src_rows = random_sentences(4, 20, 1, 7, gen)
    src_rows[0] = [5]  # padded
    src, tgt = sentences(src_rows), sentences(random_sentences(4, 20, 1, 7, gen))
    total, tokens = sequence_logprob(model, src, tgt)
    assert tokens.tolist() == (tgt != PAD).sum(1).tolist()
    with torch.no_grad():
        teacher_logp, teacher_attn = model(src, torch.cat([torch.full((4, 1), BOS), tgt[:, :-1]], 1))
        memory = model.encode(src, cache=cache)  # the steps read the cached cross-attention keys, or project
        assert len(memory) == (2 + 2 * 2 if cache else 2)
        state = model.init_state(memory)
        words = torch.full((4,), BOS)
        naive = torch.zeros(4)
        for t in range(tgt.shape[1]):
            logp, attn, state = model.step(memory, state, words)
            assert torch.allclose(attn, teacher_attn[:, t], atol=1e-5)
            assert float(attn[src == PAD].abs().max()) == 0  # the padded source tokens are never attended
            fin = torch.isfinite(logp)
            assert torch.equal(fin, torch.isfinite(teacher_logp[:, t]))
            assert torch.allclose(logp[fin], teacher_logp[:, t][fin], atol=1e-4)
            naive += torch.where(tgt[:, t] != PAD, logp.gather(1, tgt[:, t : t + 1].clamp_min(EOS)).squeeze(1), 0.0)
            words = tgt[:, t]
    assert torch.allclose(total, naive, atol=1e-4) and bool((total < 0).all())


def exhaustive(model: Translator, src: torch.Tensor) -> tuple[list[int], float]:
    """Every translation of at most STEPS tokens: words then EOS, or STEPS words truncated."""
    words = [t for t in range(V) if t not in (PAD, BOS, EOS)]
    seqs = [[*body, EOS] if n < STEPS else list(body) for n in range(STEPS + 1)
            for body in itertools.product(words, repeat=n)]
    tgt = torch.full((len(seqs), STEPS), PAD, dtype=torch.long)
    for i, s in enumerate(seqs):
        tgt[i, : len(s)] = torch.tensor(s)
    with torch.no_grad():
        total, _ = sequence_logprob(model, src.expand(len(seqs), -1), tgt)
    best = int(total.argmax())
    return seqs[best], float(total[best])


@pytest.mark.parametrize("tie", [True, False])
def test_beam_search_equals_exhaustive_search(tie: bool) -> None:
    model = tiny(tie=tie)
    src = sentences([[4, 5, 3], [5], [3, 3, 4, 5, 4]])  # padded rows of different lengths
    # 3 emittable non-EOS tokens, 3 steps: at most 27 live + 13 finished hypotheses; a beam of 64 holds them all
    out = beam_search(model, src, beam=64, max_steps=STEPS)
    lengths = []
    for i in range(3):
        seq, score = exhaustive(model, src[i : i + 1])
        assert [t for t in out.tokens[i].tolist() if t != PAD] == seq
        assert abs(float(out.score[i]) - score) < 1e-4
        lengths.append(len(seq))
    assert max(lengths) > 1  # not only the empty translation


def test_beam_of_one_is_greedy_and_sampled_logprobs_are_the_models() -> None:
    model = tiny(seed=3, vocab_size=12)
    src = sentences(random_sentences(5, 12, 1, 6, torch.Generator().manual_seed(1)))
    g = greedy(model, src, max_steps=6)
    b1 = beam_search(model, src, beam=1, max_steps=6)
    assert torch.equal(g.tokens, b1.tokens) and torch.allclose(g.score, b1.score, atol=1e-5)
    assert (beam_search(model, src, beam=4, max_steps=6).score >= g.score - 1e-5).all()
    torch.manual_seed(0)
    tokens, logp = sample(model, src, n=3, max_steps=6)
    assert tokens.shape[0] == 15 and logp.shape == tokens.shape
    after_eos = (tokens == EOS).long().cumsum(1) - (tokens == EOS).long() > 0
    assert (tokens[after_eos] == PAD).all() and not ((tokens == PAD) & ~after_eos).any()
    # the policy's log-probabilities are the teacher-forced ones of the sampled sentences, and carry gradients
    total, _ = sequence_logprob(model, src.repeat_interleave(3, 0), tokens)
    assert torch.allclose(logp.sum(1), total, atol=1e-4)
    logp.sum().backward()
    assert model.embed.weight.grad is not None and model.embed.weight.grad.abs().sum() > 0


def test_padding_never_changes_a_score() -> None:
    torch.manual_seed(0)
    model = Translator(vocab_size=20, hidden=16, heads=2, layers=2, max_len=16).eval()
    lm = LanguageModel(vocab_size=20, hidden=16, heads=2, layers=2, max_len=16).eval()
    gen = torch.Generator().manual_seed(0)
    src_rows, tgt_rows = random_sentences(4, 20, 1, 9, gen), random_sentences(4, 20, 1, 9, gen)
    src_rows[0], tgt_rows[0] = [7, 8], [9]  # the shortest: padded most in the batch
    batch, batch_lm = sequence_logprob(model, sentences(src_rows), sentences(tgt_rows)), lm.sequence_logprob(
        sentences(tgt_rows))
    for i in range(4):
        alone = sequence_logprob(model, sentences(src_rows[i : i + 1]), sentences(tgt_rows[i : i + 1]))
        assert torch.allclose(alone[0], batch[0][i : i + 1], atol=1e-5) and int(alone[1]) == int(batch[1][i])
        alone_lm = lm.sequence_logprob(sentences(tgt_rows[i : i + 1]))
        assert torch.allclose(alone_lm[0], batch_lm[0][i : i + 1], atol=1e-5)
    assert int(batch[1][0]) == 2  # "9 EOS"


def test_gradients_are_finite_through_padding_and_dropout() -> None:
    torch.manual_seed(0)
    model = Translator(vocab_size=20, hidden=16, heads=2, layers=2, dropout=0.3, max_len=16).train()
    lm = LanguageModel(vocab_size=20, hidden=16, heads=2, layers=2, dropout=0.3, max_len=16).train()
    gen = torch.Generator().manual_seed(3)
    src, tgt = sentences(random_sentences(5, 20, 0, 9, gen)), sentences(random_sentences(5, 20, 0, 9, gen))
    total, tokens = sequence_logprob(model, src, tgt)
    lm_total, _ = lm.sequence_logprob(tgt)
    (total.sum() / tokens.sum() + lm_total.sum()).backward()
    for net in (model, lm):
        grads = [p.grad for p in net.parameters()]
        assert all(g is not None and bool(torch.isfinite(g).all()) for g in grads)
        assert float(net.embed.weight.grad.abs().sum()) > 0  # type: ignore[union-attr]


def test_lm_logprob_equals_a_prefix_by_prefix_loop() -> None:
    torch.manual_seed(0)
    lm = LanguageModel(vocab_size=15, hidden=16, heads=4, layers=2, max_len=12).eval()
    tgt = sentences(random_sentences(3, 15, 0, 7, torch.Generator().manual_seed(2)))
    logp = lm(tgt)
    assert logp.shape == (*tgt.shape, 15)
    assert torch.isinf(logp[..., PAD]).all() and torch.isinf(logp[..., BOS]).all()  # never predicted
    assert torch.allclose(logp.exp().sum(-1), torch.ones(tgt.shape), atol=1e-5)
    total, tokens = lm.sequence_logprob(tgt)
    naive, count = torch.zeros(3), torch.zeros(3, dtype=torch.long)
    for t in range(tgt.shape[1]):
        last = lm(tgt[:, : t + 1])[:, t]  # sees BOS, w_1 .. w_t-1 only
        keep = tgt[:, t] != PAD
        naive += torch.where(keep, last.gather(1, tgt[:, t : t + 1].clamp_min(EOS)).squeeze(1), 0.0)
        count += keep
    assert torch.allclose(total, naive, atol=1e-4) and torch.equal(tokens, count)
    assert tokens.tolist() == [int((r != PAD).sum()) for r in tgt]


def test_tied_weights_share_one_matrix() -> None:
    tied, untied = Translator(vocab_size=30, hidden=16, heads=2, layers=1), Translator(
        vocab_size=30, hidden=16, heads=2, layers=1, tie=False)
    ptr = tied.embed.weight.data_ptr()
    assert tied.src_embed.weight.data_ptr() == ptr and tied.out.weight.data_ptr() == ptr
    assert len({untied.embed.weight.data_ptr(), untied.src_embed.weight.data_ptr(), untied.out.weight.data_ptr()}) == 3
    size = sum(p.numel() for p in untied.parameters()) - sum(p.numel() for p in tied.parameters())
    assert size == 2 * 30 * 16
    lm_tied, lm_untied = LanguageModel(vocab_size=30, hidden=16), LanguageModel(vocab_size=30, hidden=16, tie=False)
    assert lm_tied.out.weight.data_ptr() == lm_tied.embed.weight.data_ptr()
    assert sum(p.numel() for p in lm_untied.parameters()) - sum(p.numel() for p in lm_tied.parameters()) == 30 * 16
    # a state dict round trip keeps the tie
    copy = Translator(vocab_size=30, hidden=16, heads=2, layers=1)
    copy.load_state_dict(tied.state_dict())
    assert copy.out.weight.data_ptr() == copy.embed.weight.data_ptr()
    assert torch.equal(copy.src_embed.weight, tied.embed.weight)
    assert not hasattr(tied, "regions") and "" not in CAPTIONERS and "transformer" in CAPTIONERS


def test_bad_inputs_are_one_clear_error() -> None:
    model, lm = tiny(), LanguageModel(vocab_size=V, hidden=8, heads=2, max_len=16)
    ok = sentences([[4, 5]])
    with pytest.raises(ValueError, match=r"source must be a LongTensor \[B, T\]"):
        model.encode(ok.float())
    with pytest.raises(ValueError, match=r"source must be a LongTensor \[B, T\]"):
        model.encode(ok[0])
    with pytest.raises(ValueError, match="max_len=16"):
        model.encode(torch.full((1, 17), 4))
    with pytest.raises(ValueError, match=r"ids outside \[0, 6\)"):
        model.encode(torch.tensor([[4, 6, EOS]]))
    with pytest.raises(ValueError, match="not padding"):
        model.encode(torch.tensor([[4, EOS], [PAD, PAD]]))
    with pytest.raises(ValueError, match="source mask"):
        model.encode(ok, torch.zeros(1, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="target must not contain BOS"):
        sequence_logprob(model, ok, torch.tensor([[BOS, 4, EOS]]))
    with pytest.raises(ValueError, match="1 source sentences but 2 targets"):
        sequence_logprob(model, ok, ok.repeat(2, 1))
    with pytest.raises(ValueError, match="sentence must be a LongTensor"):
        lm(ok.float())
    with pytest.raises(ValueError, match="multiple of heads"):
        Translator(vocab_size=V, hidden=10, heads=4)
    with pytest.raises(ValueError, match="vocab_size >= 4"):
        LanguageModel(vocab_size=3)


def warm_adam(model: torch.nn.Module, lr: float,
              steps: int) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """Adam with 50 warm-up steps and a linear decay to 0 (post-norm layers spike without the warm-up)."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda k: min(1.0, (k + 1) / 50) * max(0.0, 1 - k / steps))


def reverse_task(n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    rows = random_sentences(n, 14, 5, 8, gen)
    return sentences(rows), sentences([r[::-1] for r in rows])


def exact_match(out: torch.Tensor, tgt: torch.Tensor) -> float:
    width = max(out.shape[1], tgt.shape[1])
    a, b = (torch.nn.functional.pad(x, (0, width - x.shape[1]), value=PAD) for x in (out, tgt))
    return float((a == b).all(1).float().mean())


@pytest.mark.slow
def test_translator_learns_to_reverse() -> None:
    torch.manual_seed(0)
    model = Translator(vocab_size=14, hidden=64, heads=4, layers=2, dropout=0.0, max_len=16)
    src_test, tgt_test = reverse_task(200, torch.Generator().manual_seed(123))
    before = exact_match(greedy(model.eval(), src_test, max_steps=10).tokens, tgt_test)
    gen, steps = torch.Generator().manual_seed(1), 300
    opt, sched = warm_adam(model.train(), 3e-3, steps)
    for _ in range(steps):
        src, tgt = reverse_task(64, gen)
        total, tokens = sequence_logprob(model, src, tgt)
        loss = -total.sum() / tokens.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    after = exact_match(greedy(model.eval(), src_test, max_steps=10).tokens, tgt_test)
    assert before < 0.05 and after >= 0.9, (before, after)


def grammar(n: int, gen: torch.Generator) -> torch.Tensor:
    """One of 4 first words, then a deterministic walk: ``w -> 4 + (w - 4 + 3) mod 10``, ``w_1 - 1`` words long."""
    firsts = torch.randint(4, 8, (n,), generator=gen).tolist()
    rows = []
    for w in firsts:
        row = [w]
        while len(row) < w - 1:
            row.append(4 + (row[-1] - 4 + 3) % 10)
        rows.append(row)
    return sentences(rows)


def test_lm_learns_a_deterministic_grammar() -> None:
    torch.manual_seed(0)
    lm = LanguageModel(vocab_size=14, hidden=32, heads=4, layers=2, dropout=0.0, max_len=16)
    test = grammar(200, torch.Generator().manual_seed(123))

    def per_token() -> float:
        with torch.no_grad():
            total, tokens = lm.eval().sequence_logprob(test)
        return float(total.sum() / tokens.sum())

    before, gen, steps = per_token(), torch.Generator().manual_seed(1), 150
    opt, sched = warm_adam(lm.train(), 3e-3, steps)
    for _ in range(steps):
        total, tokens = lm.sequence_logprob(grammar(64, gen))
        loss = -total.sum() / tokens.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    after = per_token()
    # uniform over the 12 emittable ids: log(1/12) = -2.48; the best possible: only the first word is random,
    # log(1/4) over 4.5 + 1 tokens on average = -0.25
    assert before < -2.0 and after > -0.5, (before, after)

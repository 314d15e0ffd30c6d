"""The dual game's reward and losses on hand-made log-probabilities; sacreBLEU wiring on a known pair."""

from __future__ import annotations

import math
from collections import Counter

import pytest
import torch

from dlfrontier.dual.bleu import corpus_bleu
from dlfrontier.dual.objectives import dual_reward, reconstruction_loss
from dlfrontier.multimodal.captioning.training import nsc_baseline, scst_loss


def test_dual_reward_is_the_weighted_per_token_sum():
    lm = torch.tensor([-6.0, -3.0])
    lm_n = torch.tensor([3, 2])
    recon = torch.tensor([-8.0, -2.0])
    recon_n = torch.tensor([4, 4])
    r = dual_reward(lm, lm_n, recon, recon_n, alpha=0.25)
    # 0.25 * (-2) + 0.75 * (-2) = -2 ; 0.25 * (-1.5) + 0.75 * (-0.5) = -0.75
    assert torch.allclose(r, torch.tensor([-2.0, -0.75]))
    assert torch.allclose(dual_reward(lm, lm_n, recon, recon_n, alpha=1.0), torch.tensor([-2.0, -1.5]))
    assert torch.allclose(dual_reward(lm, lm_n, recon, recon_n, alpha=0.0), torch.tensor([-2.0, -0.5]))
    with pytest.raises(ValueError, match="alpha"):
        dual_reward(lm, lm_n, recon, recon_n, alpha=1.5)


def test_reward_carries_no_gradient_and_reconstruction_loss_does():
    recon = torch.tensor([-8.0, -2.0], requires_grad=True)
    r = dual_reward(torch.tensor([-1.0, -1.0]), torch.tensor([1, 1]), recon, torch.tensor([4, 2]), alpha=0.5)
    assert not r.requires_grad
    loss = reconstruction_loss(recon, torch.tensor([4, 2]), alpha=0.5)
    # -(0.5) * mean(-2, -1) = 0.75
    assert float(loss.detach()) == pytest.approx(0.75)
    loss.backward()
    # d/d recon_i of -(0.5) * mean(recon_i / n_i) = -0.5 / (2 * n_i)
    assert torch.allclose(recon.grad, torch.tensor([-0.5 / 8, -0.5 / 4]))


def test_policy_gradient_raises_the_better_middle_translation():
    """Two samples of one sentence (K=2): the one with the higher reward gets its log-probability raised."""
    logits = torch.zeros(2, 3, requires_grad=True)  # 2 samples, 3 tokens each, one logit per token
    token_logp = torch.nn.functional.logsigmoid(logits)
    reward = torch.tensor([-1.0, -3.0])
    base = nsc_baseline(reward, 2)
    assert torch.equal(base, torch.tensor([-3.0, -1.0]))
    loss = scst_loss(token_logp, reward, base)
    loss.backward()
    # advantage +2 for sample 0, -2 for sample 1; d loss / d logit = -adv * sigmoid'(0)/sigmoid(0) / 6 tokens
    assert torch.allclose(logits.grad[0], torch.full((3,), -2.0 * 0.5 / 6))
    assert torch.allclose(logits.grad[1], torch.full((3,), 2.0 * 0.5 / 6))


def naive_bleu(hyp: str, ref: str) -> float:
    """Papineni et al.'s BLEU of one segment (whitespace tokens, no smoothing), the textbook formula."""
    h, r = hyp.split(), ref.split()
    logs = []
    for n in range(1, 5):
        hc = Counter(tuple(h[i : i + n]) for i in range(len(h) - n + 1))
        rc = Counter(tuple(r[i : i + n]) for i in range(len(r) - n + 1))
        logs.append(math.log(sum(min(c, rc[g]) for g, c in hc.items()) / max(1, sum(hc.values()))))
    bp = 1.0 if len(h) > len(r) else math.exp(1 - len(r) / len(h))
    return 100 * bp * math.exp(sum(logs) / 4)


def test_sacrebleu_wiring_on_a_known_pair():
    hyp = "and god said let there be light and there was light"
    ref = "and god said let there be light and there was light upon the earth"
    score, signature = corpus_bleu([hyp], [ref])
    assert score == pytest.approx(naive_bleu(hyp, ref), abs=1e-9)
    assert 0 < score < 100
    assert signature.startswith("nrefs:1|case:mixed|") and "tok:13a" in signature
    assert corpus_bleu([ref], [ref])[0] == pytest.approx(100.0)
    with pytest.raises(ValueError, match="hypotheses"):
        corpus_bleu([hyp], [])

"""Decoding a captioner: batched greedy search, beam search (batched over images) and sampling with temperature.

All three drive the :class:`~dlfrontier.multimodal.captioning.models.Captioner` step interface (``feats`` is
whatever the model encodes: region features, or a translator's source token ids), start from BOS
and run at most ``max_steps`` steps (a caption of ``max_steps - 1`` words and its EOS; a sequence without EOS
after ``max_steps`` tokens is truncated). After EOS a sequence only emits PAD, at no cost. Token tensors hold
``w_1 .. w_n EOS PAD ..`` (no BOS), which :func:`dlfrontier.data.captions.decode` turns into text.

The score of a caption is the sum of its tokens' log-probabilities, EOS included; beam search keeps the ``beam``
best partial captions per image by that score (no length normalisation, so that it equals exhaustive search
when the beam holds every hypothesis: tested on a tiny vocabulary).
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from dlfrontier.multimodal.captioning.models import BOS, EOS, PAD, Captioner, Memory, expand_memory, select_state


class Decoded(NamedTuple):
    """tokens ``[B, T]`` (``T <= max_steps``), score ``[B]`` (sum of log-probabilities), attention ``[B, T, K]``
    (the regions' weights when each token was chosen; zeros after EOS)."""

    tokens: torch.Tensor
    score: torch.Tensor
    attention: torch.Tensor


def _start(memory: Memory) -> torch.Tensor:
    return torch.full((memory[0].shape[0],), BOS, dtype=torch.long, device=memory[0].device)


@torch.no_grad()
def greedy(model: Captioner, feats: torch.Tensor, mask: torch.Tensor | None = None, *,
           max_steps: int = 20) -> Decoded:
    """The most likely word at every step, for every image at once."""
    memory = model.encode(feats, mask)
    state = model.init_state(memory)
    words = _start(memory)
    done = torch.zeros_like(words, dtype=torch.bool)
    score = memory[0].new_zeros(words.shape[0])
    tokens, attns = [], []
    for _ in range(max_steps):
        logp, attn, state = model.step(memory, state, words)
        best, words = logp.max(-1)
        words = words.masked_fill(done, PAD)
        score = score + best.masked_fill(done, 0.0)
        tokens.append(words)
        attns.append(attn.masked_fill(done.unsqueeze(-1), 0.0))
        done = done | (words == EOS)
        if bool(done.all()):
            break
    return Decoded(torch.stack(tokens, 1), score, torch.stack(attns, 1))


def sample(model: Captioner, feats: torch.Tensor, mask: torch.Tensor | None = None, *, n: int = 1,
           temperature: float = 1.0, max_steps: int = 20,
           memory: Memory | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` captions per image sampled from ``softmax(log p / temperature)``, with gradients.

    Args:
        memory: the already encoded ``feats`` (``model.encode``), to share it with other decodings.

    Returns:
        ``tokens [B * n, T]`` (image ``i``'s samples are rows ``i*n .. i*n + n-1``) and ``logp [B * n, T]``: the
        model's log-probability (at temperature 1, the policy's) of each sampled token, 0 after EOS; the
        policy-gradient loss differentiates it.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    memory = expand_memory(model.encode(feats, mask) if memory is None else memory, n)
    state = model.init_state(memory)
    words = _start(memory)
    done = torch.zeros_like(words, dtype=torch.bool)
    tokens, logps = [], []
    for _ in range(max_steps):
        logp, _, state = model.step(memory, state, words)
        with torch.no_grad():
            probs = (logp / temperature).softmax(-1) if temperature != 1.0 else logp.exp()
            words = torch.multinomial(probs, 1).squeeze(1).masked_fill(done, PAD)
        logps.append(logp.gather(1, words.unsqueeze(1)).squeeze(1).masked_fill(done, 0.0))
        tokens.append(words)
        done = done | (words == EOS)
        if bool(done.all()):
            break
    return torch.stack(tokens, 1), torch.stack(logps, 1)


@torch.no_grad()
def beam_search(model: Captioner, feats: torch.Tensor, mask: torch.Tensor | None = None, *, beam: int = 3,
                max_steps: int = 20, n_best: int = 1) -> Decoded:
    """The best caption per image found by a beam of ``beam`` hypotheses (all images' beams in one batch).

    ``n_best > 1``: the ``n_best`` best hypotheses of each image's final beam, best first, as rows
    ``i * n_best .. i * n_best + n_best - 1`` (``tokens [B * n_best, T]``, like :func:`sample`'s layout).
    """
    if beam < 1:
        raise ValueError(f"beam must be >= 1, got {beam}")
    if not 1 <= n_best <= beam:
        raise ValueError(f"n_best must be in [1, beam={beam}], got {n_best}")
    memory = model.encode(feats, mask)
    b = memory[0].shape[0]
    memory = expand_memory(memory, beam)
    state = model.init_state(memory)
    words = _start(memory)
    scores = memory[0].new_full((b, beam), float("-inf"))
    scores[:, 0] = 0.0  # one live hypothesis per image at the start (the others would duplicate it)
    done = torch.zeros(b, beam, dtype=torch.bool, device=feats.device)
    tokens = torch.zeros(b, beam, 0, dtype=torch.long, device=feats.device)
    attns: torch.Tensor | None = None
    offset = (torch.arange(b, device=feats.device) * beam).unsqueeze(1)
    for _ in range(max_steps):
        logp, attn, state = model.step(memory, state, words)
        v = logp.shape[-1]
        logp = logp.view(b, beam, v)
        finished = torch.full_like(logp, float("-inf"))
        finished[..., PAD] = 0.0  # a finished caption continues with PAD at no cost
        logp = torch.where(done.unsqueeze(-1), finished, logp)
        top, idx = (scores.unsqueeze(-1) + logp).view(b, beam * v).topk(beam, dim=1)
        src, words2 = idx // v, idx % v  # [b, beam] parent hypothesis, new token
        rows = (offset + src).view(-1)
        state = select_state(state, rows)
        attn = attn.view(b, beam, -1).gather(1, src.unsqueeze(-1).expand(b, beam, attn.shape[-1]))
        attn = attn.masked_fill(done.gather(1, src).unsqueeze(-1), 0.0)
        tokens = torch.cat([tokens.gather(1, src.unsqueeze(-1).expand_as(tokens)), words2.unsqueeze(-1)], 2)
        prev = attns.gather(1, src[..., None, None].expand_as(attns)) if attns is not None else None
        attns = attn.unsqueeze(2) if prev is None else torch.cat([prev, attn.unsqueeze(2)], 2)
        done = done.gather(1, src) | (words2 == EOS)
        scores, words = top, words2.view(-1)
        if bool(done.all()):
            break
    assert attns is not None
    if n_best > 1:
        top = scores.topk(n_best, dim=1).indices  # [b, n_best]
        rows = torch.arange(b, device=feats.device).unsqueeze(1).expand_as(top)
        return Decoded(tokens[rows, top].flatten(0, 1), scores[rows, top].flatten(), attns[rows, top].flatten(0, 1))
    best = scores.argmax(1)  # topk keeps the beams sorted; argmax says it plainly
    pick = torch.arange(b, device=feats.device)
    return Decoded(tokens[pick, best], scores[pick, best], attns[pick, best])


def lengths(tokens: torch.Tensor) -> torch.Tensor:
    """Tokens per caption up to and including EOS (``[B, T]`` -> ``[B]``)."""
    return (tokens != PAD).sum(1)


__all__ = ["Decoded", "beam_search", "greedy", "lengths", "sample"]

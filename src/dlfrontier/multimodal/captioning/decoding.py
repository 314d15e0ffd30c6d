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

from dlfrontier.multimodal.captioning.models import (
    BOS,
    EOS,
    PAD,
    Captioner,
    Memory,
    expand_memory,
    select_memory,
    select_state,
)


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
    """The most likely word at every step, for every image at once.

    Rows that have emitted EOS leave the batch (see :func:`_rows_to_keep`), so a long caption does not make the short
    ones pay for its steps; each kept row's arithmetic is the same as in the full batch.
    """
    _check_steps(max_steps)
    memory = model.encode(feats, mask)
    state = model.init_state(memory)
    words = _start(memory)
    n = words.shape[0]
    done = torch.zeros_like(words, dtype=torch.bool)  # rows of the current batch that have emitted EOS
    live = torch.arange(n, device=words.device)  # the current batch's rows in the full batch
    score = memory[0].new_zeros(n)
    tokens = words.new_full((n, max_steps), PAD)
    attns: torch.Tensor | None = None
    steps = 0
    for t in range(max_steps):
        logp, attn, state = model.step(memory, state, words)
        if attns is None:
            attns = attn.new_zeros(n, max_steps, attn.shape[-1])
        best, words = logp.max(-1)
        words = words.masked_fill(done, PAD)
        score[live] = score[live] + best.masked_fill(done, 0.0)
        tokens[live, t] = words
        attns[live, t] = attn.masked_fill(done.unsqueeze(-1), 0.0)
        done = done | (words == EOS)
        steps = t + 1
        if bool(done.all()):
            break
        keep = _rows_to_keep(done)
        if keep is not None:
            live, words, done = live[keep], words[keep], done[keep]
            memory, state = select_memory(memory, keep), select_state(state, keep)
    assert attns is not None
    return Decoded(tokens[:, :steps], score, attns[:, :steps])


def _check_steps(max_steps: int) -> None:
    if max_steps < 1:
        raise ValueError(f"max_steps must be >= 1 (a caption of max_steps - 1 words and its EOS), got {max_steps}")


def _rows_to_keep(finished: torch.Tensor) -> torch.Tensor | None:
    """The indices of the unfinished rows, when at least a quarter of the rows are finished (then dropping them
    pays for copying the memory and state of the rest); else ``None`` (finished rows go on emitting PAD at no
    cost, as if they were still in the batch)."""
    count = int(finished.sum())
    if count == 0 or 4 * count < finished.shape[0]:
        return None
    return (~finished).nonzero().squeeze(1)


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

    Each step records every hypothesis's parent and new word; the captions are read back from the final beam at the
    end (no copying of growing token histories). An image whose hypotheses have all emitted EOS leaves the batch once
    a quarter of the batch has (its beam can no longer change: every hypothesis continues with PAD at no cost).
    """
    _check_steps(max_steps)
    if beam < 1:
        raise ValueError(f"beam must be >= 1, got {beam}")
    if not 1 <= n_best <= beam:
        raise ValueError(f"n_best must be in [1, beam={beam}], got {n_best}")
    memory = model.encode(feats, mask)
    b = memory[0].shape[0]
    dev = memory[0].device
    memory = expand_memory(memory, beam)
    state = model.init_state(memory)
    words = _start(memory)
    final = memory[0].new_full((b, beam), float("-inf"))  # every image's beam scores, kept when it leaves
    scores = final.clone()
    scores[:, 0] = 0.0  # one live hypothesis per image at the start (the others would duplicate it)
    done = torch.zeros(b, beam, dtype=torch.bool, device=dev)
    live = torch.arange(b, device=dev)  # the current batch's images in the full batch
    stay = torch.arange(beam, device=dev).expand(b, beam)  # a departed image's hypotheses keep their places
    parents: list[torch.Tensor] = []  # per step [b, beam]: each hypothesis's parent in the previous step's beam
    chosen: list[torch.Tensor] = []  # per step [b, beam]: its new word
    attended: list[torch.Tensor] = []  # per step [b, beam, K]: the attention when that word was chosen
    for _ in range(max_steps):
        logp, attn, state = model.step(memory, state, words)
        n, v = live.shape[0], logp.shape[-1]
        logp = logp.view(n, beam, v)
        finished = torch.full_like(logp, float("-inf"))
        finished[..., PAD] = 0.0  # a finished caption continues with PAD at no cost
        logp = torch.where(done.unsqueeze(-1), finished, logp)
        top, idx = (scores.unsqueeze(-1) + logp).view(n, beam * v).topk(beam, dim=1)
        src, words2 = idx // v, idx % v  # [n, beam] parent hypothesis, new token
        rows = ((torch.arange(n, device=dev) * beam).unsqueeze(1) + src).view(-1)
        state = select_state(state, rows)
        attn = attn.view(n, beam, -1).gather(1, src.unsqueeze(-1).expand(n, beam, attn.shape[-1]))
        attn = attn.masked_fill(done.gather(1, src).unsqueeze(-1), 0.0)
        parent, word = stay.clone(), torch.full_like(stay, PAD)
        parent[live], word[live] = src, words2
        step_attn = attn.new_zeros(b, beam, attn.shape[-1])
        step_attn[live] = attn
        parents.append(parent)
        chosen.append(word)
        attended.append(step_attn)
        done = done.gather(1, src) | (words2 == EOS)
        scores, words = top, words2.view(-1)
        final[live] = scores
        if bool(done.all()):
            break
        keep = _rows_to_keep(done.all(1))
        if keep is not None:
            live, scores, done, words = live[keep], scores[keep], done[keep], words.view(n, beam)[keep].view(-1)
            rows = ((keep * beam).unsqueeze(1) + torch.arange(beam, device=dev)).view(-1)
            memory, state = select_memory(memory, rows), select_state(state, rows)
    picks = final.topk(n_best, dim=1).indices if n_best > 1 else final.argmax(1, keepdim=True)  # [b, m]
    best = final.gather(1, picks)
    hyp, tokens, attns = picks, [], []
    for t in range(len(parents) - 1, -1, -1):  # read each picked hypothesis back from its last word
        tokens.append(chosen[t].gather(1, hyp))
        attns.append(attended[t].gather(1, hyp.unsqueeze(-1).expand(b, hyp.shape[1], attended[t].shape[-1])))
        hyp = parents[t].gather(1, hyp)
    tok = torch.stack(tokens[::-1], 2).flatten(0, 1)  # [b * m, T]
    att = torch.stack(attns[::-1], 2).flatten(0, 1)
    return Decoded(tok, best.flatten(), att)


def lengths(tokens: torch.Tensor) -> torch.Tensor:
    """Tokens per caption up to and including EOS (``[B, T]`` -> ``[B]``)."""
    return (tokens != PAD).sum(1)


__all__ = ["Decoded", "beam_search", "greedy", "lengths", "sample"]

"""Captioners over region features: UpDn (two LSTMs), the Transformer captioner and Attention on Attention.

Papers: Anderson et al., "Bottom-Up and Top-Down Attention for Image Captioning and Visual Question Answering",
CVPR 2018 (https://arxiv.org/abs/1707.07998), Section 3.2; Sharma et al., "Conceptual Captions", ACL 2018
(https://aclanthology.org/P18-1238), the Transformer captioner (encoder over regions, decoder over words, after
Vaswani et al. 2017); Huang et al., "Attention on Attention for Image Captioning", ICCV 2019
(https://arxiv.org/abs/1908.06954), Section 3.

Every captioner has one interface, which :mod:`dlfrontier.multimodal.captioning.decoding` drives:

* ``memory = model.encode(feats, mask)``: the image side, once per image (``feats [B, K, D]`` region vectors,
  ``mask [B, K]`` bool, True at padded regions, or ``None``); a tuple of tensors with a leading batch dimension.
* ``state = model.init_state(memory)``; ``logp, attn, state = model.step(memory, state, words)``: one word per
  image (``words [B]``, the previous token, BOS first) -> ``logp [B, V]`` log-probabilities of the next word,
  ``attn [B, K]`` the attention over the regions (averaged over heads), the new state (a tuple of tensors with a
  leading batch dimension, so beam search reorders it with ``index_select``).
* ``logp, attn = model(feats, words, mask)``: teacher forcing over ``words [B, T]`` -> ``[B, T, V]`` and
  ``[B, T, K]`` (the Transformer runs all positions at once under a causal mask; the LSTMs loop over
  :meth:`step`).

PAD and BOS are never predicted (their logits are -inf), so decoding cannot emit them and cross-entropy over the
real vocabulary is unchanged.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import nn

from dlfrontier.attention.mha import MultiHeadAttention
from dlfrontier.registry import Registry

PAD, BOS, EOS = 0, 1, 2  # token ids shared with dlfrontier.data.captions

Memory = tuple[Any, ...]
State = tuple[torch.Tensor, ...]

CAPTIONERS: Registry[type[Captioner]] = Registry("captioner")


def masked_mean(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean of ``x [B, K, d]`` over the regions that are not masked (``mask [B, K]`` True = padding)."""
    if mask is None:
        return x.mean(1)
    keep = (~mask).unsqueeze(-1).to(x.dtype)
    return (x * keep).sum(1) / keep.sum(1).clamp_min(1.0)


def expand_memory(memory: Memory, n: int) -> Memory:
    """Each image's memory ``n`` times in a row (``[B, ...] -> [B * n, ...]``; ``None`` entries stay)."""
    return tuple(None if m is None else m.repeat_interleave(n, dim=0) for m in memory)


def select_memory(memory: Memory, index: torch.Tensor) -> Memory:
    """The rows ``index`` of every memory tensor (``None`` entries stay): decoding drops finished rows."""
    return tuple(None if m is None else m.index_select(0, index) for m in memory)


def select_state(state: State, index: torch.Tensor) -> State:
    """The rows ``index`` of every state tensor (beam search's reordering)."""
    return tuple(s.index_select(0, index) for s in state)


class Captioner(nn.Module):
    """Base class: region projection, word embedding, the output layer with PAD/BOS masked, save/load kwargs.

    Args:
        feat_dim: width D of a region vector.
        vocab_size: words V, specials included.
        hidden: model width.
        dropout: dropout on the region embeddings and before the output layer.
    """

    name: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name:
            CAPTIONERS.register(cls.name, cls)

    def __init__(self, *, feat_dim: int, vocab_size: int, hidden: int = 128, dropout: float = 0.1) -> None:
        super().__init__()
        if feat_dim < 1 or vocab_size < 4 or hidden < 1:
            raise ValueError(f"need feat_dim >= 1, vocab_size >= 4, hidden >= 1; got {feat_dim}, {vocab_size}, "
                             f"{hidden}")
        self.feat_dim, self.vocab_size, self.hidden = feat_dim, vocab_size, hidden
        self.regions = nn.Sequential(nn.Linear(feat_dim, hidden), nn.ReLU(), nn.Dropout(dropout))
        self.embed = nn.Embedding(vocab_size, hidden)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, vocab_size)
        banned = torch.zeros(vocab_size, dtype=torch.bool)
        banned[[PAD, BOS]] = True
        self.register_buffer("banned", banned, persistent=False)

    def log_probs(self, h: torch.Tensor) -> torch.Tensor:
        """``h [..., hidden]`` -> log-probabilities ``[..., V]`` (PAD and BOS at -inf)."""
        return self.out(self.drop(h)).masked_fill(self.banned, float("-inf")).log_softmax(-1)

    def check(self, feats: torch.Tensor, mask: torch.Tensor | None) -> None:
        if feats.dim() != 3 or feats.shape[-1] != self.feat_dim:
            raise ValueError(f"region features must be [B, K, {self.feat_dim}], got {tuple(feats.shape)}")
        if mask is not None and (mask.shape != feats.shape[:2] or mask.dtype != torch.bool):
            raise ValueError(f"region mask must be bool [B, K] = {tuple(feats.shape[:2])}, got {tuple(mask.shape)}")

    def encode(self, feats: torch.Tensor, mask: torch.Tensor | None = None) -> Memory:
        raise NotImplementedError

    def init_state(self, memory: Memory) -> State:
        raise NotImplementedError

    def step(self, memory: Memory, state: State, words: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, State]:
        raise NotImplementedError

    def decode_teacher(self, memory: Memory, words: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher forcing from an encoded memory: ``words [B, T]`` -> ``([B, T, V], [B, T, K])``."""
        state = self.init_state(memory)
        logps, attns = [], []
        for t in range(words.shape[1]):
            logp, attn, state = self.step(memory, state, words[:, t])
            logps.append(logp)
            attns.append(attn)
        return torch.stack(logps, 1), torch.stack(attns, 1)

    def forward(self, feats: torch.Tensor, words: torch.Tensor,
                mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return self.decode_teacher(self.encode(feats, mask), words)


class UpDnCaptioner(Captioner):
    """Anderson et al. 2018 (Section 3.2): a top-down attention LSTM and a language LSTM.

    Attention LSTM input ``[h2_{t-1}; mean(v); W_e w_{t-1}]``; attention ``a_i = w_a^T tanh(W_va v_i + W_ha h1_t)``,
    ``v_hat = sum_i softmax(a)_i v_i``; language LSTM input ``[v_hat; h1_t]``; ``p(w_t) = softmax(W_p h2_t)``.
    """

    name = "updn"

    def __init__(self, *, feat_dim: int, vocab_size: int, hidden: int = 128, dropout: float = 0.1,
                 att_hidden: int | None = None) -> None:
        super().__init__(feat_dim=feat_dim, vocab_size=vocab_size, hidden=hidden, dropout=dropout)
        a = att_hidden or hidden
        self.att_lstm = nn.LSTMCell(3 * hidden, hidden)
        self.lang_lstm = nn.LSTMCell(2 * hidden, hidden)
        self.att_v = nn.Linear(hidden, a)
        self.att_h = nn.Linear(hidden, a, bias=False)
        self.att_w = nn.Linear(a, 1)

    def encode(self, feats: torch.Tensor, mask: torch.Tensor | None = None) -> Memory:
        self.check(feats, mask)
        v = self.regions(feats)  # [B, K, h]
        return v, self.att_v(v), masked_mean(v, mask), mask

    def init_state(self, memory: Memory) -> State:
        z = memory[0].new_zeros(memory[0].shape[0], self.hidden)
        return z, z, z, z

    def step(self, memory: Memory, state: State, words: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, State]:
        v, v_att, v_mean, mask = memory
        h1, c1, h2, c2 = state
        h1, c1 = self.att_lstm(torch.cat([h2, v_mean, self.embed(words)], -1), (h1, c1))
        a = self.att_w(torch.tanh(v_att + self.att_h(h1).unsqueeze(1))).squeeze(-1)  # [B, K]
        if mask is not None:
            a = a.masked_fill(mask, float("-inf"))
        alpha = a.softmax(-1)
        v_hat = (alpha.unsqueeze(-1) * v).sum(1)
        h2, c2 = self.lang_lstm(torch.cat([v_hat, h1], -1), (h2, c2))
        return self.log_probs(h2), alpha, (h1, c1, h2, c2)


def sinusoid(positions: int, dim: int) -> torch.Tensor:
    """Vaswani et al.'s fixed position encodings ``[positions, dim]``."""
    pos = torch.arange(positions, dtype=torch.float32).unsqueeze(1)
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    pe = torch.zeros(positions, dim)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq)[:, : dim // 2]
    return pe


class FeedForward(nn.Sequential):
    def __init__(self, dim: int, ffn: int, dropout: float) -> None:
        super().__init__(nn.Linear(dim, ffn), nn.ReLU(), nn.Dropout(dropout), nn.Linear(ffn, dim))


class EncoderLayer(nn.Module):
    """Post-norm Transformer layer: self-attention over the regions, then a feed-forward block."""

    def __init__(self, dim: int, heads: int, ffn: int, dropout: float) -> None:
        super().__init__()
        self.att = MultiHeadAttention(dim, num_heads=heads, dropout=dropout)
        self.ffn = FeedForward(dim, ffn, dropout)
        self.n1, self.n2, self.drop = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        x = self.n1(x + self.drop(self.att(x, key_padding_mask=mask)))
        return self.n2(x + self.drop(self.ffn(x)))


class DecoderLayer(nn.Module):
    """Post-norm decoder layer: causal self-attention over the words, cross-attention to the regions, FFN."""

    def __init__(self, dim: int, heads: int, ffn: int, dropout: float) -> None:
        super().__init__()
        self.self_att = MultiHeadAttention(dim, num_heads=heads, dropout=dropout)
        self.cross = MultiHeadAttention(dim, num_heads=heads, dropout=dropout)
        self.ffn = FeedForward(dim, ffn, dropout)
        self.n1, self.n2, self.n3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, past: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor | None,
                causal: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """``x [B, Lq, d]`` attends to ``past [B, Lk, d]`` (itself included) and to ``memory``; returns the
        output and the cross-attention weights averaged over heads ``[B, Lq, K]``."""
        x = self.n1(x + self.drop(self.self_att(x, past, attn_mask=causal)))
        y, w = self.cross(x, memory, key_padding_mask=mask, need_weights=True)
        x = self.n2(x + self.drop(y))
        return self.n3(x + self.drop(self.ffn(x))), w.mean(1)


class TransformerCaptioner(Captioner):
    """Encoder over the regions, decoder over the words (Sharma et al. 2018, after Vaswani et al. 2017).

    Step-wise decoding keeps each decoder layer's inputs so far in the state (``layers`` tensors ``[B, t, d]``):
    the new word attends to them, exactly as the causal mask lets position ``t`` attend in :meth:`forward`.
    """

    name = "transformer"
    pe: torch.Tensor

    def __init__(self, *, feat_dim: int, vocab_size: int, hidden: int = 128, dropout: float = 0.1, heads: int = 4,
                 layers: int = 2, ffn: int | None = None, max_len: int = 64) -> None:
        super().__init__(feat_dim=feat_dim, vocab_size=vocab_size, hidden=hidden, dropout=dropout)
        ffn = ffn or 2 * hidden
        self.encoder = nn.ModuleList(EncoderLayer(hidden, heads, ffn, dropout) for _ in range(layers))
        self.decoder = nn.ModuleList(DecoderLayer(hidden, heads, ffn, dropout) for _ in range(layers))
        self.register_buffer("pe", sinusoid(max_len, hidden), persistent=False)

    def encode(self, feats: torch.Tensor, mask: torch.Tensor | None = None) -> Memory:
        self.check(feats, mask)
        x = self.regions(feats)
        for layer in self.encoder:
            x = layer(x, mask)
        return x, mask

    def _words(self, words: torch.Tensor, start: int) -> torch.Tensor:
        t = words.shape[1]
        if start + t > self.pe.shape[0]:
            raise ValueError(f"captions longer than max_len={self.pe.shape[0]}; build with a larger max_len")
        return self.drop(self.embed(words) * math.sqrt(self.hidden) + self.pe[start : start + t])

    def decode_teacher(self, memory: Memory, words: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        enc, mask = memory
        t = words.shape[1]
        causal = torch.ones(t, t, dtype=torch.bool, device=words.device).triu(1)
        x = self._words(words, 0)
        w = enc.new_zeros(0)
        for layer in self.decoder:
            x, w = layer(x, x, enc, mask, causal)
        return self.log_probs(x), w

    def init_state(self, memory: Memory) -> State:
        return tuple(memory[0].new_zeros(memory[0].shape[0], 0, self.hidden) for _ in self.decoder)

    def step(self, memory: Memory, state: State, words: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, State]:
        enc, mask = memory
        x = self._words(words.unsqueeze(1), state[0].shape[1])  # [B, 1, d]
        new: list[torch.Tensor] = []
        w = enc.new_zeros(0)
        for layer, past in zip(self.decoder, state, strict=True):
            past = torch.cat([past, x], 1)
            new.append(past)
            x, w = layer(x, past, enc, mask, None)
        return self.log_probs(x[:, 0]), w[:, 0], tuple(new)


class AoA(nn.Module):
    """Attention on Attention (Huang et al. 2019, Eq. 4-6): from the attended vector ``v_hat`` and its query
    ``q``, an information vector ``i = W_i [v_hat; q]`` and a gate ``g = sigmoid(W_g [v_hat; q])``; returns
    ``g * i``. Shapes: ``[..., d]``, ``[..., d]`` -> ``[..., d]``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.fc = nn.Linear(2 * dim, 2 * dim)

    def forward(self, attended: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        info, gate = self.fc(torch.cat([attended, query], -1)).chunk(2, -1)
        return info * torch.sigmoid(gate)


class RefinerLayer(nn.Module):
    """AoANet's refiner: ``A' = LayerNorm(A + AoA(MHA(A, A, A), A))`` (Section 3.2)."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.att = MultiHeadAttention(dim, num_heads=heads, dropout=dropout)
        self.aoa = AoA(dim)
        self.norm, self.drop = nn.LayerNorm(dim), nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        return self.norm(x + self.drop(self.aoa(self.att(x, key_padding_mask=mask), x)))


class AoACaptioner(Captioner):
    """AoANet (Huang et al. 2019): a refiner of ``layers`` AoA self-attention blocks over the regions, and a decoder
    LSTM whose input is ``[W_e w_{t-1}; mean(A) + c_{t-1}]``; the context ``c_t = AoA(MHA(h_t, A, A), h_t)``
    predicts the word and is fed back at the next step (Section 3.3)."""

    name = "aoa"

    def __init__(self, *, feat_dim: int, vocab_size: int, hidden: int = 128, dropout: float = 0.1, heads: int = 4,
                 layers: int = 2) -> None:
        super().__init__(feat_dim=feat_dim, vocab_size=vocab_size, hidden=hidden, dropout=dropout)
        self.refiner = nn.ModuleList(RefinerLayer(hidden, heads, dropout) for _ in range(layers))
        self.lstm = nn.LSTMCell(2 * hidden, hidden)
        self.att = MultiHeadAttention(hidden, num_heads=heads, dropout=dropout)
        self.aoa = AoA(hidden)

    def encode(self, feats: torch.Tensor, mask: torch.Tensor | None = None) -> Memory:
        self.check(feats, mask)
        a = self.regions(feats)
        for layer in self.refiner:
            a = layer(a, mask)
        return a, masked_mean(a, mask), mask

    def init_state(self, memory: Memory) -> State:
        z = memory[0].new_zeros(memory[0].shape[0], self.hidden)
        return z, z, z

    def step(self, memory: Memory, state: State, words: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, State]:
        a, a_mean, mask = memory
        h, c, ctx = state
        h, c = self.lstm(torch.cat([self.embed(words), a_mean + ctx], -1), (h, c))
        att, w = self.att(h.unsqueeze(1), a, key_padding_mask=mask, need_weights=True)
        ctx = self.aoa(att[:, 0], h)
        return self.log_probs(ctx), w.mean(1)[:, 0], (h, c, ctx)


def build_captioner(name: str, **kwargs: Any) -> Captioner:
    """The captioner registered as ``name`` (``updn``, ``transformer``, ``aoa``) built with ``kwargs``."""
    return CAPTIONERS.get(name)(**kwargs)


__all__ = ["AoA", "AoACaptioner", "CAPTIONERS", "Captioner", "TransformerCaptioner", "UpDnCaptioner",
           "build_captioner", "expand_memory", "masked_mean", "select_state", "sinusoid"]

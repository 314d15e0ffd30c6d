"""Scaled dot-product attention and multi-head attention (self- and cross-attention, with masks).

Paper: Vaswani et al., "Attention Is All You Need", NeurIPS 2017, https://arxiv.org/abs/1706.03762

``Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k) + M) V``;
``MultiHead(Q, K, V) = Concat(head_1..head_h) W^O`` with ``head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V)``.

Built on :func:`torch.nn.functional.scaled_dot_product_attention`, which dispatches to FlashAttention or the
memory-efficient kernel on GPU and to a fused C++ kernel on CPU. Mask convention (as ``nn.MultiheadAttention``):
a boolean mask is ``True`` where attention is *not* allowed; a float mask is added to the logits.
"""

from __future__ import annotations

from typing import Literal, overload

import torch
import torch.nn.functional as F
from torch import nn


def merge_masks(
    attn_mask: torch.Tensor | None,
    key_padding_mask: torch.Tensor | None,
    *,
    batch: int,
    q_len: int,
    k_len: int,
    dtype: torch.dtype,
) -> torch.Tensor | None:
    """Combine an attention mask and a key padding mask into one additive float mask.

    Args:
        attn_mask: ``[Lq, Lk]``, ``[B, Lq, Lk]`` or ``[B, heads, Lq, Lk]``; bool (True = blocked) or float (added).
        key_padding_mask: ``[B, Lk]`` bool, True where the key is padding.
        batch, q_len, k_len: the expected sizes, checked.
        dtype: the float dtype of the result.

    Returns:
        ``None`` when both masks are ``None``, else a float mask broadcastable to ``[B, heads, Lq, Lk]``
        holding 0 where allowed and ``-inf`` (or the given float values) elsewhere.
    """
    out: torch.Tensor | None = None
    if attn_mask is not None:
        if attn_mask.shape[-2:] != (q_len, k_len) or attn_mask.dim() not in (2, 3, 4):
            raise ValueError(f"attn_mask shape {tuple(attn_mask.shape)}: expected [..., {q_len}, {k_len}]")
        if attn_mask.dtype == torch.bool:
            out = torch.zeros(attn_mask.shape, dtype=dtype, device=attn_mask.device).masked_fill(
                attn_mask, float("-inf")
            )
        else:
            out = attn_mask.to(dtype)
        if out.dim() == 3:
            out = out.unsqueeze(1)  # [B, 1, Lq, Lk]: the same mask for every head
    if key_padding_mask is not None:
        if key_padding_mask.shape != (batch, k_len):
            raise ValueError(f"key_padding_mask shape {tuple(key_padding_mask.shape)}: expected [{batch}, {k_len}]")
        if key_padding_mask.dtype != torch.bool:
            raise TypeError("key_padding_mask must be a bool tensor (True = padding)")
        pad = torch.zeros((batch, 1, 1, k_len), dtype=dtype, device=key_padding_mask.device)
        pad = pad.masked_fill(key_padding_mask.view(batch, 1, 1, k_len), float("-inf"))
        out = pad if out is None else out + pad
    return out


class MultiHeadAttention(nn.Module):
    """Multi-head attention over sequences; self-attention when ``key``/``value`` are omitted.

    Args:
        dim: model width of the query (and of the output).
        num_heads: number of heads h; ``dim`` must be divisible by it.
        kdim: width of the key input (default ``dim``), for cross-attention between modalities.
        vdim: width of the value input (default ``kdim``).
        bias: add biases to the four projections.
        dropout: dropout probability on the attention weights (training only).

    Shapes:
        query: ``[B, Lq, dim]``; key: ``[B, Lk, kdim]``; value: ``[B, Lk, vdim]`` -> ``[B, Lq, dim]``
        (and the weights ``[B, heads, Lq, Lk]`` when ``need_weights=True``).

    A query whose keys are all masked has no defined output (NaN), as in ``nn.MultiheadAttention``.
    """

    def __init__(
        self,
        dim: int,
        *,
        num_heads: int = 8,
        kdim: int | None = None,
        vdim: int | None = None,
        bias: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if dim < 1 or num_heads < 1 or dim % num_heads != 0:
            raise ValueError(f"dim ({dim}) must be a positive multiple of num_heads ({num_heads})")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        kdim = dim if kdim is None else kdim
        vdim = kdim if vdim is None else vdim
        self.dim, self.num_heads, self.head_dim, self.dropout = dim, num_heads, dim // num_heads, dropout
        self.q_proj = nn.Linear(dim, dim, bias=bias)
        self.k_proj = nn.Linear(kdim, dim, bias=bias)
        self.v_proj = nn.Linear(vdim, dim, bias=bias)
        self.out_proj = nn.Linear(dim, dim, bias=bias)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        return x.view(b, n, self.num_heads, self.head_dim).transpose(1, 2)  # [B, h, L, d]

    @overload
    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor | None = ...,
        value: torch.Tensor | None = ...,
        *,
        key_padding_mask: torch.Tensor | None = ...,
        attn_mask: torch.Tensor | None = ...,
        need_weights: Literal[False] = ...,
    ) -> torch.Tensor: ...

    @overload
    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor | None = ...,
        value: torch.Tensor | None = ...,
        *,
        key_padding_mask: torch.Tensor | None = ...,
        attn_mask: torch.Tensor | None = ...,
        need_weights: Literal[True],
    ) -> tuple[torch.Tensor, torch.Tensor]: ...

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor | None = None,
        value: torch.Tensor | None = None,
        *,
        key_padding_mask: torch.Tensor | None = None,
        attn_mask: torch.Tensor | None = None,
        need_weights: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Attend from ``query`` to ``key``/``value`` (``key`` defaults to ``query``, ``value`` to ``key``).

        Args:
            query: ``[B, Lq, dim]``.
            key: ``[B, Lk, kdim]`` or ``None`` (self-attention).
            value: ``[B, Lk, vdim]`` or ``None`` (use ``key``).
            key_padding_mask: ``[B, Lk]`` bool, True at padded keys.
            attn_mask: ``[Lq, Lk]``, ``[B, Lq, Lk]`` or ``[B, h, Lq, Lk]``; bool True = blocked, or additive float.
            need_weights: also return the attention weights ``[B, h, Lq, Lk]`` (computed explicitly,
                so the fused kernel is not used).

        Returns:
            ``[B, Lq, dim]``, or ``(output, weights)`` when ``need_weights``.
        """
        if query.dim() != 3:
            raise ValueError(f"query must be [B, L, dim], got shape {tuple(query.shape)}")
        key = query if key is None else key
        value = key if value is None else value
        b, lq, _ = query.shape
        lk = key.shape[1]
        if key.shape[0] != b or value.shape[:2] != key.shape[:2]:
            raise ValueError(
                f"key {tuple(key.shape)} and value {tuple(value.shape)} must share the batch size {b} of the query"
                " and one length"
            )
        q = self._heads(self.q_proj(query))  # [B, h, Lq, d]
        k = self._heads(self.k_proj(key))  # [B, h, Lk, d]
        v = self._heads(self.v_proj(value))  # [B, h, Lk, d]
        mask = merge_masks(attn_mask, key_padding_mask, batch=b, q_len=lq, k_len=lk, dtype=q.dtype)
        p = self.dropout if self.training else 0.0
        weights: torch.Tensor | None = None
        if need_weights:
            logits = q @ k.transpose(-2, -1) * self.head_dim**-0.5  # [B, h, Lq, Lk]
            if mask is not None:
                logits = logits + mask
            weights = torch.softmax(logits, dim=-1)
            out = F.dropout(weights, p) @ v
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)  # [B, h, Lq, d]
        out = self.out_proj(out.transpose(1, 2).reshape(b, lq, self.dim))
        if need_weights:
            assert weights is not None
            return out, weights
        return out

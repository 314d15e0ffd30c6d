"""MCAN: deep modular co-attention (encoder-decoder) for VQA, on the CNN grid and the question's words.

Paper: Yu, Yu, Cui, Tao, Tian, "Deep Modular Co-Attention Networks for Visual Question Answering", CVPR 2019,
https://arxiv.org/abs/1906.10770

* Encoder: ``L`` self-attention (SA) units on the question tokens: ``x = LN(x + MHA(x, x))``,
  ``x = LN(x + FFN(x))``, padding tokens masked out as keys.
* Decoder: ``L`` units on the image grid, each SA then guided attention (GA, image cells attend to the encoded
  question, padding masked) then FFN, all post-norm residuals (the paper's encoder-decoder variant).
* Attentional reduction ("AttFlat"): ``x_tilde = W sum_i softmax(MLP(x))_i x_i`` for each modality (padding masked),
  fusion ``z = LN(W_x x_tilde + W_y y_tilde)``, then the answer classifier.

Every attention is :class:`dlfrontier.attention.MultiHeadAttention`. Differences from the paper, for a small CPU
budget: learned word and position embeddings instead of GloVe + LSTM (the questions are templates), image cells
from the relation-network CNN plus their coordinates instead of Faster R-CNN boxes, widths of tens not 512.
The first decoder unit's SA does not depend on the question, so it runs once per image; the rest runs per question.

``geometry=True`` adds :class:`GeometryBias` to the decoder's SA logits: a learned function of the relative
position of two cells' detected objects, after Hu et al.'s object relation module. Without it, the plain
MCAN plateaued near 81% on Sort-of-CLEVR's relational questions in our CPU budgets; with it, 94-98% (docs/vqa.md).
"""

from __future__ import annotations

import torch
from torch import nn

from dlfrontier.attention.mha import MultiHeadAttention
from dlfrontier.attention.relation import feature_map_objects
from dlfrontier.data.sort_of_clevr import IMAGE_SIZE, MAX_QUESTION_LEN, NUM_ANSWERS, VOCAB
from dlfrontier.multimodal.bottom_up import cell_positions
from dlfrontier.multimodal.vqa_base import VQAModel, repeat_per_question


class FFN(nn.Module):
    """``Linear(d, f) -> ReLU -> Dropout -> Linear(f, d)``. Shapes: ``[..., d] -> [..., d]``."""

    def __init__(self, dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
                                 nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class SA(nn.Module):
    """Self-attention unit: ``x = LN(x + MHA(x)); x = LN(x + FFN(x))``. Shapes: ``[B, L, d] -> [B, L, d]``."""

    def __init__(self, dim: int, heads: int, ffn: int, dropout: float) -> None:
        super().__init__()
        self.att = MultiHeadAttention(dim, num_heads=heads)
        self.ffn = FFN(dim, ffn, dropout)
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, pad: torch.Tensor | None = None) -> torch.Tensor:
        x = self.norm1(x + self.drop(self.att(x, key_padding_mask=pad)))
        return self.norm2(x + self.drop(self.ffn(x)))


class SGA(nn.Module):
    """Decoder unit: SA on ``y``, GA from ``y`` to ``x`` (``x``'s padding masked), FFN; all post-norm residuals.

    Shapes:
        y ``[B, N, d]``, x ``[B, L, d]`` -> ``[B, N, d]`` (and GA weights ``[B, heads, N, L]`` on request).
    """

    def __init__(self, dim: int, heads: int, ffn: int, dropout: float) -> None:
        super().__init__()
        self.self_att = MultiHeadAttention(dim, num_heads=heads)
        self.guided_att = MultiHeadAttention(dim, num_heads=heads)
        self.ffn = FFN(dim, ffn, dropout)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.drop = nn.Dropout(dropout)

    def self_part(self, y: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        """SA on ``y``; ``bias`` ``[B, heads, N, N]`` is added to its logits (the geometry term)."""
        return self.norm1(y + self.drop(self.self_att(y, attn_mask=bias)))

    def guided_part(
        self, y: torch.Tensor, x: torch.Tensor, x_pad: torch.Tensor | None, need_weights: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        weights = None
        if need_weights:
            att, weights = self.guided_att(y, x, key_padding_mask=x_pad, need_weights=True)
        else:
            att = self.guided_att(y, x, key_padding_mask=x_pad)
        y = self.norm2(y + self.drop(att))
        return self.norm3(y + self.drop(self.ffn(y))), weights

    def forward(self, y: torch.Tensor, x: torch.Tensor, x_pad: torch.Tensor | None = None) -> torch.Tensor:
        return self.guided_part(self.self_part(y), x, x_pad)[0]


class GeometryBias(nn.Module):
    """Attention logits from the objects' relative geometry, one per head: ``MLP(dr, dc, |d|)``.

    The geometric term of Hu et al.'s object relation module ("Relation Networks for Object Detection", CVPR 2018,
    https://arxiv.org/abs/1711.11575), which weighs a pair of objects by a learned function of their relative box
    geometry, in the additive form of Swin V2's continuous position bias (an MLP of the relative coordinates). Here
    the boxes are the detector's object centres, all objects one size, so the geometry is the displacement
    ``d = p_j - p_i`` and its length. With it one SA step can rank the objects by their distance to each other.

    Initialisation (``slope > 0``): hidden unit 0 starts as the distance ``|d|`` itself, and head ``h`` reads it
    with a weight spread evenly over ``[-slope, slope]``, so that from the first step some heads prefer near objects
    and others far ones. This is ALiBi's fixed per-head linear distance penalty (Press et al. 2022), here with both
    signs and learned afterwards. On Sort-of-CLEVR it moved the rise of "closest"/"furthest" earlier (docs/vqa.md).

    Shapes:
        positions ``[B, N, 2]`` -> ``[B, heads, N, N]`` (added to the logits of query ``i`` for key ``j``).
    """

    def __init__(self, heads: int, hidden: int = 32, slope: float = 8.0) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(3, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, heads))
        if slope > 0:
            with torch.no_grad():
                first, last = self.mlp[0], self.mlp[2]
                assert isinstance(first, nn.Linear) and isinstance(last, nn.Linear)
                first.weight[0] = torch.tensor([0.0, 0.0, 1.0])
                first.bias[0] = 0.0
                last.weight[:, 0] = torch.linspace(-slope, slope, heads)

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        d = positions.unsqueeze(1) - positions.unsqueeze(2)  # [B, N(i), N(j), 2]
        geometry = torch.cat([d, d.norm(dim=-1, keepdim=True)], -1)
        return self.mlp(geometry).permute(0, 3, 1, 2)


class AttFlat(nn.Module):
    """Attentional reduction: ``W sum_i softmax_i(MLP(x_i)) x_i`` with masked positions excluded.

    Shapes:
        x ``[B, L, d]``, pad ``[B, L]`` bool or None -> ``([B, out], weights [B, L])``.
    """

    def __init__(self, dim: int, hidden: int, out: int, dropout: float) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
                                 nn.Linear(hidden, 1))
        self.proj = nn.Linear(dim, out)

    def forward(self, x: torch.Tensor, pad: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.mlp(x).squeeze(-1)  # [B, L]
        if pad is not None:
            logits = logits.masked_fill(pad, float("-inf"))
        w = torch.softmax(logits, dim=-1)
        return self.proj((w.unsqueeze(-1) * x).sum(1)), w


class MCAN(VQAModel):
    """MCAN encoder-decoder on question tokens and the image grid.

    Args:
        image_size: input side (75).
        num_answers: answer vocabulary size.
        vocab_size: question vocabulary size (``len(VOCAB)``).
        max_len: longest question (positions embedded).
        channels: CNN width.
        conv_layers: stride-2 conv layers (4: a 5x5 grid at 75 px).
        dim: model width d (512 in the paper).
        heads: attention heads (8 in the paper).
        ffn: FFN hidden width (4d in the paper).
        layers: encoder and decoder depth L (6 in the paper).
        dropout: dropout in attention outputs, FFNs and AttFlat.
        geometry: add :class:`GeometryBias` to every decoder SA, from the object centres the bottom-up detector
            finds in each cell (:func:`~dlfrontier.multimodal.bottom_up.cell_positions`); builds ``self.detector``,
            which :func:`~dlfrontier.multimodal.bottom_up.pretrain_bottom_up` must train (``head=model.detector``).

    Shapes:
        images ``[B, 3, S, S]``, tokens ``[B, Q, L]`` (0 = padding) -> logits ``[B, Q, num_answers]``; attention
        maps ``[B, Q, g, g]``: the last GA unit's weights averaged over heads, each image cell's weight on the
        question tokens summed with the question's AttFlat weights (so a cell is bright when it attends to the
        words that decide the answer, e.g. the colour).
    """

    name = "mcan"
    question_kind = "tokens"

    def __init__(
        self,
        *,
        image_size: int = IMAGE_SIZE,
        num_answers: int = NUM_ANSWERS,
        vocab_size: int = len(VOCAB),
        max_len: int = MAX_QUESTION_LEN,
        channels: int = 24,
        conv_layers: int = 4,
        dim: int = 64,
        heads: int = 4,
        ffn: int = 128,
        layers: int = 2,
        dropout: float = 0.0,
        geometry: bool = False,
    ) -> None:
        super().__init__(image_size=image_size, num_answers=num_answers, channels=channels,
                         conv_layers=conv_layers, detector=geometry)
        if layers < 1:
            raise ValueError(f"layers must be >= 1, got {layers}")
        self.vocab_size, self.max_len = vocab_size, max_len
        self.image_proj = nn.Linear(channels + 2, dim)
        self.embed = nn.Embedding(vocab_size, dim)
        self.pos = nn.Parameter(torch.randn(max_len, dim) * 0.02)
        self.encoder = nn.ModuleList([SA(dim, heads, ffn, dropout) for _ in range(layers)])
        self.decoder = nn.ModuleList([SGA(dim, heads, ffn, dropout) for _ in range(layers)])
        self.geometry = GeometryBias(heads) if geometry else None
        self.flat_x = AttFlat(dim, dim, 2 * dim, dropout)
        self.flat_y = AttFlat(dim, dim, 2 * dim, dropout)
        self.norm = nn.LayerNorm(2 * dim)
        self.classifier = nn.Linear(2 * dim, num_answers)

    def _answer(
        self, images: torch.Tensor, questions: torch.Tensor, q: int, padding_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        length = questions.shape[1]
        if length > self.max_len:
            raise ValueError(f"questions have {length} tokens; this model embeds at most max_len={self.max_len}")
        pad = questions == 0 if padding_mask is None else padding_mask.reshape(questions.shape)  # [BQ, L]
        x = self.embed(questions) + self.pos[:length]  # [BQ, L, d]
        for unit in self.encoder:
            x = unit(x, pad)
        features = self.cnn(images)
        y = self.image_proj(feature_map_objects(features))  # [B, N, d]
        bias = None
        if self.geometry is not None:
            assert self.detector is not None
            bias = self.geometry(cell_positions(self.detector(features)))  # [B, heads, N, N], once per image
        units: list[SGA] = list(self.decoder)  # type: ignore[arg-type]
        y = repeat_per_question(units[0].self_part(y, bias), q)  # question-independent: once per image
        if bias is not None and len(units) > 1:
            bias = repeat_per_question(bias, q)
        weights: torch.Tensor | None = None
        for k, unit in enumerate(units):
            if k:
                y = unit.self_part(y, bias)
            y, weights = unit.guided_part(y, x, pad, need_weights=k == len(units) - 1)
        xf, wx = self.flat_x(x, pad)
        yf, _ = self.flat_y(y)
        logits = self.classifier(self.norm(xf + yf))
        assert weights is not None
        maps = (weights.mean(1) * wx.unsqueeze(1)).sum(-1)  # [BQ, N]: GA over heads, weighted by the words' AttFlat
        return logits, maps.view(-1, self.grid, self.grid)

"""Bottom-up and top-down attention: question-guided soft attention over a grid of image features.

Paper: Anderson, He, Buehler, Teney, Johnson, Gould, Zhang, "Bottom-Up and Top-Down Attention for Image Captioning
and Visual Question Answering", CVPR 2018, https://arxiv.org/abs/1707.07998 (Section 3.3, the VQA model).

The "bottom-up" features here are the cells of the CNN's grid (with coordinates), as in the paper's ResNet
baseline, not Faster R-CNN boxes. Top-down attention: ``a_i = w^T f_a([v_i; q])``, ``alpha = softmax(a)``,
``v_hat = sum_i alpha_i v_i``, ``h = f_q(q) * f_v(v_hat)``, ``logits = W_o f_o(h)``, where every ``f`` is a gated
tanh layer ``tanh(W x) * sigmoid(W' x)``. The question encoder is a gated tanh layer on the 11-number vector
(the paper's GRU over GloVe words has nothing to learn on template questions). ``glimpses`` > 1 concatenates
several attention distributions, as in the paper's follow-ups.
"""

from __future__ import annotations

import torch
from torch import nn

from dlfrontier.attention.relation import feature_map_objects
from dlfrontier.data.sort_of_clevr import IMAGE_SIZE, NUM_ANSWERS, VECTOR_DIM
from dlfrontier.multimodal.vqa_base import VQAModel, repeat_per_question


class GatedTanh(nn.Module):
    """``tanh(W x + b) * sigmoid(W' x + b')`` (the paper's non-linear layer). Shapes: ``[..., in] -> [..., out]``."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.fc = nn.Linear(cin, 2 * cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, gate = self.fc(x).chunk(2, dim=-1)
        return torch.tanh(y) * torch.sigmoid(gate)


class UpDn(VQAModel):
    """Question-guided soft attention over the CNN grid.

    Args:
        image_size: input side (75).
        num_answers: answer vocabulary size.
        channels: CNN width.
        conv_layers: stride-2 conv layers (4: a 5x5 grid at 75 px).
        hidden: width of the joint embedding.
        glimpses: number of attention distributions (1 in the paper).

    Shapes:
        images ``[B, 3, S, S]``, questions ``[B, Q, 11]`` -> logits ``[B, Q, num_answers]``; attention maps
        ``[B, Q, g, g]`` (mean over glimpses).
    """

    name = "updn"
    question_kind = "vector"

    def __init__(
        self,
        *,
        image_size: int = IMAGE_SIZE,
        num_answers: int = NUM_ANSWERS,
        channels: int = 24,
        conv_layers: int = 4,
        hidden: int = 256,
        glimpses: int = 1,
    ) -> None:
        super().__init__(image_size=image_size, num_answers=num_answers, channels=channels,
                         conv_layers=conv_layers)
        if glimpses < 1:
            raise ValueError(f"glimpses must be >= 1, got {glimpses}")
        self.glimpses = glimpses
        d = channels + 2
        self.question = GatedTanh(VECTOR_DIM, hidden)
        # f_a([v; q]) is split by linearity: its image half runs once per image, its question half once per question.
        self.att_v = nn.Linear(d, 2 * hidden)
        self.att_q = nn.Linear(hidden, 2 * hidden, bias=False)
        self.att_w = nn.Linear(hidden, glimpses)
        self.f_v = GatedTanh(glimpses * d, hidden)
        self.f_q = GatedTanh(hidden, hidden)
        self.f_o = GatedTanh(hidden, hidden)
        self.out = nn.Linear(hidden, num_answers)

    def _answer(
        self, images: torch.Tensor, questions: torch.Tensor, q: int, padding_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        v = feature_map_objects(self.cnn(images))  # [B, N, D]
        av = self.att_v(v)  # [B, N, 2h], once per image
        v, av = repeat_per_question(v, q), repeat_per_question(av, q)  # [BQ, N, D], [BQ, N, 2h]
        qe = self.question(questions)  # [BQ, h]
        y, gate = (av + self.att_q(qe).unsqueeze(1)).chunk(2, dim=-1)
        alpha = torch.softmax(self.att_w(torch.tanh(y) * torch.sigmoid(gate)), dim=1)  # [BQ, N, glimpses]
        v_hat = (alpha.unsqueeze(-1) * v.unsqueeze(2)).sum(1).flatten(1)  # [BQ, glimpses * D]
        h = self.f_q(qe) * self.f_v(v_hat)
        maps = alpha.mean(-1).view(-1, self.grid, self.grid)  # [BQ, g, g]
        return self.out(self.f_o(h)), maps

"""CNN + MLP: the relation-network paper's baseline for Sort-of-CLEVR.

Paper: Santoro et al., "A simple neural network module for relational reasoning", NeurIPS 2017,
https://arxiv.org/abs/1706.01427 (Section 4.2: "a CNN augmented with an MLP ... plateauing at 63% on the
relational questions").

The CNN's whole feature map, flattened, is concatenated with the question vector and fed to an MLP. Nothing in the
architecture compares two objects, which is why it struggles with relational questions.
"""

from __future__ import annotations

import torch
from torch import nn

from dlfrontier.data.sort_of_clevr import IMAGE_SIZE, NUM_ANSWERS, VECTOR_DIM
from dlfrontier.multimodal.vqa_base import VQAModel, repeat_per_question


class CNNMLP(VQAModel):
    """``MLP([flatten(CNN(image)); question])``.

    Args:
        image_size: input side (75).
        num_answers: answer vocabulary size.
        channels: CNN width (24 in the paper).
        conv_layers: stride-2 conv layers (4: a 5x5 map at 75 px).
        hidden: MLP width.
        dropout: dropout before the last layer (the paper uses 0.5 in f).

    Shapes:
        images ``[B, 3, S, S]``, questions ``[B, Q, 11]`` -> logits ``[B, Q, num_answers]``.
    """

    name = "cnn-mlp"
    question_kind = "vector"

    def __init__(
        self,
        *,
        image_size: int = IMAGE_SIZE,
        num_answers: int = NUM_ANSWERS,
        channels: int = 24,
        conv_layers: int = 4,
        hidden: int = 256,
        dropout: float = 0.0,
    ) -> None:
        super().__init__(image_size=image_size, num_answers=num_answers, channels=channels,
                         conv_layers=conv_layers)
        g = self.grid
        self.image_fc = nn.Linear(channels * g * g, hidden)
        self.question_fc = nn.Linear(VECTOR_DIM, hidden, bias=False)
        self.mlp = nn.Sequential(
            nn.ReLU(inplace=True), nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(hidden, num_answers),
        )

    def _answer(
        self, images: torch.Tensor, questions: torch.Tensor, q: int, padding_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, None]:
        # The first layer on [image; question] is linear, so its image half runs once per image.
        img = self.image_fc(self.cnn(images).flatten(1))  # [B, hidden]
        return self.mlp(repeat_per_question(img, q) + self.question_fc(questions)), None

"""Relation Network for Sort-of-CLEVR: pairs of CNN feature cells, tagged with coordinates and the question.

Paper: Santoro et al., "A simple neural network module for relational reasoning", NeurIPS 2017,
https://arxiv.org/abs/1706.01427

``a = f_phi(sum_{i,j} g_theta(o_i, o_j, q))`` where the objects ``o_i`` are the cells of the CNN's 5x5 feature map,
each with its (row, col) coordinates, and ``q`` is the question vector. With ``objects=k`` (not ``None``) the objects
are instead the ``k`` cells the bottom-up detector is surest hold an object, at the detector's refined positions
(:func:`dlfrontier.multimodal.bottom_up.detected_objects`): k^2 pairs instead of 625, as UpDn and MCAN read a
detector's top regions rather than a grid. The module is
:class:`dlfrontier.attention.RelationModule`, whose first layer of g is split by linearity
(``W [o_i; o_j; q] = A o_i + B o_j + C q``): A and B run once per object, not once per pair, so g's first layer
costs O(N) and only g's later layers see all N^2 = 625 pairs.
"""

from __future__ import annotations

import torch

from dlfrontier.attention.relation import RelationModule, feature_map_objects
from dlfrontier.data.sort_of_clevr import IMAGE_SIZE, NUM_ANSWERS, VECTOR_DIM
from dlfrontier.multimodal.bottom_up import detected_objects
from dlfrontier.multimodal.vqa_base import VQAModel


class RelationNetwork(VQAModel):
    """CNN -> objects (cells + coordinates) -> :class:`RelationModule` conditioned on the question.

    Args:
        image_size: input side (75).
        num_answers: answer vocabulary size.
        channels: CNN width (24 in the paper).
        conv_layers: stride-2 conv layers (4: 25 objects at 75 px).
        hidden: width of g and f (the paper's Sort-of-CLEVR model: 2000-unit g; 256 in common re-implementations).
        g_layers: linear layers of g (4 in the paper).
        f_layers: linear layers of f, the last being the answer classifier.
        objects: ``None`` relates every grid cell (the paper); ``k`` relates the ``k`` detected objects, which needs
            the detector trained (:func:`~dlfrontier.multimodal.bottom_up.pretrain_bottom_up` with
            ``head=model.detector``).

    Shapes:
        images ``[B, 3, S, S]``, questions ``[B, Q, 11]`` -> logits ``[B, Q, num_answers]``.
    """

    name = "relation-network"
    question_kind = "vector"

    def __init__(
        self,
        *,
        image_size: int = IMAGE_SIZE,
        num_answers: int = NUM_ANSWERS,
        channels: int = 24,
        conv_layers: int = 4,
        hidden: int = 256,
        g_layers: int = 4,
        f_layers: int = 2,
        objects: int | None = None,
    ) -> None:
        super().__init__(image_size=image_size, num_answers=num_answers, channels=channels,
                         conv_layers=conv_layers, detector=objects is not None)
        if objects is not None and not 1 <= objects <= self.grid**2:
            raise ValueError(f"objects must be None (every cell) or 1..{self.grid ** 2}, got {objects}")
        self.objects = objects
        self.relation = RelationModule(
            channels + 2, hidden=hidden, out_dim=num_answers, question_dim=VECTOR_DIM, g_layers=g_layers,
            f_layers=f_layers,
        )

    def _answer(
        self, images: torch.Tensor, questions: torch.Tensor, q: int, padding_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, None]:
        features = self.cnn(images)
        if self.detector is None:
            objects = feature_map_objects(features)  # [B, N, C + 2], once per image
        else:
            objects = detected_objects(features, self.detector(features), self.objects)  # [B, k, C + 2]
        return relate(self.relation, objects, questions, q), None


def relate(rel: RelationModule, objects: torch.Tensor, questions: torch.Tensor, q: int) -> torch.Tensor:
    """``rel(repeat(objects, q), questions)``, computed with the image's pair terms shared by its questions.

    ``A o_i + B o_j`` is the same for every question about an image, so it is formed once per image (``[B, N, N,
    h]``) and only ``C q`` is added per question; g's later layers then run on one flat ``[B*q*N*N, h]`` matrix,
    which keeps the in-place ReLUs off strided views (3x faster on CPU than the 4-D path).

    Shapes:
        objects ``[B, N, D]``, questions ``[B*q, Q_dim]`` -> ``[B*q, out]``.
    """
    b, n, d = objects.shape
    w = rel.g_first.weight  # [h, 2D + Q]
    pair = (objects @ w[:, :d].T).unsqueeze(2) + (objects @ w[:, d : 2 * d].T).unsqueeze(1)  # [B, N(i), N(j), h]
    qterm = rel.g_first.bias + questions @ w[:, 2 * d :].T  # [B*q, h]
    hidden = qterm.shape[-1]
    x = torch.relu(pair.unsqueeze(1) + qterm.view(b, q, 1, 1, hidden))  # [B, q, N, N, h]
    g = rel.g_rest(x.reshape(-1, hidden)).view(b * q, n * n, -1).sum(1)  # [B*q, h]
    return rel.f(g)

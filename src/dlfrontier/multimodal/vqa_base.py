"""What every Sort-of-CLEVR VQA model shares: input checks, the paper's CNN, the image-question batching, save/load.

A model answers ``Q`` questions about each of ``B`` images in one call: the CNN runs once per image and its
feature map is repeated for that image's questions (a view, not a recomputation), so 20 questions per image cost
one CNN pass.
"""

from __future__ import annotations

import functools
import inspect
import os
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from dlfrontier.data.sort_of_clevr import IMAGE_SIZE, MAX_QUESTION_LEN, NUM_ANSWERS, VECTOR_DIM, VOCAB
from dlfrontier.multimodal.batchnorm import recalibrate_batchnorm
from dlfrontier.multimodal.bottom_up import HEAD_OUTPUTS
from dlfrontier.registry import Registry


def conv_stem(
    *, channels: int = 24, layers: int = 4, norm: Literal["batch", "group", "none"] = "batch"
) -> nn.Sequential:
    """The relation-network paper's CNN: ``layers`` x (3x3 conv stride 2, norm, ReLU), ``channels`` wide.

    ``norm``: ``"batch"`` (the paper's BatchNorm; it trains much faster here than ``"group"`` or ``"none"``, but
    its running statistics lag the quickly changing features of a short run: call :func:`recalibrate_batchnorm`
    before scoring in eval mode; :mod:`dlfrontier.multimodal.batchnorm`).

    Shapes:
        ``[B, 3, 75, 75]`` -> ``[B, channels, 5, 5]`` (75 -> 38 -> 19 -> 10 -> 5 with 4 layers).
    """
    mods: list[nn.Module] = []
    cin = 3
    if norm not in ("batch", "group", "none"):
        raise ValueError(f"norm must be batch, group or none, got {norm!r}")
    for _ in range(layers):
        layer: nn.Module = (nn.BatchNorm2d(channels) if norm == "batch" else
                            nn.GroupNorm(4, channels) if norm == "group" else nn.Identity())
        mods += [nn.Conv2d(cin, channels, 3, 2, 1, bias=norm == "none"), layer, nn.ReLU(inplace=True)]
        cin = channels
    return nn.Sequential(*mods)


def grid_side(image_size: int, layers: int) -> int:
    """Side of the CNN's feature map: each stride-2 layer maps ``s`` to ``ceil(s / 2)``."""
    for _ in range(layers):
        image_size = (image_size + 1) // 2
    return image_size


def repeat_per_question(x: torch.Tensor, q: int) -> torch.Tensor:
    """``[B, ...]`` -> ``[B * q, ...]``: each image's features once per question (expand, then one copy)."""
    return x.unsqueeze(1).expand(x.shape[0], q, *x.shape[1:]).reshape(x.shape[0] * q, *x.shape[1:])


VQA_MODELS: Registry[type[VQAModel]] = Registry("VQA model")


class VQAModel(nn.Module):
    """Base class: checks inputs and answers ``[B, Q]`` questions about ``[B]`` images.

    Subclasses set ``question_kind`` (``"vector"``: the paper's 11-number encoding; ``"tokens"``: ids over
    :data:`~dlfrontier.data.sort_of_clevr.VOCAB`) and implement :meth:`_answer`.

    Args:
        image_size: side of the square RGB input images (75 for Sort-of-CLEVR).
        num_answers: size of the answer vocabulary.
        channels: width of the paper's CNN (:func:`conv_stem`, built here as ``self.cnn``).
        conv_layers: its stride-2 conv layers (4: a 5x5 grid at 75 px).
        detector: also build ``self.detector``, the bottom-up detection head (a 1x1 conv), which
            :func:`~dlfrontier.multimodal.bottom_up.pretrain_bottom_up` trains and :meth:`freeze_cnn` freezes.

    A subclass's constructor arguments are recorded in ``self.kwargs`` after its ``__init__`` (for
    :meth:`save`).
    """

    question_kind: ClassVar[Literal["vector", "tokens"]] = "vector"
    name: ClassVar[str] = ""
    vocab_size: int  # token models only

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name:
            VQA_MODELS.register(cls.name, cls)
        init = cls.__dict__.get("__init__")
        if init is None:
            return
        signature = inspect.signature(init)

        @functools.wraps(init)
        def init_and_record(self: VQAModel, *args: Any, **kw: Any) -> None:
            init(self, *args, **kw)
            if type(self) is cls:  # the concrete class records every constructor argument, defaults included
                bound = signature.bind(self, *args, **kw)
                bound.apply_defaults()
                self.kwargs = {k: v for k, v in bound.arguments.items() if k != "self"}

        cls.__init__ = init_and_record  # type: ignore[method-assign]

    def __init__(
        self, *, image_size: int = IMAGE_SIZE, num_answers: int = NUM_ANSWERS, channels: int = 24, conv_layers: int = 4,
        detector: bool = False,
    ) -> None:
        super().__init__()
        if image_size < 8 or num_answers < 2:
            raise ValueError(f"need image_size >= 8 and num_answers >= 2, got {image_size}, {num_answers}")
        self.image_size, self.num_answers = image_size, num_answers
        self.kwargs: dict[str, Any] = {}  # the constructor's arguments, for save/load (recorded after __init__)
        self.cnn = conv_stem(channels=channels, layers=conv_layers)
        self.grid = grid_side(image_size, conv_layers)  # the CNN's feature map is grid x grid cells
        self.cnn_frozen = False
        # the bottom-up detection head, kept after pretraining for models that read detected objects
        self.detector = nn.Conv2d(channels, HEAD_OUTPUTS, 1) if detector else None

    def freeze_cnn(self) -> None:
        """Fix the CNN (pretrained bottom-up features) and its detector: no gradients, BatchNorm in eval mode."""
        self.cnn_frozen = True
        self.cnn.requires_grad_(False)
        self.cnn.eval()
        if self.detector is not None:
            self.detector.requires_grad_(False)

    def train(self, mode: bool = True) -> VQAModel:
        super().train(mode)
        if self.cnn_frozen:
            self.cnn.eval()
        return self

    # -------------------------------------------------------------------------------------------- checks

    def _check(self, images: torch.Tensor, questions: torch.Tensor) -> torch.Tensor:
        """Validate inputs; returns questions as ``[B, Q, ...]`` (a ``[B, ...]`` batch is one question each)."""
        s = self.image_size
        if images.dim() != 4 or tuple(images.shape[1:]) != (3, s, s):
            raise ValueError(
                f"images must be [B, 3, {s}, {s}] (the size this model was built for), got {tuple(images.shape)}; "
                f"generate Sort-of-CLEVR images at {s} px or build the model with image_size={images.shape[-1]}"
            )
        if self.question_kind == "vector":
            if questions.dim() == 2:
                questions = questions.unsqueeze(1)
            if questions.dim() != 3 or questions.shape[-1] != VECTOR_DIM or questions.is_floating_point() is False:
                raise ValueError(
                    f"questions must be float vectors [B, Q, {VECTOR_DIM}] (the paper's encoding), got "
                    f"{tuple(questions.shape)} {questions.dtype}; pass SortOfClevr.vectors, not .tokens"
                )
        else:
            if questions.dim() == 2:
                questions = questions.unsqueeze(1)
            if questions.dim() != 3 or questions.is_floating_point():
                raise ValueError(
                    f"questions must be token ids [B, Q, L] (int), got {tuple(questions.shape)} {questions.dtype}; "
                    "pass SortOfClevr.tokens, not .vectors"
                )
            vocab = self.vocab_size
            if questions.numel() and (int(questions.min()) < 0 or int(questions.max()) >= vocab):
                raise ValueError(
                    f"question token ids must lie in [0, {vocab}) (this model's vocabulary of {vocab} words), got "
                    f"ids up to {int(questions.max())}; encode questions with dlfrontier.data.sort_of_clevr.VOCAB "
                    f"(len {len(VOCAB)}) or build the model with vocab_size={int(questions.max()) + 1}"
                )
        if questions.shape[0] != images.shape[0]:
            raise ValueError(f"{images.shape[0]} images but questions for {questions.shape[0]}")
        return questions

    # ------------------------------------------------------------------------------------------- forward

    def forward(
        self, images: torch.Tensor, questions: torch.Tensor, *, padding_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Answer logits.

        Args:
            images: ``[B, 3, S, S]`` float (see :func:`dlfrontier.data.sort_of_clevr.to_float`).
            questions: ``[B, Q, 11]`` float vectors or ``[B, Q, L]`` token ids (``question_kind``); ``[B, ...]``
                means one question per image.
            padding_mask: token models only: ``[B, Q, L]`` bool, True at padding (default: ``tokens == 0``).

        Returns:
            ``[B, Q, num_answers]`` (``[B, 1, A]`` for one question per image).
        """
        return self.answer_with_attention(images, questions, padding_mask=padding_mask)[0]

    def answer_with_attention(
        self, images: torch.Tensor, questions: torch.Tensor, *, padding_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits ``[B, Q, A]`` and the attention heat map over the feature grid ``[B, Q, h, w]`` (``None`` for
        models without image attention)."""
        questions = self._check(images, questions)
        if padding_mask is not None and tuple(padding_mask.shape) != tuple(questions.shape):
            raise ValueError(f"padding_mask shape {tuple(padding_mask.shape)} must equal the tokens' shape")
        b, q = questions.shape[:2]
        logits, maps = self._answer(images, questions.reshape(b * q, *questions.shape[2:]), q, padding_mask)
        logits = logits.view(b, q, -1)
        return logits, None if maps is None else maps.view(b, q, *maps.shape[1:])

    def _answer(
        self, images: torch.Tensor, questions: torch.Tensor, q: int, padding_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``images [B, 3, S, S]``, ``questions [B*q, ...]`` -> ``(logits [B*q, A], maps [B*q, h, w] | None)``."""
        raise NotImplementedError

    # --------------------------------------------------------------------------------------- persistence

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save the model's name, constructor arguments and weights (load with :func:`load_vqa_model`)."""
        from dlfrontier.tracking import save_checkpoint

        save_checkpoint(path, {"model": self.name, "kwargs": dict(self.kwargs), "state_dict": self.state_dict()})


def build_vqa_model(name: str, **kwargs: Any) -> VQAModel:
    """Build the model registered as ``name`` (``cnn-mlp``, ``relation-network``, ``updn``, ``mcan``).

    Raises:
        UnknownNameError: ``name`` is not registered (the message lists the choices).
    """
    return VQA_MODELS.get(name)(**kwargs)


def load_vqa_model(path: str | os.PathLike[str], *, map_location: Any = "cpu") -> VQAModel:
    """Rebuild a model saved by :meth:`VQAModel.save`."""
    from dlfrontier.tracking import load_checkpoint

    state = load_checkpoint(path)
    model = build_vqa_model(state["model"], **state["kwargs"])
    model.load_state_dict(state["state_dict"])
    return model.to(map_location)


__all__ = [
    "MAX_QUESTION_LEN",
    "VQAModel",
    "VQA_MODELS",
    "build_vqa_model",
    "conv_stem",
    "grid_side",
    "load_vqa_model",
    "recalibrate_batchnorm",
    "repeat_per_question",
]

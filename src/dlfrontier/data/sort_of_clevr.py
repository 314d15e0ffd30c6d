"""Sort-of-CLEVR: a procedural visual question answering set with relational and non-relational questions.

Paper: Santoro, Raposo, Barrett, Malinowski, Pascanu, Battaglia, Lillicrap, "A simple neural network module for
relational reasoning", NeurIPS 2017, https://arxiv.org/abs/1706.01427 (Section 4.2 and Appendix D).

Every image is 75x75 RGB on a white background and holds 6 objects, one of each colour (red, green, blue, orange,
gray, yellow), each a square or a circle of side 11 px, placed without touching. Object ``k`` has colour ``k``.
Per image the generator asks ``nonrelational`` + ``relational`` questions (10 + 10 by default, as in the paper),
each about a random colour:

=====  ==========================================================  =================
type   question                                                    answers
=====  ==========================================================  =================
0      what shape is the <c> object                                square, circle
1      is the <c> object on the left or right                      left, right
2      is the <c> object at the top or bottom                      top, bottom
3      what shape is the object closest to the <c> object          square, circle
4      what shape is the object furthest from the <c> object       square, circle
5      how many objects have the same shape as the <c> object      1 .. 6
=====  ==========================================================  =================

Types 0-2 are non-relational, 3-5 relational. Distances are between object centres (Euclidean); a tie goes to the
object with the lower index. "Left" means a centre column below the image's middle (37.5), "top" a centre row
below it; the count includes the object itself.

Questions come in two encodings: the paper's fixed-length vector (11 numbers: colour one-hot 6, non-relational /
relational one-hot 2, subtype one-hot 3) and a token sequence over :data:`VOCAB`, padded with ``PAD`` (id 0) to
:data:`MAX_QUESTION_LEN`, for models that read words (MCAN).

Generation is vectorised over images (placement by batched rejection sampling, drawing by scattering 11x11 stamps)
and deterministic in the seed: 10,000 images take about a second.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

IMAGE_SIZE = 75
NUM_OBJECTS = 6
OBJECT_HALF = 5  # squares are 11x11, circles of radius 5 (the paper's reference code draws size-5 objects)
COLOURS = ("red", "green", "blue", "orange", "gray", "yellow")
RGB = np.array(
    [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 156, 0], [128, 128, 128], [255, 255, 0]], dtype=np.uint8
)
SHAPES = ("square", "circle")
ANSWERS = ("square", "circle", "left", "right", "top", "bottom", "1", "2", "3", "4", "5", "6")
NUM_ANSWERS = len(ANSWERS)
QUESTION_TYPES = ("shape", "left-right", "top-bottom", "closest", "furthest", "count")
RELATIONAL_TYPES = (3, 4, 5)
VECTOR_DIM = 11
TEMPLATES = (
    "what shape is the {} object",
    "is the {} object on the left or right",
    "is the {} object at the top or bottom",
    "what shape is the object closest to the {} object",
    "what shape is the object furthest from the {} object",
    "how many objects have the same shape as the {} object",
)
PAD = "<pad>"
VOCAB: tuple[str, ...] = (PAD,) + tuple(
    sorted({w for t in TEMPLATES for w in t.format("").split()} | set(COLOURS))
)
MAX_QUESTION_LEN = max(len(t.format("x").split()) for t in TEMPLATES)


def _token_table() -> np.ndarray:
    """``[types, colours, MAX_QUESTION_LEN]`` token ids of every question, padded with 0."""
    index = {w: i for i, w in enumerate(VOCAB)}
    table = np.zeros((len(TEMPLATES), len(COLOURS), MAX_QUESTION_LEN), dtype=np.int64)
    for t, template in enumerate(TEMPLATES):
        for c, colour in enumerate(COLOURS):
            words = template.format(colour).split()
            table[t, c, : len(words)] = [index[w] for w in words]
    return table


_TOKENS = _token_table()


class SortOfClevr(NamedTuple):
    """A generated set: images, the objects drawn in them, and questions with their answers.

    Shapes (N images, Q questions per image, L = :data:`MAX_QUESTION_LEN`):
        images: ``[N, 3, 75, 75]`` uint8.
        centres: ``[N, 6, 2]`` int64, (row, col) of each object's centre; object k has colour k.
        shapes: ``[N, 6]`` int64, 0 square / 1 circle.
        qtypes: ``[N, Q]`` int64 in 0..5 (see the module docstring); colours: ``[N, Q]`` int64 in 0..5.
        vectors: ``[N, Q, 11]`` float32, the paper's encoding; tokens: ``[N, Q, L]`` int64 over :data:`VOCAB`.
        answers: ``[N, Q]`` int64 indices into :data:`ANSWERS`.
    """

    images: torch.Tensor
    centres: torch.Tensor
    shapes: torch.Tensor
    qtypes: torch.Tensor
    colours: torch.Tensor
    vectors: torch.Tensor
    tokens: torch.Tensor
    answers: torch.Tensor

    @property
    def relational(self) -> torch.Tensor:
        """``[N, Q]`` bool, True for relational questions."""
        return self.qtypes >= RELATIONAL_TYPES[0]

    def __len__(self) -> int:  # type: ignore[override]
        return int(self.images.shape[0])


def place_objects(rng: np.random.Generator, n: int, *, size: int = IMAGE_SIZE, half: int = OBJECT_HALF) -> np.ndarray:
    """Centres of ``NUM_OBJECTS`` non-touching objects per image, by batched rejection sampling.

    Objects are placed one after another; each image redraws the candidate for the current object until its
    11x11 box keeps at least one pixel of gap to every earlier box (Chebyshev distance >= 2*half + 2). Five
    exclusion zones of 23x23 cannot cover the 65x65 centre range, so this always terminates.

    Returns:
        ``[n, NUM_OBJECTS, 2]`` int64 (row, col).
    """
    centres = np.zeros((n, NUM_OBJECTS, 2), dtype=np.int64)
    gap = 2 * half + 2
    for k in range(NUM_OBJECTS):
        pending = np.arange(n)
        while pending.size:
            cand = rng.integers(half, size - half, size=(pending.size, 2))
            if k:
                cheb = np.abs(centres[pending, :k] - cand[:, None]).max(-1)  # [P, k]
                ok = (cheb >= gap).all(-1)
            else:
                ok = np.ones(pending.size, dtype=bool)
            centres[pending[ok], k] = cand[ok]
            pending = pending[~ok]
    return centres


def _stamps(half: int) -> np.ndarray:
    """``[2, 2h+1, 2h+1]`` bool masks of a square and a circle of radius ``half``."""
    r = np.arange(-half, half + 1)
    circle = r[:, None] ** 2 + r[None, :] ** 2 <= half * half + half // 2  # a round disc, not a diamond tip
    return np.stack([np.ones_like(circle), circle])


def render(centres: np.ndarray, shapes: np.ndarray, *, size: int = IMAGE_SIZE, half: int = OBJECT_HALF) -> np.ndarray:
    """Draw objects on white images by scattering stamps (no per-pixel loop).

    Args:
        centres: ``[N, K, 2]`` (row, col); object k gets colour ``RGB[k]``.
        shapes: ``[N, K]`` 0 square / 1 circle.

    Returns:
        ``[N, size, size, 3]`` uint8.
    """
    n, k, _ = centres.shape
    images = np.full((n, size, size, 3), 255, dtype=np.uint8)
    stamp = _stamps(half)[shapes]  # [N, K, s, s]
    offs = np.arange(-half, half + 1)
    rows = centres[..., 0, None, None] + offs[:, None]  # [N, K, s, 1]
    cols = centres[..., 1, None, None] + offs[None, :]  # [N, K, 1, s]
    rows, cols = np.broadcast_to(rows, stamp.shape), np.broadcast_to(cols, stamp.shape)
    img = np.broadcast_to(np.arange(n)[:, None, None, None], stamp.shape)
    colour = np.broadcast_to(np.arange(k)[None, :, None, None], stamp.shape)
    images[img[stamp], rows[stamp], cols[stamp]] = RGB[colour[stamp]]
    return images


def answer_questions(
    centres: np.ndarray, shapes: np.ndarray, qtypes: np.ndarray, colours: np.ndarray, *, size: int = IMAGE_SIZE
) -> np.ndarray:
    """The answer index (into :data:`ANSWERS`) of every question, computed from the objects.

    Args:
        centres: ``[N, K, 2]``; shapes: ``[N, K]``; qtypes, colours: ``[N, Q]``.

    Returns:
        ``[N, Q]`` int64.
    """
    n, k, _ = centres.shape
    img = np.arange(n)[:, None]
    own = centres[img, colours]  # [N, Q, 2]
    own_shape = shapes[img, colours]  # [N, Q]
    d2 = ((centres[:, None, :, :] - own[:, :, None, :]) ** 2).sum(-1).astype(np.float64)  # [N, Q, K]
    is_self = np.arange(k)[None, None, :] == colours[:, :, None]
    closest = np.where(is_self, np.inf, d2).argmin(-1)  # argmin/argmax take the first (lowest index) on ties
    furthest = np.where(is_self, -np.inf, d2).argmax(-1)
    same = (shapes[:, None, :] == own_shape[:, :, None]).sum(-1)  # [N, Q], counts itself
    middle = (size - 1) / 2 + 0.5  # 37.5 for 75 px: no centre sits on it
    answers = np.select(
        [qtypes == 0, qtypes == 1, qtypes == 2, qtypes == 3, qtypes == 4],
        [
            own_shape,
            np.where(own[..., 1] < middle, 2, 3),
            np.where(own[..., 0] < middle, 4, 5),
            shapes[img, closest],
            shapes[img, furthest],
        ],
        default=5 + same,  # "1" is index 6
    )
    return answers.astype(np.int64)


def encode_vectors(qtypes: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """The paper's 11-number question encoding: colour one-hot (6), [non-relational, relational], subtype (3).

    Shapes:
        qtypes, colours: ``[...]`` -> ``[..., 11]`` float32.
    """
    out = np.zeros((*qtypes.shape, VECTOR_DIM), dtype=np.float32)
    np.put_along_axis(out, colours[..., None], 1.0, axis=-1)
    np.put_along_axis(out, 6 + (qtypes[..., None] >= RELATIONAL_TYPES[0]), 1.0, axis=-1)
    np.put_along_axis(out, 8 + qtypes[..., None] % 3, 1.0, axis=-1)
    return out


def encode_tokens(qtypes: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """Token ids over :data:`VOCAB`, padded with 0. Shapes: ``[...]`` -> ``[..., MAX_QUESTION_LEN]`` int64."""
    return _TOKENS[qtypes, colours]


def question_text(qtype: int, colour: int) -> str:
    """The question as words, e.g. ``"what shape is the red object"``."""
    return TEMPLATES[qtype].format(COLOURS[colour])


def make_sort_of_clevr(n: int, *, seed: int, nonrelational: int = 10, relational: int = 10) -> SortOfClevr:
    """Generate ``n`` images with ``nonrelational + relational`` questions each (deterministic in ``seed``).

    Args:
        n: number of images.
        seed: the generator's seed; the same seed gives the same set.
        nonrelational: non-relational questions per image (types 0-2, drawn uniformly).
        relational: relational questions per image (types 3-5, drawn uniformly).

    Returns:
        A :class:`SortOfClevr`; question ``j < nonrelational`` of every image is non-relational.
    """
    if n < 0 or nonrelational < 0 or relational < 0 or nonrelational + relational == 0:
        raise ValueError("need n >= 0 and at least one question per image")
    rng = np.random.default_rng(seed)
    centres = place_objects(rng, n)
    shapes = rng.integers(0, len(SHAPES), size=(n, NUM_OBJECTS))
    images = render(centres, shapes)
    q = nonrelational + relational
    qtypes = np.concatenate(
        [rng.integers(0, 3, size=(n, nonrelational)), rng.integers(3, 6, size=(n, relational))], axis=1
    ).astype(np.int64)
    colours = rng.integers(0, NUM_OBJECTS, size=(n, q)).astype(np.int64)
    answers = answer_questions(centres, shapes, qtypes, colours)
    return SortOfClevr(
        images=torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))),
        centres=torch.from_numpy(centres),
        shapes=torch.from_numpy(shapes.astype(np.int64)),
        qtypes=torch.from_numpy(qtypes),
        colours=torch.from_numpy(colours),
        vectors=torch.from_numpy(encode_vectors(qtypes, colours)),
        tokens=torch.from_numpy(encode_tokens(qtypes, colours)),
        answers=torch.from_numpy(answers),
    )


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``[..., 3, H, W]`` in 0..255 -> float32 in [-1, 1] (white background = 1)."""
    return images.float().div_(127.5).sub_(1.0)

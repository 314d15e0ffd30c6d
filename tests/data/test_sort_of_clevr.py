"""Sort-of-CLEVR generator: answers recomputed naively from the object list, no overlaps, balance, determinism."""

from __future__ import annotations

import math

import numpy as np
import torch

from dlfrontier.data.sort_of_clevr import (
    ANSWERS,
    COLOURS,
    MAX_QUESTION_LEN,
    RGB,
    VOCAB,
    make_sort_of_clevr,
    question_text,
)


def naive_answer(centres: list[list[int]], shapes: list[int], qtype: int, colour: int) -> str:
    """The answer from the object list, one object at a time (independent of the vectorised generator)."""
    r, c = centres[colour]
    shape = ["square", "circle"][shapes[colour]]
    if qtype == 0:
        return shape
    if qtype == 1:
        return "left" if c < 75 / 2 else "right"
    if qtype == 2:
        return "top" if r < 75 / 2 else "bottom"
    if qtype == 5:
        return str(sum(1 for s in shapes if s == shapes[colour]))
    best_k, best_d = -1, None
    for k, (rk, ck) in enumerate(centres):
        if k == colour:
            continue
        d = math.hypot(rk - r, ck - c)
        better = best_d is None or (d < best_d if qtype == 3 else d > best_d)  # ties keep the lower index
        if better:
            best_k, best_d = k, d
    return ["square", "circle"][shapes[best_k]]


def test_answers_match_a_naive_reimplementation() -> None:
    data = make_sort_of_clevr(200, seed=3)
    for i in range(len(data)):
        centres, shapes = data.centres[i].tolist(), data.shapes[i].tolist()
        for j in range(data.answers.shape[1]):
            t, c = int(data.qtypes[i, j]), int(data.colours[i, j])
            assert ANSWERS[int(data.answers[i, j])] == naive_answer(centres, shapes, t, c), (i, j)


def test_objects_are_drawn_where_the_list_says_and_never_overlap() -> None:
    data = make_sort_of_clevr(100, seed=1)
    img = data.images.permute(0, 2, 3, 1).numpy()  # [N, 75, 75, 3]
    for i in range(len(data)):
        boxes = [(r - 5, c - 5, r + 5, c + 5) for r, c in data.centres[i].tolist()]
        for a in range(6):
            for b in range(a + 1, 6):
                ra, ca, rb, cb = boxes[a][0], boxes[a][1], boxes[b][0], boxes[b][1]
                assert abs(ra - rb) > 11 or abs(ca - cb) > 11, "objects touch or overlap"
            r, c = data.centres[i, a].tolist()
            assert (img[i, r, c] == RGB[a]).all()  # the centre has the object's colour
            count = int((img[i] == RGB[a]).all(-1).sum())
            assert count == (121 if data.shapes[i, a] == 0 else count) and 60 < count <= 121
        assert 0 <= min(min(b) for b in boxes) and max(max(b) for b in boxes) < 75
        assert ((img[i] == 255).all(-1).sum()) > 75 * 75 - 6 * 121 - 1  # the rest is white background


def test_questions_encodings_and_balance() -> None:
    data = make_sort_of_clevr(500, seed=0)
    assert data.images.shape == (500, 3, 75, 75) and data.images.dtype == torch.uint8
    assert data.vectors.shape == (500, 20, 11) and data.tokens.shape == (500, 20, MAX_QUESTION_LEN)
    assert bool((data.relational[:, 10:]).all()) and not bool(data.relational[:, :10].any())
    v = data.vectors
    assert torch.equal(v[..., :6].argmax(-1), data.colours)
    assert torch.equal(v[..., 7].bool(), data.relational) and torch.equal(v.sum(-1), torch.full((500, 20), 3.0))
    words = " ".join(VOCAB[t] for t in data.tokens[0, 3].tolist() if t)
    assert words == question_text(int(data.qtypes[0, 3]), int(data.colours[0, 3]))
    assert COLOURS[int(data.colours[0, 3])] in words
    # binary answers are balanced, every count 1..6 occurs, colours and types are uniform
    for t, (a, b) in {0: (0, 1), 1: (2, 3), 2: (4, 5), 3: (0, 1), 4: (0, 1)}.items():
        ans = data.answers[data.qtypes == t]
        share = float((ans == a).float().mean())
        assert 0.4 < share < 0.6 and bool(((ans == a) | (ans == b)).all()), (t, share)
    counts = torch.bincount(data.answers[data.qtypes == 5] - 6, minlength=6)
    assert len(counts) == 6 and bool((counts > 0).all())
    assert np.allclose(torch.bincount(data.colours.flatten()).numpy() / data.colours.numel(), 1 / 6, atol=0.02)


def test_deterministic_in_the_seed() -> None:
    a, b, c = make_sort_of_clevr(50, seed=7), make_sort_of_clevr(50, seed=7), make_sort_of_clevr(50, seed=8)
    for x, y in zip(a, b, strict=True):
        assert torch.equal(x, y)
    assert not torch.equal(a.images, c.images)

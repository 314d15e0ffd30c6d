"""The procedural captioning set: determinism, five distinct references, every reference true of its image.

Truth is checked independently of the generator's template code: the objects are re-derived from the rendered
pixels (colour, bounding-box size, fill ratio -> shape, box centre), relations are recomputed from those centres
with the definitions of the module docstring, and each caption is parsed with a grammar written here.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch

from dlfrontier.data import captions as C
from dlfrontier.data.sort_of_clevr import RGB
from dlfrontier.errors import DataError

SIZE = {"small": 0, "little": 0, "large": 1, "big": 1}
COLOUR = {"red": 0, "green": 1, "blue": 2, "orange": 3, "gray": 4, "grey": 4, "yellow": 5}
SHAPE = {"square": 0, "box": 0, "circle": 1, "disc": 1, "triangle": 2}
NUMBER = {"one": 1, "two": 2, "three": 3, "four": 4}
PLURAL = {"objects", "shapes", "things"}
RELATION = {
    "left": "left",
    "right": "right",
    "above": "above",
    "over": "above",
    "below": "below",
    "under": "below",
    "next": "near",
    "beside": "near",
    "near": "near",
}


@pytest.fixture(scope="module")
def data() -> C.CaptionSet:
    return C.make_captions(400, seed=7)


def objects_from_pixels(image: np.ndarray) -> list[dict]:
    """Objects seen in a ``[75, 75, 3]`` image: colour, size (from the box side), shape (fill ratio), centre."""
    objs = []
    for colour, rgb in enumerate(RGB):
        mask = (image == rgb).all(-1)
        if not mask.any():
            continue
        rows, cols = np.nonzero(mask)
        h, w = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        assert h == w and h in (9, 15), (h, w)
        fill = mask.sum() / (h * w)
        shape = 0 if fill > 0.95 else (1 if fill > 0.65 else 2)
        centre = ((rows.max() + rows.min()) / 2, (cols.max() + cols.min()) / 2)
        objs.append({"colour": colour, "size": int(h == 15), "shape": shape, "centre": centre})
    return objs


def holds(rel: str, a: dict, b: dict) -> bool:
    """``a <rel> b`` from the box centres (docstring definitions: dominant axis with a 4 px margin; near <= 20)."""
    dy, dx = b["centre"][0] - a["centre"][0], b["centre"][1] - a["centre"][1]
    if rel == "near":
        return (dx * dx + dy * dy) ** 0.5 <= 20
    horizontal, vertical = abs(dx) >= abs(dy) + 4, abs(dy) >= abs(dx) + 4
    return {
        "left": horizontal and dx > 0,
        "right": horizontal and dx < 0,
        "above": vertical and dy > 0,
        "below": vertical and dy < 0,
    }[rel]


def parse(text: str) -> dict:
    """Object phrases (article, size, colour, shape), the relation word, the stated count, a 'single' claim."""
    words = text.split() + ["<end>"] * 4
    phrases, rel, count, single, i = [], None, None, False, 0
    while i < len(words):
        w = words[i]
        if w in NUMBER and i + 1 < len(words) and words[i + 1] in PLURAL:
            count = NUMBER[w]
            i += 2
            continue
        if w in RELATION:
            assert rel is None, text
            rel = RELATION[w]
        if w in ("a", "an", "the", "one"):
            j, attrs = i + 1, {"article": w}
            if words[j] == "single":
                j += 1
            if words[j] in SIZE:
                attrs["size"] = SIZE[words[j]]
                j += 1
            if words[j] in COLOUR:
                attrs["colour"] = COLOUR[words[j]]
                j += 1
            if words[j] in SHAPE:
                attrs["shape"] = SHAPE[words[j]]
                if w == "an" or w == "a":  # the article agrees with the next word
                    assert (w == "an") == (words[i + 1][0] in "aeiou"), text
                single |= w == "one" or words[i + 1] == "single"
                phrases.append(attrs)
                i = j + 1
                continue
        i += 1
    nouns = sum(w in SHAPE for w in words)
    assert nouns == len(phrases), f"unparsed object noun in {text!r}"
    assert all(w in C.VOCAB for w in words[:-4])
    return {"phrases": phrases, "rel": rel, "count": count, "single": single}


def matches(p: dict, o: dict) -> bool:
    return all(o[k] == p[k] for k in ("size", "colour", "shape") if k in p)


def true_of(text: str, objs: list[dict]) -> bool:
    q = parse(text)
    ph = q["phrases"]
    if q["count"] is not None and q["count"] != len(objs):
        return False
    if q["single"] and len(objs) != 1:
        return False
    for p in ph:  # "the X" denotes one object
        if p["article"] == "the" and sum(matches(p, o) for o in objs) != 1:
            return False
    if q["rel"] is not None:
        assert len(ph) == 2, text
        return any(
            matches(ph[0], a) and matches(ph[1], b) and holds(q["rel"], a, b)
            for a, b in itertools.permutations(objs, 2)
        )
    assert ph or q["count"] is not None, text
    return any(
        all(matches(p, o) for p, o in zip(ph, perm, strict=True)) for perm in itertools.permutations(objs, len(ph))
    )


def test_every_reference_is_true_of_its_pixels(data: C.CaptionSet) -> None:
    kinds = set()
    for i in range(len(data)):
        objs = objects_from_pixels(data.images[i].permute(1, 2, 0).numpy())
        assert len(objs) == int(data.count[i])
        for text in data.texts[i]:
            assert true_of(text, objs), (i, text, objs)
            q = parse(text)
            kinds.add((q["rel"], q["count"] is not None, len(q["phrases"])))
    assert {"left", "right", "above", "below", "near"} <= {k[0] for k in kinds}


def test_a_false_caption_is_caught(data: C.CaptionSet) -> None:
    # the checker is not vacuous: swapping left/right or changing the count makes references false
    swapped = 0
    for i in range(len(data)):
        objs = objects_from_pixels(data.images[i].permute(1, 2, 0).numpy())
        for text in data.texts[i]:
            if " left of " in text and "next" not in text:
                swapped += not true_of(text.replace("left", "right"), objs)
    assert swapped > 20
    # naming a colour the image does not hold makes any reference that names a colour false
    recoloured = 0
    for i in range(100):
        objs = objects_from_pixels(data.images[i].permute(1, 2, 0).numpy())
        absent = next(w for w, c in COLOUR.items() if c not in {o["colour"] for o in objs} and w != "orange")
        for text in data.texts[i]:
            words = text.split()
            if any(w in COLOUR for w in words):
                first = next(j for j, w in enumerate(words) if w in COLOUR)
                words = [("a" if w == "an" and j == first - 1 else w) for j, w in enumerate(words)]
                assert not true_of(" ".join(words[:first] + [absent] + words[first + 1 :]), objs), text
                recoloured += 1
    assert recoloured > 200
    assert not true_of(f"{['one', 'two', 'three', 'four'][len(objs) % 4]} objects", objs)


def test_scenes_match_their_arrays_and_have_no_ambiguous_pair(data: C.CaptionSet) -> None:
    for i in range(50):
        objs = objects_from_pixels(data.images[i].permute(1, 2, 0).numpy())
        n = int(data.count[i])
        by_colour = {o["colour"]: o for o in objs}
        for k in range(C.MAX_OBJECTS):
            if k >= n:
                assert data.colours[i, k] == -1 and data.shapes[i, k] == -1 and (data.centres[i, k] == -1).all()
                continue
            o = by_colour[int(data.colours[i, k])]
            assert (o["shape"], o["size"]) == (int(data.shapes[i, k]), int(data.sizes[i, k]))
            assert o["centre"] == tuple(float(x) for x in data.centres[i, k])
        for a, b in itertools.combinations(objs, 2):
            dy, dx = abs(a["centre"][0] - b["centre"][0]), abs(a["centre"][1] - b["centre"][1])
            assert abs(dx - dy) >= C.AXIS_MARGIN
            d = (dx * dx + dy * dy) ** 0.5
            assert d <= C.NEAR or d >= C.FAR


def test_five_distinct_references_and_shapes(data: C.CaptionSet) -> None:
    n = len(data)
    assert data.images.shape == (n, 3, 75, 75) and data.images.dtype == torch.uint8
    assert data.tokens.shape == (n, C.REFS_PER_IMAGE, C.MAX_LEN + 2)
    assert set(data.count.tolist()) == {1, 2, 3, 4}
    for refs in data.texts:
        assert len(refs) == C.REFS_PER_IMAGE == len(set(refs))
        assert all(1 <= len(r.split()) <= C.MAX_LEN for r in refs)


def test_tokens_round_trip(data: C.CaptionSet) -> None:
    assert C.VOCAB[:4] == ("<pad>", "<bos>", "<eos>", "<unk>") and len(set(C.VOCAB)) == len(C.VOCAB)
    for i in range(50):
        for j, text in enumerate(data.texts[i]):
            row = data.tokens[i, j].tolist()
            assert row[0] == C.BOS and row[len(text.split()) + 1] == C.EOS
            assert C.decode(row) == text == C.decode(C.encode(text))
    assert C.encode("a purple square") == [C.VOCAB.index("a"), C.UNK, C.VOCAB.index("square")]
    assert C.decode([C.BOS, C.VOCAB.index("red"), C.PAD, C.EOS, C.VOCAB.index("box")]) == "red"


def test_deterministic_and_splits() -> None:
    a, b = C.make_captions(30, seed=3), C.make_captions(30, seed=3)
    assert torch.equal(a.images, b.images) and a.texts == b.texts and torch.equal(a.tokens, b.tokens)
    assert C.make_captions(30, seed=4).texts != a.texts
    longer = C.make_captions(C.CHUNK + 20, seed=3)  # prefix-stable across sizes and chunks
    assert torch.equal(longer.images[:30], a.images) and longer.texts[:30] == a.texts
    assert len(C.make_captions(0, seed=3)) == 0
    tr, va, te = C.caption_splits(40, 20, 30, seed=0)
    tr1, va1, te1 = C.caption_splits(40, 20, 30, seed=1)
    assert (len(tr), len(va), len(te)) == (40, 20, 30)
    assert torch.equal(te.images, te1.images) and te.texts == te1.texts  # the test set is fixed
    assert C.caption_splits(1, 1, 10, seed=5)[2].texts == te.texts[:10]
    assert not torch.equal(tr.images, tr1.images)
    keys = [{x.numpy().tobytes() for x in s.images} for s in (tr, va, te)]
    assert not (keys[0] & keys[1] or keys[0] & keys[2] or keys[1] & keys[2])
    with pytest.raises(ValueError):
        C.make_captions(-1, seed=0)


def test_karpathy_loader(tmp_path) -> None:
    path = tmp_path / "dataset_coco.json"
    images = [
        {
            "split": split,
            "cocoid": k,
            "filename": f"COCO_{k}.jpg",
            "sentences": [{"tokens": ["a", "cat", "on", "a", "mat"], "raw": "A cat on a mat."}, {"tokens": ["cat"]}],
        }
        for k, split in enumerate(["train", "restval", "val", "test"])
    ]
    path.write_text(json.dumps({"images": images, "dataset": "coco"}))
    splits = C.load_karpathy_split(path)
    assert [len(splits[s]) for s in ("train", "val", "test")] == [2, 1, 1]
    assert splits["test"][0].cocoid == 3 and splits["train"][0].texts == ("a cat on a mat", "cat")
    np.savez(tmp_path / "0.npz", feat=np.ones((5, 8), dtype=np.float16))
    np.save(tmp_path / "1.npy", np.zeros((3, 8)))
    assert C.load_region_features(tmp_path, 0).shape == (5, 8)
    assert C.load_region_features(tmp_path, 0, max_regions=2).dtype == np.float32
    assert C.load_region_features(tmp_path, 1).shape == (3, 8)
    bad = [
        ("missing.json", None),
        ("bad.json", "{not json"),
        ("noimages.json", '{"x": 1}'),
        ("list.json", "[1, 2]"),
        (
            "strtokens.json",
            '{"images": [{"split": "val", "cocoid": 1, "filename": "f", "sentences": [{"tokens": "a b"}]}]}',
        ),
        ("nosplit.json", '{"images": [{"cocoid": 1, "filename": "f", "sentences": []}]}'),
        (
            "badsplit.json",
            '{"images": [{"split": "dev", "cocoid": 1, "filename": "f", "sentences": [{"tokens": ["a"]}]}]}',
        ),
    ]
    for name, content in bad:
        if content is not None:
            (tmp_path / name).write_text(content)
        with pytest.raises(DataError) as e:
            C.load_karpathy_split(tmp_path / name)
        assert "\n" not in str(e.value)
    np.save(tmp_path / "2.npy", np.zeros(4))
    (tmp_path / "3.npy").write_bytes(b"garbage")
    np.savez(tmp_path / "4.npz", other=np.zeros((2, 2)))
    for k in (2, 3, 4, 99):
        with pytest.raises(DataError) as e:
            C.load_region_features(tmp_path, k)
        assert "\n" not in str(e.value)

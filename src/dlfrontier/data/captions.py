"""A procedural image-captioning set on Sort-of-CLEVR-style scenes, and a loader for Karpathy-split COCO captions.

The scenes extend the Sort-of-CLEVR renderer (:mod:`dlfrontier.data.sort_of_clevr`; Santoro et al., NeurIPS 2017):
75x75 RGB on white, 1..:data:`MAX_OBJECTS` objects per image (count uniform), each with a colour (the six
Sort-of-CLEVR colours, all different within an image, so a colour names one object), a shape (square, circle,
triangle), a size (small: 9x9 px box, large: 15x15 px box) and a position. Every image has
:data:`REFS_PER_IMAGE` = 5 *different* reference captions, drawn from templates x synonyms x which objects and
which relation are mentioned, so that CIDEr-D's consensus (a word most references use counts more) and its idf
weighting (a word every image's references use counts little) have something to measure, as with COCO's five
human captions (Vedantam et al., CVPR 2015).

Relations, from the object centres ``(row, col)`` (rows grow downwards); for objects A and B let
``dx = col_B - col_A`` and ``dy = row_B - row_A``:

* **A left of B**: ``dx > 0`` and ``|dx| >= |dy| + AXIS_MARGIN`` (B lies mostly to the right of A);
  **A right of B**: ``dx < 0`` and ``|dx| >= |dy| + AXIS_MARGIN``;
* **A above B**: ``dy > 0`` and ``|dy| >= |dx| + AXIS_MARGIN``; **A below B**: ``dy < 0`` and ``|dy| >= |dx| +
  AXIS_MARGIN``;
* **A next to B**: the Euclidean distance of the centres is ``<= NEAR`` (symmetric).

Scenes are generated so that no relation is ambiguous: for every pair of objects ``||dx| - |dy|| >= AXIS_MARGIN``
(so exactly one of left / right / above / below holds, "the direction of a pair"), and the centre distance is
either ``<= NEAR`` or ``>= FAR`` (no pair is "almost next to" another). Objects keep at least one white pixel
between their boxes. Placement is batched rejection sampling, one object after another; an image whose next
object finds no valid place within a few rounds is redrawn from scratch.

Captions (all lower case, words separated by single spaces, no punctuation) come in five kinds, each a few
templates, with synonyms for sizes (small / little, large / big), two colours (gray / grey), shapes (square / box,
circle / disc) and relations (left of / to the left of, above / over, below / under, next to / beside / near);
an object is described by its shape noun with its colour and/or size or neither, e.g. ``a small red square``,
``a box``, ``a big blue disc``:

=========  ======================================================  ==============================================
kind       examples                                                true when
=========  ======================================================  ==============================================
object     ``there is a small red square``, ``a red box in the     some object has the named attributes
           image``
single     ``a single big blue circle`` (one-object images only)   the image holds exactly that one object
relation   ``a small red square left of a large blue circle``,     two different objects have the attributes and
           ``the red square is above the blue disc``, ``there is   the relation (``the`` phrases always name the
           a circle next to a triangle``                           colour, so they denote one object)
count      ``three objects``, ``there are two shapes``, ``four     the image holds that many objects (and the
           things including a red square and a blue circle``       listed ones, different objects)
list       ``a red square and a small blue disc``, ``a box a       the listed objects exist, all different
           triangle and a grey circle``
=========  ======================================================  ==============================================

:func:`make_captions` renders and describes ``n`` images, deterministic in the seed and prefix-stable (10,000
images take about 1.5 s on one core); :func:`caption_splits` gives train / val from disjoint streams of the run
seed and a test set that is the same for every run seed (``TEST_SEED``). :func:`encode` / :func:`decode` map
words to ids of :data:`VOCAB`.

For a user who has COCO: :func:`load_karpathy_split` reads Karpathy's ``dataset_coco.json`` (``images[].split``,
``images[].sentences[].tokens``, ``images[].cocoid``, ``images[].filename``) and :func:`load_region_features`
the per-image region features (``<features_dir>/<cocoid>.npz`` with an array ``feat``, or ``<cocoid>.npy``, the
layout of bottom-up-attention features as self-critical.pytorch stores them). A missing or malformed file is one
:class:`~dlfrontier.errors.DataError` line.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from dlfrontier.data.sort_of_clevr import COLOURS, IMAGE_SIZE, RGB
from dlfrontier.errors import DataError

MAX_OBJECTS = 4
REFS_PER_IMAGE = 5
MAX_LEN = 16  # max words of a reference (the longest template fills 14 or 15)
SHAPES = ("square", "circle", "triangle")
SIZES = ("small", "large")
HALVES = (4, 7)  # half side of the bounding box: small objects are 9x9 px, large ones 15x15
AXIS_MARGIN = 4  # px: | |dx| - |dy| | of every pair is at least this, so a pair's direction is clear
NEAR, FAR = 20.0, 28.0  # px between centres: "next to" iff <= NEAR; no pair lies strictly between NEAR and FAR
TEST_SEED = 2_000_003  # every run is scored on the same test images
CHUNK = 250  # scenes drawn together (batched rejection sampling); sets are generated chunk by chunk

# Synonyms: the first word is the canonical one.
SIZE_WORDS = (("small", "little"), ("large", "big"))
COLOUR_WORDS = tuple((c, "grey") if c == "gray" else (c,) for c in COLOURS)
SHAPE_WORDS = (("square", "box"), ("circle", "disc"), ("triangle",))
DIRECTIONS = ("left", "right", "above", "below")  # index d: A <DIRECTIONS[d]> B
RELATION_WORDS = (
    ("left of", "to the left of"),
    ("right of", "to the right of"),
    ("above", "over"),
    ("below", "under"),
    ("next to", "beside", "near"),  # index 4: next to
)
NUMBER_WORDS = ("one", "two", "three", "four")
PLURALS = ("objects", "shapes", "things")

PAD, BOS, EOS, UNK = 0, 1, 2, 3
SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")
_OTHER_WORDS = ("a", "an", "the", "there", "is", "are", "in", "image", "and", "including", "single", "object")


def _all_words() -> set[str]:
    words = set(_OTHER_WORDS) | set(NUMBER_WORDS) | set(PLURALS)
    for group in (SIZE_WORDS, COLOUR_WORDS, SHAPE_WORDS, RELATION_WORDS):
        for synonyms in group:
            for phrase in synonyms:
                words.update(phrase.split())
    return words


VOCAB: tuple[str, ...] = SPECIALS + tuple(sorted(_all_words()))
_INDEX = {w: i for i, w in enumerate(VOCAB)}


def encode(text: str) -> list[int]:
    """Words -> ids of :data:`VOCAB` (no BOS/EOS); an unknown word becomes ``UNK``."""
    return [_INDEX.get(w, UNK) for w in text.split()]


def decode(ids: Sequence[int]) -> str:
    """Ids -> the text the metrics score: stops at the first ``EOS``, drops ``BOS`` and ``PAD``."""
    words = []
    for i in ids:
        i = int(i)
        if i == EOS:
            break
        if i in (BOS, PAD):
            continue
        words.append(VOCAB[i] if 0 <= i < len(VOCAB) else SPECIALS[UNK])
    return " ".join(words)


class CaptionSet(NamedTuple):
    """Generated images, their objects, and five reference captions per image.

    Shapes (N images, K = :data:`MAX_OBJECTS`, R = :data:`REFS_PER_IMAGE`, absent objects hold -1):
        images: ``[N, 3, 75, 75]`` uint8 (``sort_of_clevr.to_float`` maps it to [-1, 1]).
        count: ``[N]`` int64 in 1..K.
        colours: ``[N, K]`` int64 index into ``sort_of_clevr.COLOURS``; shapes: ``[N, K]`` into :data:`SHAPES`;
        sizes: ``[N, K]`` 0 small / 1 large; centres: ``[N, K, 2]`` int64 (row, col).
        tokens: ``[N, R, MAX_LEN + 2]`` int64, ``BOS w1 .. wn EOS PAD ..`` (the cross-entropy targets).
        texts: N tuples of R reference strings (what the metrics score against).
    """

    images: torch.Tensor
    count: torch.Tensor  # type: ignore[assignment]  # (shadows tuple.count: the interface names it so)
    colours: torch.Tensor
    shapes: torch.Tensor
    sizes: torch.Tensor
    centres: torch.Tensor
    tokens: torch.Tensor
    texts: tuple[tuple[str, ...], ...]

    def __len__(self) -> int:  # type: ignore[override]
        return int(self.images.shape[0])


# ----------------------------------------------------------------------------------------------- scenes


def _pair_ok(a: np.ndarray, b: np.ndarray, half_a: np.ndarray, half_b: np.ndarray) -> np.ndarray:
    """Whether two objects may share an image: boxes apart, direction clear, "next to" clear.

    Shapes: a, b ``[..., 2]`` centres, half_a, half_b ``[...]`` -> ``[...]`` bool.
    """
    d = np.abs(a - b)
    apart = d.max(-1) >= half_a + half_b + 2
    clear_axis = np.abs(d[..., 0] - d[..., 1]) >= AXIS_MARGIN
    dist = np.sqrt((d.astype(np.float64) ** 2).sum(-1))
    clear_near = (dist <= NEAR) | (dist >= FAR)
    return apart & clear_axis & clear_near


def place_scene(rng: np.random.Generator, count: np.ndarray, sizes: np.ndarray, *, rounds: int = 30) -> np.ndarray:
    """Centres for every image's objects, by batched rejection sampling (see the module docstring).

    Args:
        count: ``[n]`` objects per image; sizes: ``[n, K]`` 0/1 (entries past ``count`` are ignored).
        rounds: candidate draws per object before the image is redrawn from its first object.

    Returns:
        ``[n, K, 2]`` int64 (row, col), -1 for absent objects.
    """
    n, k_max = sizes.shape
    halves = np.asarray(HALVES)[np.clip(sizes, 0, 1)]  # [n, K]
    centres = np.full((n, k_max, 2), -1, dtype=np.int64)
    todo = np.arange(n)
    while todo.size:
        cen = np.full((todo.size, k_max, 2), -1, dtype=np.int64)
        failed = np.zeros(todo.size, dtype=bool)
        for k in range(k_max):
            pending = np.flatnonzero((count[todo] > k) & ~failed)
            for _ in range(rounds):
                if not pending.size:
                    break
                h = halves[todo[pending], k]  # [P]
                cand = rng.integers(h[:, None], IMAGE_SIZE - h[:, None], size=(pending.size, 2))
                ok = np.ones(pending.size, dtype=bool)
                for j in range(k):
                    ok &= _pair_ok(cen[pending, j], cand, halves[todo[pending], j], h)
                cen[pending[ok], k] = cand[ok]
                pending = pending[~ok]
            failed[pending] = True
        centres[todo[~failed]] = cen[~failed]
        todo = todo[failed]
    return centres


def _stamp(shape: int, half: int) -> np.ndarray:
    """``[2h+1, 2h+1]`` bool mask of a square, a round disc, or an upward triangle (apex on top)."""
    r = np.arange(-half, half + 1)
    if shape == 0:
        return np.ones((r.size, r.size), dtype=bool)
    if shape == 1:
        return r[:, None] ** 2 + r[None, :] ** 2 <= half * half + half // 2
    return np.abs(r[None, :]) * 2 <= r[:, None] + half  # width grows from the apex row to the base row


def render_scene(centres: np.ndarray, colours: np.ndarray, shapes: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Draw every present object (colour ``RGB[colours]``) on white images by scattering stamps.

    Shapes: centres ``[N, K, 2]``, colours / shapes / sizes ``[N, K]`` (-1 = absent) -> ``[N, 75, 75, 3]`` uint8.
    """
    n, k, _ = centres.shape
    images = np.full((n, IMAGE_SIZE, IMAGE_SIZE, 3), 255, dtype=np.uint8)
    for s, half in enumerate(HALVES):
        stamps = np.stack([_stamp(t, half) for t in range(len(SHAPES))])  # [3, w, w]
        offs = np.arange(-half, half + 1)
        here = sizes == s  # [N, K]
        img, obj = np.nonzero(here)
        mask = stamps[shapes[img, obj]]  # [M, w, w]
        rows = np.broadcast_to(centres[img, obj, 0, None, None] + offs[:, None], mask.shape)
        cols = np.broadcast_to(centres[img, obj, 1, None, None] + offs[None, :], mask.shape)
        which = np.broadcast_to(img[:, None, None], mask.shape)
        colour = np.broadcast_to(colours[img, obj][:, None, None], mask.shape)
        images[which[mask], rows[mask], cols[mask]] = RGB[colour[mask]]
    return images


def relations(centres: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The direction and the "next to" flag of every ordered pair of objects.

    Returns:
        direction ``[N, K, K]`` int64: index into :data:`DIRECTIONS` of "object i <direction> object j", -1 where
        i == j, an object is absent or (never in generated scenes) the direction is ambiguous;
        near ``[N, K, K]`` bool: "object i next to object j".
    """
    d = centres[:, None, :, :] - centres[:, :, None, :]  # [N, i, j, 2] = centre_j - centre_i
    dy, dx = d[..., 0], d[..., 1]
    horizontal = np.abs(dx) >= np.abs(dy) + AXIS_MARGIN
    vertical = np.abs(dy) >= np.abs(dx) + AXIS_MARGIN
    direction = np.select(
        [horizontal & (dx > 0), horizontal & (dx < 0), vertical & (dy > 0), vertical & (dy < 0)], [0, 1, 2, 3], -1
    )
    k = centres.shape[1]
    present = np.arange(k)[None, :] < count[:, None]  # [N, K]
    valid = present[:, :, None] & present[:, None, :] & ~np.eye(k, dtype=bool)[None]
    direction = np.where(valid, direction, -1)
    near = valid & (np.sqrt((d.astype(np.float64) ** 2).sum(-1)) <= NEAR)
    return direction.astype(np.int64), near


# --------------------------------------------------------------------------------------------- captions


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


class _Describer:
    """Draws the reference captions of one image (a Python loop over images; fast enough: ~0.1 ms an image)."""

    def __init__(self, rnd: random.Random) -> None:
        self.rnd = rnd

    def desc(self, colour: int, shape: int, size: int, *, need_colour: bool = False) -> str:
        """An object's description without article: ``[size] [colour] shape``, attributes optional."""
        r = self.rnd
        words = []
        if r.random() < 0.5:
            words.append(r.choice(SIZE_WORDS[size]))
        if need_colour or r.random() < 0.75:
            words.append(r.choice(COLOUR_WORDS[colour]))
        words.append(r.choice(SHAPE_WORDS[shape]))
        return " ".join(words)

    def indef(self, obj: tuple[int, int, int]) -> str:
        d = self.desc(*obj)
        return f"{_article(d)} {d}"

    def caption(self, objs: list[tuple[int, int, int]], direction: np.ndarray, near: np.ndarray) -> str:
        r, c = self.rnd, len(objs)
        kind = (
            r.choices(("object", "single"), (0.6, 0.4))[0]
            if c == 1
            else r.choices(("object", "relation", "count", "list"), (0.15, 0.45, 0.25, 0.15))[0]
        )
        if kind == "object":
            a = self.indef(r.choice(objs))
            return r.choice((a, f"there is {a}", f"{a} in the image"))
        if kind == "single":
            return f"a single {self.desc(*objs[0])}" if r.random() < 0.5 else f"one {self.desc(*objs[0])}"
        if kind == "relation":
            i, j = r.sample(range(c), 2)
            options = [direction[i, j]] + ([4] if near[i, j] else [])
            rel = r.choice(RELATION_WORDS[r.choice(options)])
            form = r.randrange(3)
            if form == 2:  # definite: name the colour so "the ..." denotes one object
                da, db = self.desc(*objs[i], need_colour=True), self.desc(*objs[j], need_colour=True)
                return f"the {da} is {rel} the {db}"
            text = f"{self.indef(objs[i])} {rel} {self.indef(objs[j])}"
            return f"there is {text}" if form == 1 else text
        if kind == "count":
            head = f"{NUMBER_WORDS[c - 1]} {r.choice(PLURALS)}"
            form = r.randrange(3)
            if form == 0:
                return head
            if form == 1:
                return f"there are {head}"
            i, j = r.sample(range(c), 2)
            return f"{head} including {self.indef(objs[i])} and {self.indef(objs[j])}"
        picks = r.sample(range(c), min(c, r.choice((2, 3))))
        phrases = [self.indef(objs[i]) for i in picks]
        return " ".join(phrases[:-1]) + f" and {phrases[-1]}"

    def references(self, objs: list[tuple[int, int, int]], direction: np.ndarray, near: np.ndarray) -> tuple[str, ...]:
        refs: list[str] = []
        while len(refs) < REFS_PER_IMAGE:
            text = self.caption(objs, direction, near)
            if text not in refs and len(text.split()) <= MAX_LEN:
                refs.append(text)
        return tuple(refs)


def _tokens(texts: Sequence[Sequence[str]]) -> np.ndarray:
    """``[N, R, MAX_LEN + 2]`` int64: BOS w1..wn EOS PAD.."""
    out = np.zeros((len(texts), REFS_PER_IMAGE, MAX_LEN + 2), dtype=np.int64)
    for i, refs in enumerate(texts):
        for j, text in enumerate(refs):
            ids = encode(text)
            out[i, j, : len(ids) + 2] = [BOS, *ids, EOS]
    return out


def _chunk(rng: np.random.Generator, m: int) -> tuple:
    """Draw ``CHUNK`` scenes and keep the first ``m``: count, colours, shapes, sizes, centres, images, texts."""
    k, n = MAX_OBJECTS, CHUNK
    count = rng.integers(1, k + 1, size=n)
    present = np.arange(k)[None, :] < count[:, None]  # [n, K]
    colours = np.argsort(rng.random((n, len(COLOURS))), axis=1)[:, :k]  # distinct colours per image
    shapes = rng.integers(0, len(SHAPES), size=(n, k))
    sizes = rng.integers(0, len(SIZES), size=(n, k))
    colours, shapes, sizes = (np.where(present, a, -1).astype(np.int64) for a in (colours, shapes, sizes))
    centres = place_scene(rng, count, sizes)
    describer = _Describer(random.Random(int(rng.integers(2**62))))
    count, colours, shapes, sizes, centres = (a[:m] for a in (count, colours, shapes, sizes, centres))
    images = render_scene(centres, colours, shapes, sizes)
    direction, near = relations(centres, count)
    col, shp, siz = colours.tolist(), shapes.tolist(), sizes.tolist()
    texts = []
    for i in range(m):
        objs = [(col[i][o], shp[i][o], siz[i][o]) for o in range(int(count[i]))]
        texts.append(describer.references(objs, direction[i], near[i]))
    return count.astype(np.int64), colours, shapes, sizes, centres, images, texts


def _generate(n: int, entropy: Sequence[int]) -> CaptionSet:
    """``n`` images in chunks of ``CHUNK``, chunk ``c`` from ``default_rng([*entropy, c])`` (prefix-stable)."""
    chunks = [
        _chunk(np.random.default_rng([*entropy, c]), min(CHUNK, n - start))
        for c, start in enumerate(range(0, n, CHUNK))
    ]
    if not chunks:
        chunks = [_chunk(np.random.default_rng([*entropy, 0]), 0)]
    count, colours, shapes, sizes, centres, images = (np.concatenate([c[j] for c in chunks]) for j in range(6))
    refs: tuple[tuple[str, ...], ...] = tuple(r for c in chunks for r in c[6])
    return CaptionSet(
        images=torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))),
        count=torch.from_numpy(count),
        colours=torch.from_numpy(colours),
        shapes=torch.from_numpy(shapes),
        sizes=torch.from_numpy(sizes),
        centres=torch.from_numpy(centres),
        tokens=torch.from_numpy(_tokens(refs)),
        texts=refs,
    )


def make_captions(n: int, *, seed: int) -> CaptionSet:
    """Generate ``n`` captioned images (deterministic in ``seed``; see the module docstring).

    Scenes are drawn in chunks of ``CHUNK`` from ``SeedSequence([seed, chunk])``, so the first ``m`` images of
    ``make_captions(n, seed=s)`` are the same for every ``n >= m``.
    """
    if n < 0:
        raise ValueError(f"n={n}: need n >= 0 images")
    return _generate(n, [seed])


def caption_splits(train: int, val: int, test: int, *, seed: int) -> tuple[CaptionSet, CaptionSet, CaptionSet]:
    """Train and val from disjoint streams of the run ``seed``; test from ``TEST_SEED``, the same for every seed.

    The streams are ``SeedSequence([seed, 1, chunk])``, ``SeedSequence([seed, 2, chunk])`` and
    ``SeedSequence([TEST_SEED, 3, chunk])``, never equal to each other or to :func:`make_captions`'s
    ``[seed, chunk]``. Like :func:`make_captions`, every split is prefix-stable: the first 200 test images are
    the same whether 200 or 500 are asked for.
    """
    if min(train, val, test) < 0:
        raise ValueError(f"split sizes ({train}, {val}, {test}) must be >= 0")
    return _generate(train, [seed, 1]), _generate(val, [seed, 2]), _generate(test, [TEST_SEED, 3])


# ------------------------------------------------------------------------------------- COCO (Karpathy split)


class KarpathyImage(NamedTuple):
    """One image of Karpathy's split file: its COCO id, file name, split and reference token lists."""

    cocoid: int
    filename: str
    split: str
    sentences: tuple[tuple[str, ...], ...]

    @property
    def texts(self) -> tuple[str, ...]:
        """The references as space-joined strings (what the metrics score against)."""
        return tuple(" ".join(s) for s in self.sentences)


KARPATHY_SPLITS = ("train", "restval", "val", "test")


def load_karpathy_split(path: str | os.PathLike[str]) -> dict[str, list[KarpathyImage]]:
    """Read Karpathy's ``dataset_coco.json``: ``{"train": [...], "val": [...], "test": [...]}``.

    ``restval`` images join ``train`` (the usual 113,287 / 5,000 / 5,000 split).

    Raises:
        DataError: the file is missing, not JSON, or not in the ``dataset_coco.json`` layout (one line).
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError(
            f"Karpathy split file {p} not found; download dataset_coco.json (Karpathy & Fei-Fei's caption "
            "splits) and pass its path"
        )
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"{p} is not readable JSON ({type(e).__name__}: {str(e).splitlines()[0]})") from None
    images = data.get("images") if isinstance(data, dict) else None
    if not isinstance(images, list):
        raise DataError(f"{p} has no 'images' list; expected the dataset_coco.json layout")
    out: dict[str, list[KarpathyImage]] = {"train": [], "val": [], "test": []}
    for i, img in enumerate(images):
        try:
            split = img["split"]
            if not all(isinstance(s["tokens"], list) for s in img["sentences"]):
                raise TypeError("sentences[].tokens must be lists of words")
            sentences = tuple(tuple(str(w) for w in s["tokens"]) for s in img["sentences"])
            item = KarpathyImage(int(img["cocoid"]), str(img["filename"]), split, sentences)
        except (KeyError, TypeError, ValueError) as e:
            raise DataError(
                f"{p}: images[{i}] is malformed ({type(e).__name__}: {e}); expected split, "
                "sentences[].tokens, cocoid and filename"
            ) from None
        if split not in KARPATHY_SPLITS or not sentences or any(not isinstance(s, tuple) for s in sentences):
            raise DataError(
                f"{p}: images[{i}] has split {split!r} or no sentences; expected one of "
                f"{', '.join(KARPATHY_SPLITS)} and at least one sentence"
            )
        out["train" if split == "restval" else split].append(item)
    return out


def load_region_features(
    features_dir: str | os.PathLike[str], cocoid: int, *, max_regions: int | None = None
) -> np.ndarray:
    """Region features ``[R, D]`` float32 of one image: ``<dir>/<cocoid>.npz`` (array ``feat``) or ``.npy``.

    Raises:
        DataError: no file for the image, or a file that is not a 2-D numeric array (one line).
    """
    folder = Path(features_dir).expanduser()
    npz, npy = folder / f"{cocoid}.npz", folder / f"{cocoid}.npy"
    try:
        if npz.is_file():
            with np.load(npz, allow_pickle=False) as z:
                if "feat" not in z.files:
                    raise DataError(f"{npz} holds {sorted(z.files)}, expected an array named 'feat'")
                feat = z["feat"]
        elif npy.is_file():
            feat = np.load(npy, allow_pickle=False)
        else:
            raise DataError(f"no region features for image {cocoid} in {folder} (expected {npz.name} or {npy.name})")
    except DataError:
        raise
    except (OSError, ValueError, EOFError) as e:
        raise DataError(f"region features of image {cocoid} in {folder} are unreadable ({type(e).__name__})") from None
    if feat.ndim != 2 or not np.issubdtype(feat.dtype, np.number):
        raise DataError(
            f"region features of image {cocoid} have shape {feat.shape} / dtype {feat.dtype}; "
            "expected a 2-D numeric array [regions, dim]"
        )
    feat = feat.astype(np.float32)
    return feat[:max_regions] if max_regions is not None else feat


__all__ = [
    "AXIS_MARGIN",
    "BOS",
    "DIRECTIONS",
    "EOS",
    "FAR",
    "MAX_LEN",
    "MAX_OBJECTS",
    "NEAR",
    "PAD",
    "REFS_PER_IMAGE",
    "SHAPES",
    "SIZES",
    "TEST_SEED",
    "UNK",
    "VOCAB",
    "CaptionSet",
    "KarpathyImage",
    "caption_splits",
    "decode",
    "encode",
    "load_karpathy_split",
    "load_region_features",
    "make_captions",
    "place_scene",
    "relations",
    "render_scene",
]

"""A verse-aligned English–Spanish corpus (Old Testament, King James 1611/1769 and Reina-Valera 1909).

The file ``<data root>/parallel-en-es/kjv-rv1909-ot.tsv.gz`` is a gzip TSV, one pair a line
(``english<TAB>spanish``): 23,168 lines, of which 39 are the book titles (e.g. ``The Book of Ruth<TAB>Rut``)
and 23,129 are verses. Both translations are public domain (Debian packages sword-text-kjv and sword-text-sparv,
verse-aligned). Titles are not verses: the loader checks them against :data:`BOOK_TITLES` (a foreign or damaged
file fails there with one line) and uses them to label each verse with its book. The KJV paragraph mark ``¶ ``
that starts some English verses is stripped.

Splits are fixed by book, so that no validation or test verse shares its context with a training verse:

- test: :data:`TEST_BOOKS` = Judges + Ruth (703 verses), narrative prose. Joshua, the obvious choice, was not
  taken because about a third of it (chapters 13-21) is lists of towns and borders, which would make the test
  score mostly a measure of copying proper names.
- validation: :data:`VALID_BOOKS` = Esther + Jonah + Haggai + Malachi (307 verses): short books of narrative and
  prose prophecy, so that validation, like training, mixes the two registers.
- training: the other 34 books (22,119 verses), poetry (Psalms, Job, Proverbs) included.

Another corpus (e.g. WMT's English-Spanish news data, docs/dual.md) is a folder of three files, ``train.tsv``,
``valid.tsv`` and ``test.tsv`` (each optionally gzipped: ``train.tsv.gz``), one ``english<TAB>spanish`` pair a line;
:func:`splits` with ``corpus=FOLDER`` reads them as the three splits (:func:`load_pairs_file`).

For semi-supervised learning (dual learning, He et al., "Dual Learning for Machine Translation", NIPS 2016,
https://arxiv.org/abs/1611.00179, which warm-starts on 10% of the bilingual data) :func:`semi_supervised` draws
a bilingual warm-start subset of the training pairs and turns the rest into two monolingual sets, the English
sides of one half and the Spanish sides of the other, shuffled independently, so that no aligned pair survives.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import random
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from dlfrontier.data.root import data_root
from dlfrontier.errors import ConfigError, DataError

RELATIVE_PATH = Path("parallel-en-es") / "kjv-rv1909-ot.tsv.gz"
# SHA-256 of the decompressed file (so a re-gzipped copy is accepted); the gzip file itself has the SHA-256
# 469732259e196df243803d243b6456b30108421d3ed65c1645a5c5718e71d72c listed in the shared data README.
CONTENT_SHA256 = "8ed7911e1da5e53228cb2d27cb3a51114d0adabf0310ba0e3d6a5fb93cd6f390"
NUM_LINES = 23168
NUM_VERSES = 23129

# The 39 title lines in corpus order, (English, Spanish); the Spanish title names the book everywhere below.
BOOK_TITLES: tuple[tuple[str, str], ...] = (
    ("The First Book of Moses, called Genesis", "Génesis"),
    ("The Second Book of Moses, called Exodus", "Éxodo"),
    ("The Third Book of Moses, called Leviticus", "Levítico"),
    ("The Fourth Book of Moses, called Numbers", "Números"),
    ("The Fifth Book of Moses, called Deuteronomy", "Deuteronomio"),
    ("The Book of Joshua", "Josué"),
    ("The Book of Judges", "Jueces"),
    ("The Book of Ruth", "Rut"),
    ("The First Book of Samuel Otherwise Called the First Book of the Kings", "1 Samuel"),
    ("The Second Book of Samuel Otherwise Called the Second Book of the Kings", "2 Samuel"),
    ("The First Book of the Kings Commonly Called the Third Book of the Kings", "1 Reyes"),
    ("The Second Book of the Kings Commonly Called the Fourth Book of the Kings", "2 Reyes"),
    ("The First Book of the Chronicles", "Crónicas"),  # sic: the RV1909 module titles it without "1"
    ("The Second Book of the Chronicles", "2 Crónicas"),
    ("Ezra", "Esdras"),
    ("The Book of Nehemiah", "Nehemías"),
    ("The Book of Esther", "Ester"),
    ("The Book of Job", "Job"),
    ("The Book of Psalms", "Salmos"),
    ("The Proverbs", "Proverbios"),
    ("Ecclesiastes or, the Preacher", "Eclesiastés"),
    ("The Song of Solomon", "Cantar de los Cantares"),
    ("The Book of the Prophet Isaiah", "Isaías"),
    ("The Book of the Prophet Jeremiah", "Jeremías"),
    ("The Lamentations of Jeremiah", "Lamentaciones"),
    ("The Book of the Prophet Ezekiel", "Ezequiel"),
    ("The Book of Daniel", "Daniel"),
    ("Hosea", "Oseas"),
    ("Joel", "Joel"),
    ("Amos", "Amós"),
    ("Obadiah", "Abdías"),
    ("Jonah", "Jonás"),
    ("Micah", "Miqueas"),
    ("Nahum", "Nahum"),
    ("Habakkuk", "Habacuc"),
    ("Zephaniah", "Sofonías"),
    ("Haggai", "Hageo"),
    ("Zechariah", "Zacarías"),
    ("Malachi", "Malaquías"),
)
BOOKS: tuple[str, ...] = tuple(es for _, es in BOOK_TITLES)
TEST_BOOKS: tuple[str, ...] = ("Jueces", "Rut")
VALID_BOOKS: tuple[str, ...] = ("Ester", "Jonás", "Hageo", "Malaquías")
PARAGRAPH_MARK = "¶ "

Pair = tuple[str, str]


class Verse(NamedTuple):
    """One aligned verse: English text, Spanish text, and the Spanish title of its book."""

    en: str
    es: str
    book: str


class ParallelSplits(NamedTuple):
    """The fixed book splits, each a list of ``(en, es)`` pairs in corpus order."""

    train: list[Pair]
    valid: list[Pair]
    test: list[Pair]


class SemiSupervised(NamedTuple):
    """A warm-start bilingual subset and two monolingual sets without any aligned pair between them."""

    pairs: list[Pair]
    mono_en: list[str]
    mono_es: list[str]


def corpus_path(root: str | os.PathLike[str] | None = None) -> Path:
    """Where :func:`load_corpus` looks for the file: ``<data root>/parallel-en-es/kjv-rv1909-ot.tsv.gz``."""
    return data_root(root) / RELATIVE_PATH


def _missing(path: Path, root: str | os.PathLike[str] | None) -> DataError:
    return DataError(
        f"parallel corpus not found: {path}; put {RELATIVE_PATH.as_posix()} under the data root "
        f"{data_root(root)} or set DLFRONTIER_DATA to the folder that holds it"
    )


def require_corpus(root: str | os.PathLike[str] | None = None, corpus: str = "") -> Path:
    """The corpus file's path (``corpus`` empty: the bundled one) or folder, checked to exist without reading it
    (``dlfrontier run`` calls this before it writes a run folder).

    Raises:
        DataError: the file is missing (the message names the data root and the relative path), or the folder
            ``corpus`` lacks one of its split files.
    """
    if corpus:
        split_files(corpus, root)
        return corpus_folder(corpus, root)
    path = corpus_path(root)
    if not path.is_file():
        raise _missing(path, root)
    return path


SPLIT_NAMES = ("train", "valid", "test")


def corpus_folder(corpus: str, root: str | os.PathLike[str] | None = None) -> Path:
    """The folder of a corpus given by name or path: absolute, ``~``-relative, or relative to the data root."""
    path = Path(corpus).expanduser()
    return path if path.is_absolute() else data_root(root) / path


def split_files(corpus: str, root: str | os.PathLike[str] | None = None) -> dict[str, Path]:
    """The three split files of the corpus folder ``corpus`` (``NAME.tsv.gz`` or ``NAME.tsv`` each), checked to
    exist without reading them.

    Raises:
        DataError: the folder or one of the files is missing (the message names the folder and the files).
    """
    folder = corpus_folder(corpus, root)
    found: dict[str, Path] = {}
    for name in SPLIT_NAMES:
        for candidate in (folder / f"{name}.tsv.gz", folder / f"{name}.tsv"):
            if candidate.is_file():
                found[name] = candidate
                break
        else:
            raise DataError(f"corpus {corpus!r}: no {name}.tsv.gz or {name}.tsv in {folder}; a corpus folder holds "
                            "train, valid and test files of 'english<TAB>spanish' lines (docs/dual.md)")
    return found


def load_pairs_file(path: str | os.PathLike[str]) -> list[Pair]:
    """The ``(en, es)`` pairs of a TSV file (gzipped when its name ends in ``.gz``), one ``english<TAB>spanish``
    pair a line, in file order (a final newline and Windows line ends are accepted; a line with an empty side is
    kept: the loaders and tokenizers downstream drop empty sentences).

    Raises:
        DataError: not gzip / not UTF-8, or a line without exactly two tab-separated columns (its number is given).
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
        text = (gzip.decompress(raw) if path.name.endswith(".gz") else raw).decode("utf-8")
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as e:
        kind = "gzip-compressed UTF-8" if path.name.endswith(".gz") else "UTF-8 text"
        raise DataError(f"{path} is not a {kind} file ({type(e).__name__}: {e})") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    pairs: list[Pair] = []
    for number, line in enumerate(lines, start=1):
        columns = line.rstrip("\r").split("\t")
        if len(columns) != 2:
            raise DataError(f"{path} line {number}: expected 'english<TAB>spanish', got {len(columns)} column(s)")
        pairs.append((columns[0].strip(), columns[1].strip()))
    if not pairs:
        raise DataError(f"{path} holds no sentence pair")
    return pairs


def load_corpus(root: str | os.PathLike[str] | None = None) -> list[Verse]:
    """The 23,129 verses in corpus order (titles dropped, ``¶`` marks stripped); see the module docstring.

    Args:
        root: the data root; default ``$DLFRONTIER_DATA``, else ``~/.cache/dlfrontier``.

    Raises:
        DataError: the file is missing, not gzip/UTF-8, not two tab-separated columns, has other title lines
            than :data:`BOOK_TITLES`, or differs from the published file (SHA-256).
    """
    path = require_corpus(root)
    try:
        raw = gzip.decompress(path.read_bytes())
        text = raw.decode("utf-8")
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as e:
        raise DataError(f"{path} is not a gzip-compressed UTF-8 file ({type(e).__name__}: {e})") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    verses: list[Verse] = []
    next_title = 0
    book = ""
    for number, line in enumerate(lines, start=1):
        columns = line.split("\t")
        if len(columns) != 2:
            raise DataError(f"{path} line {number}: expected 'english<TAB>spanish', got {len(columns)} column(s)")
        en, es = columns
        if next_title < len(BOOK_TITLES) and (en, es) == BOOK_TITLES[next_title]:
            book = BOOK_TITLES[next_title][1]
            next_title += 1
            continue
        if not book:
            raise DataError(f"{path} line {number}: expected the title line of Genesis, got {line[:60]!r}")
        if en.startswith(PARAGRAPH_MARK):
            en = en[len(PARAGRAPH_MARK) :]
        verses.append(Verse(en, es, book))
    if next_title != len(BOOK_TITLES):
        title = " / ".join(BOOK_TITLES[next_title])
        raise DataError(f"{path}: found {next_title} of the 39 book titles, missing {title!r}; not the KJV/RV1909 file")
    if len(lines) != NUM_LINES or hashlib.sha256(raw).hexdigest() != CONTENT_SHA256:
        raise DataError(
            f"{path}: {len(lines)} lines, content SHA-256 {hashlib.sha256(raw).hexdigest()[:12]}..., expected "
            f"{NUM_LINES} lines and {CONTENT_SHA256[:12]}...; the file is damaged or another version"
        )
    return verses


def splits(root: str | os.PathLike[str] | None = None, corpus: str = "") -> ParallelSplits:
    """The fixed book splits: test = :data:`TEST_BOOKS`, valid = :data:`VALID_BOOKS`, train = the rest; or, with
    ``corpus`` (a folder name or path, see :func:`split_files`), that folder's three files."""
    if corpus:
        files = split_files(corpus, root)
        return ParallelSplits(*(load_pairs_file(files[name]) for name in SPLIT_NAMES))
    train: list[Pair] = []
    valid: list[Pair] = []
    test: list[Pair] = []
    for v in load_corpus(root):
        part = test if v.book in TEST_BOOKS else valid if v.book in VALID_BOOKS else train
        part.append((v.en, v.es))
    return ParallelSplits(train, valid, test)


def semi_supervised(
    train: Sequence[Pair], *, fraction: float = 0.1, seed: int = 0, linked: Iterable[Pair] = ()
) -> SemiSupervised:
    """Split training pairs into a bilingual warm-start subset and two unaligned monolingual sets.

    ``round(fraction * len(train))`` pairs drawn by ``seed`` form the warm-start set (10% as in He et al. 2016).
    The remaining pairs are split in two halves by ``seed``; ``mono_en`` holds the English sides of the first,
    ``mono_es`` the Spanish sides of the second, each shuffled on its own. Formulaic verses repeat with
    variants ("And the LORD spake unto Moses, saying," has several Spanish renderings), so a naive split could
    put an English text in one half and a Spanish text aligned with it in the other. Pairs are therefore
    grouped (union-find over identical English or identical Spanish text, through every pair of ``train`` and
    ``linked``) and each group goes whole into one half: no pair ``(en, es)`` of ``train`` or ``linked`` has
    ``en`` in ``mono_en`` and ``es`` in ``mono_es``. The halves differ in size by less than twice the largest group
    (in the training split 107 groups hold more than one pair, 400 pairs in all, the largest 74).

    Args:
        train: the training pairs (``splits().train``).
        fraction: the share of pairs kept bilingual, in (0, 1).
        seed: draws the subset, the halves and both shuffles; the same seed gives the same result.
        linked: other pairs whose texts must not become an aligned monolingual pair either (pass the validation
            and test pairs to make the guarantee hold for the whole corpus; the corpus's repeats cross books).

    Raises:
        ConfigError: ``fraction`` outside (0, 1).
    """
    if not 0.0 < fraction < 1.0:
        raise ConfigError(f"fraction={fraction}: the warm-start share must be in (0, 1)")
    pairs = list(train)
    rng = random.Random(seed)
    order = list(range(len(pairs)))
    rng.shuffle(order)
    n_warm = round(fraction * len(pairs))
    warm = sorted(order[:n_warm])
    rest = order[n_warm:]

    # Union-find over text nodes: ("en", text) and ("es", text); every known pair joins its two sides.
    parent: dict[tuple[str, str], tuple[str, str]] = {}

    def find(node: tuple[str, str]) -> tuple[str, str]:
        parent.setdefault(node, node)
        root = node
        while parent[root] != root:
            root = parent[root]
        while parent[node] != root:  # path compression
            parent[node], node = root, parent[node]
        return root

    for en, es in [*pairs, *linked]:
        a, b = find(("en", en)), find(("es", es))
        if a != b:
            parent[a] = b

    groups: dict[tuple[str, str], list[int]] = {}
    for i in rest:  # in shuffled order, so the group order below is drawn by the seed
        groups.setdefault(find(("en", pairs[i][0])), []).append(i)
    half_en: list[int] = []
    half_es: list[int] = []
    for members in groups.values():
        # Fill the English half to half the pairs, then the Spanish half; groups stay whole.
        (half_en if len(half_en) < len(rest) / 2 else half_es).extend(members)
    mono_en = [pairs[i][0] for i in sorted(half_en)]
    mono_es = [pairs[i][1] for i in sorted(half_es)]
    rng.shuffle(mono_en)
    rng.shuffle(mono_es)
    return SemiSupervised([pairs[i] for i in warm], mono_en, mono_es)

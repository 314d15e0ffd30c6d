"""KJV/RV1909 parallel corpus: the real file, fixed book splits, monolingual sets without aligned pairs."""

import gzip
from collections import Counter
from pathlib import Path

import pytest

from dlfrontier.data.parallel import (
    BOOK_TITLES,
    BOOKS,
    RELATIVE_PATH,
    TEST_BOOKS,
    VALID_BOOKS,
    corpus_path,
    load_corpus,
    load_pairs_file,
    require_corpus,
    semi_supervised,
    splits,
)
from dlfrontier.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


@pytest.fixture(scope="module")
def parts():
    return splits()


def test_corpus_verses_titles_dropped_marks_stripped(corpus):
    assert len(corpus) == 23129  # 23,168 lines minus the 39 title lines
    assert corpus[0].en == "In the beginning God created the heaven and the earth."
    assert corpus[0].es == "EN el principio crió Dios los cielos y la tierra." and corpus[0].book == "Génesis"
    assert corpus[-1].book == "Malaquías"
    titles = set(BOOK_TITLES)
    assert not any((v.en, v.es) in titles for v in corpus)
    assert not any("¶" in v.en for v in corpus)  # 2,535 verses started with the KJV paragraph mark
    counts = Counter(v.book for v in corpus)
    assert list(counts) == list(BOOKS)  # every book present, in canonical order
    assert counts["Génesis"] == 1533 and counts["Salmos"] == 2461 and counts["Abdías"] == 21
    assert all(v.en.strip() == v.en and v.es.strip() == v.es and v.en and v.es for v in corpus)


def test_split_sizes_and_disjoint_books(corpus, parts):
    assert set(TEST_BOOKS) <= set(BOOKS) and set(VALID_BOOKS) <= set(BOOKS)
    assert not set(TEST_BOOKS) & set(VALID_BOOKS)
    assert (len(parts.train), len(parts.valid), len(parts.test)) == (22119, 307, 703)
    held_out = {(v.en, v.es) for v in corpus if v.book in TEST_BOOKS + VALID_BOOKS}
    assert not set(parts.train) & held_out  # no training verse comes from a test or validation book
    assert not set(parts.valid) & set(parts.test)
    by_book = {b: [(v.en, v.es) for v in corpus if v.book == b] for b in BOOKS}
    assert parts.test == by_book["Jueces"] + by_book["Rut"]  # corpus order
    assert parts.valid == by_book["Ester"] + by_book["Jonás"] + by_book["Hageo"] + by_book["Malaquías"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_monolingual_halves_hold_no_aligned_pair_of_the_corpus(corpus, parts, seed):
    semi = semi_supervised(parts.train, fraction=0.1, seed=seed)
    assert len(semi.pairs) == round(0.1 * len(parts.train)) == 2212
    assert len(semi.pairs) + len(semi.mono_en) + len(semi.mono_es) == len(parts.train)
    assert abs(len(semi.mono_en) - len(semi.mono_es)) <= 100  # halves balanced up to one group of repeats
    assert not Counter(semi.pairs) - Counter(parts.train)  # the warm-start pairs are training pairs
    mono_en, mono_es = set(semi.mono_en), set(semi.mono_es)
    assert not [v for v in corpus if v.en in mono_en and v.es in mono_es]
    # The formulaic verse that repeats most (71 times in training) is monolingual on one side only.
    formula = "And the LORD spake unto Moses, saying,"
    assert (formula in mono_en) + any(es in mono_es for en, es in parts.train if en == formula) <= 1


def test_monolingual_sides_are_the_remaining_pairs(parts):
    semi = semi_supervised(parts.train, fraction=0.1, seed=0)
    rest = Counter(parts.train) - Counter(semi.pairs)
    en_rest = Counter(en for (en, _), n in rest.items() for _ in range(n))
    es_rest = Counter(es for (_, es), n in rest.items() for _ in range(n))
    assert not Counter(semi.mono_en) - en_rest and not Counter(semi.mono_es) - es_rest
    # Shuffled: the monolingual English is not in corpus order.
    positions = {en: i for i, (en, _) in enumerate(parts.train)}
    order = [positions[en] for en in semi.mono_en]
    assert order != sorted(order)


def test_semi_supervised_deterministic_in_the_seed(parts):
    a = semi_supervised(parts.train, seed=3)
    b = semi_supervised(parts.train, seed=3)
    c = semi_supervised(parts.train, seed=4)
    assert a == b
    assert a.pairs != c.pairs and set(a.mono_en) != set(c.mono_en) and a.mono_es != c.mono_es


def test_repeats_are_grouped_so_no_pair_crosses_the_halves():
    # "A" has two Spanish renderings; "x" renders two English texts: a naive split could put A in mono_en and
    # x (aligned with A) in mono_es. Groups {A, B, x, y, z} and {C, w}, ... stay whole.
    train = [("A", "x"), ("A", "y"), ("B", "x"), ("B", "z"), ("C", "w"), ("D", "v"), ("E", "u"), ("F", "t")] * 2
    for seed in range(30):
        semi = semi_supervised(train, fraction=0.2, seed=seed)
        assert not [(en, es) for en, es in train if en in semi.mono_en and es in semi.mono_es]


def test_linked_pairs_extend_the_guarantee():
    train = [("A", "x"), ("B", "y"), ("C", "z"), ("D", "w")]
    other = [("A", "y")]  # e.g. a test-book verse aligning two training texts
    crossed = 0
    for seed in range(30):
        naive = semi_supervised(train, fraction=0.1, seed=seed)
        crossed += "A" in naive.mono_en and "y" in naive.mono_es
        linked = semi_supervised(train, fraction=0.1, seed=seed, linked=other)
        assert not ("A" in linked.mono_en and "y" in linked.mono_es)
    assert crossed > 0  # without `linked` the pair does cross for some seeds


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_fraction_outside_unit_interval(parts, fraction):
    with pytest.raises(ConfigError, match="fraction"):
        semi_supervised(parts.train[:10], fraction=fraction)


def test_missing_file_names_root_and_path(tmp_path, monkeypatch):
    monkeypatch.setenv("DLFRONTIER_DATA", str(tmp_path))
    with pytest.raises(DataError) as e:
        load_corpus()
    msg = str(e.value)
    assert "\n" not in msg and RELATIVE_PATH.as_posix() in msg and "DLFRONTIER_DATA" in msg and str(tmp_path) in msg
    assert corpus_path() == tmp_path / RELATIVE_PATH


def _write(root: Path, data: bytes, *, compress: bool = True) -> None:
    path = root / RELATIVE_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data, compresslevel=1) if compress else data)


@pytest.mark.parametrize(
    ("content", "compress", "expected"),
    [
        ("The First Book of Moses, called Genesis\tGénesis\nIn the beginning\tEN el principio\nAnd\tY\n", True, "39"),
        ("hello\tworld\nfoo\tbar\nbaz\tqux\n", True, "Genesis"),
        ("one column only\n", True, "column"),
        ("The First Book of Moses, called Genesis\tGénesis\n", False, "gzip"),
        ("", True, "Genesis"),  # an empty file has none of the titles
    ],
)
def test_corrupt_files_fail_in_one_line(tmp_path, content, compress, expected):
    _write(tmp_path, content.encode(), compress=compress)
    with pytest.raises(DataError, match=expected) as e:
        load_corpus(tmp_path)
    assert "\n" not in str(e.value)


def test_altered_verse_fails_the_checksum(tmp_path):
    text = gzip.decompress(corpus_path().read_bytes()).decode()
    _write(tmp_path, text.replace("crió Dios los cielos", "creó Dios los cielos", 1).encode())
    with pytest.raises(DataError, match="SHA-256") as e:
        load_corpus(tmp_path)
    assert "\n" not in str(e.value)


def _folder(root: Path, files: dict[str, str], gz: tuple[str, ...] = ("train",)) -> Path:
    """A corpus folder: ``files`` maps a split name to its text; the splits in ``gz`` are gzipped."""
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        if name in gz:
            (root / f"{name}.tsv.gz").write_bytes(gzip.compress(text.encode()))
        else:
            (root / f"{name}.tsv").write_text(text, encoding="utf-8", newline="")
    return root


def test_a_corpus_folder_gives_its_three_files_as_the_splits(tmp_path, monkeypatch):
    files = {"train": "Hello world\tHola mundo\n Good night \tBuenas noches\n",
             "valid": "Yes\tSí\r\nNo\tNo\r\n",  # Windows line ends
             "test": "Thank you\tGracias"}  # no final newline
    folder = _folder(tmp_path / "data" / "wmt-mini", files)
    got = splits(corpus=str(folder))
    assert got.train == [("Hello world", "Hola mundo"), ("Good night", "Buenas noches")]
    assert got.valid == [("Yes", "Sí"), ("No", "No")] and got.test == [("Thank you", "Gracias")]
    monkeypatch.setenv("DLFRONTIER_DATA", str(tmp_path / "data"))  # a bare name is a folder of the data root
    assert splits(corpus="wmt-mini") == got
    assert require_corpus(corpus="wmt-mini") == folder
    assert load_pairs_file(folder / "valid.tsv") == got.valid


def test_a_corpus_folder_missing_a_file_or_with_a_bad_line_fails_in_one_line(tmp_path):
    folder = _folder(tmp_path / "c", {"train": "a\tb\n", "valid": "c\td\n"})
    with pytest.raises(DataError) as e:
        require_corpus(corpus=str(folder))
    msg = str(e.value)
    assert "\n" not in msg and "test.tsv.gz or test.tsv" in msg and str(folder) in msg
    (folder / "test.tsv").write_text("e\tf\ng h\n", encoding="utf-8")
    with pytest.raises(DataError, match="test.tsv line 2: expected 'english<TAB>spanish', got 1 column"):
        splits(corpus=str(folder))
    (folder / "test.tsv").write_text("", encoding="utf-8")
    with pytest.raises(DataError, match="no sentence pair"):
        splits(corpus=str(folder))
    (folder / "test.tsv").write_bytes(b"\xff\xfe\tx\n")
    with pytest.raises(DataError, match="not a UTF-8 text file"):
        splits(corpus=str(folder))
    (folder / "train.tsv.gz").write_bytes(b"not gzip")
    with pytest.raises(DataError, match="not a gzip-compressed UTF-8 file"):
        load_pairs_file(folder / "train.tsv.gz")

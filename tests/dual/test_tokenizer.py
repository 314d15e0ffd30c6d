"""The joint en+es sentencepiece tokenizer: round trip on real verses, determinism, agreed special ids, batches."""

import io
import pickle
import sys

import pytest
import torch

from dlfrontier.data.parallel import splits
from dlfrontier.dual.tokenizer import UNK, SubwordTokenizer
from dlfrontier.errors import DataError, MissingDependencyError
from dlfrontier.multimodal.captioning.models import BOS, EOS, PAD


@pytest.fixture(scope="module")
def parts():
    return splits()


@pytest.fixture(scope="module")
def texts(parts):
    # Every 4th training pair, both languages: enough for a 1,000-piece model in about a second.
    sample = parts.train[::4]
    return [en for en, _ in sample] + [es for _, es in sample]


@pytest.fixture(scope="module")
def tok(texts):
    return SubwordTokenizer.train(texts, 1000)


def test_round_trip_on_held_out_verses(tok, parts):
    # Validation and test verses were not trained on: accents, ¿ ¡, capitals and rare letters must survive.
    held_out = [s for pair in parts.valid + parts.test for s in pair]
    decoded = tok.decode(tok.encode(held_out))
    assert decoded == held_out
    assert any("ñ" in s for s in held_out) and any("¿" in s for s in held_out) and any("X" in s for s in held_out)
    ids = [t for row in tok.encode(held_out) for t in row]
    assert UNK not in ids and min(ids) > UNK and max(ids) < tok.vocab_size == 1000
    # Subwords, not characters: well under one id per character, and more than one id per word on average.
    chars = sum(len(s) for s in held_out)
    words = sum(len(s.split()) for s in held_out)
    assert words < len(ids) < chars / 2


def test_specials_at_agreed_ids(tok):
    assert (PAD, BOS, EOS, UNK) == (0, 1, 2, 3)
    assert [tok.piece(i) for i in range(4)] == ["<pad>", "<s>", "</s>", "<unk>"]
    assert tok.encode(["unknown letter: 中"])[0][-1] == UNK  # a character absent from the corpus
    assert tok.decode([[BOS, PAD] + tok.encode(["Y dijo Dios"])[0] + [PAD, EOS, 7, 8, 9]]) == ["Y dijo Dios"]


def test_training_is_deterministic_and_writes_no_file(texts, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a = SubwordTokenizer.train(texts[:3000], 500)
    b = SubwordTokenizer.train(iter(texts[:3000]), 500)  # any iterable
    assert a.to_bytes() == b.to_bytes()
    assert list(tmp_path.iterdir()) == []
    bpe = SubwordTokenizer.train(texts[:3000], 500, model_type="bpe")
    assert bpe.to_bytes() != a.to_bytes() and bpe.decode(bpe.encode(texts[:50])) == texts[:50]


def test_serialization_round_trip(tok, texts):
    again = SubwordTokenizer.from_bytes(tok.to_bytes())
    pickled = pickle.loads(pickle.dumps(tok))
    assert again.encode(texts[:100]) == tok.encode(texts[:100]) == pickled.encode(texts[:100])
    assert pickled.to_bytes() == tok.to_bytes() and again.vocab_size == tok.vocab_size


@pytest.mark.parametrize("garbage", [b"", b"garbage", bytes(range(256)), b"\x00" * 100])
def test_garbage_bytes_fail_in_one_line(garbage):
    with pytest.raises(DataError, match="sentencepiece") as e:
        SubwordTokenizer.from_bytes(garbage)
    assert "\n" not in str(e.value)


def test_model_with_other_special_ids_is_refused(texts):
    spm = pytest.importorskip("sentencepiece")
    writer = io.BytesIO()
    spm.SentencePieceTrainer.train(  # sentencepiece's own defaults: unk=0, bos=1, eos=2, no pad
        sentence_iterator=iter(texts[:2000]), model_writer=writer, vocab_size=300, num_threads=1, minloglevel=2
    )
    with pytest.raises(DataError, match="special ids"):
        SubwordTokenizer.from_bytes(writer.getvalue())


def test_batch_pads_appends_eos_and_truncates(tok):
    sentences = ["Y dijo Dios: Sea la luz: y fué la luz.", "And God said", ""]
    ids = tok.encode(sentences)
    lengths = [len(r) for r in ids]
    batch = tok.batch(sentences)
    assert batch.dtype == torch.long and batch.shape == (3, max(lengths) + 1)
    for row, r in zip(batch.tolist(), ids, strict=True):
        assert row == r + [EOS] + [PAD] * (batch.shape[1] - len(r) - 1)
    assert torch.equal(tok.batch(ids), batch)  # id lists give the same batch
    assert tok.decode(batch) == ["Y dijo Dios: Sea la luz: y fué la luz.", "And God said", ""]
    short = tok.batch(sentences, max_len=4)
    assert short.shape == (3, 4)
    assert short[0].tolist() == ids[0][:3] + [EOS]
    assert short[2].tolist() == [EOS, PAD, PAD, PAD]
    assert tok.batch(sentences, max_len=100).shape == batch.shape  # a limit above the longest row changes nothing


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda t: t.batch("a sentence"), "not one string"),
        (lambda t: t.encode("a sentence"), "not one string"),
        (lambda t: t.batch([]), "no sentences"),
        (lambda t: t.batch(["a", [5, 6]]), "not a mix"),
        (lambda t: t.batch(["a"], max_len=0), "max_len"),
        (lambda t: t.decode(torch.zeros(3, dtype=torch.long)), r"\[B, T\]"),
        (lambda t: t.decode([[5, 10**6]]), "outside the vocabulary"),
    ],
)
def test_bad_arguments_are_one_line_value_errors(tok, call, match):
    with pytest.raises(ValueError, match=match) as e:
        call(tok)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    ("kwargs", "match"), [({"vocab_size": 4}, "special"), ({"vocab_size": 100, "model_type": "word"}, "model_type")]
)
def test_bad_training_options(texts, kwargs, match):
    with pytest.raises(ValueError, match=match):
        SubwordTokenizer.train(texts[:100], **kwargs)


def test_vocabulary_too_large_for_the_texts():
    with pytest.raises(ValueError, match="could not train") as e:
        SubwordTokenizer.train(["hola mundo", "hello world"] * 20, 5000)
    assert "\n" not in str(e.value)


def test_missing_sentencepiece_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sentencepiece", None)  # makes `import sentencepiece` fail
    with pytest.raises(MissingDependencyError, match=r'pip install "dlfrontier\[dual\]"'):
        SubwordTokenizer.train(["hola mundo"], 100)
